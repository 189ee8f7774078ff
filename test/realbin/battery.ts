/**
 * Batteries of shell scripts run against a real static binary (busybox, bash, sash, zsh), so that an
 * original and its relinked copy can be run on the same scripts and their results compared.
 *
 * Both runs of a kind must see the same strings wherever a shell could print them: the binary is
 * copied to `<root>/bin/<name>` and every entry runs in `<root>/scratch/work`, `root` being fixed per
 * kind. One root therefore serves one run at a time; a lock file next to it enforces that, and a
 * run waits while another test process (a second suite on the same machine) holds it.
 *
 * An entry's stdout and stderr are regular files the shell inherits, not pipes: `cat` and friends
 * may splice or sendfile a file into a pipe or socket, which queues references to its page-cache
 * pages, so a later write to that file by the same entry would show up in what the reader gets,
 * depending on when the reader got to it.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type BinaryKind = 'busybox' | 'bash' | 'sash' | 'zsh';

export interface BatteryEntry {
  name: string;
  script: string;
}

export interface Result {
  name: string;
  stdout: string;
  stderr: string;
  /** null when the shell was ended by a signal. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Wall time; informative only, never compared. */
  durationMs: number;
}

export interface RunBatteryOptions {
  binary: string;
  kind: BinaryKind;
  entries: BatteryEntry[];
  env?: Record<string, string>;
  /** Defaults to `defaultBatteryRoot(kind)`; must be the same string for runs that are compared. */
  root?: string;
  /** Per entry, in milliseconds. */
  timeoutMs?: number;
}

export class BatteryFormatError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`battery line ${line}: ${message}`);
    this.name = 'BatteryFormatError';
  }
}

const ENTRY_SEPARATOR = '---';
const DEFAULT_TIMEOUT_MS = 60_000;
const DIFF_CONTEXT_CHARS = 160;

/** The installed binary of each kind and the name it is called by inside the battery. */
export const BATTERY_BINARIES: Record<BinaryKind, { path: string; name: string }> = {
  busybox: { path: '/bin/busybox', name: 'busybox' },
  bash: { path: '/bin/bash-static', name: 'bash' },
  sash: { path: '/bin/sash', name: 'sash' },
  zsh: { path: '/bin/zsh-static', name: 'zsh' },
};

export const BATTERY_KINDS = Object.keys(BATTERY_BINARIES) as BinaryKind[];

/**
 * Entries are separated by lines that are exactly `---`; each entry starts with a `# name` line
 * and the rest, without leading and trailing blank lines, is the script.
 */
export function parseBattery(text: string): BatteryEntry[] {
  const entries: BatteryEntry[] = [];
  const seen = new Set<string>();
  let block: string[] = [];
  let blockStart = 1;
  const flush = (): void => {
    const entry = parseEntry(block, blockStart);
    if (seen.has(entry.name)) {
      throw new BatteryFormatError(`duplicate entry name "${entry.name}"`, blockStart);
    }
    seen.add(entry.name);
    entries.push(entry);
  };
  const lines = text.replace(/\n$/, '').split('\n');
  lines.forEach((line, index) => {
    if (line === ENTRY_SEPARATOR) {
      flush();
      block = [];
      blockStart = index + 2;
    } else {
      block.push(line);
    }
  });
  flush();
  return entries;
}

function parseEntry(lines: string[], firstLine: number): BatteryEntry {
  const start = lines.findIndex((line) => line.trim() !== '');
  if (start < 0) throw new BatteryFormatError('empty entry', firstLine);
  const header = /^# (\S.*)$/.exec(lines[start]);
  if (header === null) {
    throw new BatteryFormatError('entry must start with "# name"', firstLine + start);
  }
  const body = lines.slice(start + 1);
  while (body.length > 0 && body[0].trim() === '') body.shift();
  while (body.length > 0 && body[body.length - 1].trim() === '') body.pop();
  if (body.length === 0) {
    throw new BatteryFormatError(`entry "${header[1]}" has no script`, firstLine + start);
  }
  return { name: header[1].trim(), script: body.join('\n') };
}

export async function readBatteryFile(file: string): Promise<BatteryEntry[]> {
  return parseBattery(await fs.readFile(file, 'utf8'));
}

/** The checkout's root, found from this module whether it runs from test/ or from dist/test/. */
export function repositoryRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (path.basename(dir) !== 'test') {
    if (path.dirname(dir) === dir) throw new Error('battery.ts must live under a test/ directory');
    dir = path.dirname(dir);
  }
  dir = path.dirname(dir);
  return path.basename(dir) === 'dist' ? path.dirname(dir) : dir;
}

export function batteryFixture(kind: BinaryKind): string {
  return path.join(repositoryRoot(), 'test', 'fixtures', 'battery', `${kind}.txt`);
}

