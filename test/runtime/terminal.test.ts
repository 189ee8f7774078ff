// A raw-mode terminal program, relinked, in a real terminal (tmux): keys arrive one at a time
// without echo, the screen shows the same as the original's, and the terminal settings are put
// back when it quits.
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLE_FLAVOURS, relinkFile, sample, scratch } from '../helpers.js';
import { Tmux } from '../tmux.js';

/** Runs the program in a shell that prints the terminal settings before and after it */
async function session(file: string): Promise<string> {
  const dir = scratch();
  const script = `stty -g > ${dir}/before; ${file}; echo "status=$?"; stty -g > ${dir}/after; ` +
    `cmp -s ${dir}/before ${dir}/after && echo "termios restored"; sleep 30`;
  const t = await Tmux.start(dir, `sh -c '${script}'`);
  try {
    await t.expect(t.first, 'q quits', 10_000);
    await t.type(t.first, 'a', 'b', 'Z', '1', 'q');	// one key at a time
    return await t.expect(t.first, 'termios restored', 10_000);
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
