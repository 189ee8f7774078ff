// The shadow server: listens, gives every connection its own Session, and builds the policy text
// that HELLO carries (docs/shadow-protocol.md, "Policy"). Sessions share nothing but the root, the
// token and the log, so one job process's slow request or broken frames never touch another's.
import net from 'node:net';
import * as C from '../contract.generated.js';
import type { ConfinedRoot } from './confine.js';
import { Session } from './session.js';

/** What a --policy FILE.json may say; every path is a job path (absolute) */
export interface PolicyFile {
  remote?: string[];
  local?: string[];
  stdin?: string;
  stdout?: string;
  stderr?: string;
}

export interface PolicyOptions {
  /** replaces the default remote and local rules */
  file?: PolicyFile;
  /** each one a `local DIR` rule, after the others */
  scratch?: string[];
  /** override the file's stdin, stdout, stderr */
  stdio?: Pick<PolicyFile, 'stdin' | 'stdout' | 'stderr'>;
}

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
}

const DEFAULT_POLICY: Required<Pick<PolicyFile, 'remote' | 'local'>> = { remote: ['/'], local: ['/proc', '/dev', '/sys'] };
const STDIO = ['stdin', 'stdout', 'stderr'] as const;

/** The policy of a --policy file's text; PolicyError names the key at fault */
export function parsePolicyFile(text: string): PolicyFile {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new PolicyError(`not JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new PolicyError('must be a JSON object');
  const out: PolicyFile = {};
  for (const [key, value] of Object.entries(v)) {
    if (key === 'remote' || key === 'local') {
      if (!Array.isArray(value)) throw new PolicyError(`"${key}" must be a list of paths`);
      out[key] = value.map((p) => jobPath(p, key));
    } else if ((STDIO as readonly string[]).includes(key)) {
      out[key as (typeof STDIO)[number]] = jobPath(value, key);
    } else {
      throw new PolicyError(`unknown key "${key}" (known: remote, local, stdin, stdout, stderr)`);
    }
  }
  return out;
}

/** An absolute path that fits on one policy line */
export function jobPath(p: unknown, what: string): string {
  if (typeof p !== 'string' || !p.startsWith('/') || /[\n\0]/.test(p)) throw new PolicyError(`${what}: ${JSON.stringify(p)} is not an absolute path`);
  return p;
}

/** The HELLO policy text: one rule a line */
export function policyText(opts: PolicyOptions): string {
  const file = opts.file ?? DEFAULT_POLICY;
  const lines = [
    ...(file.remote ?? []).map((p) => `remote ${p}`),
    ...(file.local ?? []).map((p) => `local ${p}`),
    ...(opts.scratch ?? []).map((p) => `local ${jobPath(p, '--scratch')}`),
  ];
  for (const key of STDIO) {
    const p = opts.stdio?.[key] ?? opts.file?.[key];
    if (p !== undefined) lines.push(`${key} ${jobPath(p, key)}`);
  }
  const text = lines.map((l) => l + '\n').join('');
  if (Buffer.byteLength(text) > C.CKPT_SH_MAX_PAYLOAD - C.CKPT_SH_NONCE) throw new PolicyError('the policy text is over the HELLO payload bound');
  return text;
}

export interface ServerOptions {
  host: string;
  port: number;
  root: ConfinedRoot;
  token: Buffer;
  policy: string;
  /** default 10 s, as the protocol says */
  authTimeoutMs?: number;
  log(line: string): void;
  print(line: string): void;
}

export class ShadowServer {
  /** each live session, and a promise that resolves when it has closed its files */
  private readonly sessions = new Map<Session, Promise<void>>();
  private nextSession = 1n;

  private constructor(private readonly server: net.Server, private readonly opts: ServerOptions) {
    server.on('connection', (socket) => this.accept(socket));
    server.on('error', (e) => opts.log(`server error: ${e.message}`));
  }

  /** Listening when the promise resolves; rejects when the address cannot be had */
  static start(opts: ServerOptions): Promise<ShadowServer> {
    const server = net.createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve(new ShadowServer(server, opts));
      });
    });
  }

  /** The address and port listened on (the real port when 0 was asked) */
  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stops listening and ends every session; resolves when their files are closed */
  async close(): Promise<void> {
    const listening = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const ended = [...this.sessions.values()];
    for (const s of this.sessions.keys()) s.close('the server is stopping');
    await Promise.all([listening, ...ended]);
  }

  private accept(socket: net.Socket): void {
    const id = this.nextSession++;
    const session = new Session(socket, id, {
      root: this.opts.root, token: this.opts.token, policy: this.opts.policy,
      authTimeoutMs: this.opts.authTimeoutMs ?? 10_000, log: this.opts.log, print: this.opts.print,
    });
    let ended!: () => void;
    this.sessions.set(session, new Promise((resolve) => (ended = resolve)));
    session.start(() => {
      this.sessions.delete(session);
      ended();
    });
  }
}
