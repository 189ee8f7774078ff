// Starts the real ckpt-shadow (dist/src/cli/shadow.js) for end-to-end tests: in this network
// namespace or another, on a port of its choosing, with a fresh token; collects its stdout (job
// exit lines) and stderr (the event log); stops it by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers.js';

export const SHADOW_CLI = path.join(ROOT, 'dist/src/cli/shadow.js');

export interface Shadow {
  proc: ChildProcess;
  port: number;
  root: string;
  token: string;
  stdout: () => string;
  stderr: () => string;
  /** resolves when `text` has appeared on stdout (or stderr, with `where`) */
  waitFor(text: string | RegExp, where?: 'stdout' | 'stderr', ms?: number): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface ShadowOptions {
  root: string;
  /** the token file, made with a random token if absent */
  token?: string;
  listen?: string;
  netns?: string;
  args?: string[];
}

export async function startShadow(opts: ShadowOptions): Promise<Shadow> {
  const token = opts.token ?? path.join(path.dirname(opts.root), `${path.basename(opts.root)}.token`);
  if (!fs.existsSync(token)) fs.writeFileSync(token, crypto.randomBytes(24).toString('hex') + '\n', { mode: 0o600 });
  fs.mkdirSync(opts.root, { recursive: true });
  const argv = [SHADOW_CLI, '--listen', opts.listen ?? '127.0.0.1:0', '--root', opts.root, '--token-file', token, ...(opts.args ?? [])];
  const proc = opts.netns
    ? spawn('ip', ['netns', 'exec', opts.netns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '', err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  const waitFor = async (text: string | RegExp, where: 'stdout' | 'stderr' = 'stdout', ms = 20_000) => {
    const seen = () => { const s = where === 'stdout' ? out : err; return typeof text === 'string' ? s.includes(text) : text.test(s); };
    for (const t0 = Date.now(); !seen(); await new Promise((r) => setTimeout(r, 20))) {
      if (Date.now() - t0 > ms || proc.exitCode !== null) throw new Error(`ckpt-shadow: no ${text} on ${where}; stdout:\n${out}\nstderr:\n${err}`);
    }
  };
  await waitFor(/listening on \S+:\d+/, 'stderr');
  const port = Number(/listening on \S+:(\d+)/.exec(err)![1]);
  return {
    proc, port, root: opts.root, token,
    stdout: () => out, stderr: () => err, waitFor,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      await exited;
    },
  };
}

/** The files below `dir`: relative path -> contents ("<dir>" for directories), sorted */
export function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
      const r = path.join(rel, name), full = path.join(dir, r);
      if (fs.lstatSync(full).isDirectory()) {
        out[r] = '<dir>';
        walk(r);
      } else {
        out[r] = fs.readFileSync(full, 'utf8');
      }
    }
  };
  walk('');
  return out;
}