export function defaultBatteryRoot(kind: BinaryKind): string {
  return path.join(os.tmpdir(), `ckpt-battery-${kind}`);
}

interface Layout {
  root: string;
  bin: string;
  binary: string;
  scratch: string;
  work: string;
  home: string;
  tmp: string;
  /** sash runs multi-line entries from this file. */
  script: string;
  stdout: string;
  stderr: string;
}

function layoutOf(root: string, kind: BinaryKind): Layout {
  const scratch = path.join(root, 'scratch');
  return {
    root,
    bin: path.join(root, 'bin'),
    binary: path.join(root, 'bin', BATTERY_BINARIES[kind].name),
    scratch,
    work: path.join(scratch, 'work'),
    home: path.join(scratch, 'home'),
    tmp: path.join(scratch, 'tmp'),
    script: path.join(root, 'entry.sash'),
    stdout: path.join(root, 'output', 'stdout'),
    stderr: path.join(root, 'output', 'stderr'),
  };
}

/** Runs the entries one after another, each in a fresh scratch directory. */
export async function runBattery(opts: RunBatteryOptions): Promise<Result[]> {
  validateOptions(opts);
  const layout = layoutOf(opts.root ?? defaultBatteryRoot(opts.kind), opts.kind);
  await fs.mkdir(layout.root, { recursive: true });
  const release = await lockRoot(layout.root);
  try {
    await installBinary(opts.binary, opts.kind, layout);
    const results: Result[] = [];
    for (const entry of opts.entries) {
      results.push(await runEntry(entry, opts, layout));
    }
    await fs.rm(layout.scratch, { recursive: true, force: true });
    await fs.rm(path.dirname(layout.stdout), { recursive: true, force: true });
    return results;
  } finally {
    await release();
  }
}

function validateOptions(opts: RunBatteryOptions): void {
  if (!(opts.kind in BATTERY_BINARIES)) {
    throw new TypeError(`option "kind" must be one of ${BATTERY_KINDS.join(', ')}, not "${opts.kind}"`);
  }
  if (typeof opts.binary !== 'string' || opts.binary === '') {
    throw new TypeError('option "binary" must be the path of an executable');
  }
  if (!Array.isArray(opts.entries) || opts.entries.length === 0) {
    throw new TypeError('option "entries" must be a non-empty array of battery entries');
  }
  if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) {
    throw new TypeError('option "timeoutMs" must be a positive number of milliseconds');
  }
}

