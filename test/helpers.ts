// Shared by the tests: where things are, relinking through the real CLI, and scratch directories
// that are removed when the run ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../src/paths.js';
import { nodeCommand } from '../src/cli/node-flags.js';

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
  const r = await execa(...nodeCommand(CLI, [input, '-o', output, '-q', ...extra]), { reject: false, timeout: 300_000 });
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

/**
 * Polls `test` until it returns something truthy, and returns that. The bound only turns a hang into
 * a failure that says what never came; nothing may rely on it passing quickly.
 */
export async function waitFor<T>(test: () => T | undefined | null | false, what: string, ms = 60_000): Promise<T> {
  for (const t0 = Date.now(); ; await pollPause()) {
    const got = test();
    if (got) return got;
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
  }
}

const pollPause = () => new Promise((r) => setTimeout(r, 5));

const FIXTURE_COMPILERS: Record<Flavour, string[]> = {
  glibc: ['gcc', '-static'],
  pie: ['gcc', '-static-pie', '-fPIE'],
  musl: ['musl-gcc', '-static'],
};
const fixtures = new Map<string, Promise<string>>();

/** test/fixtures/NAME.c built as the samples are for `flavour`, once per run */
export function fixture(name: string, flavour: Flavour = 'glibc'): Promise<string> {
  const key = `${flavour}/${name}`;
  if (!fixtures.has(key)) {
    const exe = path.join(scratch(`ckpt-fixture-${flavour}-`), name);
    const [cc, ...flags] = FIXTURE_COMPILERS[flavour];
    fixtures.set(key, execa(cc, ['-O2', '-Wall', '-Wextra', ...flags, '-o', exe, path.join(ROOT, 'test/fixtures', `${name}.c`)]).then(() => exe));
  }
  return fixtures.get(key)!;
}

/** The file's text, or '' while it does not exist; never creates it */
export function textOf(file: string): string {
  try { return fs.readFileSync(file, 'utf8'); } catch { return ''; }
}
