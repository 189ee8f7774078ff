// A checkpoint signal that arrives while the runtime is inside a dispatch (its own bookkeeping of
// a call it handles itself) is held until the dispatch ends: the interrupted context saved in the
// image is never inside the dispatcher's handling of the call, and the held signal is raised from
// rt_busy_leave. The fixture spends nearly all its time in sigaction, which the runtime handles.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, scratch, waitFor } from '../helpers.js';
import { fileSource, readImage } from '../../src/image/read.js';


/** [start, end) of a function of the relinked binary, from its symbol table */
async function symbolRange(bin: string, name: string): Promise<[bigint, bigint]> {
  const lines = (await execa('nm', ['-n', bin])).stdout.split('\n').map((l) => l.split(' '));
  const i = lines.findIndex((f) => f[2] === name);
  assert.ok(i >= 0 && i + 1 < lines.length, `${name} is in the symbol table`);
  return [BigInt(`0x${lines[i][0]}`), BigInt(`0x${lines[i + 1][0]}`)];
}

/**
 * Waits for an image of a later generation than `since` (docs/image-format.md): an mtime would not
 * do, as two images written within one tick of the kernel's coarse clock have the same one.
 */
function imageChange(image: string, since: bigint): Promise<bigint> {
  const generation = () => {
    if (!fs.existsSync(image)) return since;
    const src = fileSource(image);
    try { return readImage(src).header?.generation ?? since; } finally { src.close(); }
  };
  return waitFor(() => { const g = generation(); return g > since && g; }, `an image after generation ${since}`);
}

describe('checkpoint signal during a dispatch', function () {
  this.timeout(120_000);

  it('is held until the dispatch ends: no image is taken inside the dispatcher', async () => {
    const dir = scratch();
    const exe = path.join(dir, 'sigaction-loop');
    const bin = `${exe}.ckpt`;
    await execa('gcc', ['-O2', '-static', '-o', exe, path.join(ROOT, 'test/fixtures/sigaction-loop.c')]);
    await relinkFile(exe, bin);
    const inside = await symbolRange(bin, 'rt_sys_sigaction');
    const leave = await symbolRange(bin, 'rt_busy_leave');
    const out = path.join(dir, 'out.txt');
    const fd = fs.openSync(out, 'w');
    const run = spawn(bin, [], { cwd: dir, stdio: ['ignore', fd, fd], env: { CKPT_IMAGE: 'loop.img' } });
    fs.closeSync(fd);
    const ended = new Promise((r) => run.once('exit', (code) => r(code)));
    await waitFor(() => fs.readFileSync(out, 'utf8').includes('ready'), 'the loop to say ready');
    const rips: bigint[] = [];
    let generation = 0n;
    for (let i = 0; i < 20; i++) {
      run.kill('SIGUSR2');
      generation = await imageChange(path.join(dir, 'loop.img'), generation);
      const image = readImage(fileSource(path.join(dir, 'loop.img')));
      assert.deepEqual(image.problems, []);
      rips.push(image.registers!.gregs.rip);
    }
    fs.writeFileSync(path.join(dir, 'stop'), '');
    assert.equal(await ended, 0);
    assert.equal(fs.readFileSync(out, 'utf8'), 'ready\n');
    const within = (r: bigint, [a, b]: [bigint, bigint]) => r >= a && r < b;
    assert.deepEqual(rips.filter((r) => within(r, inside)), [], 'no checkpoint inside rt_sys_sigaction');
    assert.ok(rips.some((r) => within(r, leave)), `some checkpoints were held and raised from rt_busy_leave: ${rips.map((r) => r.toString(16))}`);
  });
});
