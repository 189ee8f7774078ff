// zdtm samples (samples/zdtm, after CRIU's zdtm suite): each sets up one kind of state, prints
// READY and blocks in read(0). The harness checkpoints it (SIGUSR2 with CKPT_IMAGE), records
// /proc/PID/maps and the descriptor table once it is back in its read (the state the image holds:
// the checkpoint's own signal frame may have grown the stack), kills it, restarts it from the image
// with new pipes, records both again once the restarted process is back in its read, and writes
// "go": the sample then checks its own state and must print PASS. Maps and descriptors must match.
// A few samples are also checkpointed and left running: the checkpoint must not disturb them.
// Runs go CONCURRENCY at a time, started by the first test; each test awaits its own run.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, SAMPLES_DIR, relinkFile, scratch } from '../helpers.js';

const ZDTM_SOURCES = path.join(ROOT, 'samples/zdtm');
const CONCURRENCY = 4;
const STEP_MS = 10_000;	// the longest any one step (READY, image, restore, exit) may take
const MUSL_TOO = new Set(['mem_heap', 'mem_anon', 'fpu_regs', 'sig_mask', 'files_offsets', 'brk_grow', 'pid_stable',
  'pipe_unread', 'eventfd', 'timerfd', 'epoll', 'unlinked', 'memfd', 'inotify', 'fifo', 'symlink', 'sysv_ipc', 'mem_unlinked',
  'mem_shared_file', 'mem_shared_anon', 'posix_timers', 'file_locks', 'task_state', 'mem_advice', 'sysv_shm', 'mem_guard',
  'unix_pairs', 'unix_bound', 'inet_sockets']);
const PIE_TOO = new Set(['mem_heap', 'mem_file', 'mem_shared_file', 'mem_shared_anon', 'posix_timers', 'file_locks', 'task_state',
  'mem_advice', 'sysv_shm', 'pipe_unread', 'eventfd', 'timerfd', 'signalfd', 'epoll', 'unlinked', 'memfd', 'opath', 'fown', 'inotify',
  'fifo', 'symlink', 'sysv_ipc', 'mem_unlinked', 'unix_pairs', 'unix_bound', 'inet_sockets']);
const CONTINUE_TOO = new Set(['mem_heap', 'fpu_regs', 'sig_mask', 'itimers', 'files_append', 'mem_shared_file', 'posix_timers',
  'file_locks', 'task_state', 'mem_advice', 'sysv_shm', 'mem_guard', 'thread_condvar', 'thread_blocked', 'thread_sigpending', 'thread_robust',
  'pipe_unread', 'eventfd', 'epoll', 'inotify', 'unlinked', 'fifo', 'symlink', 'sysv_ipc', 'mem_unlinked', 'unix_pairs', 'unix_bound', 'inet_sockets']);
// the thread samples run as every kind of static program: musl's and glibc's threads differ, and
// static-pie puts their TLS where ASLR says
const isThreadSample = (name: string) => name.startsWith('thread_');

type ZdtmFlavour = 'glibc' | 'pie' | 'musl';
type Mode = 'restart' | 'continue';
interface Run { flavour: ZdtmFlavour; name: string; mode: Mode }
const runKey = (r: Run) => `${r.flavour}/${r.name} (${r.mode})`;

/** What one descriptor was: its target and its fdinfo position and flags (octal, as the kernel prints them) */
interface FdState { target: string; pos: string; flags: string }
interface Region { start: number; end: number; perms: string; path: string }
interface ProcessState { maps: Region[]; fds: Map<number, FdState> }

