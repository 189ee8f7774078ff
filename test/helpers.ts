// Shared by the tests: where things are, relinking through the real CLI, and scratch directories
// that are removed when the run ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../src/paths.js';

export const ROOT = PROJECT_ROOT;
export const CLI = path.join(ROOT, 'dist/src/cli/relink.js');
export const SAMPLES_DIR = path.join(ROOT, 'build/samples');
export const SAMPLE_FLAVOURS = ['glibc', 'pie', 'musl'] as const;
export type Flavour = (typeof SAMPLE_FLAVOURS)[number];

export function sample(flavour: Flavour, name: string): string {
  return path.join(SAMPLES_DIR, flavour, name);
}

/** Sample programs built by samples/Makefile (every .c file there) */
export function sampleNames(): string[] {
  return fs.readdirSync(path.join(ROOT, 'samples')).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
}

const scratchDirs: string[] = [];
export function scratch(prefix = 'ckpt-test-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  scratchDirs.push(d);
  return d;
}
process.on('exit', () => { for (const d of scratchDirs) fs.rmSync(d, { recursive: true, force: true }); });

/** Relinks through the CLI; throws with the CLI's stderr when it fails */
export async function relinkFile(input: string, output: string, extra: string[] = []): Promise<void> {
  const r = await execa('node', [CLI, input, '-o', output, '-q', ...extra], { reject: false, timeout: 300_000 });
  if (r.timedOut) throw new Error(`ckpt-relink ${input} did not finish in 300 s`);
  if (r.exitCode !== 0) throw new Error(`ckpt-relink ${input} failed (${r.exitCode}): ${r.stderr}`);
}

export interface Outcome { stdout: string; stderr: string; exitCode: number | undefined; signal?: string }

/** Runs a program with a fixed environment in `cwd`; the outcome a user would compare */
export async function runProgram(file: string, args: string[], opts: { cwd: string; env?: Record<string, string>; input?: string; timeout?: number }): Promise<Outcome> {
  const r = await execa(file, args, {
    cwd: opts.cwd, reject: false, stripFinalNewline: false, extendEnv: false,
    env: { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC', ...opts.env },
    input: opts.input ?? '', timeout: opts.timeout ?? 60_000,
  });
  return { stdout: r.stdout, stderr: r.stderr, exitCode: r.exitCode, signal: r.signal ?? undefined };
}
