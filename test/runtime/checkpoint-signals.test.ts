// The signals that drive checkpoints, and what the program sees of them: blocking calls a
// checkpoint breaks into give the results they would have given without it (and after a
// restart), the program's own use of the reserved signal still reaches its handler, the vacate
// signal checkpoints and exits 85, and CKPT_INTERVAL checkpoints by itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { relinkFile, runProgram, sample, scratch } from '../helpers.js';
import { fileSource, readImage } from '../../src/image/read.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ENV = { PATH: '/usr/bin:/bin' };

function start(file: string, args: string[], dir: string, out: string, env: Record<string, string>) {
  const fd = fs.openSync(out, 'w');
  const child = spawn(file, args, { cwd: dir, stdio: ['ignore', fd, fd], env: { ...ENV, ...env } });
  fs.closeSync(fd);
  return child;
}

function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

async function imageChange(image: string, since: number, ms = 10_000): Promise<number> {
  for (let t = 0; t < ms; t += 20) {
    if (fs.existsSync(image) && fs.statSync(image).mtimeMs !== since) return fs.statSync(image).mtimeMs;
    await sleep(20);
  }
  throw new Error(`${image} did not change`);
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
    for (let phase = 0; phase < 6; phase++) {
      await sleep(phase === 0 ? PHASE_MS / 2 : PHASE_MS - 40);
      process.kill(-run.pid!, 'SIGUSR2');
      mtime = await imageChange(image, mtime);
      await sleep(30); // a child's image, were it written, would land now
      writers.push(readImage(fileSource(image)).process!.pid);
    }
    assert.deepEqual(writers, writers.map(() => run.pid), 'every image is the parent\'s');
    assert.deepEqual(await ended, { code: 0, signal: null });
    assert.equal(fs.readFileSync(out, 'utf8'), want);
    // the pipe the read phase reads is the only thing a checkpoint may warn about
    for (const line of fs.readFileSync(err, 'utf8').split('\n').filter(Boolean)) {
      assert.match(line, /^ckpt: warning: descriptor 3 \(pipe:\[\d+\]\) cannot be restored \(docs\/limits.md\)$/);
    }
  });

  for (const [what, at] of [['nanosleep', PHASE_MS / 2], ['pause (the alarm itself is restored)', PHASE_MS * 3.5]] as const) {
    it(`restarted from a checkpoint taken inside ${what}, it ends with the same results`, async () => {
      const out = path.join(dir, `restart-${at}.txt`);
      const image = path.join(dir, `restart-${at}.img`);
      const run = start(bin, [String(PHASE_MS)], dir, out, { CKPT_IMAGE: image });
      await sleep(at);
      run.kill('SIGUSR2');
      await imageChange(image, 0);
      run.kill('SIGKILL');
      await exitOf(run);
      const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: image } });
      assert.deepEqual(await exitOf(restarted), { code: 0, signal: null });
      assert.equal(fs.readFileSync(out, 'utf8'), want);
    });
  }

  it('a sleep broken off by checkpoints sleeps what was left, not its whole length again, after a restart too', async () => {
    // blocking 1000: nanosleep 1 s (its rem apart from its request), then clock_nanosleep 1 s
    // (relative, rem NULL): neither gives the kernel's remainder back to the call made again
    const relativeDone = (out: string) => fs.existsSync(out) && fs.readFileSync(out, 'utf8').includes('clock_nanosleep relative = 0');
    const until = async (test: () => boolean, t0: number) => {
      while (!test()) {
        assert.ok(performance.now() - t0 < 10_000, 'the sleeps never ended');
        await sleep(10);
      }
      return performance.now() - t0;
    };
    const out = path.join(dir, 'sleeps.txt');
    const t0 = performance.now();
    const run = start(bin, ['1000'], dir, out, { CKPT_IMAGE: 'sleeps.img' });
    let mtime = 0;
    for (const at of [900, 1700]) {	// late in each: made again in full, they would end 1.6 s later
      await sleep(at - (performance.now() - t0));
      run.kill('SIGUSR2');
      mtime = await imageChange(path.join(dir, 'sleeps.img'), mtime);
    }
    const slept = await until(() => relativeDone(out), t0);
    assert.ok(slept >= 2000 && slept < 2900, `two 1 s sleeps with a checkpoint in each took ${Math.round(slept)} ms`);
    run.kill('SIGKILL');
    await exitOf(run);
    // the last image was taken 0.7 s into the second sleep: restarted, it sleeps about 0.3 s more
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    fs.writeFileSync(out, lines.slice(0, lines.indexOf('clock_nanosleep relative = 0')).map((l) => `${l}\n`).join(''));
    const t1 = performance.now();
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: 'sleeps.img' } });
    const rest = await until(() => relativeDone(out), t1);
    restarted.kill('SIGKILL');
    await exitOf(restarted);
    assert.ok(rest < 800, `the restart slept ${Math.round(rest)} ms more`);
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
  const bin = path.join(dir, 'compute.ckpt');
  const STEPS = '1200000000';
  let want = '';

  before(async () => {
    await relinkFile(sample('glibc', 'compute'), bin);
    want = (await runProgram(sample('glibc', 'compute'), [STEPS], { cwd: dir })).stdout;
  });

  it('CKPT_VACATE_SIGNAL=TERM checkpoints, exits 85, and the image finishes the job', async () => {
    const out = path.join(dir, 'vacate.txt');
    const run = start(bin, [STEPS], dir, out, { CKPT_IMAGE: 'vacate.img', CKPT_VACATE_SIGNAL: 'TERM' });
    await sleep(300);
    run.kill('SIGTERM');
    assert.deepEqual(await exitOf(run), { code: 85, signal: null });
    assert.ok(fs.existsSync(path.join(dir, 'vacate.img')), 'the image is in place before the exit');
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: 'vacate.img' } });
    assert.deepEqual(await exitOf(restarted), { code: 0, signal: null });
    assert.equal(fs.readFileSync(out, 'utf8'), want);
  });

  it('without CKPT_VACATE_SIGNAL, TERM still ends the program as it would have', async () => {
    const run = start(bin, [STEPS], dir, path.join(dir, 'term.txt'), { CKPT_IMAGE: 'term.img' });
    await sleep(200);
    run.kill('SIGTERM');
    assert.deepEqual(await exitOf(run), { code: null, signal: 'SIGTERM' });
    assert.ok(!fs.existsSync(path.join(dir, 'term.img')));
  });

  it('CKPT_INTERVAL=1 writes a new image every second, and the last one finishes the job', async () => {
    const out = path.join(dir, 'interval.txt');
    const image = path.join(dir, 'interval.img');
    const run = start(bin, [STEPS], dir, out, { CKPT_IMAGE: image, CKPT_INTERVAL: '1' });
    const first = await imageChange(image, 0, 3000);
    const second = await imageChange(image, first, 3000);
    assert.ok(second - first > 500, `images ${second - first} ms apart`);
    run.kill('SIGKILL');
    await exitOf(run);
    // the restarted process keeps the interval: it goes on checkpointing
    const restarted = spawn(bin, [], { cwd: dir, stdio: 'ignore', env: { ...ENV, CKPT_RESTART: image } });
    const ended = exitOf(restarted);
    await imageChange(image, second, 3000);
    assert.deepEqual(await ended, { code: 0, signal: null });
    assert.equal(fs.readFileSync(out, 'utf8'), want);
  });
});
