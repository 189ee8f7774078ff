#!/usr/bin/env node
// Checkpoint and restart of a process with N MiB of touched anonymous memory: checkpoint wall
// time (signal to image renamed), the time the program was stopped (its own longest clock gap),
// image size and write rate, and restart wall time until the program has read every page back.
// Each round also times `dd conv=fsync` of the image's size to the same directory, just after the
// checkpoint (the disk's rate changes within minutes here: only a same-round ratio means much).
// Medians of --rounds runs per size.   node bench/checkpoint.mjs [--rounds 5] [--sizes 16,256,1024]
// CKPT_HUGE=0 in the environment is passed to the restarts (4 KiB pages while contents are read in).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildRelinked, checkpointOnce, median } from './relinked.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, sizes: { type: 'string', default: '16,256,1024' } } });
const rounds = Number(values.rounds), sizes = values.sizes.split(',').map(Number);

async function once(bin, dir, mib) {
  const { checkpointMs, size, stopped } = await checkpointOnce(bin, [String(mib)], dir);
  // restart from the same image: it resumes in the clock loop, sees "go", reads every page, exits
  const t1 = performance.now();
  const r = spawnSync(bin, [], { cwd: dir, env: { CKPT_RESTART: 'run.img', ...(process.env.CKPT_HUGE ? { CKPT_HUGE: process.env.CKPT_HUGE } : {}) }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const restartMs = performance.now() - t1;
  if (r.status !== 0) throw new Error(`restart exited ${r.status}: ${r.stderr.trim()}`);
  return { checkpointMs, stopped, size, restartMs, ddMs: ddMs(dir, size) };
}

/** dd of `bytes` (rounded up to 4 MiB blocks) with conv=fsync into dir: its wall time */
function ddMs(dir, bytes) {
  const out = path.join(dir, 'dd.out');
  const t0 = performance.now();
  const r = spawnSync('dd', ['if=/dev/zero', `of=${out}`, 'bs=4M', `count=${Math.ceil(bytes / (4 << 20))}`, 'conv=fsync'], { stdio: 'ignore' });
  const ms = performance.now() - t0;
  fs.rmSync(out, { force: true });
  if (r.status !== 0) throw new Error('dd failed');
  return ms;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-'));
const bin = buildRelinked('ckptmem', dir);
const rows = [];
for (const mib of sizes) {
  const runs = [];
  for (let i = 0; i < rounds; i++) runs.push(await once(bin, dir, mib));
  const ck = median(runs.map((x) => x.checkpointMs));
  rows.push({ mib, checkpointMs: ck, stoppedMs: median(runs.map((x) => x.stopped)), imageMiB: median(runs.map((x) => x.size)) / 2 ** 20,
    writeGBs: (median(runs.map((x) => x.size)) / 1e9) / (ck / 1e3), restartMs: median(runs.map((x) => x.restartMs)),
    ddMs: median(runs.map((x) => x.ddMs)), vsDd: median(runs.map((x) => x.checkpointMs / x.ddMs)) });
}
console.log(`medians of ${rounds} runs (image on ${os.tmpdir()})`);
console.log('MiB touched  checkpoint ms  stopped ms  image MiB  write GB/s  restart ms  dd ms  checkpoint/dd');
for (const r of rows) {
  console.log(`${String(r.mib).padStart(11)}  ${r.checkpointMs.toFixed(0).padStart(13)}  ${r.stoppedMs.toFixed(0).padStart(10)}  ${r.imageMiB.toFixed(1).padStart(9)}  ${r.writeGBs.toFixed(2).padStart(10)}  ${r.restartMs.toFixed(0).padStart(10)}  ${r.ddMs.toFixed(0).padStart(5)}  ${r.vsDd.toFixed(2).padStart(13)}`);
}
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
fs.rmSync(dir, { recursive: true, force: true });
