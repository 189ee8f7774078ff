// Runs the real `ckpt-shadow` CLI for a test: by default a temporary root and token, 127.0.0.1 and
// a port the kernel picks; or a given root, token file and address, in another network namespace;
// its stderr log and stdout collected line by line; stopped by pid.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, scratch } from '../helpers.js';
import { tokenFromFile } from '../../src/shadow/protocol.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

export const SHADOW_CLI = path.join(ROOT, 'dist/src/cli/shadow.js');

export interface Shadow {
  proc: ChildProcess;
  port: number;
  /** the server's root, a directory of its own */
  root: string;
  /** a directory beside the root, outside it */
  outside: string;
  token: Buffer;
  /** the file holding it, for jobs' CKPT_SHADOW_TOKEN_FILE */
  tokenFile: string;
  log: string[];
  stdout: string[];
  /** Resolves when a log line from index `since` on matches (also one already logged); rejects after `ms` */
  waitForLog(re: RegExp, ms?: number, since?: number): Promise<string>;
  /** The same for a line on stdout */
  waitForStdout(re: RegExp, ms?: number): Promise<string>;
  /** SIGTERM (or `signal`); resolves with the exit code */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface ShadowOptions {
  args?: string[];
  /** the token, written to a new token file (ignored with `tokenFile`) */
  tokenText?: string;
  /** an existing token file: a shadow started again for the same jobs */
  tokenFile?: string;
  /** an existing root (created if absent) */
  root?: string;
  listen?: string;
  /** run it in this network namespace (`ip netns exec`) */
  netns?: string;
  /** run it in a mount namespace of its own (`unshare -m`), whose mounts a test may change */
  ownMounts?: boolean;
}

function lines(stream: NodeJS.ReadableStream, into: string[], onLine: () => void): void {
  let partial = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    into.push(...parts);
    onLine();
  });
}

export async function startShadow(opts: ShadowOptions = {}): Promise<Shadow> {
  const base = scratch('ckpt-shadow-');
  const root = opts.root ?? path.join(base, 'root'), outside = path.join(base, 'outside');
  fs.mkdirSync(root, { recursive: true });
  fs.mkdirSync(outside);
  const tokenFile = opts.tokenFile ?? path.join(base, 'token');
  if (!opts.tokenFile) fs.writeFileSync(tokenFile, opts.tokenText ?? 'test-token-0123456789\n', { mode: 0o600 });
  const tokenText = fs.readFileSync(tokenFile, 'utf8');
  const argv = [SHADOW_CLI, '--listen', opts.listen ?? '127.0.0.1:0', '--root', root, '--token-file', tokenFile, ...(opts.args ?? [])];
  const wrapper = opts.netns ? ['ip', 'netns', 'exec', opts.netns] : opts.ownMounts ? ['unshare', '-m', '--propagation', 'private'] : [];
  const [node, nodeArgs] = nodeCommand(argv[0], argv.slice(1));
  const command = [...wrapper, node, ...nodeArgs];
  const proc = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  const log: string[] = [], stdout: string[] = [];
  const waiters = new Set<() => void>();
  const notify = () => { for (const w of [...waiters]) w(); };
  lines(proc.stderr!, log, notify);
  lines(proc.stdout!, stdout, notify);
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => { notify(); resolve(code); }));

  const waitForLine = (from: string[], re: RegExp, ms = 10_000, since = 0) => new Promise<string>((resolve, reject) => {
    const check = () => {
      const hit = from.slice(since).find((l) => re.test(l));
      if (hit !== undefined) done(() => resolve(hit));
      else if (proc.exitCode !== null) done(() => reject(new Error(`ckpt-shadow exited ${proc.exitCode} before printing ${re}:\n${log.join('\n')}`)));
    };
    const timer = setTimeout(() => done(() => reject(new Error(`no line ${re} within ${ms} ms:\n${from.slice(-20).join('\n')}`))), ms);
    const done = (f: () => void) => { clearTimeout(timer); waiters.delete(check); f(); };
    waiters.add(check);
    check();
  });
  const waitForLog = (re: RegExp, ms?: number, since?: number) => waitForLine(log, re, ms, since);

  const listening = await waitForLog(/^ckpt-shadow: listening on \S+:(\d+)$/);
  return {
    proc, root, outside, log, stdout, waitForLog,
    waitForStdout: (re, ms) => waitForLine(stdout, re, ms),
    port: Number(/:(\d+)$/.exec(listening)![1]),
    token: tokenFromFile(Buffer.from(tokenText)), tokenFile,
    stop: (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** The files below `dir`: relative path -> contents ("<dir>" for directories) */
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

/** tree() of the shadow's root without its own image directory */
export const rootTree = (root: string) => Object.fromEntries(Object.entries(tree(root)).filter(([k]) => !k.startsWith('.ckpt')));