interface Outcome {
  stdout: string;
  stderr: string;
  exitCode: number | null;
  signal: string | null;
  failure?: string;	// a step of the protocol that did not happen
  image: string;
  checkpointed?: ProcessState;
  restarted?: ProcessState;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

function zdtmNames(): string[] {
  return fs.readdirSync(ZDTM_SOURCES).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
}

/** ZDTM_ONLY=fifo,symlink runs those samples alone (while working on them); unset, all of them */
const ONLY = process.env.ZDTM_ONLY?.split(',').filter(Boolean);

function planRuns(): Run[] {
  const names = zdtmNames();
  for (const listed of [...MUSL_TOO, ...PIE_TOO, ...CONTINUE_TOO]) {
    if (!names.includes(listed)) throw new Error(`${listed} is listed here but there is no samples/zdtm/${listed}.c`);
  }
  const runs: Run[] = [];
  for (const name of names.filter((n) => !ONLY || ONLY.includes(n))) {
    for (const flavour of ['glibc', 'pie', 'musl'] as const) {
      const alsoThis = flavour === 'musl' ? MUSL_TOO : PIE_TOO;
      if (flavour !== 'glibc' && !alsoThis.has(name) && !isThreadSample(name)) continue;
      runs.push({ flavour, name, mode: 'restart' });
      if (flavour === 'glibc' && CONTINUE_TOO.has(name)) runs.push({ flavour, name, mode: 'continue' });
    }
  }
  return runs;
}

// ---- /proc

/** Regions as /proc/PID/maps shows them; [vsyscall] is the kernel's fixed page and left out */
function readMaps(pid: number): Region[] {
  return fs.readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n').map((line) => {
    const [range, perms, , , , ...rest] = line.split(/\s+/);
    const [start, end] = range.split('-').map((a) => parseInt(a, 16));
    return { start, end, perms, path: rest.join(' ') };
  }).filter((r) => r.path !== '[vsyscall]');
}

function readFdTable(pid: number | 'self'): Map<number, FdState> {
  const fds = new Map<number, FdState>();
  for (const entry of fs.readdirSync(`/proc/${pid}/fd`)) {
    const fd = Number(entry);
    try {
      const info = fs.readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(info)?.[1] ?? '?';
      fds.set(fd, { target: fs.readlinkSync(`/proc/${pid}/fd/${fd}`), pos: field('pos'), flags: field('flags') });
    } catch {
      // closed while it was listed (this process's own, for 'self')
    }
  }
  return fds;
}

const O_CLOEXEC = 0o2000000;

/** Descriptors 3 and up: 0 to 2 are the harness's pipes, new ones for the restarted process by design */
function readFds(pid: number): Map<number, FdState> {
  const fds = readFdTable(pid);
  for (const fd of [0, 1, 2]) fds.delete(fd);
  return fds;
}

/** Descriptors this harness passes on to every child without meaning to (open here without
 *  close-on-exec, as some job runners leave them) */
const inherited = [...readFdTable('self')].filter(([fd, s]) => fd > 2 && !(parseInt(s.flags, 8) & O_CLOEXEC));

/** Leaves out, on both sides, the descriptors the sample had only because the harness passed them
 *  on: not the sample's, and pipes at that (a restart orphans those, docs/limits.md) */
function withoutInherited(before: Map<number, FdState>, after: Map<number, FdState>): [Map<number, FdState>, Map<number, FdState>] {
  const passedOn = inherited.filter(([fd, s]) => before.get(fd)?.target === s.target).map(([fd]) => fd);
  const keep = (fds: Map<number, FdState>) => new Map([...fds].filter(([fd]) => !passedOn.includes(fd)));
  return [keep(before), keep(after)];
}

/** Whether one of the process's threads is blocked in read(0, ...): its syscall file starts "0 0x0"
 *  (a restarted process's first thread is the one that took the checkpoint signal, docs/limits.md) */
function inReadOfStdin(pid: number): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/task`).some((tid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/task/${tid}/syscall`, 'utf8').startsWith('0 0x0 ');
      } catch {
        return false;	// the thread ended while it was listed
      }
    });
  } catch {
    return false;
  }
}

// ---- one sample process

