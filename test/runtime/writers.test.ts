// One writer per image (docs/image-format.md, runtime/ckpt/publish.c). A checkpoint's writer
// outlives a program killed after the checkpoint signal; a run restarted at once from the image in
// place then checkpoints to the same path while that writer may still be busy. The image in place
// must always be the newest state, sound and restartable, and no temporary file may be left.
//
// A writer is held "busy" by the test itself, whatever the machine's speed: the test takes the
// lock writers take on the image's directory before they put an image in place (util-linux
// flock(1) on the directory), so every writer finishes its file and then waits for the test.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { checkImage, fileSource } from '../../src/image/read.js';
import { relinkFile, scratch, waitFor } from '../helpers.js';
import { stopAfterTest } from '../hooks.js';
import { checkpointable, processState } from '../process.js';
import { CHUNK, afterChunks, stepsProgram, tellToFinish } from '../steps.js';

const RESTART = 1n << BigInt(C.CKPT_GEN_RESTART_SHIFT);
const TMP = /^img\.[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}\.tmp$/;

/** The generation of the image at `file` (it must be sound), or null when there is none */
function generationOf(file: string): bigint | null {
  if (!fs.existsSync(file)) return null;
  const src = fileSource(file);
  try {
    const { image, problems } = checkImage(src);
    assert.deepEqual(problems, [], `the image at ${file} is sound`);
    return image.header!.generation;
  } finally {
    src.close();
  }
}

const generationText = (g: bigint | null) => (g === null ? 'none' : `${g >> 32n}.${g & 0xffffffffn}`);

/** Pids of the live children of `pid` (a checkpoint's writer is a child of its program) */
function childrenOf(pid: number): number[] {
  const kids: number[] = [];
  for (const name of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') kids.push(Number(name));
    } catch { /* gone meanwhile */ }
  }
  return kids;
}

const gone = (pid: number) => { const s = processState(pid); return s === null || s === 'Z'; };

