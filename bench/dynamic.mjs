#!/usr/bin/env node
// Dynamic programs (docs/dynamic.md): what relinking python3 with its closure costs, and what the
// relinked python3 costs against Debian's, in the same run, native and relinked alternating round
// by round; figures are medians.
//
//   node bench/dynamic.mjs [--rounds N]
//
// - relink: the whole ckpt-relink CLI on /usr/bin/python3.11 with --with its lib-dynload
// - start-up: `python3 -c pass`, relinked / native
// - system calls: a script making 40000 cheap calls (os.stat, os.getppid, read of /dev/zero), relinked / native
// - memory: the summed Pss of 8 concurrent processes waiting on stdin, relinked / native
// The last line is `BENCH_JSON {...}`.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'dist/src/cli/relink.js');
const PYTHON = '/usr/bin/python3.11';
const DYNLOAD = '/usr/lib/python3.11/lib-dynload';
const CALLS = `import os
fd = os.open('/dev/zero', os.O_RDONLY)
for i in range(10000):
    os.stat('/'); os.getppid(); os.read(fd, 1); os.lseek(fd, 0, 0)
`;

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' } } });
const rounds = Number(values.rounds);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status} ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

function alternate(a, b, args) {
  const ta = [], tb = [];
  for (let i = 0; i < rounds; i++) { ta.push(timed(a, args)); tb.push(timed(b, args)); }
  return { native: median(ta), relinked: median(tb), ratio: median(tb) / median(ta) };
}

async function pss(binary) {
  const kids = Array.from({ length: 8 }, () => spawn(binary, ['-c', 'import sys, json, re; sys.stdin.read()'], { stdio: ['pipe', 'ignore', 'inherit'] }));
  // each has started when it blocks reading stdin (its wchan says so)
  for (const k of kids) {
    for (let i = 0; i < 2000 && !/^(pipe_read|pipe_wait_readable|anon_pipe_read|unix_stream_read_generic)/.test(fs.readFileSync(`/proc/${k.pid}/wchan`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 5));
  }
  let total = 0;
  for (const k of kids) total += Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${k.pid}/smaps_rollup`, 'utf8'))[1]);
  for (const k of kids) k.stdin.end();
  await Promise.all(kids.map((k) => new Promise((r) => k.on('exit', r))));
  return total;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bench-dyn-'));
const relinked = path.join(dir, 'python3.ckpt');
const relinkMs = [];
for (let i = 0; i < 5; i++) relinkMs.push(timed(...nodeCommand(CLI, [PYTHON, '-o', relinked, '-q', '--with', DYNLOAD])));
const script = path.join(dir, 'calls.py');
fs.writeFileSync(script, CALLS);
const startup = alternate(PYTHON, relinked, ['-c', 'pass']);
const calls = alternate(PYTHON, relinked, [script]);
const pssNative = [], pssRelinked = [];
for (let i = 0; i < 3; i++) { pssNative.push(await pss(PYTHON)); pssRelinked.push(await pss(relinked)); }
const memory = { native: median(pssNative), relinked: median(pssRelinked), ratio: median(pssRelinked) / median(pssNative) };
fs.rmSync(dir, { recursive: true, force: true });

const f = (x) => x.toFixed(3);
console.log(`relink python3.11 + lib-dynload (whole CLI)  median ${(median(relinkMs) / 1000).toFixed(2)} s of 5`);
console.log(`start-up, python3 -c pass                     native ${startup.native.toFixed(1)} ms  relinked ${startup.relinked.toFixed(1)} ms  ratio ${f(startup.ratio)}`);
console.log(`40000 system calls from python               native ${calls.native.toFixed(1)} ms  relinked ${calls.relinked.toFixed(1)} ms  ratio ${f(calls.ratio)}`);
console.log(`summed Pss of 8 processes                    native ${memory.native} kB  relinked ${memory.relinked} kB  ratio ${f(memory.ratio)}`);
console.log(`BENCH_JSON ${JSON.stringify({ relinkMs: median(relinkMs), startup, calls, memory, rounds })}`);
