// Real checkpoint images for the image tests: a relinked compute sample started with CKPT_IMAGE,
// checkpointed with SIGUSR2 while it computes, then killed. The caller chooses the program's stdio,
// so that the image records descriptors the test knows.
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, relinkFile, sample, scratch } from '../helpers.js';

export const INSPECT = path.join(ROOT, 'dist/src/cli/inspect.js');
export const RESTART = path.join(ROOT, 'dist/src/cli/restart.js');
/** Steps the compute sample takes: it writes its first line after a quarter (about 10 s) */
export const LONG_STEPS = '40000000000';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A relinked glibc compute sample in a new scratch directory */
export async function relinkedCompute(): Promise<{ dir: string; bin: string }> {
  const dir = scratch('ckpt-image-');
  const bin = path.join(dir, 'compute.ckpt');
  await relinkFile(sample('glibc', 'compute'), bin);
  return { dir, bin };
}

export function exited(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
}

/** Waits until `image` has been (re)written since `before` (its mtime then, 0 when absent) */
export async function imageWritten(image: string, before = 0): Promise<void> {
  for (let t = 0; t < 400; t++) {
    const st = fs.statSync(image, { throwIfNoEntry: false });
    if (st && st.mtimeMs !== before) return;
    await sleep(25);
  }
  throw new Error(`no image appeared at ${image}`);
}

export interface Checkpointed {
  image: string;
  pid: number;
  /** /proc/PID/maps right after the checkpoint, while the program still ran */
  maps: string;
}

/**
 * Runs `bin args` in `dir` with CKPT_IMAGE=image, checkpoints it after `waitMs` and kills it. The
 * program's memory does not change shape after its start, so `maps` is what the image must hold.
 */
export async function checkpointRun(bin: string, args: string[], dir: string, image: string, stdio: StdioOptions, waitMs = 200): Promise<Checkpointed> {
  const child = spawn(bin, args, { cwd: dir, stdio, env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image } });
  const done = exited(child);
  await sleep(waitMs);
  const before = fs.statSync(path.resolve(dir, image), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  process.kill(child.pid!, 'SIGUSR2');
  await imageWritten(path.resolve(dir, image), before);
  await sleep(100); // the writer unmaps its scratch area after the rename
  const maps = fs.readFileSync(`/proc/${child.pid}/maps`, 'utf8');
  child.kill('SIGKILL');
  await done;
  return { image: path.resolve(dir, image), pid: child.pid!, maps };
}

/**
 * Runs `bin args` in `dir` with CKPT_IMAGE=image and CKPT_VACATE_SIGNAL=TERM, and vacates it after
 * `waitMs`: the program checkpoints and exits 85 in the same handler, so nothing it writes after the
 * image was taken reaches its output (with a plain checkpoint and a kill, lines written between the
 * two would be written again by the restart, as they would be under Condor).
 */
export async function vacateRun(bin: string, args: string[], dir: string, image: string, stdio: StdioOptions, waitMs = 200): Promise<string> {
  const child = spawn(bin, args, { cwd: dir, stdio, env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image, CKPT_VACATE_SIGNAL: 'TERM' } });
  const done = exited(child);
  await sleep(waitMs);
  child.kill('SIGTERM');
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
