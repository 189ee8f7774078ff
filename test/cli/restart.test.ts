// ckpt-restart IMAGE: runs the binary the image names with CKPT_RESTART, so a killed relinked
// program resumes and ends as an uninterrupted run does; passes signals on and ends as the program
// ends; and refuses, with exit status 2 and one line, an image it cannot use: not an image, its
// binary gone, changed, or not relinked.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, sample, waitFor } from '../helpers.js';
import { QUIET, RESTART, checkpointRun, exited, imageWritten, relinkedSteps, vacateRun } from '../image/real-image.js';
import { catches } from '../process.js';
import { CHUNK, chunkLines, tellToFinish, uninterrupted } from '../steps.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

/** The one child process of `pid`, once it has one */
function onlyChild(pid: number): number | undefined {
  const children = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ').filter(Boolean);
  return children.length === 1 ? Number(children[0]) : undefined;
}

describe('ckpt-restart', function () {
  this.timeout(120_000);
  let dir: string, bin: string, exe: string;

  before(async () => {
    ({ dir, bin, exe } = await relinkedSteps());
  });

  const restart = (args: string[]) => execa(...nodeCommand(RESTART, args), { cwd: dir, reject: false });

  async function refused(args: string[], reason: RegExp): Promise<void> {
    const r = await restart(args);
    assert.equal(r.exitCode, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^ckpt-restart: cannot restart from ${args[0].replace(/\./g, '\\.')}: ${reason.source}$`));
  }

  it('resumes a vacated program from its image and ends as an uninterrupted run', async () => {
    const outFile = path.join(dir, 'out.txt');
    const out = fs.openSync(outFile, 'a');
    try {
      await vacateRun(bin, [CHUNK], dir, 'resume.img', ['ignore', out, out], () => chunkLines(outFile) >= 2);
    } finally {
      fs.closeSync(out);
    }
    tellToFinish(dir);
    try {
      const r = await execa(...nodeCommand(RESTART, [path.join(dir, 'resume.img')]), { cwd: '/', reject: false });
      assert.equal(r.exitCode, 0, r.stderr);
    } finally {
      fs.rmSync(path.join(dir, 'finish'));
    }
    const text = fs.readFileSync(outFile, 'utf8');
    assert.equal(text, await uninterrupted(exe, text));
  });

  it('passes signals on: SIGUSR2 checkpoints the program again, SIGTERM ends both', async () => {
    const { image } = await checkpointRun(bin, QUIET, dir, 'signals.img', 'ignore');
    const wrapper = spawn(...nodeCommand(RESTART, [image]), { cwd: dir, stdio: 'ignore' });
    const done = exited(wrapper);
    // both ready for the signal: ckpt-restart passes it on, the restarted program's runtime takes it
    await waitFor(() => {
      const program = onlyChild(wrapper.pid!);
      return program !== undefined && catches(wrapper.pid!, 'SIGUSR2') && catches(program, 'SIGUSR2');
    }, 'ckpt-restart and the restarted program to catch SIGUSR2');
    const before = fs.statSync(image).mtimeMs;
    wrapper.kill('SIGUSR2');
    await imageWritten(image, before);
    wrapper.kill('SIGTERM');
    assert.deepEqual(await done, { code: null, signal: 'SIGTERM' });
  });

  it('refuses a file that is not an image, and a missing one', async () => {
    fs.writeFileSync(path.join(dir, 'junk.img'), Buffer.alloc(8192, 0x5a));
    await refused(['junk.img'], /not a checkpoint image \(bad magic 0x5a5a5a5a5a5a5a5a\)/);
    await refused(['missing.img'], /no such file/);
  });

  it('refuses an image whose binary is gone or changed', async () => {
    const moved = path.join(dir, 'moved.ckpt');
    fs.copyFileSync(bin, moved);
    await checkpointRun(moved, QUIET, dir, 'moved.img', 'ignore');
    fs.rmSync(moved);
    await refused(['moved.img'], new RegExp(`its binary ${moved}: no such file`));
    await relinkFile(sample('glibc', 'hello'), moved);
    await refused(['moved.img'], new RegExp(`its binary ${moved} has changed since the checkpoint \\(binary id 0x[0-9a-f]+, the image's 0x[0-9a-f]+\\)`));
  });

  it('refuses a --binary that is not the relinked one', async () => {
    const original = sample('glibc', 'compute');
    await refused(['moved.img', '--binary', original], new RegExp(`its binary ${original}: not relinked by ckpt-relink \\(no \\.ckpt\\.config section\\)`));
  });

  it('exits 2 with one line for a usage error', async () => {
    for (const args of [[], ['a.img', 'b.img'], ['a.img', '--binary']]) {
      const r = await restart(args);
      assert.equal(r.exitCode, 2, args.join(' '));
      assert.match(r.stderr, /^ckpt-restart: .*usage: ckpt-restart IMAGE \[--binary PATH\]$/);
    }
  });
});
