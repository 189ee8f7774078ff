// The signals that drive checkpoints, and what the program sees of them: blocking calls a
// checkpoint breaks into give the results they would have given without it (and after a
// restart), the program's own use of the reserved signal still reaches its handler, the vacate
// signal checkpoints and exits 85, and CKPT_INTERVAL checkpoints by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { relinkFile, runProgram, sample, scratch, waitFor } from '../helpers.js';
import { blockedIn, signalRunning } from '../process.js';
import { CHUNK, afterChunks, caughtUp, offsetInImage, stepsProgram, tellToFinish, uninterrupted, withoutReplays } from '../steps.js';
import { fileSource, readImage } from '../../src/image/read.js';

/** Only where a length of time is itself what a test checks */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENV = { PATH: '/usr/bin:/bin' };

function start(file: string, args: string[], dir: string, out: string, env: Record<string, string>, flags = 'w') {
  const fd = fs.openSync(out, flags);
  const child = spawn(file, args, { cwd: dir, stdio: ['ignore', fd, fd], env: { ...ENV, ...env } });
  fs.closeSync(fd);
  return child;
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

function imageChange(image: string, since: number): Promise<number> {
  const mtime = () => fs.statSync(image, { throwIfNoEntry: false })?.mtimeMs ?? since;
  return waitFor(() => mtime() !== since && mtime(), `a new image at ${image}`);
}

/** clock_nanosleep, and nanosleep should the runtime ever make that call itself */
const SLEEP_CALLS = [35, 230];
/**
 * The blocking sample's phases: the lines it has written when it enters each, and the calls it may
 * block in there (the runtime makes nanosleep as clock_nanosleep). `alarms` and `child exit` are
 * printed without a flush: they reach the file with the next phase's line.
 */
const PHASES = [
  { name: 'nanosleep', lines: 0, calls: SLEEP_CALLS },
  { name: 'clock_nanosleep relative', lines: 1, calls: SLEEP_CALLS },
  { name: 'clock_nanosleep absolute', lines: 2, calls: SLEEP_CALLS },
  { name: 'pause', lines: 3, calls: [34] },
  { name: 'waitpid', lines: 4, calls: [61] },
  { name: 'read', lines: 6, calls: [0] },
] as const;

const linesIn = (out: string) => (fs.readFileSync(out, 'utf8').match(/\n/g) ?? []).length;

/** Waits until the blocking sample is blocked in phase `p`'s call; the moment it was seen there */
async function inPhase(pid: number, out: string, p: number): Promise<number> {
  const { name, lines, calls } = PHASES[p];
  await waitFor(() => linesIn(out) === lines && (calls as readonly number[]).includes(blockedIn(pid) ?? -1), `the blocking sample to be in ${name}`);
  return performance.now();
}
describe('checkpoint signals and blocking calls', function () {
  this.timeout(120_000);
  const dir = scratch();
  const bin = path.join(dir, 'blocking.ckpt');
  const PHASE_MS = 400;
  let want = '';

  before(async () => {
    await relinkFile(sample('glibc', 'blocking'), bin);
    want = (await runProgram(sample('glibc', 'blocking'), [String(PHASE_MS)], { cwd: dir })).stdout;
    assert.match(want, /^nanosleep = 0\n.*alarms = 1\n.*child exit = 7\n.*read text = late line\n$/s);
  });

  it('a checkpoint in the middle of each blocking call changes none of their results, and the forked children take none', async () => {
    const out = path.join(dir, 'continue.txt'), err = path.join(dir, 'continue.err');
    const image = path.join(dir, 'continue.img');
    const [o, e] = [fs.openSync(out, 'w'), fs.openSync(err, 'w')];
    // its own process group: the signal goes to the children it forks too (waitpid, read phases),
    // as a batch system's does; they share CKPT_IMAGE, but only the parent may write it
    const run = spawn(bin, [String(PHASE_MS)], { cwd: dir, stdio: ['ignore', o, e], detached: true, env: { ...ENV, CKPT_IMAGE: image } });
    fs.closeSync(o);
    fs.closeSync(e);
    const ended = exitOf(run);
    let mtime = 0;
    const writers: number[] = [];
    // one checkpoint halfway through each phase: nanosleep, clock_nanosleep x2, pause, waitpid, read
    // A child's image, were it written, would be in place by the time the parent is in its next
    // phase or has exited: the children end before either.
    const writer = () => readImage(fileSource(image)).process!.pid;
    for (let phase = 0; phase < PHASES.length; phase++) {
      await inPhase(run.pid!, out, phase);
      if (phase > 0) writers.push(writer());
      assert.equal(run.exitCode, null, 'the sample is still running');
      process.kill(-run.pid!, 'SIGUSR2');
      mtime = await imageChange(image, mtime);
    }
    assert.deepEqual(await ended, { code: 0, signal: null });
    writers.push(writer());
    assert.deepEqual(writers, writers.map(() => run.pid), 'every image is the parent\'s');
    assert.equal(fs.readFileSync(out, 'utf8'), want);
    // the pipe the read phase reads is the only thing a checkpoint may warn about
    for (const line of fs.readFileSync(err, 'utf8').split('\n').filter(Boolean)) {
      assert.match(line, /^ckpt: warning: descriptor 3 \(pipe:\[\d+\]\) cannot be restored \(docs\/limits.md\)$/);
    }
  });

  for (const [what, phase] of [['nanosleep', 0], ['pause (the alarm itself is restored)', 3]] as const) {
    it(`restarted from a checkpoint taken inside ${what}, it ends with the same results`, async () => {
      const out = path.join(dir, `restart-${phase}.txt`);
      const image = path.join(dir, `restart-${phase}.img`);
      const run = start(bin, [String(PHASE_MS)], dir, out, { CKPT_IMAGE: image });
      await inPhase(run.pid!, out, phase);
      signalRunning(run, 'SIGUSR2');
      await imageChange(image, 0);
      run.kill('SIGKILL');
      await exitOf(run);
      const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: image } });
      assert.deepEqual(await exitOf(restarted), { code: 0, signal: null });
      assert.equal(fs.readFileSync(out, 'utf8'), want);
    });
  }

  it('a sleep broken off by checkpoints sleeps what was left, not its whole length again, after a restart too', async () => {
    // blocking 1500: nanosleep 1.5 s (its rem apart from its request), then clock_nanosleep 1.5 s
    // (relative, rem NULL): neither gives the kernel's remainder back to the call made again. The
    // lengths of time are what this test checks, so it waits for them; each sleep is checkpointed
    // 1 s into it, and made again in full, either would end 1 s later: the bounds leave half of that
    // to the checkpoints and the test's own delays.
    const relativeDone = (out: string) => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('clock_nanosleep relative = 0') && performance.now();
    const out = path.join(dir, 'sleeps.txt');
    const run = start(bin, ['1500'], dir, out, { CKPT_IMAGE: 'sleeps.img' });
    let mtime = 0, t0 = 0;
    for (const phase of [0, 1]) {
      const entered = await inPhase(run.pid!, out, phase);
      t0 ||= entered;
      await sleep(1000 - (performance.now() - entered));
      signalRunning(run, 'SIGUSR2');
      mtime = await imageChange(path.join(dir, 'sleeps.img'), mtime);
    }
    const slept = await waitFor(() => relativeDone(out), 'the two sleeps to end') - t0;
    assert.ok(slept >= 2900 && slept < 3500, `two 1.5 s sleeps with a checkpoint in each took ${Math.round(slept)} ms`);
    run.kill('SIGKILL');
    await exitOf(run);
    // the last image was taken 1 s into the second sleep: restarted, it sleeps about 0.5 s more
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(out, lines.slice(0, lines.indexOf('clock_nanosleep relative = 0')).map((l) => `${l}\n`).join(''));
    const t1 = performance.now();
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: 'sleeps.img' } });
    const rest = await waitFor(() => relativeDone(out), 'the restarted sleep to end') - t1;
    restarted.kill('SIGKILL');
    await exitOf(restarted);
    assert.ok(rest < 1000, `the restart slept ${Math.round(rest)} ms more`);
  });

  it("the program's own SIGUSR2 (raise, kill of itself) reaches its handler and takes no checkpoint", async () => {
    const native = await runProgram(sample('glibc', 'blocking'), ['own'], { cwd: dir });
    assert.equal(native.stdout, 'usr2 handled = 2, blocked = 1\n');
    const image = path.join(dir, 'own.img');
    const relinked = await runProgram(bin, ['own'], { cwd: dir, env: { CKPT_IMAGE: image } });
    assert.deepEqual(relinked, native);
    assert.ok(!fs.existsSync(image), 'no checkpoint was taken');
  });
});

