#!/usr/bin/env node
// The time a checkpoint stops a multi-threaded program: 1, 8 and 64 threads sharing 256 MiB of
// touched memory (bench/ckptthreads.c; the main thread measures its own longest clock gap, the
// others wait on a condition variable), with the checkpoint wall time (signal to image renamed),
// and the restart wall time until the restarted program has ended.
// Medians of --rounds runs.   node bench/threads.mjs [--rounds 5] [--threads 1,8,64] [--mib 256]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, threads: { type: 'string', default: '1,8,64' }, mib: { type: 'string', default: '256' },
} });
const rounds = Number(values.rounds), counts = values.threads.split(',').map(Number), mib = Number(values.mib);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function build(dir) {
  const src = path.join(root, 'bench/ckptthreads.c'), exe = path.join(dir, 'ckptthreads'), out = path.join(dir, 'ckptthreads.ckpt');
  spawnSync('gcc', ['-O2', '-static', '-pthread', '-o', exe, src], { stdio: 'inherit' });
  const r = spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), [exe, '-o', out, '-q']), { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('relink failed');
  return out;
}

async function waitFor(cond, ms = 300_000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(2)) if (cond()) return;
  throw new Error('timed out');
}

async function once(bin, dir, threads) {
  for (const f of ['go', 'run.img', 'out.txt']) fs.rmSync(path.join(dir, f), { force: true });
  const out = path.join(dir, 'out.txt');
  const fd = fs.openSync(out, 'w');
  const child = spawn(bin, [String(threads), String(mib)], { cwd: dir, stdio: ['ignore', fd, 'inherit'], env: { CKPT_IMAGE: 'run.img' } });
  fs.closeSync(fd);
  await waitFor(() => fs.readFileSync(out, 'utf8').includes('ready'));
  const t0 = performance.now();
  child.kill('SIGUSR2');
  await waitFor(() => fs.existsSync(path.join(dir, 'run.img')));
  const checkpointMs = performance.now() - t0;
  fs.writeFileSync(path.join(dir, 'go'), '');
  await new Promise((r) => child.once('exit', r));
  const stopped = Number(/stopped_ms=([\d.]+)/.exec(fs.readFileSync(out, 'utf8'))[1]);
  const t1 = performance.now();
  const r = spawnSync(bin, [], { cwd: dir, env: { CKPT_RESTART: 'run.img' }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const restartMs = performance.now() - t1;
  if (r.status !== 0) throw new Error(`restart exited ${r.status}: ${r.stderr.trim()}`);
  return { checkpointMs, stopped, restartMs };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-'));
const bin = build(dir);
const rows = [];
for (const threads of counts) {
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await once(bin, dir, threads));
  rows.push({ threads, mib, stoppedMs: median(runs.map((x) => x.stopped)), checkpointMs: median(runs.map((x) => x.checkpointMs)),
    restartMs: median(runs.map((x) => x.restartMs)) });
}
const single = rows.find((r) => r.threads === 1)?.stoppedMs;
console.log(`medians of ${rounds} runs, ${mib} MiB in all (image on ${os.tmpdir()})`);
console.log('threads  stopped ms  vs 1 thread  checkpoint ms  restart ms');
for (const r of rows) {
  const ratio = single ? `${(r.stoppedMs / single).toFixed(2)}x` : '-';
  console.log(`${String(r.threads).padStart(7)}  ${r.stoppedMs.toFixed(1).padStart(10)}  ${ratio.padStart(11)}  ${r.checkpointMs.toFixed(0).padStart(13)}  ${r.restartMs.toFixed(0).padStart(10)}`);
}
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
fs.rmSync(dir, { recursive: true, force: true });
