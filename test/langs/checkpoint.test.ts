// Dynamically linked language runtimes, relinked, checkpointed mid-run, SIGKILLed and restarted
// (issue 9): a pure-Python computation, Python threads (a threading.Thread pool blocked on a queue
// while the checkpoint is taken, and concurrent.futures: issue 11), a Lua computation, a perl
// script and an sqlite3 session writing a database file (test/fixtures/langs-ckpt), with a
// rollback journal and in WAL mode. Each does part of its work, says so (a
// "waiting" line, or for sqlite a file "ready"), then blocks reading stdin: the test checkpoints it
// there, so it cannot finish first whatever the machine's speed, and nothing is written between the
// signal and the kill. The restart is given the rest of stdin and must leave stdout byte for byte as
// an uninterrupted run of the ORIGINAL program does; sqlite's database must check out and hold the
// same rows. The python3 image must hold its written memory and none of the carried code.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { stopAfterTest } from '../hooks.js';
import { ROOT, relinkFile, runProgram, scratch, textOf, waitFor } from '../helpers.js';
import { blockedArgs, blockedIn, signalRunning } from '../process.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/langs-ckpt');
const RESTART = path.join(ROOT, 'dist/src/cli/restart.js');
const INSPECT = path.join(ROOT, 'dist/src/cli/inspect.js');
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };
const SYS_READ = 0;
const MIB = 1024 * 1024;

interface Workload {
  title: string;
  /** The original program: Debian's, by absolute path (python3 on the PATH may be pyenv's) */
  program: string;
  args: string[];
  relinkOptions: string[];
  /** Fixture files the run needs in its directory */
  files: string[];
  /** stdin before the checkpoint; the program stays blocked reading it for more */
  before: string;
  /** stdin given to the restarted program, to its end */
  after: string;
  /** Whether the run in `dir` has done its first part and said so */
  paused: (dir: string) => boolean;
}

const fixtureText = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const saidWaiting = (dir: string) => /^waiting$/m.test(textOf(path.join(dir, 'out.txt')));

const SCRIPTS: Workload[] = [
  { title: 'a pure-Python computation (python3.11)', program: '/usr/bin/python3.11', args: ['compute.py'],
    relinkOptions: ['--with', '/usr/lib/python3.11/lib-dynload'], files: ['compute.py'] },
  { title: 'a Lua computation (lua5.4)', program: '/usr/bin/lua5.4', args: ['compute.lua'], relinkOptions: [], files: ['compute.lua'] },
  { title: 'a perl script', program: '/usr/bin/perl', args: ['compute.pl'], relinkOptions: [], files: ['compute.pl'] },
  { title: 'Python threads: a threading.Thread pool and a concurrent.futures pool (python3.11)', program: '/usr/bin/python3.11',
    args: ['threads.py'], relinkOptions: ['--with', '/usr/lib/python3.11/lib-dynload'], files: ['threads.py'] },
].map((w) => ({ ...w, before: '', after: 'go\n', paused: saidWaiting }));

const SQLITE: Workload = {
  title: 'an sqlite3 session inserting rows into a database file', program: '/usr/bin/sqlite3', args: ['rows.db'],
  relinkOptions: [], files: [], before: fixtureText('session-1.sql'), after: fixtureText('session-2.sql'),
  paused: (dir) => textOf(path.join(dir, 'ready')) === 'ready\n',
};
/** The same session with a write-ahead log: sqlite3 maps its index (rows.db-shm) MAP_SHARED and holds
 *  POSIX locks on it and on the database (docs/limits.md, MAP_SHARED mappings and file locks) */
const SQLITE_WAL: Workload = { ...SQLITE, title: 'an sqlite3 session in WAL mode (its -shm index mapped shared and locked)',
  before: `PRAGMA journal_mode=WAL;\n${SQLITE.before}` };
const PYTHON = SCRIPTS[0];

/** What the checkpointed, killed and restarted run left */
interface Interrupted {
  dir: string;
  bin: string;
  image: string;
  /** kB of private written memory just before the checkpoint signal (smaps_rollup) */
  privateDirtyKb: number;
  stdout: string;
  stderr: string;
  restartExit: number | null;
  restartSays: string;
}

function prepareDir(w: Workload): string {
  const dir = scratch('ckpt-langs-');
  for (const f of w.files) fs.copyFileSync(path.join(FIXTURES, f), path.join(dir, f));
  return dir;
}

