#!/usr/bin/env node
// Restart of a process with N MiB of touched anonymous memory, each way a restart can give it its
// pages, against another tree's restart (--base, e.g. the current main) in the same rounds: time
// from the restart's exec to the program's first act (it sees the file "go") and to the program
// having read every page, with its resident memory at its first act. Each restart runs in memory
// just freed (a program touched and freed as much right before) or fresh (--fresh-wait seconds
// with nothing allocated first: this VM's host takes free memory back, and its first touch is slow).
// Medians of --rounds, variants alternating within each round.
//   node bench/restart.mjs [--rounds 5] [--mib 1024] [--base /work/main] [--fresh-wait 5] [--only TEXT]
// (--only: the variants whose names hold TEXT, e.g. CKPT_LAZY=1)
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';
import { checkpointOnce, median, root } from './relinked.mjs';

const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '5' }, mib: { type: 'string', default: '1024' },
  base: { type: 'string' }, 'fresh-wait': { type: 'string', default: '5' }, only: { type: 'string' },
} });
const rounds = Number(values.rounds), mib = Number(values.mib), freshWait = Number(values['fresh-wait']);

/** ckptmem built once, relinked by a tree's toolchain into dir, checkpointed there to run.img */
async function prepare(tree, dir, exe) {
  fs.mkdirSync(dir, { recursive: true });
  const out = path.join(dir, 'ckptmem.ckpt');
  const r = spawnSync(...nodeCommand(path.join(tree, 'dist/src/cli/relink.js'), [exe, '-o', out, '-q']), { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`relink with ${tree} failed`);
  await checkpointOnce(out, [String(mib)], dir);
  fs.writeFileSync(path.join(dir, 'go'), '');
  return out;
}

/** A program that touches mib MiB and exits: the memory a restart right after gets is just freed */
function freeMemory(exe) {
  spawnSync(exe, [String(mib), 'touch-only'], { stdio: 'ignore', timeout: 60_000 });
}

function restartOnce(bin, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, [], { cwd: path.dirname(bin), env: { CKPT_RESTART: 'run.img', ...env }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`restart exited ${r.status}: ${r.stderr.trim()}`);
  // the restarted program writes where its stdout was at the checkpoint, over the first run's line
  const line = fs.readFileSync(path.join(path.dirname(bin), 'out.txt'), 'utf8');
  const f = (k) => { const m = new RegExp(`${k}=(\\d+)`).exec(line); if (!m) throw new Error(`no ${k} in the restarted program's line: ${line}`); return BigInt(m[1]); };
  return { firstMs: Number(f('go_ns') - t0) / 1e6, allMs: Number(f('done_ns') - t0) / 1e6, rssMiB: Number(f('go_rss_kib')) / 1024 };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-restart-bench-'));
const exe = path.join(work, 'ckptmem');
spawnSync('gcc', ['-O2', '-static', '-o', exe, path.join(root, 'bench/ckptmem.c')], { stdio: 'inherit' });
const variants = [];
if (values.base) {
  const bin = await prepare(values.base, path.join(work, 'base'), exe);
  variants.push({ name: 'base, its default', bin, env: {} });
  variants.push({ name: 'base, CKPT_HUGE=0', bin, env: { CKPT_HUGE: '0' } });
}
const bin = await prepare(root, path.join(work, 'this'), exe);
variants.push({ name: 'read in, THP (CKPT_LAZY=0 CKPT_HUGE=1)', bin, env: { CKPT_LAZY: '0', CKPT_HUGE: '1' } });
variants.push({ name: 'read in, 4 KiB (CKPT_LAZY=0)', bin, env: { CKPT_LAZY: '0' } });
variants.push({ name: 'checked, mapped (default)', bin, env: {} });
variants.push({ name: 'lazy (CKPT_LAZY=1)', bin, env: { CKPT_LAZY: '1' } });

if (values.only) variants.splice(0, variants.length, ...variants.filter((v) => v.name.includes(values.only)));
const runs = new Map();
for (let i = 0; i < rounds; i++) {
  for (const v of variants) {
    for (const memory of ['freed', 'fresh']) {
      if (memory === 'freed') freeMemory(exe);
      else await sleep(freshWait * 1000);
      const key = `${v.name}|${memory}`;
      if (!runs.has(key)) runs.set(key, []);
      runs.get(key).push(restartOnce(v.bin, v.env));
    }
  }
}
console.log(`${mib} MiB, medians of ${rounds} rounds (image on ${os.tmpdir()}, in the page cache)`);
console.log('variant                                     memory  first act ms  all read ms  RSS at first act MiB');
const rows = [];
for (const [key, xs] of runs) {
  const [name, memory] = key.split('|');
  const row = { name, memory, firstMs: median(xs.map((x) => x.firstMs)), allMs: median(xs.map((x) => x.allMs)), rssMiB: median(xs.map((x) => x.rssMiB)) };
  rows.push(row);
  console.log(`${name.padEnd(42)}  ${memory.padEnd(6)}  ${row.firstMs.toFixed(0).padStart(12)}  ${row.allMs.toFixed(0).padStart(11)}  ${row.rssMiB.toFixed(1).padStart(20)}`);
}
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
fs.rmSync(work, { recursive: true, force: true });
