#!/usr/bin/env node
// Remote system calls against the shadow on loopback, each against its plain-TCP counterpart
// measured in the same run, both served by Node: the latency of a small remote call (stat)
// against a 40-byte TCP round trip with an echo server, and sequential write and read of a
// 256 MiB file through the shadow against a plain TCP copy of the same bytes into (out of) a file.
// Medians of --rounds alternating rounds.   node bench/shadow.mjs [--rounds 5] [--mib 256]
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';
import { startShadow } from './start-shadow.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, mib: { type: 'string', default: '256' } } });
const rounds = Number(values.rounds), mib = Number(values.mib), STATS = 10000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-shadow-bench-'));

function build() {
  const exe = path.join(dir, 'remote'), out = `${exe}.ckpt`;
  spawnSync('gcc', ['-O2', '-static', '-o', exe, path.join(root, 'bench/remote.c')], { stdio: 'inherit' });
  if (spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), [exe, '-o', out, '-q']), { stdio: 'inherit' }).status !== 0) throw new Error('relink failed');
  return { exe, relinked: out };
}

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

/** echo: every byte back; copy: "up" connections are written to a file, then "ok"; "down" ones get the file */
async function plainServers(file) {
  const echo = await listen(net.createServer((s) => { s.setNoDelay(true); s.pipe(s); }));
  const up = await listen(net.createServer((s) => {
    const out = fs.createWriteStream(file);
    s.pipe(out);
    out.on('finish', () => fs.fsync(out.fd ?? fs.openSync(file, 'r+'), () => s.end('ok')));
  }));
  const down = await listen(net.createServer((s) => fs.createReadStream(file).pipe(s)));
  return { echo, up, down };
}


function run(file, args, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(file, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(Number(out.trim())) : reject(new Error(`${file} ${args.join(' ')} exited ${code}`))));
  });
}

const { exe, relinked } = build();
const shadowRoot = path.join(dir, 'root'), token = path.join(dir, 'token');
fs.mkdirSync(shadowRoot);
fs.writeFileSync(token, crypto.randomBytes(16).toString('hex'));
fs.writeFileSync(path.join(shadowRoot, 'small'), 'x');
const plain = await plainServers(path.join(dir, 'plain.bin'));
const shadow = await startShadow(shadowRoot, token);
const env = { CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: token };
const r = { rtt: [], stat: [], send: [], write: [], recv: [], read: [] };
const ratios = [];
for (let i = 0; i < rounds; i++) {
  // three stat / round trip pairs a round, each pair back to back, so that both of a pair see the
  // machine in the same state (on this shared VM both drift by 30% within a minute)
  for (let k = 0; k < 3; k++) {
    r.rtt.push(await run(exe, ['ping', '127.0.0.1', String(plain.echo), String(STATS)]));
    r.stat.push(await run(relinked, ['stat', '/small', String(STATS)], env));
    ratios.push(r.stat.at(-1) / r.rtt.at(-1));
  }
  r.send.push(await run(exe, ['send', '127.0.0.1', String(plain.up), String(mib)]));
  r.write.push(await run(relinked, ['write', '/big.bin', String(mib)], env));
  r.recv.push(await run(exe, ['recv', '127.0.0.1', String(plain.down)]));
  r.read.push(await run(relinked, ['read', '/big.bin'], env));
}
shadow.proc.kill('SIGTERM');
const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]));
console.log(`medians of ${rounds} rounds, shadow on loopback, ${mib} MiB files`);
console.log(`small call: stat ${m.stat.toFixed(0)} ns, TCP round trip ${m.rtt.toFixed(0)} ns, ratio ${median(ratios).toFixed(2)} (median of ${ratios.length} back-to-back pairs; target <= 2)`);
console.log(`write: shadow ${m.write.toFixed(0)} MB/s, plain TCP copy ${m.send.toFixed(0)} MB/s, ratio ${(m.write / m.send).toFixed(2)} (target >= 0.70)`);
console.log(`read:  shadow ${m.read.toFixed(0)} MB/s, plain TCP copy ${m.recv.toFixed(0)} MB/s, ratio ${(m.read / m.recv).toFixed(2)} (target >= 0.70)`);
console.log(`BENCH_JSON ${JSON.stringify({ rounds, mib, samples: r, medians: m, statRatios: ratios })}`);
fs.rmSync(dir, { recursive: true, force: true });
process.exit(0);
