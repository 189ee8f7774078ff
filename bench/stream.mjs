#!/usr/bin/env -S node --single-threaded
// A checkpoint through a command (CKPT_IMAGE='|CMD'): a process with N MiB of touched memory
// (bench/ckptmem.c) checkpoints into `wc -c`, which counts the stream and writes the count to a
// file; the rate is the image's bytes over the time from the signal to that file. Against memory
// bandwidth measured in the same run with a plain copy of N MiB between two buffers (Buffer.copy,
// a memcpy), median of as many copies as rounds.
//   node bench/stream.mjs [--rounds 5] [--mib 1024]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, mib: { type: 'string', default: '1024' } } });
const rounds = Number(values.rounds), mib = Number(values.mib);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms = 120_000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(1)) if (cond()) return;
  throw new Error('timed out');
}

function build(dir) {
  const exe = path.join(dir, 'ckptmem'), out = path.join(dir, 'ckptmem.ckpt');
  spawnSync('gcc', ['-O2', '-static', '-o', exe, path.join(root, 'bench/ckptmem.c')], { stdio: 'inherit' });
  if (spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), [exe, '-o', out, '-q']), { stdio: 'inherit' }).status !== 0) throw new Error('relink failed');
  return out;
}

/** One checkpoint into `wc -c`: [bytes, ms from the signal to the count] */
async function streamOnce(bin, dir) {
  const count = path.join(dir, 'count');
  for (const f of ['go', 'count', 'out.txt']) fs.rmSync(path.join(dir, f), { force: true });
  const out = path.join(dir, 'out.txt');
  const fd = fs.openSync(out, 'w');
  const child = spawn(bin, [String(mib)], { cwd: dir, stdio: ['ignore', fd, 'inherit'], env: { CKPT_IMAGE: `|wc -c > ${count}.part && mv ${count}.part ${count}` } });
  fs.closeSync(fd);
  await waitFor(() => fs.readFileSync(out, 'utf8').includes('ready'));
  const t0 = performance.now();
  child.kill('SIGUSR2');
  await waitFor(() => fs.existsSync(count));
  const ms = performance.now() - t0;
  fs.writeFileSync(path.join(dir, 'go'), '');
  await new Promise((r) => child.once('exit', r));
  return [Number(fs.readFileSync(count, 'utf8').trim()), ms];
}

function copyMs() {
  const from = Buffer.alloc(mib << 20, 7), to = Buffer.allocUnsafe(mib << 20);
  to.fill(1);	// both touched before the timing
  const t0 = performance.now();
  from.copy(to);
  return performance.now() - t0;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-stream-'));
const bin = build(dir);
const streams = [], copies = [];
for (let i = 0; i < rounds; i++) {
  streams.push(await streamOnce(bin, dir));
  copies.push(copyMs());
}
const bytes = median(streams.map(([b]) => b)), ms = median(streams.map(([, t]) => t)), memcpyMs = median(copies);
const streamGBs = bytes / 1e6 / ms, copyGBs = (mib << 20) / 1e6 / memcpyMs;
console.log(`${mib} MiB touched, image ${(bytes / 2 ** 20).toFixed(0)} MiB through '|wc -c': ${ms.toFixed(0)} ms, ${streamGBs.toFixed(2)} GB/s; ` +
  `memcpy of ${mib} MiB: ${memcpyMs.toFixed(0)} ms, ${copyGBs.toFixed(2)} GB/s; ratio ${(streamGBs / copyGBs).toFixed(2)} (medians of ${rounds}; load ${os.loadavg()[0].toFixed(1)})`);
fs.rmSync(dir, { recursive: true, force: true });
