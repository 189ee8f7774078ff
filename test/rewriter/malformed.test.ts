// Mutated and truncated ELF files must end in a clear RelinkError or a working output: never another
// exception, never a hang. Cases are generated from a fixed PRNG seed (in the titles); a failure
// message names each failing case with its exact mutation, so it can be replayed with applyCase.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../../src/paths.js';
import {
  RelinkPool, applyCase, describeCase, generateCases,
  type MutationCase, type MutationKind, type RelinkOutcome, type SeedName,
} from './mutate.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const PRNG_SEED = 0x5eed_e1f0;
const CASE_TIMEOUT_MS = 10_000;
const RUN_TIMEOUT_MS = 5_000;
const WORKERS = Math.max(1, Math.min(4, os.availableParallelism()));
const CLI = path.join(PROJECT_ROOT, 'dist/src/cli/relink.js');
const SEED_NAMES: SeedName[] = ['glibc', 'pie', 'musl'];
const seedPath = (n: SeedName) => path.join(PROJECT_ROOT, 'build/samples', n, 'hello');

/** RelinkError codes that blame the input; any other code from relink(bytes) misplaces the fault */
const INPUT_CODES = new Set(['ENOTELF', 'ECLASS', 'EENDIAN', 'EMACHINE', 'ETYPE', 'EDYNAMIC', 'ESHARED', 'EMALFORMED', 'EALREADY', 'ENOCODE', 'ELAYOUT']);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function loadSeeds(): Record<SeedName, Buffer> {
  const missing = SEED_NAMES.map(seedPath).filter((p) => !fs.existsSync(p));
  assert.deepEqual(missing, [], 'sample binaries missing: run `make -C samples`');
  return Object.fromEntries(SEED_NAMES.map((n) => [n, fs.readFileSync(seedPath(n))])) as Record<SeedName, Buffer>;
}

/** Mutated programs may do anything; a PID namespace keeps a stray kill(-1, ...) inside it. */
async function isolationPrefix(): Promise<string[]> {
  const prefix = ['unshare', '--pid', '--fork', '--kill-child'];
  const probe = await execa(prefix[0], [...prefix.slice(1), 'true'], { reject: false });
  return probe.exitCode === 0 ? prefix : [];
}