describe('vacate signal and checkpoint interval', function () {
  this.timeout(120_000);
  const dir = scratch();
  const bin = path.join(dir, 'steps.ckpt');
  let exe = '';

  before(async () => {
    exe = await stepsProgram();
    await relinkFile(exe, bin);
  });
  beforeEach(() => fs.rmSync(path.join(dir, 'finish'), { force: true }));

  it('CKPT_VACATE_SIGNAL=TERM checkpoints, exits 85, and the image finishes the job', async () => {
    const out = path.join(dir, 'vacate.txt');
    const run = start(bin, [CHUNK], dir, out, { CKPT_IMAGE: 'vacate.img', CKPT_VACATE_SIGNAL: 'TERM' });
    const ended = exitOf(run);
    await afterChunks(out, 2);
    signalRunning(run, 'SIGTERM');
    assert.deepEqual(await ended, { code: 85, signal: null });
    assert.ok(fs.existsSync(path.join(dir, 'vacate.img')), 'the image is in place before the exit');
    tellToFinish(dir);
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: 'vacate.img' } });
    assert.deepEqual(await exitOf(restarted), { code: 0, signal: null });
    const text = fs.readFileSync(out, 'utf8');
    assert.equal(text, await uninterrupted(exe, text));
  });

  it('without CKPT_VACATE_SIGNAL, TERM still ends the program as it would have', async () => {
    const out = path.join(dir, 'term.txt');
    const run = start(bin, [CHUNK], dir, out, { CKPT_IMAGE: 'term.img' });
    const ended = exitOf(run);
    await afterChunks(out, 1);
    signalRunning(run, 'SIGTERM');
    assert.deepEqual(await ended, { code: null, signal: 'SIGTERM' });
    assert.ok(!fs.existsSync(path.join(dir, 'term.img')));
  });

  it('CKPT_INTERVAL=1 writes a new image every second, and the last one finishes the job', async () => {
    // the program runs until told to finish, so the images come however fast it computes; a
    // second apart is what is checked, with half a second of margin
    const out = path.join(dir, 'interval.txt');
    const image = path.join(dir, 'interval.img');
    const run = start(bin, [CHUNK], dir, out, { CKPT_IMAGE: image, CKPT_INTERVAL: '1' }, 'a');
    const first = await imageChange(image, 0);
    const second = await imageChange(image, first);
    assert.ok(second - first > 500, `images ${second - first} ms apart`);
    run.kill('SIGKILL');
    await exitOf(run);
    const replayed = { from: offsetInImage(image, 1), to: fs.statSync(out).size };
    // the restarted process keeps the interval: it goes on checkpointing
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: image } });
    const ended = exitOf(restarted);
    await imageChange(image, second);
    await caughtUp(out, replayed);
    tellToFinish(dir);
    assert.deepEqual(await ended, { code: 0, signal: null });
    const text = fs.readFileSync(out, 'utf8');
    assert.equal(withoutReplays(text, [replayed]), await uninterrupted(exe, text));
  });
});
