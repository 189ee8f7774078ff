// Threads (docs/limits.md, "Threads"): every thread of a process is in one image and comes back
// from it. A pool that creates and joins threads in a loop is checkpointed 100 times while it runs
// (so checkpoints land while threads are being made, are working, are exiting and are joined);
// a sample of those images is restarted, and each restarted pool must go on and end with its own
// check passed. The checkpoint and vacate signals work sent to one thread, not the process. An
// OpenMP computation (8 threads, libgomp's pool) checkpointed once it says it began, killed and
// restarted, prints what an uninterrupted run prints. The pool runs once more with incremental images.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, SAMPLE_FLAVOURS, fixture, relinkFile, runProgram, sample, scratch, waitFor, type Flavour } from '../helpers.js';
import { bufferSource, fileSource, readImage } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import * as C from '../../src/contract.generated.js';

const CHECKPOINTS = 100;
/** Which of the 100 images are restarted: the first ones, the last, and some between */
const RESTARTED = new Set([1, 2, 3, 10, 33, 50, 67, 90, 99, 100]);
const CKPT_EXIT_VACATED = 85;

class Running {
  out = '';
  err = '';
  readonly child: ChildProcess;
  readonly ended: Promise<{ code: number | null; signal: string | null }>;

  constructor(bin: string, args: string[], cwd: string, env: Record<string, string>) {
    this.child = spawn(bin, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C', ...env } });
    this.child.stdout!.on('data', (d) => { this.out += d; });
    this.child.stderr!.on('data', (d) => { this.err += d; });
    this.child.stdin!.on('error', () => {});
    this.ended = new Promise((r) => this.child.once('close', (code, signal) => r({ code, signal })));
  }

  get pid(): number { return this.child.pid!; }

  said(text: string | RegExp): Promise<true> {
    const seen = () => (typeof text === 'string' ? this.out.includes(text) : text.test(this.out));
    return waitFor(() => seen() || (this.child.exitCode !== null || this.child.signalCode !== null ? (() => {
      throw new Error(`the program ended before it said ${text}; stdout ${JSON.stringify(this.out)}, stderr ${JSON.stringify(this.err)}`);
    })() : false), `the program to say ${text}`);
  }

  /** A thread of the process other than its first (the kernel's list), for signals sent to one thread */
  otherThread(): Promise<number> {
    return waitFor(() => fs.readdirSync(`/proc/${this.pid}/task`).map(Number).find((t) => t !== this.pid), 'a second thread');
  }
}

/** The image's generation (docs/image-format.md), 0 while there is none */
function generation(image: string): bigint {
  if (!fs.existsSync(image)) return 0n;
  const src = fileSource(image);
  try { return readImage(src).header?.generation ?? 0n; } finally { src.close(); }
}

async function nextImage(image: string, since: bigint): Promise<bigint> {
  return waitFor(() => { const g = generation(image); return g > since && g; }, `an image after generation ${since}`);
}

/** tgkill(pid, tid, sig): the signal to that one thread (kill(1) would send it to the process) */
async function tgkill(pid: number, tid: number, sig: number): Promise<void> {
  await execa('perl', ['-e', `syscall(234, ${pid}, ${tid}, ${sig}) == 0 or die "tgkill: $!\\n"`]);
}

const PASSED = /^PASS after (\d+) rounds: total \d+$/m;

/** A restarted pool goes on (a new "rounds" line), ends when told, and passes its own check */
async function restartPool(bin: string, dir: string, image: string): Promise<void> {
  const run = new Running(bin, [], dir, { CKPT_RESTART: image });
  await run.said(/^rounds \d+$/m);
  run.child.stdin!.end('stop\n');
  const { code } = await run.ended;
  assert.equal(code, 0, `${path.basename(image)}: exit ${code}, stderr ${JSON.stringify(run.err)}`);
  assert.match(run.out, PASSED, `${path.basename(image)}: ${JSON.stringify(run.out)}`);
}

const relinked = new Map<string, Promise<string>>();
function relinkedPool(flavour: Flavour): Promise<string> {
  if (!relinked.has(flavour)) {
    const bin = path.join(scratch('ckpt-threads-'), `thread_pool-${flavour}`);
    relinked.set(flavour, relinkFile(sample(flavour, 'thread_pool'), bin).then(() => bin));
  }
  return relinked.get(flavour)!;
}

describe('threads: a pool that makes and joins threads in a loop', function () {
  this.timeout(600_000);

  // incremental images too (a chain that never folds, so that the copies keep their links): threads
  // made, their stacks unmapped and memory written while the tracking goes on
  const INCREMENTAL = { CKPT_INCREMENTAL: '1', CKPT_CHAIN_MAX: '1000', CKPT_CHAIN_PERCENT: '0' };
  const runs = [...SAMPLE_FLAVOURS.map((f) => ({ flavour: f, env: {}, what: '' })), { flavour: 'glibc' as const, env: INCREMENTAL, what: ' (incremental images)' }];
  for (const { flavour, env, what } of runs) {
    it(`${flavour}: checkpointed ${CHECKPOINTS} times while it runs${what}, it ends with its check passed, and images ${[...RESTARTED].join(', ')} each restart and pass`, async () => {
      const bin = await relinkedPool(flavour);
      const dir = scratch('ckpt-pool-');
      const image = path.join(dir, 'pool.img');
      const run = new Running(bin, [], dir, { CKPT_IMAGE: image, ...env });
      await run.said('READY\n');
      let g = 0n;
      for (let i = 1; i <= CHECKPOINTS; i++) {
        run.child.kill('SIGUSR2');
        g = await nextImage(image, g);
        if (RESTARTED.has(i)) fs.copyFileSync(image, path.join(dir, `pool.${i}.img`));
      }
      run.child.stdin!.end('stop\n');
      const { code } = await run.ended;
      assert.equal(code, 0, `exit ${code}, stderr ${JSON.stringify(run.err)}`);
      assert.match(run.out, PASSED);
      assert.equal(run.err, '', 'no checkpoint complained');
      if (env === INCREMENTAL) {
        const src = fileSource(path.join(dir, `pool.${CHECKPOINTS}.img`));
        try { assert.equal(readImage(src).parent?.depth, CHECKPOINTS - 1, 'the last image is the 99th incremental one'); } finally { src.close(); }
      }
      for (const i of RESTARTED) await restartPool(bin, dir, path.join(dir, `pool.${i}.img`));
    });
  }

  it('the checkpoint signal sent to one thread (tgkill) checkpoints every thread', async () => {
    const bin = await relinkedPool('glibc');
    const dir = scratch('ckpt-pool-');
    const image = path.join(dir, 'pool.img');
    const run = new Running(bin, [], dir, { CKPT_IMAGE: image });
    await run.said('READY\n');
    await tgkill(run.pid, await run.otherThread(), 12 /* SIGUSR2 */);
    await nextImage(image, 0n);
    const image1 = readImage(fileSource(image));
    assert.deepEqual(image1.problems, []);
    run.child.kill('SIGKILL');
    await run.ended;
    await restartPool(bin, dir, image);
  });

  it('the vacate signal sent to one thread writes the image, ends the process with 85, and the image restarts', async () => {
    const bin = await relinkedPool('musl');
    const dir = scratch('ckpt-pool-');
    const image = path.join(dir, 'pool.img');
    const run = new Running(bin, [], dir, { CKPT_IMAGE: image, CKPT_VACATE_SIGNAL: 'USR1' });
    await run.said('READY\n');
    await tgkill(run.pid, await run.otherThread(), 10 /* SIGUSR1 */);
    const { code } = await run.ended;
    assert.equal(code, CKPT_EXIT_VACATED, `stderr ${JSON.stringify(run.err)}`);
    await restartPool(bin, dir, image);
  });
});

describe('threads: the runtime\'s stop signal (63)', function () {
  this.timeout(300_000);

  it('is still the program\'s own: its handler, raised, sent to a thread and queued, as without the runtime', async () => {
    const dir = scratch('ckpt-sig63-');
    const exe = path.join(dir, 'signal-63');
    await execa('gcc', ['-O2', '-static', '-pthread', '-o', exe, path.join(ROOT, 'test/fixtures/signal-63.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
    const want = await runProgram(exe, [], { cwd: dir });
    assert.match(want.stdout, /^queued: taken 3, value 6363$/m);
    const got = await runProgram(`${exe}.ckpt`, [], { cwd: dir, env: { CKPT_IMAGE: path.join(dir, 'unused.img') } });
    assert.deepEqual(got, want);
  });
});

describe('threads: a process whose first thread has ended', function () {
  this.timeout(300_000);

  it('is checkpointed without its zombie first thread, and its other thread restarts and passes', async () => {
    const dir = scratch('ckpt-zombie-');
    const exe = path.join(dir, 'main-exits');
    await execa('gcc', ['-O2', '-static', '-pthread', '-o', exe, path.join(ROOT, 'test/fixtures/main-exits.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
    const image = path.join(dir, 'zombie.img');
    const first = new Running(`${exe}.ckpt`, [], dir, { CKPT_IMAGE: image });
    await first.said('READY\n');
    await waitFor(() => /^State:\s+Z/m.test(fs.readFileSync(`/proc/${first.pid}/status`, 'utf8')), 'the first thread to be a zombie');
    first.child.kill('SIGUSR2');
    await nextImage(image, 0n);
    const threads = readImage(fileSource(image)).threads;
    first.child.kill('SIGKILL');
    await first.ended;
    assert.equal(threads.length, 1, 'the zombie is not in the image');
    const second = new Running(`${exe}.ckpt`, [], dir, { CKPT_RESTART: image });
    second.child.stdin!.end('go\n');
    const { code } = await second.ended;
    assert.equal(code, 0, `stdout ${JSON.stringify(second.out)}, stderr ${JSON.stringify(second.err)}`);
    assert.equal(second.out, 'PASS\n');
  });
});

describe('threads: an OpenMP computation', function () {
  this.timeout(600_000);
  const STEPS = '20000';
  const env = { OMP_NUM_THREADS: '8' };

  it('checkpointed once its 8 threads are at work, killed, and restarted, prints what an uninterrupted run prints', async () => {
    const dir = scratch('ckpt-omp-');
    const exe = path.join(dir, 'omp-heat');
    await execa('gcc', ['-O2', '-fopenmp', '-static', '-o', exe, path.join(ROOT, 'test/fixtures/omp-heat.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
    const want = await runProgram(exe, [STEPS], { cwd: dir, env, timeout: 300_000 });
    assert.equal(want.exitCode, 0);
    const image = path.join(dir, 'heat.img');
    const first = new Running(`${exe}.ckpt`, [STEPS], dir, { ...env, CKPT_IMAGE: image });
    await first.said('began');
    first.child.kill('SIGUSR2');
    await nextImage(image, 0n);
    const bytes = fs.readFileSync(image);
    const decoded = readImage(bufferSource(bytes));
    const threads = decoded.records.filter((r) => r.header.kind === C.CKPT_REC_THREAD).length;
    first.child.kill('SIGKILL');
    await first.ended;
    assert.ok(first.out.startsWith('began with 8 threads\n') && !first.out.includes('after'), `the image was taken mid-run: ${JSON.stringify(first.out)}`);
    assert.equal(threads, 8, 'one thread record per thread of the pool');
    assert.deepEqual(decoded.problems, []);
    assert.deepEqual(decoded.threads.map((t) => t.registers === null), [true, ...Array(7).fill(false)], 'the leader first, with its registers in the register record');
    assert.equal(new Set(decoded.threads.map((t) => t.tid)).size, 8, 'eight tids');
    assert.ok(encodeImage(decoded, bufferSource(bytes), { seal: true }).equals(bytes), 'ckpt-inspect decodes and encodes thread records byte for byte');
    const second = new Running(`${exe}.ckpt`, [STEPS], dir, { ...env, CKPT_RESTART: image });
    const { code } = await second.ended;
    assert.equal(code, 0, `stderr ${JSON.stringify(second.err)}`);
    assert.equal(first.out + second.out, want.stdout);
  });
});

describe('threads: the runtime\'s thread table and vfork children', function () {
  this.timeout(300_000);

  // Each vfork child takes a slot in its parent's table while it runs; 3000 of them are more than
  // the table holds, so stale slots are swept: by the table's own process, never by a child, under
  // whose pid every thread of the parent would look gone (python's test_subprocess crashed so)
  for (const [what, args] of [['whose exec fails', []], ['that exec /bin/true', ['/bin/true']]] as const) {
    it(`a relinked program makes 3000 vfork children ${what}, and goes on`, async () => {
      const bin = path.join(scratch('ckpt-vfork-many-'), 'vfork-many.ckpt');
      await relinkFile(await fixture('vfork-many'), bin);
      const r = await runProgram(bin, [...args], { cwd: path.dirname(bin), timeout: 240_000 });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'done\n');
    });
  }

  it('a vfork child that execs gives its slot back as its parent runs again: 3000 of them never fill the table (strace sees no sweep)', async () => {
    // a sweep asks the kernel about every tid in the table (tgkill with signal 0); it runs only
    // when no slot is free, which a child's slot left behind after its exec would make happen
    const dir = scratch('ckpt-vfork-slots-');
    const bin = path.join(dir, 'vfork-many.ckpt'), trace = path.join(dir, 'trace');
    await relinkFile(await fixture('vfork-many'), bin);
    const r = await execa('strace', ['-f', '-qq', '-e', 'trace=tgkill', '-o', trace, bin, '/bin/true'], { cwd: dir, reject: false, timeout: 240_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'done');
    const probes = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => /tgkill\(\d+, \d+, 0\)/.test(l));
    assert.deepEqual(probes, [], 'the runtime swept its thread table');
  });
});
