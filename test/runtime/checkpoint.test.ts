// Checkpoint and restart: a relinked program checkpointed at a random moment of its own progress
// (CKPT_SIGNAL after its Nth line), killed with SIGKILL, and restarted from its image (CKPT_RESTART)
// ends exactly as an uninterrupted run does. Images that are damaged, truncated or not the binary's are refused
// with exit status 2 and one line, before anything is torn down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, SAMPLE_FLAVOURS, relinkFile, sample, scratch, waitFor } from '../helpers.js';
import { checkpointable, signalRunning, signalWhileStopped } from '../process.js';
import { CHUNK, afterChunks, caughtUp, chunkLines, offsetInImage, stepsProgram, tellToFinish, uninterrupted, withoutReplays, type Replayed } from '../steps.js';

/** Starts `file args` with CKPT_IMAGE, stdout to `out`; returns the child */
function startRun(file: string, args: string[], cwd: string, image: string, out: string, env: Record<string, string> = {}) {
  const fd = fs.openSync(out, 'a');
  const child = spawn(file, args, { cwd, stdio: ['ignore', fd, fd], env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image, ...env } });
  fs.closeSync(fd);
  return child;
}

/** Sends the checkpoint signal and waits until the image has been renamed into place */
async function checkpoint(child: ReturnType<typeof spawn>, image: string): Promise<void> {
  const mtime = () => fs.statSync(image, { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const before = mtime();
  signalRunning(child, 'SIGUSR2');
  await waitFor(() => mtime() !== before, `an image at ${image} after the checkpoint signal`);
}

/** Checkpoints the steps program after its `n`th chunk line, kills it; what it appended after the image */
async function checkpointAndKill(child: ReturnType<typeof spawn>, n: number, image: string, out: string): Promise<Replayed> {
  await afterChunks(out, n);
  await checkpoint(child, image);
  await killAndWait(child);
  return { from: offsetInImage(image, 1), to: fs.statSync(out).size };
}

async function killAndWait(child: ReturnType<typeof spawn>): Promise<void> {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await done;
}

function restartRun(file: string, cwd: string, image: string) {
  return spawn(file, [], { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', CKPT_RESTART: image } });
}

async function exitOf(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((r) => child.once('exit', (code) => r(code)));
}

/** Where process `pid` reads `file` now, or null when it has no descriptor open on it (any more) */
function readingAt(pid: number, file: string): number | null {
  try {
    for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
      if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`) !== file) continue;
      return Number(/^pos:\s+(\d+)$/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))![1]);
    }
  } catch { /* the process is gone */ }
  return null;
}

const lastLine = (text: string) => text.trim().split('\n').pop();

describe('checkpoint and restart', function () {
  this.timeout(180_000);

  for (const flavour of SAMPLE_FLAVOURS) {
    it(`${flavour}/steps checkpointed after a random number of chunks, killed and restarted ends like an uninterrupted run`, async () => {
      const dir = scratch();
      const exe = await stepsProgram(flavour);
      const bin = path.join(dir, 'steps.ckpt');
      await relinkFile(exe, bin);
      const out = path.join(dir, 'out.txt');
      const run = startRun(bin, [CHUNK], dir, 'run.img', out);
      const replayed = await checkpointAndKill(run, 1 + Math.floor(Math.random() * 4), path.join(dir, 'run.img'), out);
      const restarted = restartRun(bin, dir, 'run.img');
      const ended = exitOf(restarted);
      await caughtUp(out, replayed);
      tellToFinish(dir);
      assert.equal(await ended, 0);
      // stdout was a file: the restarted process goes on appending to it
      const text = fs.readFileSync(out, 'utf8');
      assert.equal(withoutReplays(text, [replayed]), await uninterrupted(exe, text));
    });
  }

  it('restarts the same computation 20 times in a row and still ends with the right result', async () => {
    const dir = scratch();
    const exe = await stepsProgram();
    const bin = path.join(dir, 'steps.ckpt');
    await relinkFile(exe, bin);
    const out = path.join(dir, 'out.txt');
    const image = path.join(dir, 'chain.img');
    const replays: Replayed[] = [];
    let child = startRun(bin, [CHUNK], dir, image, out);
    for (let i = 0; i < 20; i++) {
      // each run, the first and every restart, is checkpointed once it has written a chunk line of its own
      replays.push(await checkpointAndKill(child, chunkLines(out) + 1, image, out));
      child = restartRun(bin, dir, image);
      await caughtUp(out, replays[i]);
    }
    tellToFinish(dir);
    assert.equal(await exitOf(child), 0);
    const text = fs.readFileSync(out, 'utf8');
    assert.equal(withoutReplays(text, replays), await uninterrupted(exe, text));
  });

  it('restarts busybox sha256sum of a 256 MiB file mid-read, reopening the file at its offset', async () => {
    const dir = scratch();
    const big = path.join(dir, 'big.bin');
    const block = Buffer.alloc(1 << 20);
    const fd = fs.openSync(big, 'w');
    for (let i = 0; i < 256; i++) { block.fill(i * 7 + 1); block.writeUInt32LE(i, 0); fs.writeSync(fd, block); }
    fs.closeSync(fd);
    const bin = path.join(dir, 'busybox');
    await relinkFile('/bin/busybox', bin);
    const want = (await execa('/bin/busybox', ['sha256sum', 'big.bin'], { cwd: dir })).stdout;
    const out = path.join(dir, 'out.txt');
    // vacated rather than checkpointed and killed: it exits in the handler that writes the image,
    // so however fast it reads, it cannot finish the file between the two
    const run = startRun(bin, ['sha256sum', 'big.bin'], dir, 'bb.img', out, { CKPT_VACATE_SIGNAL: 'TERM' });
    const ended = exitOf(run);
    const readPosition = () => readingAt(run.pid!, big);
    await waitFor(() => (readPosition() ?? 0) > 0, 'sha256sum to start reading big.bin');
    await signalWhileStopped(run, 'SIGTERM', () => {
      const at = readPosition();
      assert.ok(at !== null && at < fs.statSync(big).size, `sha256sum is still reading big.bin (at ${at})`);
    });
    assert.equal(await ended, 85);
    assert.equal(fs.readFileSync(out, 'utf8'), '', 'vacated before it finished');
    assert.equal(await exitOf(restartRun(bin, dir, 'bb.img')), 0);
    assert.equal(fs.readFileSync(out, 'utf8').trim(), want);
  });

  it('saves memory exactly while the kernel reschedules the program (rseq) and next to its scratch area', async () => {
    // bench/ckptmem.c maps 256 MiB. The writer's scratch mapping lands next to it and the kernel
    // merges the two into one region; and a checkpoint that long is usually rescheduled, when the
    // kernel rewrites glibc's rseq area. Either would make the saved memory fail its checksum.
    const dir = scratch();
    const exe = path.join(dir, 'ckptmem');
    await execa('gcc', ['-O2', '-static', '-o', exe, path.join(ROOT, 'bench/ckptmem.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
    for (let round = 0; round < 3; round++) {
      for (const f of ['go', 'out.txt', 'mem.img']) fs.rmSync(path.join(dir, f), { force: true });
      const out = path.join(dir, 'out.txt');
      const run = startRun(`${exe}.ckpt`, ['256'], dir, 'mem.img', out);
      await waitFor(() => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('ready'), 'ckptmem to say ready');
      await checkpoint(run, path.join(dir, 'mem.img'));
      fs.writeFileSync(path.join(dir, 'go'), '');
      await exitOf(run);
      const sum = /sum=(\d+)/.exec(fs.readFileSync(out, 'utf8'))![1];
      const restarted = spawn(`${exe}.ckpt`, [], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { CKPT_RESTART: 'mem.img' } });
      let stderr = '';
      restarted.stderr!.on('data', (d) => { stderr += d; });
      assert.equal(await exitOf(restarted), 0, stderr);
      const sums = [...fs.readFileSync(out, 'utf8').matchAll(/sum=(\d+)/g)].map((m) => m[1]);
      assert.deepEqual(sums, [sum, sum]);
    }
  });

  describe('refusing images', () => {
    let dir: string, bin: string, image: Buffer;

    before(async () => {
      dir = scratch();
      bin = path.join(dir, 'steps.ckpt');
      await relinkFile(await stepsProgram('musl'), bin);
      const run = startRun(bin, [CHUNK], dir, 'good.img', path.join(dir, 'out.txt'));
      await checkpointAndKill(run, 1, path.join(dir, 'good.img'), path.join(dir, 'out.txt'));
      image = fs.readFileSync(path.join(dir, 'good.img'));
    });

    async function refused(bytes: Buffer | null, file = bin): Promise<string> {
      const p = path.join(dir, 'bad.img');
      fs.rmSync(p, { force: true });
      if (bytes) fs.writeFileSync(p, bytes);
      const r = await execa(file, [], { cwd: dir, reject: false, env: { CKPT_RESTART: p } });
      assert.equal(r.exitCode, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.split('\n').length, 1, r.stderr);
      return r.stderr;
    }

    it('refuses a file that is not an image', async () => {
      assert.match(await refused(Buffer.alloc(4096, 1)), /not a checkpoint image/);
    });
    it('refuses a missing image', async () => {
      assert.match(await refused(null), /cannot open it/);
    });
    it('refuses a truncated image', async () => {
      assert.match(await refused(image.subarray(0, image.length - 4096)), /truncated/);
    });
    it('refuses an image with one flipped byte in its memory contents', async () => {
      const bad = Buffer.from(image);
      bad[bad.length - 5000] ^= 0x40;
      assert.match(await refused(bad), /corrupt/);
    });
    it('refuses an image with one flipped byte in a record', async () => {
      const bad = Buffer.from(image);
      bad[200] ^= 0x01;
      assert.match(await refused(bad), /corrupt/);
    });
    it('refuses an image made by a different binary', async () => {
      const other = path.join(dir, 'hello.ckpt');
      await relinkFile(sample('musl', 'hello'), other);
      assert.match(await refused(image, other), /different binary/);
    });
    it('keeps the previous image whole when writing the next one fails, and the program goes on', async () => {
      // RLIMIT_FSIZE of one page: the memory contents start past it (EFBIG in the writer, which
      // blocks SIGXFSZ); an image holds only the pages written, a few dozen KiB for this program
      const image2 = path.join(dir, 'kept.img');
      fs.copyFileSync(path.join(dir, 'good.img'), image2);
      const out = path.join(dir, 'kept-out.txt');
      const fd = fs.openSync(out, 'w');
      // quiet: nothing of its own on stdout until it is told to finish, after the failure's line
      const run = spawn('prlimit', ['--fsize=4096', '--', bin, '-q', CHUNK], { cwd: dir, stdio: ['ignore', fd, fd], env: { CKPT_IMAGE: image2 } });
      fs.closeSync(fd);
      const ended = exitOf(run);
      await checkpointable(run);
      signalRunning(run, 'SIGUSR2');
      await waitFor(() => fs.readFileSync(out, 'utf8').includes('\n'), 'the line that says the checkpoint failed');
      tellToFinish(dir);
      assert.equal(await ended, 0);
      const text = fs.readFileSync(out, 'utf8');
      const failed = 'ckpt: checkpoint failed (error 27), previous image kept\n';
      assert.equal(text, failed + await uninterrupted(await stepsProgram('musl'), text.slice(failed.length), ['-q', CHUNK]));
      assert.ok(fs.readFileSync(image2).equals(image), 'the previous image is byte for byte as it was');
      assert.deepEqual(fs.readdirSync(dir).filter((n) => n.endsWith('.tmp')), [], 'no temporary file left behind');
      const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { CKPT_RESTART: image2 } });
      assert.equal(await exitOf(restarted), 0);
      assert.match(lastLine(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'))!, /^chunks=\d+ checksum=/);
    });
  });
});
