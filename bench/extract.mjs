#!/usr/bin/env node
// A 10,000-file archive extracted by a relinked busybox tar through ckpt-shadow on loopback,
// against the same busybox tar extracting it on the shadow's disk directly: round trips per file
// (REQUEST frames, counted by a relay between the job and the shadow in a run of its own, so the
// relay's hop is not in the times) and the time ratio, medians of --rounds alternating rounds.
//   node bench/extract.mjs [--rounds 5] [--files 10000]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { nodeCommand } from '../dist/src/cli/node-flags.js';
import { startShadow } from './start-shadow.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, files: { type: 'string', default: '10000' } } });
const rounds = Number(values.rounds), files = Number(values.files);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-extract-bench-'));
const shadowRoot = path.join(dir, 'root'), token = path.join(dir, 'token');

/** 100 directories of files of 1 to 4 KiB, with modes and times, tarred by GNU tar */
function makeArchive() {
  const src = path.join(dir, 'src');
  for (let i = 0; i < files; i++) {
    const d = path.join(src, 'tree', `d${String(Math.floor(i / 100)).padStart(3, '0')}`);
    if (i % 100 === 0) fs.mkdirSync(d, { recursive: true });
    const f = path.join(d, `f${i}.txt`);
    fs.writeFileSync(f, 'x'.repeat(1024 + (i * 37) % 3072));
    fs.chmodSync(f, i % 2 ? 0o644 : 0o600);
    fs.utimesSync(f, 1262304000 + i, 1262304000 + i);
  }
  fs.mkdirSync(shadowRoot);
  spawnSync('tar', ['-C', src, '-cf', path.join(shadowRoot, 'arch.tar'), 'tree'], { stdio: 'inherit' });
}

function relink() {
  const out = path.join(dir, 'bin', 'busybox');
  fs.mkdirSync(path.dirname(out));
  if (spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), ['/bin/busybox', '-o', out, '-q']), { stdio: 'inherit' }).status !== 0) throw new Error('relink failed');
  return out;
}


/** A relay to the shadow that counts the REQUEST frames the job sends (frame type 5) */
async function countingRelay(port) {
  const counter = { requests: 0 };
  const server = net.createServer((job) => {
    const up = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    job.on('data', (d) => {
      up.write(d);
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 16 && buf.length >= 16 + buf.readUInt32LE(12)) {
        if (buf.readUInt16LE(6) === 5) counter.requests++;
        buf = buf.subarray(16 + buf.readUInt32LE(12));
      }
    });
    up.on('data', (d) => job.write(d));
    job.on('close', () => up.end());
    up.on('close', () => job.end());
    job.on('error', () => up.destroy());
    up.on('error', () => job.destroy());
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { server, counter, port: server.address().port };
}

function run(file, args, env = {}) {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const p = spawn(file, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
    p.on('exit', (code) => (code === 0 ? resolve(Number(process.hrtime.bigint() - t0) / 1e9) : reject(new Error(`${file} ${args.join(' ')} exited ${code}`))));
  });
}

function fresh(name) {
  const d = path.join(shadowRoot, name);
  fs.rmSync(d, { recursive: true, force: true });
  fs.mkdirSync(d);
}

makeArchive();
const busybox = relink();
fs.writeFileSync(token, 'bench-token-0123456789\n', { mode: 0o600 });
const shadow = await startShadow(shadowRoot, token);
const jobEnv = (port) => ({ CKPT_SHADOW: `127.0.0.1:${port}`, CKPT_SHADOW_TOKEN_FILE: token });
try {
  const relay = await countingRelay(shadow.port);
  fresh('counted');
  await run(busybox, ['tar', 'xf', '/arch.tar', '-C', '/counted'], jobEnv(relay.port));
  relay.server.close();
  const remote = [], local = [];
  for (let i = 0; i < rounds; i++) {
    fresh('remote');
    remote.push(await run(busybox, ['tar', 'xf', '/arch.tar', '-C', '/remote'], jobEnv(shadow.port)));
    fresh('local');
    local.push(await run('/bin/busybox', ['tar', 'xf', path.join(shadowRoot, 'arch.tar'), '-C', path.join(shadowRoot, 'local')]));
  }
  const same = spawnSync('diff', ['-r', path.join(shadowRoot, 'remote'), path.join(shadowRoot, 'local')]).status === 0;
  console.log(`files: ${files}, rounds: ${rounds}, the two extractions equal: ${same}`);
  console.log(`round trips: ${relay.counter.requests} requests, ${(relay.counter.requests / files).toFixed(2)} per file`);
  console.log(`through the shadow: ${median(remote).toFixed(3)} s (${(median(remote) / files * 1e6).toFixed(0)} µs a file)`);
  console.log(`on the shadow's disk: ${median(local).toFixed(3)} s`);
  console.log(`ratio: ${(median(remote) / median(local)).toFixed(1)}`);
} finally {
  shadow.proc.kill();
  fs.rmSync(dir, { recursive: true, force: true });
}
