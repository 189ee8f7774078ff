#!/usr/bin/env node
// Incremental checkpoints of a process with N MiB of touched anonymous memory that writes 1% of its
// pages between two checkpoints (bench/ckptincr.c). Each round, in one process: a full checkpoint
// (the first), then an incremental one; each timed from the signal to its image in place (fsync
// and rename included), with its size and the time the program was stopped (its own longest clock
// gap). Then the cost of incremental tracking to the program: ns per page of the first write to
// every page after a checkpoint (a write-protect fault each), and of a second pass. The same
// process shape without CKPT_INCREMENTAL=1 gives the untracked figures in the same round.
// Medians of --rounds rounds.   node bench/incremental.mjs [--rounds 5] [--mib 1024] [--percent 1]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { buildRelinked, median, waitFor } from './relinked.mjs';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, mib: { type: 'string', default: '1024' }, percent: { type: 'string', default: '1' } } });
const rounds = Number(values.rounds), mib = Number(values.mib), percent = Number(values.percent);

const linkOf = (image, generation) => `${image}.g${generation.toString(16).padStart(16, '0')}`;
const generationOf = (file) => {
  try {
    const h = Buffer.alloc(64);
    const fd = fs.openSync(file, 'r');
    fs.readSync(fd, h, 0, 64, 0);
    fs.closeSync(fd);
    return h.readBigUInt64LE(48);
  } catch {
    return -1n;
  }
};
/** The checkpoint writer (a child of the program) has exited, reaped or not: its copy-on-write sharing is over */
const writerGone = (pid) => fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
  .every((c) => { try { return /\) Z /.test(fs.readFileSync(`/proc/${c}/stat`, 'utf8')); } catch { return true; } });

class Program {
  constructor(bin, dir, env) {
    for (const f of fs.readdirSync(dir)) if (/^(cmd|ack)\.|^run\.img|^out\.txt/.test(f)) fs.rmSync(path.join(dir, f), { force: true });
    this.dir = dir;
    this.cmd = 0;
    const fd = fs.openSync(path.join(dir, 'out.txt'), 'w');
    this.child = spawn(bin, [String(mib), String(percent)], { cwd: dir, stdio: ['ignore', fd, 'inherit'], env: { ...env, CKPT_IMAGE: 'run.img' } });
    fs.closeSync(fd);
  }

  async ready() {
    await waitFor(() => fs.readFileSync(path.join(this.dir, 'out.txt'), 'utf8').includes('ready'));
  }

  /** SIGUSR2, then the time until `landed()` */
  async checkpoint(landed) {
    const t0 = performance.now();
    this.child.kill('SIGUSR2');
    await waitFor(landed);
    const ms = performance.now() - t0;
    await waitFor(() => writerGone(this.child.pid));
    return ms;
  }

  /** A command's answer, as numbers */
  async send(text) {
    const n = ++this.cmd, ack = path.join(this.dir, `ack.${n}`), cmd = path.join(this.dir, `cmd.${n}`);
    fs.writeFileSync(`${cmd}.tmp`, text);
    fs.renameSync(`${cmd}.tmp`, cmd);	// whole when the program sees it
    await waitFor(() => fs.existsSync(ack));
    return Object.fromEntries(fs.readFileSync(ack, 'utf8').split(' ').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
  }

  async quit() {
    fs.writeFileSync(path.join(this.dir, `cmd.${this.cmd + 1}`), 'quit');
    await new Promise((r) => this.child.once('exit', r));
  }
}

async function tracked(bin, dir) {
  const image = path.join(dir, 'run.img');
  const p = new Program(bin, dir, { CKPT_INCREMENTAL: '1' });
  await p.ready();
  const fullMs = await p.checkpoint(() => fs.existsSync(linkOf(image, 1)));
  const fullSize = fs.statSync(linkOf(image, 1)).size;
  const fullStop = (await p.send('dirty')).gap_ms;
  const incrMs = await p.checkpoint(() => fs.existsSync(linkOf(image, 2)));
  const incrSize = fs.statSync(linkOf(image, 2)).size;
  const f = await p.send('fault');
  await p.quit();
  return { fullMs, fullSize, fullStop, incrMs, incrSize, incrStop: f.gap_ms, faultNs: f.first_ns, secondNs: f.second_ns };
}

async function untracked(bin, dir) {
  const image = path.join(dir, 'run.img');
  const p = new Program(bin, dir, {});
  await p.ready();
  const fullMs = await p.checkpoint(() => generationOf(image) === 1n);
  const stop = (await p.send('dirty')).gap_ms;
  const againMs = await p.checkpoint(() => generationOf(image) === 2n);
  const f = await p.send('fault');
  await p.quit();
  return { offFullMs: fullMs, offAgainMs: againMs, offStop: stop, offAgainStop: f.gap_ms, offFaultNs: f.first_ns, offSecondNs: f.second_ns };
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-incr-'));
const bin = buildRelinked('ckptincr', dir);
const runs = [];
for (let i = 0; i < rounds; i++) runs.push({ ...(await tracked(bin, dir)), ...(await untracked(bin, dir)) });
const m = (k) => median(runs.map((r) => r[k]));
const MiB = 2 ** 20;
console.log(`${mib} MiB touched, ${percent}% of its pages written between checkpoints; medians of ${rounds} rounds (images on ${os.tmpdir()})`);
console.log(`full checkpoint         ${m('fullMs').toFixed(0)} ms, ${(m('fullSize') / MiB).toFixed(1)} MiB, program stopped ${m('fullStop').toFixed(1)} ms`);
console.log(`incremental checkpoint  ${m('incrMs').toFixed(0)} ms, ${(m('incrSize') / MiB).toFixed(1)} MiB, program stopped ${m('incrStop').toFixed(1)} ms`);
console.log(`  ratio to full         time ${(100 * m('incrMs') / m('fullMs')).toFixed(1)}%, size ${(100 * m('incrSize') / m('fullSize')).toFixed(1)}%`);
console.log(`untracked (full images) ${m('offFullMs').toFixed(0)} ms, then ${m('offAgainMs').toFixed(0)} ms; program stopped ${m('offStop').toFixed(1)} ms, then ${m('offAgainStop').toFixed(1)} ms`);
console.log(`first write to a page after a checkpoint: ${m('faultNs').toFixed(0)} ns tracked, ${m('offFaultNs').toFixed(0)} ns untracked; second write ${m('secondNs').toFixed(1)} / ${m('offSecondNs').toFixed(1)} ns`);
console.log(`BENCH_JSON ${JSON.stringify(runs)}`);
fs.rmSync(dir, { recursive: true, force: true });
