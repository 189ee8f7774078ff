// What the checkpoint benchmarks share: a C benchmark built static and relinked, a poll for a
// condition, a median.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** bench/NAME.c built with gcc -O2 -static (and `flags`) into dir, then relinked: the .ckpt path */
export function buildRelinked(name, dir, flags = []) {
  const src = path.join(root, `bench/${name}.c`), exe = path.join(dir, name), out = `${exe}.ckpt`;
  spawnSync('gcc', ['-O2', '-static', ...flags, '-o', exe, src], { stdio: 'inherit' });
  const r = spawnSync(...nodeCommand(path.join(root, 'dist/src/cli/relink.js'), [exe, '-o', out, '-q']), { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('relink failed');
  return out;
}

export async function waitFor(cond, ms = 120_000) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await sleep(2)) if (cond()) return;
  throw new Error('timed out');
}

/**
 * Runs bin with args (and env) in dir until it prints "ready", checkpoints it to dir/run.img, then creates
 * dir/go and waits for it to end: the checkpoint wall time (signal to image renamed), the image's
 * size, and the longest clock gap the program saw (its line "stopped_ms=N").
 */
export async function checkpointOnce(bin, args, dir, env = {}) {
  for (const f of ['go', 'run.img', 'out.txt']) fs.rmSync(path.join(dir, f), { force: true });
  const out = path.join(dir, 'out.txt');
  const fd = fs.openSync(out, 'w');
  const child = spawn(bin, args, { cwd: dir, stdio: ['ignore', fd, 'inherit'], env: { ...env, CKPT_IMAGE: 'run.img' } });
  fs.closeSync(fd);
  await waitFor(() => fs.readFileSync(out, 'utf8').includes('ready'));
  const t0 = performance.now();
  child.kill('SIGUSR2');
  await waitFor(() => fs.existsSync(path.join(dir, 'run.img')));
  const checkpointMs = performance.now() - t0;
  const size = fs.statSync(path.join(dir, 'run.img')).size;
  fs.writeFileSync(path.join(dir, 'go'), '');
  await new Promise((r) => child.once('exit', r));
  const stopped = Number(/stopped_ms=([\d.]+)/.exec(fs.readFileSync(out, 'utf8'))[1]);
  return { checkpointMs, size, stopped };
}