/** The image directory's lock, held by flock(1) until released */
async function holdLock(dir: string): Promise<() => Promise<void>> {
  const holder = spawn('/usr/bin/flock', ['--exclusive', dir, 'sh', '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
  let said = '';
  holder.stdout!.on('data', (d: Buffer) => { said += d.toString(); });
  await waitFor(() => said.includes('locked') || holder.exitCode !== null, 'flock(1) to hold the directory');
  assert.ok(said.includes('locked'), 'flock(1) took the lock');
  const release = async () => {
    if (holder.exitCode !== null) return;
    const ended = new Promise((r) => holder.once('exit', r));
    holder.stdin!.end();
    await ended;
  };
  stopAfterTest(release);
  return release;
}

class Job {
  readonly image: string;
  constructor(readonly dir: string, readonly bin: string, readonly env: Record<string, string> = {}) { this.image = path.join(dir, 'img'); }

  /** A run of the program, fresh or from the image; its stdout and stderr append to run.log */
  start(restart: boolean): ChildProcess {
    const log = fs.openSync(path.join(this.dir, 'run.log'), 'a');
    const env: Record<string, string> = { PATH: '/usr/bin:/bin', CKPT_IMAGE: this.image, ...this.env, ...(restart ? { CKPT_RESTART: this.image } : {}) };
    const child = spawn(this.bin, restart ? [] : [CHUNK], { cwd: this.dir, stdio: ['ignore', log, log], env });
    fs.closeSync(log);
    stopAfterTest(async () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    return child;
  }

  tmps(): string[] { return fs.readdirSync(this.dir).filter((n) => TMP.test(n)); }

  /** Incremental images' chain links (docs/image-format.md, "Incremental images") */
  links(): string[] { return fs.readdirSync(this.dir).filter((n) => /^img\.g[0-9a-f]{16}$/.test(n)); }

  /** Sends the checkpoint signal, the directory locked, and returns the writer it forks (waiting for the lock) */
  async lockedCheckpoint(run: ChildProcess): Promise<number> {
    const before = new Set(childrenOf(run.pid!));
    process.kill(run.pid!, 'SIGUSR2');
    const [writer] = await waitFor(() => {
      const fresh = childrenOf(run.pid!).filter((p) => !before.has(p));
      return fresh.length > 0 && fresh;
    }, `the writer of process ${run.pid}`);
    return writer;
  }

  async waitGeneration(want: bigint): Promise<void> {
    await waitFor(() => generationOf(this.image) === want, `the image at generation ${generationText(want)} (now ${generationText(generationOf(this.image))})`);
  }
}

async function killed(run: ChildProcess): Promise<void> {
  const ended = new Promise((r) => run.once('exit', r));
  run.kill('SIGKILL');
  await ended;
}

async function ends(run: ChildProcess): Promise<number | null> {
  return run.exitCode ?? new Promise((r) => run.once('exit', (code) => r(code)));
}

describe('one writer per image', function () {
  this.timeout(180_000);
  let bin: string;

  before(async () => {
    bin = path.join(scratch('ckpt-writers-bin-'), 'steps.ckpt');
    await relinkFile(await stepsProgram(), bin);
  });

  async function firstImage(env: Record<string, string> = {}): Promise<{ job: Job; run: ChildProcess }> {
    const job = new Job(scratch('ckpt-writers-'), bin, env);
    const run = job.start(false);
    await checkpointable(run);
    await afterChunks(path.join(job.dir, 'run.log'), 1);
    process.kill(run.pid!, 'SIGUSR2');
    await job.waitGeneration(1n);
    return { job, run };
  }

  it("a killed run's writer that finishes last does not roll back the image its restarted run made", async () => {
    const { job, run } = await firstImage();
    const release = await holdLock(job.dir);
    const orphan = await job.lockedCheckpoint(run);			// generation 0.2, waits for the lock
    await killed(run);
    const restarted = job.start(true);				// from 0.1: it counts 1.1
    await checkpointable(restarted);
    const newer = await job.lockedCheckpoint(restarted);		// generation 1.2
    process.kill(orphan, 'SIGSTOP');
    await waitFor(() => processState(orphan) === 'T', 'the orphaned writer to stop');
    await release();
    await job.waitGeneration(RESTART | 2n);
    await waitFor(() => gone(newer), 'the restarted run\'s writer to end');
    process.kill(orphan, 'SIGCONT');
    await waitFor(() => gone(orphan), 'the orphaned writer to end');
    assert.equal(generationText(generationOf(job.image)), '1.2', 'the restarted run\'s state stays in place');
    assert.match(fs.readFileSync(path.join(job.dir, 'run.log'), 'utf8'),
      new RegExp(`ckpt: checkpoint not put in place: ${job.image} holds a newer state of the job\n`));
    assert.deepEqual(job.tmps(), [], 'no temporary file is left');
    tellToFinish(job.dir);
    assert.equal(await ends(restarted), 0);
  });

  it("a run that goes on after its image was restarted cannot replace the restarted run's newer image", async () => {
    const { job, run } = await firstImage();
    const twin = job.start(true);				// the same job, from 0.1: 1.1, while the run goes on
    await checkpointable(twin);
    process.kill(twin.pid!, 'SIGUSR2');
    await job.waitGeneration(RESTART | 2n);
    process.kill(run.pid!, 'SIGUSR2');				// 0.2: older, though written later
    const log = path.join(job.dir, 'run.log');
    await waitFor(() => fs.readFileSync(log, 'utf8').includes('ckpt: checkpoint not put in place'), 'the older state to be refused');
    assert.equal(generationText(generationOf(job.image)), '1.2');
    assert.deepEqual(job.tmps(), [], 'the refused state\'s file is removed');
    await killed(run);
    tellToFinish(job.dir);
    assert.equal(await ends(twin), 0);
  });

  // with incremental images too: every image that lands gets a chain link (round 1's orphan is an
  // incremental image, the second of its run; a restarted run's first is full), and once a full
  // image is in place only its own link is left
  for (const { what, env } of [{ what: '', env: {} }, { what: ' (incremental images)', env: { CKPT_INCREMENTAL: '1' } }]) {
  it(`20 runs killed while their writer is busy and restarted at once${what}: the image is always the newest state, sound, restartable, with no temporary file left`, async () => {
    let { job, run } = await firstImage(env);
    let generation = 1n;
    for (let round = 1; round <= 20; round++) {
      const release = await holdLock(job.dir);
      const orphan = await job.lockedCheckpoint(run);
      await killed(run);
      run = job.start(true);
      await checkpointable(run);
      generation = ((generation >> 32n) + 1n << 32n | (generation & 0xffffffffn)) + 1n;
      const writer = await job.lockedCheckpoint(run);
      // odd rounds: the killed run's writer lands last; even rounds: whichever the lock lets first
      const orphanLast = round % 2 === 1;
      if (orphanLast) {
        process.kill(orphan, 'SIGSTOP');
        await waitFor(() => processState(orphan) === 'T', `round ${round}: the orphaned writer to stop`);
      }
      await release();
      await waitFor(() => gone(writer), `round ${round}: the restarted run's writer to end`);
      if (orphanLast) process.kill(orphan, 'SIGCONT');
      await waitFor(() => gone(orphan), `round ${round}: the orphaned writer to end`);
      assert.equal(generationText(generationOf(job.image)), generationText(generation), `round ${round}: the newest state is in place`);
      assert.deepEqual(job.tmps(), [], `round ${round}: no temporary file is left`);
      const links = env.CKPT_INCREMENTAL ? [`img.g${generation.toString(16).padStart(16, '0')}`] : [];
      assert.deepEqual(job.links(), links, `round ${round}: the chain links are the image in place's`);
    }
    await killed(run);
    const last = job.start(true);
    await checkpointable(last);
    tellToFinish(job.dir);
    assert.equal(await ends(last), 0, 'the last image restarts and the program finishes');
    assert.match(fs.readFileSync(path.join(job.dir, 'run.log'), 'utf8'), /^chunks=\d+ checksum=/m);
  });
  }

  it('a writer killed before its image landed leaves a temporary file, which the next checkpoint that lands removes', async () => {
    const { job, run } = await firstImage();
    const release = await holdLock(job.dir);
    const writer = await job.lockedCheckpoint(run);
    await waitFor(() => job.tmps().length === 1 && fs.statSync(path.join(job.dir, job.tmps()[0])).size > 0, 'the writer\'s temporary file');
    process.kill(writer, 'SIGKILL');
    await waitFor(() => gone(writer), 'the writer to die');
    await release();
    assert.equal(job.tmps().length, 1, 'the killed writer\'s file is left');
    process.kill(run.pid!, 'SIGUSR2');
    await job.waitGeneration(3n);
    // the writer removes leftovers after its rename: wait for it, the image being there already
    await waitFor(() => job.tmps().length === 0, `the next checkpoint to remove ${job.tmps().join(', ')}`);
    tellToFinish(job.dir);
    assert.equal(await ends(run), 0);
  });
});
