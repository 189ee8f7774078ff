// A raw-mode terminal program, relinked, in a real terminal (tmux): keys arrive one at a time
// without echo, the screen shows the same as the original's, and the terminal settings are put
// back when it quits.
import assert from 'node:assert/strict';
import path from 'node:path';
import { execa } from 'execa';
import { SAMPLE_FLAVOURS, relinkFile, sample, scratch } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class TmuxSession {
  private constructor(readonly socket: string, readonly name: string) {}

  static async start(socketDir: string, command: string): Promise<TmuxSession> {
    const s = new TmuxSession(path.join(socketDir, 'tmux.sock'), 'ckpt');
    await execa('tmux', ['-S', s.socket, 'new-session', '-d', '-s', s.name, '-x', '80', '-y', '24', command]);
    return s;
  }

  async keys(...keys: string[]): Promise<void> {
    for (const k of keys) {
      await execa('tmux', ['-S', this.socket, 'send-keys', '-t', this.name, '-l', k]);
      await sleep(50);
    }
  }

  async screen(): Promise<string> {
    return (await execa('tmux', ['-S', this.socket, 'capture-pane', '-p', '-t', this.name])).stdout.trimEnd();
  }

  /** Waits until the screen contains `text`; returns the screen */
  async waitFor(text: string, ms = 10_000): Promise<string> {
    for (let t = 0; t < ms; t += 100) {
      const s = await this.screen();
      if (s.includes(text)) return s;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${JSON.stringify(text)}; screen:\n${await this.screen()}`);
  }

  async kill(): Promise<void> {
    await execa('tmux', ['-S', this.socket, 'kill-server'], { reject: false });
  }
}

/** Runs the program in a shell that prints the terminal settings before and after it */
async function session(file: string): Promise<string> {
  const dir = scratch();
  const script = `stty -g > ${dir}/before; ${file}; echo "status=$?"; stty -g > ${dir}/after; ` +
    `cmp -s ${dir}/before ${dir}/after && echo "termios restored"; sleep 30`;
  const t = await TmuxSession.start(dir, `sh -c '${script}'`);
  try {
    await t.waitFor('q quits');
    await t.keys('a', 'b', 'Z', '1', 'q');
    return await t.waitFor('termios restored');
  } finally {
    await t.kill();
  }
}

describe('raw-mode terminal program in tmux', function () {
  this.timeout(120_000);
  for (const flavour of SAMPLE_FLAVOURS) {
    it(`${flavour}/rawterm relinked shows the same screen as the original`, async () => {
      const relinked = path.join(scratch(), 'rawterm.ckpt');
      await relinkFile(sample(flavour, 'rawterm'), relinked);
      const want = await session(sample(flavour, 'rawterm'));
      const got = await session(relinked);
      assert.match(got, /key: A\s+key: B\s+key: Z\s+key: 1\s+bye\s+status=0\s+termios restored/);
      assert.equal(got, want);
    });
  }
});
