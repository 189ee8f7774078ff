#!/usr/bin/env node
// Times each micro-benchmark natively and after ckpt-relink, and times
// relinking /bin/busybox.  Native and relinked runs alternate round by round
// so drift in machine load hits both sides alike; figures are medians.
//
//   node bench/run.mjs [--rounds N] [--self-check]
//
// --self-check skips relinking and times the native binary as both sides;
// it tests this script, and its ratios should sit near 1.00.
// The last line is `BENCH_JSON {...}` with every figure, for other tools.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const RELINK_CLI = join(REPO_ROOT, 'dist/src/cli/relink.js');
const BENCH_BUILD_DIR = join(REPO_ROOT, 'build/bench');
const RELINKED_DIR = join(BENCH_BUILD_DIR, 'relinked');
const BUSYBOX = '/bin/busybox';
const BUSYBOX_RELINK_RUNS = 5;

// name: the binary in build/bench; unit: the key it prints as `unit=<float>`.
const BENCHMARKS = [
  { name: 'getppid', unit: 'ns_per_call' },
  { name: 'rw', unit: 'ns_per_iter' },
];

class BenchError extends Error {}

function readOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '11' },
      'self-check': { type: 'boolean', default: false },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new BenchError(`--rounds must be a positive integer, got "${values.rounds}"`);
  }
  return { rounds, selfCheck: values['self-check'] };
}

// Runs a command to completion; throws with its stderr if it fails.
function runChecked(command, args, what) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new BenchError(`${what}: ${result.error.message}`);
  if (result.status !== 0) {
    const how = result.signal ? `signal ${result.signal}` : `exit status ${result.status}`;
    throw new BenchError(`${what} failed with ${how}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function buildBenchmarks() {
  runChecked('make', ['-s', '-C', join(REPO_ROOT, 'bench')], 'make -C bench');
}

function requireRelinkCli() {
  if (!existsSync(RELINK_CLI)) {
    throw new BenchError(`relink CLI not found at ${RELINK_CLI}; run \`npm run build\` first`);
  }
}

function relink(input, output, extra = []) {
  runChecked(...nodeCommand(RELINK_CLI, [input, '-o', output, ...extra]), `relinking ${input}`);
}

// Every site left to the SUD net: each call is a SIGSYS delivery, so fewer iterations are timed.
const SUD_ITERATIONS = '200000';

function prepareSud(bench) {
  const output = join(RELINKED_DIR, `${bench.name}.sud`);
  relink(join(BENCH_BUILD_DIR, bench.name), output, ['--sud-sites', 'all']);
  return output;
}

// Returns the path of the binary to time as the "relinked" side.
function prepareRelinked(bench, selfCheck) {
  const native = join(BENCH_BUILD_DIR, bench.name);
  if (selfCheck) return native;
  const output = join(RELINKED_DIR, bench.name);
  relink(native, output);
  return output;
}

function measure(binary, bench, args = [], env = {}) {
  const result = spawnSync(binary, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (result.status !== 0) throw new BenchError(`${binary} failed: ${result.stderr}`);
  const stdout = result.stdout;
  const match = stdout.match(new RegExp(`^${bench.unit}=([0-9.]+)$`, 'm'));
  if (!match) throw new BenchError(`${binary} printed no ${bench.unit}=<float>: ${stdout.trim()}`);
  return Number(match[1]);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function timeBenchmark(bench, relinkedBinary, sudBinary, rounds) {
  const nativeBinary = join(BENCH_BUILD_DIR, bench.name);
  const native = [];
  const relinked = [];
  const sud = [];
  const armed = [];
  for (let round = 0; round < rounds; round++) {
    native.push(measure(nativeBinary, bench));
    relinked.push(measure(relinkedBinary, bench));
    if (sudBinary) armed.push(measure(relinkedBinary, bench, [], { CKPT_SUD: 'on' }));
    if (sudBinary) sud.push(measure(sudBinary, bench, [SUD_ITERATIONS]));
  }
  const nativeMedian = median(native);
  const relinkedMedian = median(relinked);
  return {
    name: bench.name,
    unit: bench.unit,
    native: { median: nativeMedian, samples: native },
    relinked: { median: relinkedMedian, samples: relinked },
    ratio: relinkedMedian / nativeMedian,
    sud: sudBinary ? { median: median(sud), samples: sud, ratio: median(sud) / nativeMedian } : null,
    // every site patched, but the SUD net armed (CKPT_SUD=on): the kernel's slow entry path
    armed: sudBinary ? { median: median(armed), samples: armed, ratio: median(armed) / nativeMedian } : null,
  };
}

// Wall time of the whole CLI process, startup included: what a user waits.
function timeBusyboxRelink() {
  const output = join(RELINKED_DIR, 'busybox');
  const samples = [];
  for (let run = 0; run < BUSYBOX_RELINK_RUNS; run++) {
    const start = process.hrtime.bigint();
    relink(BUSYBOX, output);
    samples.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return { median: median(samples), samples };
}

function printTable(results) {
  const rows = [
    ['benchmark', 'native ns', 'relinked ns', 'ratio', 'net armed ns', 'armed ratio', 'all-SUD ns', 'SUD ratio'],
    ...results.map((r) => [
      r.name,
      r.native.median.toFixed(1),
      r.relinked.median.toFixed(1),
      r.ratio.toFixed(3),
      r.armed ? r.armed.median.toFixed(1) : '-',
      r.armed ? r.armed.ratio.toFixed(3) : '-',
      r.sud ? r.sud.median.toFixed(1) : '-',
      r.sud ? r.sud.ratio.toFixed(2) : '-',
    ]),
  ];
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  for (const row of rows) {
    console.log(row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  '));
  }
}

function main() {
  const { rounds, selfCheck } = readOptions();
  if (!selfCheck) requireRelinkCli();
  buildBenchmarks();
  mkdirSync(RELINKED_DIR, { recursive: true });

  const relinkedBinaries = BENCHMARKS.map((bench) => prepareRelinked(bench, selfCheck));
  const sudBinaries = BENCHMARKS.map((bench) => (selfCheck ? null : prepareSud(bench)));
  const results = BENCHMARKS.map((bench, i) => timeBenchmark(bench, relinkedBinaries[i], sudBinaries[i], rounds));
  console.log(`medians of ${rounds} alternating rounds${selfCheck ? ' (self-check: native on both sides)' : ''}`);
  printTable(results);

  let busyboxRelinkMs = null;
  if (selfCheck) {
    console.log('busybox relink: skipped (--self-check)');
  } else {
    busyboxRelinkMs = timeBusyboxRelink();
    console.log(`busybox relink: ${busyboxRelinkMs.median.toFixed(0)} ms wall (median of ${BUSYBOX_RELINK_RUNS})`);
  }
  console.log(`BENCH_JSON ${JSON.stringify({ rounds, selfCheck, benchmarks: results, busyboxRelinkMs })}`);
}

try {
  main();
} catch (error) {
  if (!(error instanceof BenchError)) throw error;
  console.error(`bench: ${error.message}`);
  process.exitCode = 1;
}