class SampleProcess {
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  signal: string | null = null;
  exited = false;
  readonly pid: number;
  private readonly child;
  private readonly done: Promise<void>;

  constructor(file: string, cwd: string, env: Record<string, string>) {
    this.child = spawn(file, [], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C', ...env } });
    this.pid = this.child.pid!;
    this.child.stdout!.on('data', (d) => { this.stdout += d; });
    this.child.stderr!.on('data', (d) => { this.stderr += d; });
    this.child.stdin!.on('error', () => {});	// a sample that died before "go" is reported by its output
    this.done = new Promise((resolve) => this.child.once('close', (code, signal) => {
      this.exitCode = code;
      this.signal = signal;
      this.exited = true;
      resolve();
    }));
  }

  /** Polls `ready` until it holds or the process has exited; false on exit or after STEP_MS */
  async until(ready: () => boolean): Promise<boolean> {
    for (const end = Date.now() + STEP_MS; Date.now() < end; await sleep(5)) {
      if (this.exited) return false;
      if (ready()) return true;
    }
    return false;
  }

  send(line: string): void { this.child.stdin!.end(line); }

  async exit(): Promise<boolean> {
    return Promise.race([this.done.then(() => true), sleep(STEP_MS).then(() => false)]);
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.done;
  }
}

// ---- the protocol

const relinked = new Map<string, Promise<string>>();

/** The relinked sample, made once per flavour and shared by its runs */
function relinkedSample(flavour: ZdtmFlavour, name: string): Promise<string> {
  const key = `${flavour}/${name}`;
  if (!relinked.has(key)) {
    const bin = path.join(scratch('ckpt-zdtm-bin-'), name);
    relinked.set(key, relinkFile(path.join(SAMPLES_DIR, 'zdtm', flavour, name), bin).then(() => bin));
  }
  return relinked.get(key)!;
}

/** Starts the sample, waits until it is READY and blocked in its read, checkpoints it, and records
 *  it once the checkpoint is written and it is back in its read */
async function startAndCheckpoint(bin: string, cwd: string, image: string, outcome: Outcome): Promise<SampleProcess | undefined> {
  const first = new SampleProcess(bin, cwd, { CKPT_IMAGE: image });
  const fail = async (why: string) => {
    await first.kill();
    Object.assign(outcome, { stdout: first.stdout, stderr: first.stderr, exitCode: first.exitCode, signal: first.signal, failure: why });
    return undefined;
  };
  if (!await first.until(() => first.stdout.includes('READY\n') && inReadOfStdin(first.pid))) return fail('the first run never reached READY and its read');
  process.kill(first.pid, 'SIGUSR2');
  if (!await first.until(() => fs.existsSync(image))) return fail('no image appeared after SIGUSR2');
  if (!await first.until(() => inReadOfStdin(first.pid))) return fail('the first run did not go back to its read after the checkpoint');
  outcome.checkpointed = { maps: readMaps(first.pid), fds: readFds(first.pid) };
  return first;
}

async function finish(p: SampleProcess, outcome: Outcome): Promise<Outcome> {
  p.send('go\n');
  if (!await p.exit()) {
    await p.kill();
    outcome.failure = `no exit within ${STEP_MS} ms of "go"`;
  }
  return Object.assign(outcome, { stdout: p.stdout, stderr: p.stderr, exitCode: p.exitCode, signal: p.signal });
}

async function runSample(run: Run): Promise<Outcome> {
  const dir = scratch(`ckpt-zdtm-${run.name}-`);
  const image = path.join(dir, 'sample.img');
  const outcome: Outcome = { stdout: '', stderr: '', exitCode: null, signal: null, image };
  const first = await startAndCheckpoint(await relinkedSample(run.flavour, run.name), dir, image, outcome);
  if (!first) return outcome;
  if (run.mode === 'continue') return finish(first, outcome);
  await first.kill();
  const second = new SampleProcess(await relinkedSample(run.flavour, run.name), dir, { CKPT_RESTART: image });
  if (await second.until(() => inReadOfStdin(second.pid))) {
    outcome.restarted = { maps: readMaps(second.pid), fds: readFds(second.pid) };
  } else if (!second.exited) {
    outcome.failure = 'the restarted process never got back to its read of stdin';
  }
  return finish(second, outcome);
}

async function runSampleSafely(run: Run): Promise<Outcome> {
  try {
    return await runSample(run);
  } catch (e) {
    return { stdout: '', stderr: String(e), exitCode: null, signal: null, image: '', failure: `the harness failed: ${(e as Error).message}` };
  }
}

/** Starts every run, `limit` at a time; each promise settles with its outcome, never rejects */
function startAll(runs: Run[], limit: number): Map<string, Promise<Outcome>> {
  const outcomes = new Map<string, Promise<Outcome>>();
  let slots = limit;
  const waiting: (() => void)[] = [];
  const slot = async () => {
    if (slots > 0) slots--;
    else await new Promise<void>((r) => waiting.push(r));
  };
  const release = () => { const next = waiting.shift(); if (next) next(); else slots++; };
  for (const run of runs) {
    outcomes.set(runKey(run), slot().then(() => runSampleSafely(run)).finally(release));
  }
  return outcomes;
}

// ---- comparisons

const isAnonymous = (p: string) => p === '' || p === '[heap]' || p === '[stack]' || p.startsWith('[anon:');
const isKernel = (p: string) => p === '[vdso]' || p === '[vvar]' || p === '[vvar_vclock]';
const hex = (n: number) => n.toString(16).padStart(8, '0');
type Judge = (before: Region | undefined, after: Region | undefined) => string | undefined;

/** Judges both maps address by address, not region by region: the kernel merges neighbouring
 *  regions of the same kind, and a restart may merge them differently (the binary's data and the
 *  heap after it become one region of the image). Adjacent ranges judged alike are reported once. */
function comparePieces(before: Region[], after: Region[], judge: Judge): string[] {
  const cuts = [...new Set([...before, ...after].flatMap((r) => [r.start, r.end]))].sort((x, y) => x - y);
  const holding = (list: Region[], at: number) => list.find((r) => r.start <= at && at < r.end);
  const found: { lo: number; hi: number; text: string }[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const text = judge(holding(before, cuts[i]), holding(after, cuts[i]));
    const last = found.at(-1);
    if (text && last?.hi === cuts[i] && last.text === text) last.hi = cuts[i + 1];
    else if (text) found.push({ lo: cuts[i], hi: cuts[i + 1], text });
  }
  return found.map((d) => `${hex(d.lo)}-${hex(d.hi)} ${d.text}`);
}

const describeRegion = (r: Region) => `${r.perms} ${r.path || 'anonymous'}`;

/** Address ranges and permissions as before; the kernel's regions where they were; memory that was
 *  anonymous may now be backed by the image, which the restorer maps lazily (docs/image-format.md) */
function mapsDifferences(before: Region[], after: Region[], image: string): string[] {
  return comparePieces(before, after, (b, a) => {
    if (!b && !a) return undefined;
    if (!a) return `missing, was ${describeRegion(b!)}`;
    if (!b) return `extra ${describeRegion(a)}`;
    if (a.perms !== b.perms) return `${a.perms}, was ${b.perms} (${b.path || 'anonymous'})`;
    // a real file's region backed by the image instead is judged by filePathDifferences
    const pathOk = a.path === b.path || (!isKernel(b.path) && a.path === image) || (isAnonymous(b.path) && a.path === '');
    return pathOk ? undefined : `${a.path || 'anonymous'}, was ${b.path || 'anonymous'}`;
  });
}

/** Regions of real files show the same file, not the image */
function filePathDifferences(before: Region[], after: Region[]): string[] {
  return comparePieces(before, after, (b, a) =>
    b?.path.startsWith('/') && a?.path !== b.path ? `${a ? describeRegion(a) : 'missing'}, was ${b.path}` : undefined);
}

/**
 * Targets whose names hold an inode number the kernel picks anew (a pipe made again, an O_TMPFILE
 * file): named by their order of first appearance instead, so that the same sharing shows the
 * same names ("pipe:[#1]" at both ends of one pipe) and a different one does not.
 */
function withStableNames(fds: Map<number, FdState>): Map<number, FdState> {
  const names = new Map<string, string>();
  const rename = (target: string) => target.replace(/^(pipe:\[|socket:\[)(\d+)\]$|\/#(\d+) \(deleted\)$/, (whole, kind: string | undefined) => {
    if (!names.has(whole)) names.set(whole, `#${names.size + 1}`);
    return kind ? `${kind}${names.get(whole)}]` : `/${names.get(whole)} (deleted)`;
  });
  return new Map([...fds].sort(([a], [b]) => a - b).map(([fd, s]) => [fd, { ...s, target: rename(s.target) }]));
}

function fdDifferences(beforeRaw: Map<number, FdState>, afterRaw: Map<number, FdState>): string[] {
  const diffs: string[] = [];
  const before = withStableNames(beforeRaw), after = withStableNames(afterRaw);
  for (const [fd, b] of before) {
    const a = after.get(fd);
    if (!a) { diffs.push(`fd ${fd} (${b.target}) is missing`); continue; }
    for (const key of ['target', 'pos', 'flags'] as const) {
      if (a[key] !== b[key]) diffs.push(`fd ${fd} (${b.target}): ${key} ${a[key]}, was ${b[key]}`);
    }
  }
  for (const [fd, a] of after) if (!before.has(fd)) diffs.push(`fd ${fd} (${a.target}) is extra`);
  return diffs;
}

function describeOutcome(o: Outcome): string {
  return [o.failure && `failure: ${o.failure}`, o.signal ? `killed by ${o.signal}` : `exit ${o.exitCode}`, `stdout: ${JSON.stringify(o.stdout)}`,
    `stderr: ${JSON.stringify(o.stderr)}`].filter(Boolean).join('\n');
}

/** Its last line is PASS (a restarted process's stdout starts after READY, which the first run printed) */
function assertPassed(o: Outcome): void {
  assert.ok(!o.failure && o.exitCode === 0 && o.stdout.trim().split('\n').at(-1) === 'PASS', describeOutcome(o));
}

function recorded(o: Outcome): { before: ProcessState; after: ProcessState } {
  assert.ok(o.checkpointed && o.restarted, `maps and descriptors were not recorded after the restart\n${describeOutcome(o)}`);
  return { before: o.checkpointed, after: o.restarted };
}

function assertNone(diffs: string[], what: string): void {
  assert.ok(diffs.length === 0, `${what}:\n  ${diffs.join('\n  ')}`);
}

describe('zdtm samples: checkpointed, then restarted or left running, each checks its own state', function () {
  this.timeout(60_000);
  const runs = planRuns();
  let outcomes: Map<string, Promise<Outcome>>;

  before(() => { outcomes = startAll(runs, CONCURRENCY); });

  for (const run of runs) {
    const key = runKey(run);
    if (run.mode === 'continue') {
      it(`${key}: checkpointed and not killed, it goes on undisturbed and prints PASS`, async () => {
        assertPassed(await outcomes.get(key)!);
      });
      continue;
    }
    it(`${key}: killed and restarted from its image, it prints PASS`, async () => {
      assertPassed(await outcomes.get(key)!);
    });
    it(`${key}: the restarted process has the same address ranges and permissions`, async () => {
      const o = await outcomes.get(key)!;
      const { before, after } = recorded(o);
      assertNone(mapsDifferences(before.maps, after.maps, o.image), 'maps differ after the restart');
    });
    it(`${key}: the restarted process maps the same files where it mapped files`, async () => {
      const { before, after } = recorded(await outcomes.get(key)!);
      assertNone(filePathDifferences(before.maps, after.maps), 'file-backed regions differ after the restart');
    });
    it(`${key}: the restarted process has the same descriptors at the same offsets and flags`, async () => {
      const { before, after } = recorded(await outcomes.get(key)!);
      assertNone(fdDifferences(...withoutInherited(before.fds, after.fds)), 'descriptors differ after the restart');
    });
  }
});

describe('zdtm harness: its comparisons see what differs', () => {
  const region = (start: number, end: number, perms: string, file = ''): Region => ({ start, end, perms, path: file });
  const image = '/tmp/x/sample.img';

  it('takes regions the kernel merged differently, or now backed by the image, as the same', () => {
    const before = [region(0x1000, 0x2000, 'rw-p', '/bin/p'), region(0x2000, 0x5000, 'rw-p', '[heap]')];
    assert.deepEqual(mapsDifferences(before, [region(0x1000, 0x5000, 'rw-p', image)], image), []);
  });

  it('reports a missing range, a changed permission, an extra region and a moved vDSO', () => {
    const before = [region(0x1000, 0x3000, 'rw-p'), region(0x5000, 0x6000, 'r--p'), region(0x9000, 0xa000, 'r-xp', '[vdso]')];
    const after = [region(0x1000, 0x2000, 'rw-p'), region(0x5000, 0x6000, 'rw-p'), region(0x7000, 0x8000, 'rw-p'), region(0x9000, 0xa000, 'r-xp', image)];
    assert.deepEqual(mapsDifferences(before, after, image), [
      '00002000-00003000 missing, was rw-p anonymous',
      '00005000-00006000 rw-p, was r--p (anonymous)',
      '00007000-00008000 extra rw-p anonymous',
      `00009000-0000a000 ${image}, was [vdso]`,
    ]);
  });

  it('reports a region of a real file that the image backs now', () => {
    assert.deepEqual(filePathDifferences([region(0x1000, 0x2000, 'r--p', '/data')], [region(0x1000, 0x2000, 'r--p', image)]),
      [`00001000-00002000 r--p ${image}, was /data`]);
  });

  it('reports a descriptor at another offset, with other flags, missing or extra', () => {
    const fd = (target: string, pos: string, flags: string): FdState => ({ target, pos, flags });
    const before = new Map([[3, fd('/a', '10', '0100000')], [4, fd('/b', '0', '0100001')], [5, fd('/c', '0', '0100000')]]);
    const after = new Map([[3, fd('/a', '0', '0100000')], [4, fd('/b', '0', '0102001')], [6, fd('/c', '0', '0100000')]]);
    assert.deepEqual(fdDifferences(before, after), [
      'fd 3 (/a): pos 0, was 10', 'fd 4 (/b): flags 0102001, was 0100001', 'fd 5 (/c) is missing', 'fd 6 (/c) is extra',
    ]);
  });

  it('takes a pipe made again under another inode as the same, but not two ends that no longer share one', () => {
    const fd = (target: string): FdState => ({ target, pos: '0', flags: '00' });
    const before = new Map([[3, fd('pipe:[100]')], [4, fd('pipe:[100]')], [5, fd('/t/#7 (deleted)')]]);
    assert.deepEqual(fdDifferences(before, new Map([[3, fd('pipe:[200]')], [4, fd('pipe:[200]')], [5, fd('/t/#9 (deleted)')]])), []);
    assert.deepEqual(fdDifferences(before, new Map([[3, fd('pipe:[200]')], [4, fd('pipe:[201]')], [5, fd('/t/#9 (deleted)')]])),
      ['fd 4 (pipe:[#1]): target pipe:[#2], was pipe:[#1]', 'fd 5 (/t/#2 (deleted)): target /t/#3 (deleted), was /t/#2 (deleted)']);
  });
});
