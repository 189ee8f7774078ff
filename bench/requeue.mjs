#!/usr/bin/env -S node --single-threaded
// A requeue cycle under a real Slurm (the test suite's cluster: munged, slurmctld, one slurmd, all
// started here and stopped at the end): a job computing over MIB MiB (bench/passes.c) runs for
// --work seconds, is requeued with `scontrol requeue` (TERM, exit, requeue, start again), and is
// timed until it is computing again. Two ways:
//   ckpt   the relinked program under ckpt-run: TERM vacates (checkpoint, exit 85), the next run
//          resumes from the image;
//   plain  the original program: TERM ends it, the next run starts over.
// Figures per way and size, medians of --rounds:
//   back     preemption to the first pass finished after the restart, less one pass: the moment
//            the job was computing again (signal, checkpoint, exit, Slurm's requeue, start, restore);
//   lost     how much later the job finished its next pass than it would have without the
//            requeue: the cycle plus the work done again (all of it, for a plain requeue);
//   image    the vacate image's size.
//   node bench/requeue.mjs [--rounds 3] [--sizes 256,1024] [--work 15]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';
import { SlurmCluster } from '../dist/test/slurm/cluster.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: {
  rounds: { type: 'string', default: '3' }, sizes: { type: 'string', default: '256,1024' }, work: { type: 'string', default: '15' },
} });
const rounds = Number(values.rounds), sizes = values.sizes.split(',').map(Number), workMs = Number(values.work) * 1000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quote = (w) => `'${w.replace(/'/g, "'\\''")}'`;

function build(dir) {
  const exe = path.join(dir, 'passes'), relinked = path.join(dir, 'passes.ckpt');
  if (spawnSync('gcc', ['-O2', '-static', '-o', exe, path.join(root, 'bench/passes.c')], { stdio: 'inherit' }).status !== 0) throw new Error('gcc failed');
  if (spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), [exe, '-o', relinked, '-q']), { stdio: 'inherit' }).status !== 0) throw new Error('relink failed');
  return { exe, relinked };
}

/** The job's output as runs (split at the script's "run N" lines), each a list of {pass, t} */
function runsOf(out) {
  let text = '';
  try { text = fs.readFileSync(out, 'utf8'); } catch { return []; }
  const runs = [];
  for (const line of text.split('\n')) {
    if (/^run \d+$/.test(line)) runs.push([]);
    const m = /^pass (\d+) t=(\d+)$/.exec(line);
    if (m && runs.length) runs.at(-1).push({ pass: Number(m[1]), t: Number(m[2]) });
  }
  return runs;
}

async function waitUntil(test, what, ms = 600_000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(50)) {
    const got = test();
    if (got) return got;
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function cycle(cluster, way, bins, mib, round) {
  const dir = cluster.jobDir(`${way}-${mib}-${round}`);
  const out = path.join(dir, 'out.txt'), images = path.join(dir, 'images');
  const [node, ckptRun] = nodeCommand(path.join(root, 'dist/src/cli/run.js'), []);
  const command = way === 'ckpt'
    ? [node, ...ckptRun, '--image-dir', images, '--', bins.relinked, String(mib)]
    : [bins.exe, String(mib)];
  const script = path.join(dir, 'job.sh');
  fs.writeFileSync(script, ['#!/bin/bash', 'echo "run ${SLURM_RESTART_COUNT:-0}"', `exec ${command.map(quote).join(' ')}`, ''].join('\n'), { mode: 0o755 });
  const id = await cluster.submit(script, ['--chdir', dir, '-o', out, '--requeue', '--open-mode=append', '-p', 'low']);

  const before = await waitUntil(() => { const [r] = runsOf(out); return r?.length >= 2 && r.at(-1).t - r[0].t >= workMs && r; }, 'the first run to work');
  const preemptedAt = Date.now();
  await cluster.command('scontrol', ['requeue', id]);
  const last = before.at(-1), perPass = median(before.slice(1).map((p, i) => p.t - before[i].t));
  const after = await waitUntil(() => runsOf(out)[1]?.find((p) => p.pass > last.pass), 'the requeued run to pass where the first stopped');
  const firstAfter = runsOf(out)[1][0];
  await cluster.command('scancel', [id]);
  const image = way === 'ckpt' ? fs.readdirSync(images).filter((n) => /^ckpt-\d+\.img$/.test(n)).map((n) => fs.statSync(path.join(images, n)).size)[0] : 0;
  return {
    back: firstAfter.t - perPass - preemptedAt,
    lost: after.t - (last.t + (after.pass - last.pass) * perPass),
    worked: last.t - before[0].t, image,
  };
}

const cluster = await SlurmCluster.start();
const results = [];
try {
  const bins = build(cluster.jobDir('bin'));
  for (const mib of sizes) {
    for (const way of ['ckpt', 'plain']) {
      const rs = [];
      for (let r = 0; r < rounds; r++) rs.push(await cycle(cluster, way, bins, mib, r));
      const row = { mib, way, back_s: median(rs.map((x) => x.back)) / 1e3, lost_s: median(rs.map((x) => x.lost)) / 1e3, worked_s: median(rs.map((x) => x.worked)) / 1e3, image_mib: median(rs.map((x) => x.image)) / 2 ** 20 };
      results.push(row);
      console.log(`${String(mib).padStart(5)} MiB ${way.padEnd(5)}  back after ${row.back_s.toFixed(1)} s  lost ${row.lost_s.toFixed(1)} s of ${row.worked_s.toFixed(1)} s worked${way === 'ckpt' ? `  image ${row.image_mib.toFixed(0)} MiB` : ''}`);
    }
  }
} finally {
  await cluster.stop();
}
console.log(`(medians of ${rounds}; load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')})`);
