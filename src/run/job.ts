// A batch job around a relinked program: started afresh or resumed from its image directory, its
// checkpoints named and pruned there, the scheduler's warning turned into a vacate (exit 85, "requeue
// me"), and its own end passed on as the job's status (128+N for a death by signal N, as a shell).
//
// Signals. The program always runs with the same two: CKPT_VACATE_SIGNAL=TERM and CKPT_SIGNAL=USR2.
// A restored process keeps the signals of the run that first started it (its handlers are in the
// image), so they cannot follow this run's --signal; ckpt-run translates instead: its own --signal
// and TERM become a TERM to the program. TERM is the program's vacate signal because a plain
// `scancel` sends TERM to every process of the job, the program included, and that must vacate too.
//
// Periodic checkpoints: ckpt-run sends CKPT_SIGNAL itself on its timer rather than setting
// CKPT_INTERVAL, for two reasons. The runtime's timer is saved in the image and a resumed process
// would keep the first run's interval, not this run's --interval; and a signal sent here is sent only
// once the program catches it (SigCgt), never while it is still starting up or being restored, when
// the signal would kill it. The same wait guards the vacate TERM.
//
// Names: every checkpoint, periodic or vacate, lands at the staging name and is given the next
// number here (image-dir.ts says why the runtime cannot be given a new name per checkpoint). What
// the image was for is not in its name: the newest number is the one to resume from, either way.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import * as C from '../contract.generated.js';
import { chooseStart, programId, ProgramError, type BadImagePolicy, type Start } from './choose.js';
import type { RunEvent } from './events.js';
import { ImageDir, STAGING_NAME } from './image-dir.js';
import { ShadowStore } from './store.js';
import { ShadowClientError } from '../shadow/client.js';

export interface JobOptions {
  program: string;
  /** PROGRAM's arguments; a resumed program has its own, in the image */
  args: string[];
  /** a directory, or `shadow:NAME` for images kept on the job's shadow */
  imageDir: string;
  /** the scheduler's warning signal, turned into a vacate */
  warningSignal: NodeJS.Signals;
  /** seconds between periodic checkpoints; none when undefined */
  interval?: number;
  /** numbered images kept, newest first */
  keep: number;
  onBadImage: BadImagePolicy;
}

export class JobRefused extends Error {
  override readonly name = 'JobRefused';
}

export { ProgramError };

export const EXIT_VACATED = C.CKPT_EXIT_VACATED;
const PROGRAM_VACATE_SIGNAL = 'SIGTERM';
const PROGRAM_CHECKPOINT_SIGNAL = 'SIGUSR2';
/** Passed on as they are; INT and QUIT only when stdin is not a terminal, which sends them itself */
const PASSED_ON: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT'];
const KEYBOARD = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT']);
/** How often a signal waiting for the program to catch it looks again */
const CATCH_POLL_MS = 10;

/** Whether process `pid` has a handler for `signal` (its SigCgt mask) */
function catches(pid: number, signal: NodeJS.Signals): boolean {
  let status: string;
  try { status = fs.readFileSync(`/proc/${pid}/status`, 'utf8'); } catch { return false; }
  const mask = /^SigCgt:\s+([0-9a-f]+)$/m.exec(status)?.[1];
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(os.constants.signals[signal] - 1)) & 1n) === 1n;
}

const running = (child: ChildProcess) => child.pid !== undefined && child.exitCode === null && child.signalCode === null;

/** Sends `signal` once the program catches it; dropped if the program ends first */
function sendWhenCaught(child: ChildProcess, signal: NodeJS.Signals): void {
  if (!running(child)) return;
  if (catches(child.pid!, signal)) child.kill(signal);
  else setTimeout(() => sendWhenCaught(child, signal), CATCH_POLL_MS);
}

function programEnvironment(images: ImageDir, start: Start): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CKPT_IMAGE: images.staging,
    CKPT_SIGNAL: PROGRAM_CHECKPOINT_SIGNAL.slice(3),
    CKPT_VACATE_SIGNAL: PROGRAM_VACATE_SIGNAL.slice(3),
    // full images only: each image is renamed to a numbered name and pruned by --keep, which an
    // incremental image's parent link (a file beside the staging name) would not follow
    CKPT_INCREMENTAL: '0',
  };
  delete env.CKPT_INTERVAL;
  delete env.CKPT_RESTART;
  if (start.kind === 'resume') env.CKPT_RESTART = start.copy.file;
  return env;
}

/**
 * This process's signals, turned into the program's. Listening starts before the images are checked
 * (which takes a while for a large one): a TERM or warning then finds ckpt-run listening, not killed
 * by it, and the job is vacated before the program starts. The listeners stay until ckpt-run exits,
 * so that a signal after the program's end does not kill ckpt-run before it passes the status on.
 */
class SignalRelay {
  vacateAsked = false;
  private child?: ChildProcess;

