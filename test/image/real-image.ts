// Real checkpoint images for the image tests: the relinked steps fixture (test/fixtures/steps.c)
// started with CKPT_IMAGE, checkpointed with SIGUSR2 once it says it has started computing, then
// killed. It computes until told to finish, so it is still running whatever the machine's speed.
// The caller chooses the program's stdio, so that the image records descriptors the test knows.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, relinkFile, scratch, waitFor } from '../helpers.js';
import { signalRunning } from '../process.js';
import { CHUNK, stepsProgram } from '../steps.js';

export const INSPECT = path.join(ROOT, 'dist/src/cli/inspect.js');
export const RESTART = path.join(ROOT, 'dist/src/cli/restart.js');
/** Arguments of a steps run that writes nothing until it is told to finish */
export const QUIET = ['-q', CHUNK];

/** The relinked glibc steps fixture in a new scratch directory, and the original */
export async function relinkedSteps(): Promise<{ dir: string; bin: string; exe: string }> {
  const dir = scratch('ckpt-image-');
  const bin = path.join(dir, 'steps.ckpt');
  const exe = await stepsProgram();
  await relinkFile(exe, bin);
  return { dir, bin, exe };
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** Waits until `image` has been (re)written since `before` (its mtime then, 0 when absent) */
export async function imageWritten(image: string, before = 0): Promise<void> {
  await waitFor(() => (fs.statSync(image, { throwIfNoEntry: false })?.mtimeMs ?? before) !== before, `an image at ${image}`);
}

/** Waits until the steps program started in `dir` has begun its computation */
async function started(child: ChildProcess, dir: string): Promise<void> {
  await waitFor(() => fs.existsSync(path.join(dir, 'started')) || child.exitCode !== null, `the steps program to start in ${dir}`);
  if (child.exitCode !== null) throw new Error(`the steps program ended (${child.exitCode}) before it started computing`);
}

/** /proc/PID/maps with the stack's lower end left out: a signal frame may grow the stack down */
const mapsShape = (maps: string) => maps.replace(/^[0-9a-f]+(-[0-9a-f]+ .*\[stack\])$/m, '$1');

export interface Checkpointed {
  image: string;
  pid: number;
  /** /proc/PID/maps right after the checkpoint, while the program still ran */
  maps: string;
}

/**
 * Runs `bin args` (the steps fixture) in `dir` with CKPT_IMAGE=image, checkpoints it once it has
 * started computing and kills it. The program's memory does not change shape after that, so `maps`,
 * read once the checkpoint's scratch area is gone again, is what the image must hold.
 */
export async function checkpointRun(bin: string, args: string[], dir: string, image: string, stdio: StdioOptions): Promise<Checkpointed> {
  fs.rmSync(path.join(dir, 'started'), { force: true });
  const child = spawn(bin, args, { cwd: dir, stdio, env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image } });
  const done = exited(child);
  await started(child, dir);
  const shape = mapsShape(fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8'));
  const before = fs.statSync(path.resolve(dir, image), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  signalRunning(child, 'SIGUSR2');
  await imageWritten(path.resolve(dir, image), before);
  // the writer unmaps its scratch area after the rename
  const maps = await waitFor(() => {
    const now = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
    return mapsShape(now) === shape && now;
  }, 'the checkpoint to unmap its scratch area');
  child.kill('SIGKILL');
  await done;
  return { image: path.resolve(dir, image), pid: child.pid!, maps };
}

/**
 * Runs `bin args` (the steps fixture) in `dir` with CKPT_IMAGE=image and CKPT_VACATE_SIGNAL=TERM,
 * and vacates it once `ready()` holds: the program checkpoints and exits 85 in the same handler, so
 * nothing it writes after the image was taken reaches its output (with a plain checkpoint and a
 * kill, lines written between the two would be written again by the restart, as they would be
 * under Condor).
 */
export async function vacateRun(bin: string, args: string[], dir: string, image: string, stdio: StdioOptions, ready: () => boolean): Promise<string> {
  fs.rmSync(path.join(dir, 'started'), { force: true });
  const child = spawn(bin, args, { cwd: dir, stdio, env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image, CKPT_VACATE_SIGNAL: 'TERM' } });
  const done = exited(child);
  await started(child, dir);
  await waitFor(() => ready() || child.exitCode !== null, 'the moment to vacate the program');
  signalRunning(child, 'SIGTERM');
  const end = await done;
  if (end.code !== 85) throw new Error(`vacated program ended ${JSON.stringify(end)}, not with code 85`);
  return path.resolve(dir, image);
}

export interface MapLine { start: bigint; end: bigint; perms: string; path: string }

/** /proc/PID/maps lines, less [vsyscall] (images never record it) */
export function parseMaps(maps: string): MapLine[] {
  return maps.trim().split('\n').filter((l) => !l.endsWith('[vsyscall]')).map((l) => {
    const [range, perms, , , , file = ''] = l.split(/\s+/);
    const [start, end] = range.split('-').map((h) => BigInt('0x' + h));
    return { start, end, perms, path: file };
  });
}