async function uninterruptedOriginal(w: Workload): Promise<{ dir: string; stdout: string }> {
  const dir = prepareDir(w);
  const r = await runProgram(w.program, w.args, { cwd: dir, env: ENV, input: w.before + w.after, timeout: 120_000 });
  assert.equal(r.exitCode, 0, `the original ${w.program} failed: ${r.stderr}`);
  assert.equal(r.stderr, '', `the original ${w.program} wrote on stderr`);
  return { dir, stdout: r.stdout };
}

function privateDirtyKb(pid: number): number {
  const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = /^Private_Dirty:\s+(\d+) kB$/m.exec(rollup)?.[1];
  if (kb === undefined) throw new Error(`no Private_Dirty in /proc/${pid}/smaps_rollup`);
  return Number(kb);
}

/** Blocked in read(0, ...): it has taken all of stdin there is and waits for more */
function readingStdin(pid: number): boolean {
  return blockedIn(pid) === SYS_READ && blockedArgs(pid)?.[0] === 0n;
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/** Runs the relinked program until it pauses, checkpoints it there and kills it: the image is left */
async function checkpointAndKill(w: Workload, bin: string, dir: string): Promise<{ image: string; privateDirtyKb: number }> {
  const image = path.join(dir, 'run.img');
  const [out, err] = ['out.txt', 'err.txt'].map((f) => fs.openSync(path.join(dir, f), 'w'));
  const run = spawn(bin, w.args, { cwd: dir, stdio: ['pipe', out, err], env: { ...ENV, CKPT_IMAGE: image } });
  [out, err].forEach((fd) => fs.closeSync(fd));
  const ended = exited(run);
  const kill = async () => { run.kill('SIGKILL'); await ended; };
  const forget = stopAfterTest(kill);
  let dirty: number;
  try {
    run.stdin!.on('error', () => {});	// a run that died early is reported by its stderr below
    run.stdin!.write(w.before);
    const ranAway = () => run.exitCode !== null || run.signalCode !== null;
    await waitFor(() => ranAway() || (w.paused(dir) && readingStdin(run.pid!)), `${w.title} to pause, blocked reading stdin`);
    if (ranAway()) throw new Error(`the relinked run ended (${run.exitCode ?? run.signalCode}) before its pause: ${textOf(path.join(dir, 'err.txt'))}`);
    dirty = privateDirtyKb(run.pid!);
    signalRunning(run, 'SIGUSR2');
    await waitFor(() => fs.existsSync(image) || ranAway(), 'the image after the checkpoint signal');
  } finally {
    await kill();
    forget();
  }
  assert.ok(fs.existsSync(image), `the checkpoint signal made no image: ${textOf(path.join(dir, 'err.txt'))}`);
  return { image, privateDirtyKb: dirty };
}

async function restart(w: Workload, image: string, dir: string): Promise<{ code: number | null; says: string }> {
  const restarted = spawn(...nodeCommand(RESTART, [image]), { cwd: dir, stdio: ['pipe', 'ignore', 'pipe'], env: ENV });
  const closed = new Promise<number | null>((r) => restarted.once('close', (c) => r(c)));
  // ckpt-restart passes TERM on to the program it runs
  const forget = stopAfterTest(async () => { restarted.kill('SIGTERM'); await closed; });
  let says = '';
  restarted.stderr!.on('data', (d) => { says += d; });
  restarted.stdin!.on('error', () => {});
  restarted.stdin!.end(w.after);
  const code = await closed;
  forget();
  return { code, says };
}

const relinked = new Map<string, Promise<string>>();

function relinkedProgram(w: Workload): Promise<string> {
  if (!relinked.has(w.program)) {
    const bin = path.join(scratch('ckpt-langs-bin-'), `${path.basename(w.program)}.ckpt`);
    relinked.set(w.program, relinkFile(w.program, bin, w.relinkOptions).then(() => bin));
  }
  return relinked.get(w.program)!;
}

const interrupted = new Map<Workload, Promise<Interrupted>>();

/** The workload checkpointed at its pause, killed and restarted, once per run of the suite */
function interruptedRun(w: Workload): Promise<Interrupted> {
  if (!interrupted.has(w)) {
    interrupted.set(w, (async () => {
      const bin = await relinkedProgram(w);
      const dir = prepareDir(w);
      const { image, privateDirtyKb } = await checkpointAndKill(w, bin, dir);
      const { code, says } = await restart(w, image, dir);
      return {
        dir, bin, image, privateDirtyKb, restartExit: code, restartSays: says,
        stdout: textOf(path.join(dir, 'out.txt')), stderr: textOf(path.join(dir, 'err.txt')),
      };
    })());
  }
  return interrupted.get(w)!;
}

async function assertSameOutput(w: Workload): Promise<{ want: { dir: string }; got: Interrupted }> {
  const [want, got] = await Promise.all([uninterruptedOriginal(w), interruptedRun(w)]);
  assert.equal(got.restartSays, '', 'the restart printed nothing of its own');
  assert.equal(got.restartExit, 0, `the restarted run's exit status (stderr: ${got.stderr})`);
  assert.equal(got.stderr, '', 'the program wrote nothing on stderr');
  assert.equal(got.stdout, want.stdout, 'stdout as an uninterrupted run of the original');
  return { want, got };
}

/** The database as the original sqlite3 sees it: its integrity check and its row count */
async function checkDatabase(file: string): Promise<{ integrity: string; rows: number }> {
  const sql = async (q: string) => (await execa('/usr/bin/sqlite3', [file, q], { env: ENV })).stdout.trim();
  return { integrity: await sql('PRAGMA integrity_check;'), rows: Number(await sql('SELECT count(*) FROM readings;')) };
}

/** A region as `ckpt-inspect --json` gives it (src/image/json.ts); u64 fields are decimal strings */
interface InspectedRegion { start: string; end: string; perms: string; path: string; dataSize: string; [field: string]: unknown }

/** Regions of the image whose path is the relinked binary: its own and the carried ld.so and libraries */
function carriedRegions(inspected: { regions: InspectedRegion[] }, bin: string): InspectedRegion[] {
  return inspected.regions.filter((r) => r.path === bin);
}

const describeRegion = (r: InspectedRegion) => `${BigInt(r.start).toString(16)}-${BigInt(r.end).toString(16)} ${r.perms} (${r.dataSize} bytes stored)`;

/** Whether ckpt-inspect marks the region as mapped again from the relinked binary at restart (src/image/json.ts) */
function mappedFromRelinkedFile(r: InspectedRegion): boolean {
  return r.fromBinary === true;
}

describe('dynamic programs relinked, checkpointed mid-run, SIGKILLed and restarted', function () {
  this.timeout(300_000);

  for (const w of SCRIPTS) {
    it(`${w.title} ends with the stdout of an uninterrupted run of the original`, async () => {
      await assertSameOutput(w);
    });
  }

  it(`${SQLITE.title} ends with its stdout, and the database checks out with every row`, async () => {
    const { want, got } = await assertSameOutput(SQLITE);
    const wantDb = await checkDatabase(path.join(want.dir, 'rows.db'));
    assert.deepEqual(wantDb, { integrity: 'ok', rows: 11_877 }, 'the original session leaves 12,000 rows less 123 deleted');
    assert.deepEqual(await checkDatabase(path.join(got.dir, 'rows.db')), wantDb);
  });

  it(`${SQLITE_WAL.title} ends with its stdout, and the database checks out with every row`, async () => {
    const { want, got } = await assertSameOutput(SQLITE_WAL);
    const wantDb = await checkDatabase(path.join(want.dir, 'rows.db'));
    assert.deepEqual(wantDb, { integrity: 'ok', rows: 11_877 });
    assert.deepEqual(await checkDatabase(path.join(got.dir, 'rows.db')), wantDb);
  });

  it('the python3 image is no bigger than its private written memory at the checkpoint, within 5% + 1 MiB', async () => {
    const got = await interruptedRun(PYTHON);
    const size = fs.statSync(got.image).size;
    const bound = got.privateDirtyKb * 1024 * 1.05 + MIB;
    assert.ok(size <= bound, `image ${size} bytes, more than Private_Dirty ${got.privateDirtyKb} kB * 1.05 + 1 MiB = ${Math.floor(bound)}`);
  });

  it("ckpt-inspect shows the python3 image's regions of the relinked file as mapped from it, its code not stored", async () => {
    const got = await interruptedRun(PYTHON);
    const inspected = JSON.parse((await execa(...nodeCommand(INSPECT, ['--json', got.image]))).stdout);
    const carried = carriedRegions(inspected, got.bin);
    assert.ok(carried.length > 0, `the image maps no region from ${got.bin}`);
    // code only: RELRO regions are read-only too, but ld.so wrote their relocations first
    const storedCode = carried.filter((r) => r.perms.includes('x') && r.dataSize !== '0');
    assert.deepEqual(storedCode.map(describeRegion), [], 'code of the relinked file stored in the image');
    assert.deepEqual(carried.filter((r) => !mappedFromRelinkedFile(r)).map(describeRegion), [], 'regions of the relinked file not marked as mapped from it');
  });
});