/** The lock holds the owner's pid so that a lock left by a dead process can be taken over. */
export async function lockRoot(root: string): Promise<() => Promise<void>> {
  const lockFile = `${root}.lock`;
  for (;;) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const ownerPid = Number(await fs.readFile(lockFile, 'utf8').catch(() => '0'));
    if (ownerPid > 0 && isAlive(ownerPid)) {
      // Another suite's run of this battery: wait for its release (the caller's test timeout bounds it)
      await new Promise((resolve) => setTimeout(resolve, 250));
      continue;
    }
    await fs.rm(lockFile, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Replaces `<root>/bin` by a copy of the binary; for busybox, every applet the binary lists gets a
 * symlink to it, so that PATH resolves applets to the binary under test and nothing else.
 */
async function installBinary(binary: string, kind: BinaryKind, layout: Layout): Promise<void> {
  await fs.rm(layout.bin, { recursive: true, force: true });
  await fs.mkdir(layout.bin);
  await fs.copyFile(binary, layout.binary, fsConstants.COPYFILE_EXCL);
  await fs.chmod(layout.binary, 0o755);
  if (kind !== 'busybox') return;
  const { stdout } = await execa(layout.binary, ['--list'], { env: {}, extendEnv: false });
  const name = BATTERY_BINARIES.busybox.name;
  for (const applet of stdout.split('\n').filter((line) => line !== '' && line !== name)) {
    await fs.symlink(name, path.join(layout.bin, applet));
  }
}

async function resetScratch(layout: Layout): Promise<void> {
  await fs.rm(layout.scratch, { recursive: true, force: true });
  for (const dir of [layout.work, layout.home, layout.tmp]) await fs.mkdir(dir, { recursive: true });
  await fs.mkdir(path.dirname(layout.stdout), { recursive: true });
}

function entryEnv(kind: BinaryKind, layout: Layout, extra: Record<string, string> | undefined) {
  const systemPath = kind === 'busybox' ? '' : ':/usr/bin:/bin';
  return {
    PATH: layout.bin + systemPath,
    HOME: layout.home,
    TMPDIR: layout.tmp,
    LANG: 'C',
    TZ: 'UTC',
    ...(kind === 'busybox' ? { BB: layout.binary } : {}),
    ...extra,
  };
}

/** sash's -c takes a single command, so entries of several lines are run as a sash script. */
async function entryArgs(kind: BinaryKind, script: string, layout: Layout): Promise<string[]> {
  switch (kind) {
    case 'busybox':
      return ['sh', '-c', script];
    case 'bash':
      return ['-c', script];
    case 'zsh':
      return ['-f', '-c', script];
    case 'sash':
      if (!script.includes('\n')) return ['-c', script];
      await fs.writeFile(layout.script, `${script}\n`);
      return ['-f', layout.script];
  }
}

/** Runs one entry with its stdout and stderr in files, and reads them once the entry is over. */
async function runEntry(entry: BatteryEntry, opts: RunBatteryOptions, layout: Layout): Promise<Result> {
  await resetScratch(layout);
  const started = performance.now();
  const stdout = await fs.open(layout.stdout, 'w');
  const stderr = await fs.open(layout.stderr, 'w');
  let ending: ShellEnding;
  try {
    ending = await runShell(entry, opts, layout, { stdout: stdout.fd, stderr: stderr.fd });
  } finally {
    await stdout.close();
    await stderr.close();
  }
  return {
    name: entry.name,
    stdout: await fs.readFile(layout.stdout, 'utf8'),
    stderr: await fs.readFile(layout.stderr, 'utf8'),
    ...ending,
    durationMs: Math.round(performance.now() - started),
  };
}

type ShellEnding = Pick<Result, 'exitCode' | 'signal' | 'timedOut'>;

/**
 * The shell leads its own session and process group, so no terminal leaks in and whatever an entry
 * leaves behind (a background job) is killed with the group when the entry ends or times out,
 * before its output files are read. Plain spawn, because execa's types do not let stdout and stderr
 * be descriptors other than 1 and 2.
 */
async function runShell(
  entry: BatteryEntry,
  opts: RunBatteryOptions,
  layout: Layout,
  output: { stdout: number; stderr: number },
): Promise<ShellEnding> {
  const shell = spawn(layout.binary, await entryArgs(opts.kind, entry.script, layout), {
    argv0: BATTERY_BINARIES[opts.kind].name,
    cwd: layout.work,
    env: entryEnv(opts.kind, layout, opts.env),
    stdio: ['ignore', output.stdout, output.stderr],
    detached: true,
  });
  return groupEnding(shell, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}

/**
 * How a process that leads its own group ends: its status, or killed with its group after
 * `timeoutMs`. Its group is killed in any case, so nothing it started outlives it.
 */
export async function groupEnding(child: ChildProcess, timeoutMs: number): Promise<{ exitCode: number | null; signal: NodeJS.Signals | null; timedOut: boolean }> {
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, timeoutMs);
  try {
    const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code, sig) => resolve([code, sig]));
    });
    return { exitCode, signal, timedOut };
  } finally {
    clearTimeout(timer);
    killGroup(child.pid);
  }
}

/** SIGKILL to a process group led by `pid`, gone already or not */
export function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** One line per entry whose results differ, naming the entry and the part that differs. */
export function compareBatteries(a: Result[], b: Result[]): string[] {
  const differences: string[] = [];
  const byName = new Map(b.map((result) => [result.name, result]));
  for (const left of a) {
    const right = byName.get(left.name);
    if (right === undefined) {
      differences.push(`${left.name}: missing from the second run`);
      continue;
    }
    byName.delete(left.name);
    differences.push(...compareResults(left, right));
  }
  for (const name of byName.keys()) differences.push(`${name}: missing from the first run`);
  return differences;
}

function compareResults(left: Result, right: Result): string[] {
  const differences: string[] = [];
  const status = (r: Result): string =>
    r.timedOut ? 'timed out' : r.signal !== null ? `killed by ${r.signal}` : `exit ${r.exitCode}`;
  if (status(left) !== status(right)) {
    differences.push(`${left.name}: exit differs: ${status(left)} vs ${status(right)}`);
  }
  for (const stream of ['stdout', 'stderr'] as const) {
    if (left[stream] !== right[stream]) {
      differences.push(`${left.name}: ${stream} differs: ${describeTextDifference(left[stream], right[stream])}`);
    }
  }
  return differences;
}

/** Names the first line that differs and shows it from both sides, shortened. */
export function describeTextDifference(a: string, b: string): string {
  const linesA = a.split('\n');
  const linesB = b.split('\n');
  let line = 0;
  while (line < linesA.length && line < linesB.length && linesA[line] === linesB[line]) line++;
  const show = (lines: string[]): string =>
    line < lines.length ? JSON.stringify(lines[line].slice(0, DIFF_CONTEXT_CHARS)) : '(end of output)';
  return `line ${line + 1}: ${show(linesA)} vs ${show(linesB)} (${a.length} vs ${b.length} chars)`;
}
