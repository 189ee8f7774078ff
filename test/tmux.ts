// Real terminals for tests: a tmux server of its own, driven from outside as a user at a keyboard.
import path from 'node:path';
import fs from 'node:fs';
import { execa } from 'execa';
import { stopAfterTest } from './hooks.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * Keys go apart by this much, as typed by hand, so that a program reading its terminal gets them in
 * separate reads. A pacing, not a wait for the program: nothing checks that it has read a key.
 */
const KEY_GAP_MS = 50;
const SESSION = 'ckpt';

/** What a wait looks for on the screen: a piece of text, or a test of the whole screen */
export type ScreenTest = string | ((screen: string) => boolean);

/**
 * A tmux server of its own: its socket in a directory of the test's, no configuration file read, one
 * session of 80x24 windows. Panes are named by their ids (%0, %1...), whatever the window indexes.
 * A pane whose program ends stays, dead, with its last screen (remain-on-exit), so that the server
 * lives on until kill() and a wait that fails can still show what was there.
 */
export class Tmux {
  private forget = () => {};

  private constructor(readonly socket: string, readonly cwd: string, readonly first: string, private readonly serverPid: number) {}

  /**
   * Starts the server; its first window (pane `first`) runs `command`, through the shell, in `dir`.
   * The server is stopped after the test even if the test never reaches its own kill().
   */
  static async start(dir: string, command: string): Promise<Tmux> {
    const socket = path.join(dir, 'tmux.sock');
    const [first, pid] = (await tmux(socket, 'set-option', '-g', 'remain-on-exit', 'on', ';',
      'new-session', '-d', '-P', '-F', '#{pane_id} #{pid}', '-s', SESSION, '-x', '80', '-y', '24', '-c', dir, command)).trim().split(' ');
    const t = new Tmux(socket, dir, first, Number(pid));
    t.forget = stopAfterTest(() => t.kill());
    return t;
  }

  private tmux(...args: string[]): Promise<string> {
    return tmux(this.socket, ...args);
  }

  /** Opens a window running `command` (another pseudo-terminal); returns its pane */
  async window(command: string): Promise<string> {
    return (await this.tmux('new-window', '-d', '-P', '-F', '#{pane_id}', '-t', `${SESSION}:`, '-c', this.cwd, command)).trim();
  }

  /** Types each text as is (no key names), one after the other */
  async type(pane: string, ...texts: string[]): Promise<void> {
    for (const text of texts) {
      await this.tmux('send-keys', '-t', pane, '-l', text);
      await sleep(KEY_GAP_MS);
    }
  }

  /** Presses named keys, one after the other: Escape, Enter, C-l */
  async press(pane: string, ...keys: string[]): Promise<void> {
    for (const key of keys) {
      await this.tmux('send-keys', '-t', pane, key);
      await sleep(KEY_GAP_MS);
    }
  }

  /** The visible screen, trailing blank lines and spaces left out */
  async screen(pane: string): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-t', pane)).trimEnd();
  }

  /** The pane's pseudo-terminal: /dev/pts/N */
  async tty(pane: string): Promise<string> {
    return (await this.tmux('display-message', '-p', '-t', pane, '#{pane_tty}')).trim();
  }

  /** The process the pane started (the shell running its command, or what that shell exec'd) */
  async pid(pane: string): Promise<number> {
    return Number((await this.tmux('display-message', '-p', '-t', pane, '#{pane_pid}')).trim());
  }

  /** Waits until the screen contains the text or passes the test; returns it, or null when `ms` ran out */
  async waitFor(pane: string, until: ScreenTest, ms = 5_000): Promise<string | null> {
    const passes = typeof until === 'string' ? (s: string) => s.includes(until) : until;
    for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(100)) {
      const s = await this.screen(pane);
      if (passes(s)) return s;
    }
    return null;
  }

  /** As waitFor, but throws, with the screen, when `ms` runs out */
  async expect(pane: string, until: ScreenTest, ms = 5_000): Promise<string> {
    const s = await this.waitFor(pane, until, ms);
    if (s !== null) return s;
    const what = typeof until === 'string' ? JSON.stringify(until) : `a screen that passes ${until.name || 'the test'}`;
    throw new Error(`timed out after ${ms} ms waiting for ${what}; screen:\n${await this.screen(pane)}`);
  }

  /** Ends the server and every program in it; does nothing when it is gone already */
  async kill(): Promise<void> {
    this.forget();
    const asked = execa('tmux', ['-S', this.socket, 'kill-server'], { reject: false, timeout: TMUX_CALL_MS });
    await Promise.race([asked, sleep(5_000)]);
    // a server too stuck to take the command goes by signal; the socket in its command line tells
    // that the pid is still this server's
    let cmdline = '';
    try { cmdline = fs.readFileSync(`/proc/${this.serverPid}/cmdline`, 'utf8'); } catch { return; }
    if (cmdline.includes(this.socket)) try { process.kill(this.serverPid, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** A tmux command answers in milliseconds; one that has not in this long never will */
const TMUX_CALL_MS = 20_000;

async function tmux(socket: string, ...args: string[]): Promise<string> {
  const r = await execa('tmux', ['-f', '/dev/null', '-S', socket, ...args], { timeout: TMUX_CALL_MS, reject: false });
  if (r.timedOut) throw new Error(`tmux ${args[0]} did not answer in ${TMUX_CALL_MS} ms; the server's processes:\n${await processesOf(socket)}`);
  if (r.exitCode !== 0) throw new Error(`tmux ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}`);
  return r.stdout;
}

/** What the processes naming the socket are doing, so that a stuck server says where it is stuck */
async function processesOf(socket: string): Promise<string> {
  const r = await execa('ps', ['-eo', 'pid,ppid,pgid,stat,wchan:24,args'], { reject: false, timeout: 5_000 });
  return r.stdout.split('\n').filter((line, i) => i === 0 || line.includes(socket)).join('\n');
}
