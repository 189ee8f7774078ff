// What a running program is doing, read from /proc, so that a test acts on it when it is in the
// state the test needs (blocked in a call, catching a signal, stopped) and never after a guess of
// how long it takes to get there. See test/README.md for the tests that interrupt programs.
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { waitFor } from './helpers.js';

function procFile(pid: number, name: string): string | null {
  try { return fs.readFileSync(`/proc/${pid}/${name}`, 'utf8'); } catch { return null; }
}

/** The process state letter (R, S, D, T, Z...), or null once it is gone */
export function processState(pid: number): string | null {
  const stat = procFile(pid, 'stat');
  return stat ? stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) : null;
}

/** The system call the process is blocked in, by number; null while it runs, or once it is gone */
export function blockedIn(pid: number): number | null {
  const first = procFile(pid, 'syscall')?.split(' ')[0];
  return first && /^\d+$/.test(first) ? Number(first) : null;
}

/** The arguments of the system call the process is blocked in (as /proc/PID/syscall gives them), or null */
export function blockedArgs(pid: number): bigint[] | null {
  const fields = procFile(pid, 'syscall')?.trim().split(' ');
  return fields && /^\d+$/.test(fields[0]) ? fields.slice(1, 7).map((f) => BigInt(f)) : null;
}

/** Whether the process has a handler for `signal` (its SigCgt mask in /proc/PID/status) */
export function catches(pid: number, signal: NodeJS.Signals): boolean {
  const mask = /^SigCgt:\s+([0-9a-f]+)$/m.exec(procFile(pid, 'status') ?? '')?.[1];
  return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(os.constants.signals[signal] - 1)) & 1n) === 1n;
}

/** Sends `signal` to a child the test knows is running; a child that ended already fails the test, saying so */
export function signalRunning(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) {
    throw new Error(`the program ended (${child.exitCode ?? child.signalCode}) before the test could send it ${signal}`);
  }
  process.kill(child.pid!, signal);
}

/** Waits until the program can take a checkpoint: its runtime has installed the handler for `signal` */
export async function checkpointable(child: ChildProcess, signal: NodeJS.Signals = 'SIGUSR2'): Promise<void> {
  await waitFor(() => catches(child.pid!, signal) || child.exitCode !== null || child.signalCode !== null, `process ${child.pid} to catch ${signal}`);
  if (!catches(child.pid!, signal)) throw new Error(`the program ended (${child.exitCode ?? child.signalCode}) before it could be checkpointed`);
}

/**
 * Delivers `signal` at the point where the program is now, whatever its speed: it is stopped, seen
 * to be still mid-run by `midRun` (which fails the test otherwise), sent the signal, and let go. The
 * kernel runs the handler before anything else once it continues.
 */
export async function signalWhileStopped(child: ChildProcess, signal: NodeJS.Signals, midRun: () => void): Promise<void> {
  signalRunning(child, 'SIGSTOP');
  await waitFor(() => processState(child.pid!) === 'T', `process ${child.pid} to stop`);
  midRun();
  process.kill(child.pid!, signal);
  process.kill(child.pid!, 'SIGCONT');
}

/** Bytes the process has read so far with read calls (files, pipes; not recv on sockets): its rchar */
export function received(pid: number): number {
  return Number(/^rchar:\s+(\d+)$/m.exec(procFile(pid, 'io') ?? '')?.[1] ?? 0);
}

