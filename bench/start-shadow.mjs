// ckpt-shadow for a benchmark: on 127.0.0.1, a port the kernel picks; resolves once it listens.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeCommand } from '../dist/src/cli/node-flags.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export async function startShadow(shadowRoot, token) {
  const proc = spawn(...nodeCommand(path.join(root, 'dist/src/cli/shadow.js'), ['--listen', '127.0.0.1:0', '--root', shadowRoot, '--token-file', token]), { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d) => (err += d));
  for (const t0 = Date.now(); !/listening on \S+:\d+/.test(err); await new Promise((r) => setTimeout(r, 20)))
    if (Date.now() - t0 > 20_000) throw new Error(`the shadow did not start: ${err}`);
  return { proc, port: Number(/listening on \S+:(\d+)/.exec(err)[1]) };
}