  constructor(warning: NodeJS.Signals) {
    const onTerminal = tty.isatty(0);
    const listeners = new Map<NodeJS.Signals, () => void>();
    for (const s of PASSED_ON) {
      listeners.set(s, () => { if (!(onTerminal && KEYBOARD.has(s)) && this.child && running(this.child)) this.child.kill(s); });
    }
    listeners.set(warning, () => this.vacate());
    listeners.set('SIGTERM', () => this.vacate());
    for (const [s, l] of listeners) process.on(s, l);
  }

  attach(child: ChildProcess): void {
    this.child = child;
    if (this.vacateAsked) this.vacate();
  }

  private vacate(): void {
    this.vacateAsked = true;
    if (this.child) sendWhenCaught(this.child, PROGRAM_VACATE_SIGNAL);
  }
}

/** Lets signals that came during synchronous work reach their listeners */
const signalsDelivered = () => new Promise((resolve) => setImmediate(resolve));

export const SHADOW_PREFIX = 'shadow:';

async function openImageDir(where: string): Promise<ImageDir> {
  if (!where.startsWith(SHADOW_PREFIX)) return ImageDir.local(where);
  return new ImageDir(await ShadowStore.open(where.slice(SHADOW_PREFIX.length), process.env));
}

/** The image directory made ready, and the way the job starts */
async function prepareStart(opts: JobOptions, id: bigint, report: (e: RunEvent) => void): Promise<{ images: ImageDir; start: Start }> {
  let images: ImageDir | undefined;
  try {
    images = await openImageDir(opts.imageDir);
    await images.prepare();
    const start = await chooseStart(images, id, opts.onBadImage, report);
    if (start.kind === 'refuse') throw new JobRefused(start.reason);
    return { images, start };
  } catch (e) {
    images?.close();
    if (e instanceof ShadowClientError) throw new JobRefused(`cannot use the images on the shadow: ${e.message}`);
    if (e instanceof JobRefused || !(e as NodeJS.ErrnoException).code) throw e;
    throw new JobRefused(`cannot use the image directory ${images?.where ?? opts.imageDir}: ${(e as Error).message}`);
  }
}

/** Runs the job to its end; resolves to the status ckpt-run exits with */
export async function runJob(opts: JobOptions, report: (e: RunEvent) => void): Promise<number> {
  const relay = new SignalRelay(opts.warningSignal);
  const id = programId(opts.program);
  const { images, start } = await prepareStart(opts, id, report);
  try {
    return await supervise(opts, images, start, relay, report);
  } finally {
    if (start.kind === 'resume') start.copy.release();
    images.close();
  }
}

async function supervise(opts: JobOptions, images: ImageDir, start: Start, relay: SignalRelay, report: (e: RunEvent) => void): Promise<number> {
  await signalsDelivered();
  if (relay.vacateAsked) {
    // nothing has run since the newest image (if any): it is still the state to requeue with
    report({ kind: 'vacated', status: EXIT_VACATED });
    return EXIT_VACATED;
  }
  const child = spawn(opts.program, start.kind === 'resume' ? [] : opts.args, { stdio: 'inherit', env: programEnvironment(images, start) });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (e) => reject(new ProgramError(e.message)));
  });
  const ended = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (code, signal) => resolve([code, signal])));
  relay.attach(child);
  await spawned;
  report(start.kind === 'resume' ? { kind: 'resumed', image: start.image.location, pid: child.pid! } : { kind: 'started', program: opts.program, pid: child.pid! });

  const collectNow = async () => {
    const landed = await images.collect();
    if (!landed) return;
    if (landed.stale) return report({ kind: 'stale-image', image: landed.image.location });
    await images.prune(opts.keep);
    report({ kind: 'checkpointed', image: landed.image.location });
  };
  // one at a time: two at once could both give the next number to an image
  let collecting = Promise.resolve();
  const collect = () => (collecting = collecting.then(collectNow));
  // an image that cannot be named now (a full or read-only file system, the shadow unreachable)
  // stays at the staging name, whole, and is named at the next event or by the next run: never a
  // reason to stop supervising
  const collectLater = () => { collect().catch(() => { collecting = Promise.resolve(); }); };
  // a local directory is watched; on the shadow, images are named at each periodic tick and at the end
  const watcher = images.store.watchable ? fs.watch(images.where, (_event, name) => { if (name === STAGING_NAME) collectLater(); }) : undefined;
  const timer = opts.interval === undefined ? undefined : setInterval(() => {
    collectLater();
    if (running(child) && !relay.vacateAsked && catches(child.pid!, PROGRAM_CHECKPOINT_SIGNAL)) child.kill(PROGRAM_CHECKPOINT_SIGNAL);
  }, opts.interval * 1000);

  const [code, signal] = await ended;
  clearInterval(timer);
  watcher?.close();
  await collect();    // the vacate image: the runtime renames it into place before the program exits 85
  const status = code ?? 128 + os.constants.signals[signal!];
  report(code === EXIT_VACATED ? { kind: 'vacated', status } : { kind: 'finished', status, signal: signal ?? undefined });
  return status;
}