/** Problems with a rejection, or [] when it is a clear one-line error */
function checkRejection(o: Extract<RelinkOutcome, { outcome: 'rejected' }>): string[] {
  const problems: string[] = [];
  if (!INPUT_CODES.has(o.code)) problems.push(`unexpected error code ${o.code}`);
  if (o.message.trim() === '') problems.push('empty error message');
  if (o.message.includes('\n')) problems.push(`multi-line error message ${JSON.stringify(o.message)}`);
  if (/undefined|NaN|\[object /.test(o.message)) problems.push(`unclear error message ${JSON.stringify(o.message)}`);
  return problems;
}

/** Problems with a relinked output: it must read as ELF and, when run, end (or be killed) in time */
async function checkOutput(c: MutationCase, file: string, runPrefix: string[]): Promise<{ problems: string[]; killed: boolean }> {
  const problems: string[] = [];
  const head = Buffer.alloc(4);
  const fd = fs.openSync(file, 'r');
  fs.readSync(fd, head, 0, 4, 0);
  fs.closeSync(fd);
  if (!head.equals(Buffer.from('\x7fELF', 'latin1'))) problems.push(`output does not start with \\x7fELF (${head.toString('hex')})`);
  const readelf = await execa('readelf', ['-h', '-l', '-S', '-W', file], { reject: false });
  if (readelf.exitCode !== 0) problems.push(`readelf exit ${readelf.exitCode}: ${readelf.stderr.split('\n')[0]}`);

  const cwd = fs.mkdtempSync(path.join(path.dirname(file), 'run-'));
  const [cmd, ...args] = [...runPrefix, file];
  const run = execa(cmd, args, {
    cwd, env: {}, extendEnv: false, stdin: 'ignore', reject: false, timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL',
    stripFinalNewline: false, maxBuffer: 1 << 20,
  });
  const unkillable = new Promise<'unkillable'>((r) => setTimeout(r, RUN_TIMEOUT_MS + 5_000, 'unkillable').unref());
  const result = await Promise.race([run, unkillable]);
  if (result === 'unkillable') problems.push('output still running after being killed at the time limit');
  else if (c.mustRelink && (result.exitCode !== 3 || result.stdout !== 'hello from stdout\n')) {
    problems.push(`valid input, but its output ran to exit ${result.exitCode} signal ${result.signal} stdout ${JSON.stringify(result.stdout)}`);
  }
  return { problems, killed: result !== 'unkillable' && result.timedOut };
}

/** Cases sent through the CLI: the first and a middle one of every kind */
function cliSubset(cases: MutationCase[]): MutationCase[] {
  const byKind = new Map<MutationKind, MutationCase[]>();
  for (const c of cases) byKind.set(c.kind, [...(byKind.get(c.kind) ?? []), c]);
  return [...byKind.values()].flatMap((list) => [list[0], list[Math.floor(list.length / 2)]]);
}

describe(`relinking mutated and truncated ELF files (PRNG seed ${'0x' + PRNG_SEED.toString(16)})`, function () {
  let seeds: Record<SeedName, Buffer>;
  let cases: MutationCase[];
  let work: string;

  before(function () {
    seeds = loadSeeds();
    cases = generateCases(seeds, PRNG_SEED);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-malformed-'));
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('generates at least 1,000 cases, covering every mutation kind on every seed', function () {
    assert.ok(cases.length >= 1000, `only ${cases.length} cases`);
    const kinds = new Set(cases.map((c) => c.kind));
    assert.equal(kinds.size, 14, `kinds: ${[...kinds].join(', ')}`);
    for (const seed of SEED_NAMES) assert.ok(cases.filter((c) => c.seed === seed).length >= 100, `few cases on ${seed}`);
    assert.equal(generateCases(seeds, PRNG_SEED).map(describeCase).join('\n'), cases.map(describeCase).join('\n'), 'generation is not deterministic');
  });

  it('ends every case in a one-line RelinkError or an output that reads as ELF and runs', async function () {
    this.timeout(300_000);
    const runPrefix = await isolationPrefix();
    const failures: string[] = [];
    const tally = { rejected: 0, relinked: 0, killed: 0 };
    const pool = new RelinkPool(Object.fromEntries(SEED_NAMES.map((n) => [n, seedPath(n)])) as Record<SeedName, string>, WORKERS, CASE_TIMEOUT_MS);
    try {
      await pool.run(cases, (c) => path.join(work, `case-${c.index}`), async (c, o) => {
        const problems: string[] = [];
        if (o.outcome === 'rejected') {
          tally.rejected++;
          problems.push(...checkRejection(o));
          if (c.mustRelink) problems.push(`valid input rejected: ${o.code} ${o.message}`);
        } else if (o.outcome === 'relinked') {
          tally.relinked++;
          const checked = await checkOutput(c, o.outputPath, runPrefix);
          problems.push(...checked.problems);
          if (checked.killed) tally.killed++;
          fs.rmSync(o.outputPath, { force: true });
        } else if (o.outcome === 'threw') {
          problems.push(`threw ${o.name}: ${o.message}\n      ${o.stack.split('\n').slice(1, 5).map((l) => l.trim()).join('\n      ')}`);
        } else if (o.outcome === 'hung') {
          problems.push(`hang: no answer after ${o.afterMs} ms`);
        } else {
          problems.push(o.message);
        }
        for (const p of problems) failures.push(`${describeCase(c)}\n    -> ${p}`);
      });
    } finally {
      await pool.close();
    }
    console.log(`      ${cases.length} cases: ${tally.rejected} rejected, ${tally.relinked} relinked (${tally.killed} of those killed at the ${RUN_TIMEOUT_MS} ms limit when run)`);
    const shown = failures.slice(0, 12).join('\n  ');
    assert.equal(failures.length, 0, `${failures.length} failing case(s):\n  ${shown}${failures.length > 12 ? '\n  ...' : ''}`);
  });

  it('through the CLI: exits 0 or 1 with one stderr line, leaves no partial output and never touches the input', async function () {
    this.timeout(180_000);
    const subset = cliSubset(cases);
    assert.ok(subset.length >= 25);
    const failures: string[] = [];
    const runOne = async (c: MutationCase) => {
      const dir = fs.mkdtempSync(path.join(work, `cli-${c.index}-`));
      const input = path.join(dir, 'input');
      const outDir = path.join(dir, 'out');
      const output = path.join(outDir, 'relinked');
      fs.mkdirSync(outDir);
      fs.writeFileSync(input, applyCase(seeds[c.seed], c), { mode: 0o644 });
      const before = sha256(fs.readFileSync(input));
      const r = await execa(...nodeCommand(CLI, [input, '-o', output, '-q']), { reject: false, timeout: 60_000, stripFinalNewline: false });
      const problems: string[] = [];
      if (r.exitCode !== 0 && r.exitCode !== 1) problems.push(`exit ${r.exitCode} signal ${r.signal}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr}`);
      if (r.exitCode === 1) {
        if (!/^ckpt-relink: [^\n]+\n$/.test(r.stderr)) problems.push(`stderr is not one 'ckpt-relink: ' line: ${JSON.stringify(r.stderr)}`);
        if (fs.existsSync(output)) problems.push('output exists after a failure');
      }
      if (r.exitCode === 0) {
        if (r.stderr !== '') problems.push(`stderr on success: ${JSON.stringify(r.stderr)}`);
        if (!fs.existsSync(output)) problems.push('no output after success');
      }
      const leftovers = fs.readdirSync(outDir).filter((f) => f.includes('.ckpt-tmp'));
      if (leftovers.length) problems.push(`temporary files left: ${leftovers.join(', ')}`);
      if (sha256(fs.readFileSync(input)) !== before) problems.push('input changed');
      for (const p of problems) failures.push(`${describeCase(c)}\n    -> ${p}`);
      fs.rmSync(dir, { recursive: true, force: true });
    };
    for (let i = 0; i < subset.length; i += WORKERS) await Promise.all(subset.slice(i, i + WORKERS).map(runOne));
    assert.equal(failures.length, 0, `${failures.length} failing CLI case(s):\n  ${failures.join('\n  ')}`);
  });
});
