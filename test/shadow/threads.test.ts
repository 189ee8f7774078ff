// Threads of one job on the shadow: four threads each rewrite, read back, stat, rename and append to
// files of their own, all at once over the process's one connection. What they print and the files
// they leave equal a local run of the original, byte for byte; so do they when the threads are
// checkpointed while they make calls, killed, and restarted from the image on the shadow. Four
// threads that vfork at once take turns with the remote state, their children counted as locally.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { SAMPLE_FLAVOURS, relinkFile, runProgram, sample, scratch, waitFor } from '../helpers.js';
import { rootTree, startShadow, tree, type Shadow } from './shadow-process.js';

const THREADS = 4;

function jobEnv(shadow: Shadow, extra: Record<string, string> = {}): Record<string, string> {
  return { CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, ...extra };
}

/** The original's run in a directory of its own, with `go` there when asked: its stdout and files */
async function localRun(flavour: (typeof SAMPLE_FLAVOURS)[number], args: string[], go: boolean) {
  const dir = scratch('ckpt-thread-files-');
  if (go) fs.writeFileSync(path.join(dir, 'go'), '');
  const r = await runProgram(sample(flavour, 'thread_files'), args, { cwd: dir });
  assert.equal(r.exitCode, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /PASS\n$/);
  return { stdout: r.stdout, files: tree(dir) };
}

describe('threads of one job on the shadow', function () {
  this.timeout(300_000);
  const bins = scratch('ckpt-thread-files-bin-');

  for (const flavour of SAMPLE_FLAVOURS) {
    const relinked = path.join(bins, `${flavour}-thread_files.ckpt`);
    before(async () => relinkFile(sample(flavour, 'thread_files'), relinked));

    it(`${flavour}: four threads making remote calls at once leave the local run's output and files`, async () => {
      const args = ['300'];
      const want = await localRun(flavour, args, false);
      const shadow = await startShadow();
      try {
        const got = await runProgram(relinked, args, { cwd: scratch(), env: jobEnv(shadow), timeout: 240_000 });
        assert.equal(got.exitCode, 0, got.stdout + got.stderr);
        assert.equal(got.stdout, want.stdout);
        assert.deepEqual(rootTree(shadow.root), want.files);
      } finally {
        await shadow.stop();
      }
    });

    it(`${flavour}: checkpointed while every thread makes calls, killed, restarted: the local run's output and files`, async () => {
      const args = ['120', '60'];
      const want = await localRun(flavour, args, true);
      const shadow = await startShadow();
      try {
        const env = jobEnv(shadow, { CKPT_IMAGE: 'shadow:threads.img' });
        const run = execa(relinked, args, { cwd: scratch(), env, reject: false, extendEnv: false });
        // every thread at its hold: each asks the shadow for "go" every 2 ms until the test makes it
        const held = Array.from({ length: THREADS }, (_, t) => path.join(shadow.root, `t${t}.held`));
        await waitFor(() => held.every((f) => fs.existsSync(f)), 'every thread at its hold');
        const since = shadow.log.length;
        run.kill('SIGUSR2');
        await shadow.waitForLog(/checkpoint stored threads\.img/, 120_000, since);
        run.kill('SIGKILL');
        assert.equal((await run).signal, 'SIGKILL');
        fs.writeFileSync(path.join(shadow.root, 'go'), '');
        const again = await runProgram(relinked, [], { cwd: scratch(), env: jobEnv(shadow, { CKPT_RESTART: 'shadow:threads.img' }), timeout: 240_000 });
        assert.equal(again.exitCode, 0, again.stdout + again.stderr);
        assert.equal(again.stdout, want.stdout);
        assert.deepEqual(rootTree(shadow.root), want.files);
      } finally {
        await shadow.stop();
      }
    });

    it(`${flavour}: four threads vfork and posix_spawn at once on the shadow (each child under its parent thread's hold of the remote state): every child counted, as in a local run`, async () => {
      const bin = path.join(bins, `${flavour}-thread_spawn.ckpt`);
      await relinkFile(sample(flavour, 'thread_spawn'), bin);
      const want = await runProgram(sample(flavour, 'thread_spawn'), [], { cwd: scratch() });
      const shadow = await startShadow();
      try {
        const got = await runProgram(bin, [], { cwd: scratch(), env: jobEnv(shadow), timeout: 240_000 });
        assert.equal(got.exitCode, 0, got.stderr);
        assert.equal(got.stdout, want.stdout);
        assert.match(got.stdout, /^4 threads came back to their own code, 80 of 80 children exited 0\n$/);
      } finally {
        await shadow.stop();
      }
    });
  }
});
