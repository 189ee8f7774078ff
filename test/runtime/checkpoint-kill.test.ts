// Killed while it checkpoints: a relinked program with 64 MiB of memory in motion
// (test/fixtures/memcheck.c) is sent the checkpoint signal and, a random time later (at once, or up
// to a little more than a checkpoint takes), its whole process group gets SIGKILL: any helper the runtime uses
// to write dies with it. Every third round the kill waits instead for the temporary file to appear,
// and every third for the new image to be renamed into place, so that both moments are covered
// whatever the machine's speed (random delays alone missed one under load). Whatever moment the kill lands at (before the temporary file, while it is
// written, after the rename), the image at the path is whole: the previous one or the new one,
// never a mix, and a restart from it proves every word of the program's memory. The temporary file
// a kill leaves behind never stands in the way of the next restart or checkpoint.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, scratch } from '../helpers.js';
import * as C from '../../src/contract.generated.js';

const MIB = 64;
const ROUNDS = 50;
const LANES = 4;
/** The kill comes up to this many checkpoint durations after the signal... */
const KILL_SPREAD = 1.2;
/** ...or, this often, right after it: in the handler, before any file exists */
const KILL_AT_ONCE = 0.1;
/**
 * Polls only, and the kill's random delay: that one is measured in checkpoint durations timed in the
 * same run (firstImage), and the program runs until it is told to stop (the file "go").
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** How long a step may take before it counts as a hang: generous, for a loaded machine (four lanes restart 64 MiB at once) */
const BOUND_MS = 120_000;

type Landing = 'before the temporary file' | 'while writing' | 'after the rename';
/** When a round's kill comes: a random time after the signal, or once the writer is seen at a step */
type Aim = 'random' | 'temporary file seen' | 'rename seen';
interface Mark { ino: bigint; mtimeNs: bigint; size: bigint }
interface Round { landing: Landing; tmpAtRestart: boolean; declined: boolean }
/** The runtime's line when a checkpoint writes no image (the path holds a newer state: a restart of the same image twice) */
const DECLINED = /ckpt: checkpoint (not put in place|failed)/;
/** Process groups started and not seen to end: killed when a test ends, whatever happened */
const groups = new Set<number>();

function mark(file: string): Mark | null {
  const s = fs.statSync(file, { bigint: true, throwIfNoEntry: false });
  return s ? { ino: s.ino, mtimeNs: s.mtimeNs, size: s.size } : null;
}
const sameMark = (a: Mark | null, b: Mark | null) => JSON.stringify(a, (_k, v) => typeof v === 'bigint' ? String(v) : v) ===
  JSON.stringify(b, (_k, v) => typeof v === 'bigint' ? String(v) : v);

/**
 * Processes of the group that are not zombies. A killed helper of the program's (its image writer)
 * is reparented to init, which may take a second to reap it; kill(-pgid, 0) counts it until then.
 */
