// The main job on a bundled sample and on a real binary: relink, run, compare, show the counts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist/src/cli/relink.js');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-demo-'));
const run = (file, args, env = {}) => execFileSync(file, args, { cwd: work, env: { ...process.env, ...env }, encoding: 'utf8' });

function demo(input, name, args) {
  const output = path.join(work, `${name}.ckpt`);
  process.stdout.write(`\n$ ckpt-relink ${input} -o ${name}.ckpt\n`);
  process.stdout.write(run(...nodeCommand(cli, [input, '-o', output])));
  const want = run(input, args);
  const got = run(output, args, { CKPT_STATS: 'stats.json' });
  const stats = JSON.parse(fs.readFileSync(path.join(work, 'stats.json'), 'utf8').trim().split('\n').pop());
  fs.rmSync(path.join(work, 'stats.json'));
  process.stdout.write(`$ ./${name}.ckpt ${args.join(' ')}\n${got}`);
  process.stdout.write(`output identical to the original: ${got === want ? 'yes' : 'NO'}\n`);
  process.stdout.write(`CKPT_STATS: ${stats.patched} calls through patched sites, ${stats.trapped} trapped\n`);
  if (got !== want) process.exitCode = 1;
}

demo(path.join(root, 'build/samples/glibc/compute'), 'compute', ['20000000']);
const big = path.join(work, 'big.bin');
fs.writeFileSync(big, Buffer.alloc(32 << 20, 7));
demo('/bin/busybox', 'busybox', ['sha256sum', big]);
// a dynamically linked program: ld.so and its libraries are carried in the one output file
demo('/usr/bin/python3.11', 'python3', ['-c', 'import json, zlib, hashlib; print(json.dumps({"crc": zlib.crc32(b"ckpt"), "sha": hashlib.sha256(b"ckpt").hexdigest()[:16]}))']);
fs.rmSync(work, { recursive: true, force: true });
