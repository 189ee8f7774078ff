#!/usr/bin/env node
// The time a checkpoint stops a multi-threaded program: 1, 8 and 64 threads sharing 256 MiB of
// touched memory (bench/ckptthreads.c; the main thread measures its own longest clock gap, the
// others wait on a condition variable), with the checkpoint wall time (signal to image renamed),
// and the restart wall time until the restarted program has ended.
// With --omp, the program is an OpenMP one (bench/ckptomp.c, gcc -fopenmp: libgomp's pool of
// OMP_NUM_THREADS threads keeps the memory in motion): its 8-thread image against its 1-thread one.
// Medians of --rounds runs.   node bench/threads.mjs [--rounds 5] [--threads 1,8,64] [--mib 256] [--omp]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildRelinked, checkpointOnce, median } from './relinked.mjs';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, threads: { type: 'string', default: '1,8,64' }, mib: { type: 'string', default: '256' },
  omp: { type: 'boolean', default: false },
} });
const rounds = Number(values.rounds), counts = values.threads.split(',').map(Number), mib = Number(values.mib);

async function once(bin, dir, threads) {
  const { checkpointMs, stopped } = values.omp
    ? await checkpointOnce(bin, [String(mib)], dir, { OMP_NUM_THREADS: String(threads) })
    : await checkpointOnce(bin, [String(threads), String(mib)], dir);
  const t1 = performance.now();
  const r = spawnSync(bin, [], { cwd: dir, env: { CKPT_RESTART: 'run.img' }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const restartMs = performance.now() - t1;
  if (r.status !== 0) throw new Error(`restart exited ${r.status}: ${r.stderr.trim()}`);
  return { checkpointMs, stopped, restartMs };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-'));
const bin = values.omp ? buildRelinked('ckptomp', dir, ['-fopenmp']) : buildRelinked('ckptthreads', dir, ['-pthread']);
const rows = [];
for (const threads of counts) {
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await once(bin, dir, threads));
  rows.push({ threads, mib, stoppedMs: median(runs.map((x) => x.stopped)), checkpointMs: median(runs.map((x) => x.checkpointMs)),
    restartMs: median(runs.map((x) => x.restartMs)) });
}
const single = rows.find((r) => r.threads === 1)?.stoppedMs;
console.log(`${values.omp ? 'OpenMP (bench/ckptomp.c), ' : ''}medians of ${rounds} runs, ${mib} MiB in all (image on ${os.tmpdir()})`);
console.log('threads  stopped ms  vs 1 thread  checkpoint ms  restart ms');
for (const r of rows) {
  const ratio = single ? `${(r.stoppedMs / single).toFixed(2)}x` : '-';
  console.log(`${String(r.threads).padStart(7)}  ${r.stoppedMs.toFixed(1).padStart(10)}  ${ratio.padStart(11)}  ${r.checkpointMs.toFixed(0).padStart(13)}  ${r.restartMs.toFixed(0).padStart(10)}`);
}
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
fs.rmSync(dir, { recursive: true, force: true });