function livingInGroup(pgid: number): number {
  let living = 0;
  for (const pid of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let stat: string;
    try { stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { continue; }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z' && state !== 'X') living++;
  }
  return living;
}

interface Started { child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>; stderr: () => string }

/** One directory, one image: runs go one after another in it */
class Lane {
  readonly image: string;
  checkpointMs = 0;

  constructor(readonly dir: string, readonly bin: string) {
    this.image = path.join(dir, 'mem.img');
  }

  private file(name: string): string { return path.join(this.dir, name); }

  /** The checkpoints' temporary files: mem.img.<job>-<nonce>-<generation>.tmp (docs/image-format.md) */
  private tmps(): string[] { return fs.readdirSync(this.dir).filter((n) => /^mem\.img\.[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}\.tmp$/.test(n)); }

  /**
   * Detached: the program leads its own process group, whose id is its pid. Its stderr is a pipe,
   * which a restart keeps, so that the runtime's refusals and warnings are seen; the program itself
   * prints nothing.
   */
  private start(args: string[], env: Record<string, string>): Started {
    const child = spawn(this.bin, args, { cwd: this.dir, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
    groups.add(child.pid!);
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => {
      // the pipe may hold the last of stderr a moment longer, but a helper holding it must not hold us up
      const settle = setTimeout(() => r({ code, signal }), 1000);
      child.once('close', () => { clearTimeout(settle); r({ code, signal }); });
    }));
    return { child, exited, stderr: () => stderr.trim() };
  }

  /** Resolves once the program has written its heartbeat over the test's mark */
  private async running(run: Started): Promise<void> {
    let gone = false;
    void run.exited.then(() => { gone = true; });
    for (const t0 = performance.now(); performance.now() - t0 < BOUND_MS;) {
      const beat = fs.existsSync(this.file('beat')) ? fs.readFileSync(this.file('beat'), 'utf8') : '';
      if (beat.length > 0 && !beat.startsWith('x')) return;
      if (gone) throw new Error(`the program ended before it ran: ${JSON.stringify(await run.exited)}; stderr: ${run.stderr()}`);
      await sleep(5);
    }
    throw new Error('the program never ran');
  }

  private async killGroup(run: Started): Promise<void> {
    const pgid = run.child.pid!;
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
    const { signal } = await run.exited;
    assert.equal(signal, 'SIGKILL', `the program died of something else; stderr: ${run.stderr()}`);
    for (let t = 0; livingInGroup(pgid) > 0; t++) {
      if (t > 1000) throw new Error(`process group ${pgid} outlived SIGKILL`);
      await sleep(5);
    }
    groups.delete(pgid);
  }

  /** A fresh run and its first checkpoint, timed from the signal to the image in place, and proved good */
  async firstImage(): Promise<void> {
    const run = this.start([String(MIB)], { CKPT_IMAGE: 'mem.img' });
    await this.running(run);
    const t0 = performance.now();
    process.kill(run.child.pid!, 'SIGUSR2');
    while (!fs.existsSync(this.image) && performance.now() - t0 < BOUND_MS) await sleep(1);
    this.checkpointMs = performance.now() - t0;
    await this.killGroup(run);
    assert.ok(fs.existsSync(this.image), 'the first checkpoint made an image');
    await this.verify();
  }

  /** Until the checkpoint under way reaches the step aimed at, or says it writes no image (given up on after 60 s: then the kill lands wherever) */
  private async reached(aim: Aim, before: { image: Mark | null; tmps: string[] }, run: Started): Promise<void> {
    const seen = aim === 'temporary file seen'
      ? () => this.tmps().some((n) => !before.tmps.includes(n)) || !sameMark(mark(this.image), before.image)
      : () => !sameMark(mark(this.image), before.image);
    for (const t0 = performance.now(); !seen() && !DECLINED.test(run.stderr()) && performance.now() - t0 < 60_000;) await sleep(1);
  }

  /** Restarts the image, checkpoints it, kills the group at the moment aimed at; checks what is left */
  async round(aim: Aim): Promise<Round> {
    fs.rmSync(this.file('go'), { force: true });
    fs.writeFileSync(this.file('beat'), 'x'.repeat(20) + '\n');
    const run = this.start([], { CKPT_RESTART: 'mem.img' });
    await this.running(run);
    const before = { image: mark(this.image), tmps: this.tmps() };
    const waitMs = Math.random() < KILL_AT_ONCE ? 0 : Math.random() * this.checkpointMs * KILL_SPREAD;
    process.kill(run.child.pid!, 'SIGUSR2');
    if (aim !== 'random') await this.reached(aim, before, run);
    else if (waitMs > 0) await sleep(waitMs);
    await this.killGroup(run);
    const after = mark(this.image);
    assert.ok(after && before.image, 'an image is at the path');
    let landing: Landing;
    if (after.ino !== before.image.ino) landing = 'after the rename';
    else if (sameMark(after, before.image)) landing = this.tmps().some((n) => !before.tmps.includes(n)) ? 'while writing' : 'before the temporary file';
    else throw new Error('the image was changed in place, not replaced by a rename');
    const tmpAtRestart = this.tmps().length > 0, declined = DECLINED.test(run.stderr());
    await this.verify();
    assert.ok(sameMark(mark(this.image), after), 'nothing renamed an image into place after the process group died');
    return { landing, tmpAtRestart, declined };
  }

  /** The image restarts and the program, told to stop, finds every word of its memory as it left it */
  private async verify(): Promise<void> {
    fs.writeFileSync(this.file('go'), '');
    fs.rmSync(this.file('verdict'), { force: true });
    const run = this.start([], { CKPT_RESTART: 'mem.img' });
    const timer = setTimeout(() => { try { process.kill(-run.child.pid!, 'SIGKILL'); } catch { /* gone */ } }, BOUND_MS);
    const { code, signal } = await run.exited;
    clearTimeout(timer);
    groups.delete(run.child.pid!);
    const verdict = fs.existsSync(this.file('verdict')) ? fs.readFileSync(this.file('verdict'), 'utf8').trim() : '(no verdict)';
    assert.equal(code, 0, `restart from the image ended with ${code ?? signal}: ${verdict}; stderr: ${run.stderr()}`);
    assert.match(verdict, new RegExp(`^intact pages=${MIB * 256} rewrites=\\d+$`));
  }
}

describe('checkpoint killed at a random moment', function () {
  this.timeout(900_000);
  afterEach(() => {
    for (const g of groups) try { process.kill(-g, 'SIGKILL'); } catch { /* gone */ }
    groups.clear();
  });

  const base = scratch();
  const exe = path.join(base, 'memcheck');
  before(async () => {
    await execa('gcc', ['-O2', '-static', '-o', exe, path.join(ROOT, 'test/fixtures/memcheck.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
  });

  it('a temporary file named as the next checkpoint\'s (left by a writer killed in an earlier run of the same image) does not stop that checkpoint', async () => {
    const dir = path.join(base, 'leftover');
    fs.mkdirSync(dir);
    const lane = new Lane(dir, `${exe}.ckpt`);
    await lane.firstImage();
    // the restarted process's first checkpoint: its job's name, a restart more, a checkpoint more
    const h = fs.readFileSync(lane.image).subarray(0, C.CKPT_IH_SIZE);
    const hex = (v: bigint) => v.toString(16).padStart(16, '0');
    const shift = BigInt(C.CKPT_GEN_RESTART_SHIFT), gen = h.readBigUInt64LE(C.CKPT_IH_GENERATION);
    const restarted = ((gen >> shift) + 1n) << shift | (gen & ((1n << shift) - 1n));
    const job = `${hex(h.readBigUInt64LE(C.CKPT_IH_JOB_START))}-${hex(h.readBigUInt64LE(C.CKPT_IH_JOB_NONCE))}`;
    const leftover = path.join(dir, `mem.img.${job}-${hex(restarted + 1n)}.tmp`);
    fs.writeFileSync(leftover, 'a killed writer\'s part of an image');
    const round = await lane.round('rename seen');
    assert.equal(round.declined, false, 'the checkpoint wrote no image');
    assert.equal(round.landing, 'after the rename');
    assert.ok(!fs.existsSync(leftover), 'the leftover is gone');
  });

  it(`leaves an image that restarts whole, ${ROUNDS} times, whenever SIGKILL lands`, async () => {
    const lanes = Array.from({ length: LANES }, (_, i) => {
      const dir = path.join(base, `lane${i}`);
      fs.mkdirSync(dir);
      return new Lane(dir, `${exe}.ckpt`);
    });
    const t0 = performance.now();
    const rounds: Round[] = [], failures: unknown[] = [];
    let next = 0;
    // a lane that fails stops the others from taking more rounds; its error is the test's
    await Promise.all(lanes.map(async (lane) => {
      try {
        await lane.firstImage();
        const aims: Aim[] = ['random', 'temporary file seen', 'rename seen'];
        while (next < ROUNDS && failures.length === 0) {
          next++;
          rounds.push(await lane.round(aims[next % aims.length]));
        }
      } catch (e) {
        failures.push(e);
      }
    }));
    if (failures.length > 0) throw failures[0];
    const seconds = (performance.now() - t0) / 1e3;
    const count = (l: Landing) => rounds.filter((r) => r.landing === l).length;
    const landings = (['before the temporary file', 'while writing', 'after the rename'] as const).map((l) => `${l} ${count(l)}`).join(', ');
    console.log(`      ${rounds.length} rounds in ${seconds.toFixed(1)} s; kill landed ${landings}; ` +
      `a .tmp was left at ${rounds.filter((r) => r.tmpAtRestart).length} restarts; ` +
      `${rounds.filter((r) => r.declined).length} checkpoints wrote no image; ` +
      `first checkpoints took ${lanes.map((l) => l.checkpointMs.toFixed(0)).join(', ')} ms`);
    assert.equal(rounds.length, ROUNDS);
    // the moments the test means to cover were covered: otherwise it proved less than it says
    assert.ok(count('while writing') > 0, 'some kill landed while the image was written');
    assert.ok(count('after the rename') > 0, 'some kill landed after the rename');
  });
});
