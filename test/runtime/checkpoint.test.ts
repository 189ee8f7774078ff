// Checkpoint and restart: a relinked program checkpointed at a random moment (CKPT_SIGNAL),
// killed with SIGKILL, and restarted from its image (CKPT_RESTART) ends exactly as an
// uninterrupted run does. Images that are damaged, truncated or not the binary's are refused
// with exit status 2 and one line, before anything is torn down.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, SAMPLE_FLAVOURS, relinkFile, runProgram, sample, scratch } from '../helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STEPS = '900000000';

/** Starts `file args` with CKPT_IMAGE, stdout to `out`; returns the child */
function startRun(file: string, args: string[], cwd: string, image: string, out: string, env: Record<string, string> = {}) {
  const fd = fs.openSync(out, 'a');
  const child = spawn(file, args, { cwd, stdio: ['ignore', fd, fd], env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image, ...env } });
  fs.closeSync(fd);
  return child;
}

/** Sends the checkpoint signal and waits until the image has been renamed into place */
async function checkpoint(pid: number, image: string): Promise<void> {
  const before = fs.existsSync(image) ? fs.statSync(image).mtimeMs : 0;
  process.kill(pid, 'SIGUSR2');
  for (let t = 0; t < 200; t++) {
    if (fs.existsSync(image) && fs.statSync(image).mtimeMs !== before) return;
    await sleep(25);
  }
  throw new Error('no image appeared after the checkpoint signal');
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

const lastLine = (text: string) => text.trim().split('\n').pop();

describe('checkpoint and restart', function () {
  this.timeout(180_000);

  for (const flavour of SAMPLE_FLAVOURS) {
    it(`${flavour}/compute checkpointed at a random moment, killed and restarted ends like an uninterrupted run`, async () => {
      const dir = scratch();
      const bin = path.join(dir, 'compute.ckpt');
      await relinkFile(sample(flavour, 'compute'), bin);
      const want = await runProgram(sample(flavour, 'compute'), [STEPS], { cwd: dir });
      const out = path.join(dir, 'out.txt');
      // A line written between the image and the kill is written again by the restart, as any
      // program restarted from an older state does; such a try proves nothing, so it is made again.
      for (let tries = 0; ; tries++) {
        fs.rmSync(out, { force: true });
        const run = startRun(bin, [STEPS], dir, 'run.img', out);
        await sleep(100 + Math.random() * 300);
        const atSignal = fs.statSync(out).size;
        await checkpoint(run.pid!, path.join(dir, 'run.img'));
        await killAndWait(run);
        if (fs.statSync(out).size === atSignal) break;
        assert.ok(tries < 4, 'the program wrote between the checkpoint and the kill in five tries');
      }
      const code = await exitOf(restartRun(bin, dir, 'run.img'));
      assert.equal(code, 0);
      // stdout was a file: the restarted process goes on writing it at the saved offset
      assert.equal(fs.readFileSync(out, 'utf8'), want.stdout);
    });
  }

  it('restarts the same computation 20 times in a row and still ends with the right result', async () => {
    const dir = scratch();
    const bin = path.join(dir, 'compute.ckpt');
    await relinkFile(sample('glibc', 'compute'), bin);
    const steps = '2500000000';
    const want = await runProgram(sample('glibc', 'compute'), [steps], { cwd: dir, timeout: 120_000 });
    const out = path.join(dir, 'out.txt');
    const image = path.join(dir, 'chain.img');
    let child = startRun(bin, [steps], dir, image, out);
    for (let i = 0; i < 20; i++) {
      await sleep(50 + Math.random() * 100);
      await checkpoint(child.pid!, image);
      await killAndWait(child);
      child = restartRun(bin, dir, image);
    }
    assert.equal(await exitOf(child), 0);
    assert.equal(lastLine(fs.readFileSync(out, 'utf8')), lastLine(want.stdout));
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
    const run = startRun(bin, ['sha256sum', 'big.bin'], dir, 'bb.img', out);
    await sleep(150);
    await checkpoint(run.pid!, path.join(dir, 'bb.img'));
    await killAndWait(run);
    assert.equal(fs.readFileSync(out, 'utf8'), '', 'killed before it finished');
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
      for (let t = 0; t < 400 && !(fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('ready')); t++) await sleep(25);
      await checkpoint(run.pid!, path.join(dir, 'mem.img'));
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
      bin = path.join(dir, 'compute.ckpt');
      await relinkFile(sample('musl', 'compute'), bin);
      const run = startRun(bin, [STEPS], dir, 'good.img', path.join(dir, 'out.txt'));
      await sleep(100);
      await checkpoint(run.pid!, path.join(dir, 'good.img'));
      await killAndWait(run);
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
      // RLIMIT_FSIZE of 64 KiB: the image write passes it (EFBIG in the writer, which blocks SIGXFSZ)
      const image2 = path.join(dir, 'kept.img');
      fs.copyFileSync(path.join(dir, 'good.img'), image2);
      const out = path.join(dir, 'kept-out.txt');
      const want = await runProgram(sample('glibc', 'compute'), [STEPS], { cwd: dir });
      const fd = fs.openSync(out, 'w');
      const run = spawn('prlimit', ['--fsize=65536', '--', bin, STEPS], { cwd: dir, stdio: ['ignore', fd, fd], env: { CKPT_IMAGE: image2 } });
      fs.closeSync(fd);
      await sleep(150);
      const ended = exitOf(run);
      process.kill(run.pid!, 'SIGUSR2');
      assert.equal(await ended, 0);
      const text = fs.readFileSync(out, 'utf8');
      assert.equal(text, 'ckpt: checkpoint failed (error 27), previous image kept\n' + want.stdout);
      assert.ok(fs.readFileSync(image2).equals(image), 'the previous image is byte for byte as it was');
      assert.ok(!fs.existsSync(image2 + '.tmp'), 'no temporary file left behind');
      const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { CKPT_RESTART: image2 } });
      assert.equal(await exitOf(restarted), 0);
      assert.match(lastLine(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'))!, /^steps=900000000 checksum=/);
    });
  });
});
