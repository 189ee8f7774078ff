// A shadow client for the toolchain's own use (ckpt-run keeps a job's images on the shadow): it
// reaches the shadow a job's runtime reaches, from the same environment (CKPT_SHADOW=HOST:PORT,
// CKPT_SHADOW_ADDR, CKPT_SHADOW_TOKEN_FILE), authenticates as the runtime does (a session of kind
// CHILD, so that its end is not taken for the job's), and makes one request at a time.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import * as C from '../contract.generated.js';
import {
  FrameParser, authMac, decodeDirents, decodeMessage, decodeStat, encodeMessage, macEqual, tokenFromFile, welcomeMac,
  WIRE_O, type Frame, type Request, type WireStat,
} from './protocol.js';

export class ShadowClientError extends Error {
  override readonly name: string = 'ShadowClientError';
}

/** A request that the shadow answered with -errno; `code` is the errno's name where Node knows it */
export class ShadowCallError extends ShadowClientError {
  override readonly name = 'ShadowCallError';
  constructor(readonly op: string, readonly path: string, readonly errno: number) {
    super(`${op} ${path}: ${errnoName(errno)}`);
  }

  get code(): string {
    return errnoName(this.errno);
  }
}

const ERRNO_NAMES = new Map(Object.entries(os.constants.errno).map(([name, value]) => [value, name]));

function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

/** Where the shadow is and the key, from a job's environment */
export interface ShadowAddress { host: string; port: number; token: Buffer }

export function shadowAddress(env: NodeJS.ProcessEnv): ShadowAddress {
  const where = env.CKPT_SHADOW;
  const colon = where?.lastIndexOf(':') ?? -1;
  if (!where || colon <= 0) throw new ShadowClientError('CKPT_SHADOW must be HOST:PORT');
  const port = Number(where.slice(colon + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ShadowClientError('bad port in CKPT_SHADOW');
  const tokenFile = env.CKPT_SHADOW_TOKEN_FILE;
  let token: Buffer;
  try {
    token = tokenFromFile(fs.readFileSync(tokenFile ?? ''));
  } catch {
    token = Buffer.alloc(0);
  }
  if (token.length === 0) throw new ShadowClientError('cannot read CKPT_SHADOW_TOKEN_FILE (or the token is empty)');
  return { host: env.CKPT_SHADOW_ADDR || where.slice(0, colon), port, token };
}

const ANY_TYPE = [C.CKPT_SH_HELLO, C.CKPT_SH_WELCOME, C.CKPT_SH_DENIED, C.CKPT_SH_REPLY];

export class ShadowConnection {
  private readonly parser = new FrameParser();
  private closed = false;
  private failure?: Error;
  private wake?: () => void;
  private seq = 0;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => { this.parser.push(c); this.wake?.(); });
    socket.on('close', () => { this.closed = true; this.wake?.(); });
    socket.on('error', (e) => { this.failure = e; this.wake?.(); });
  }

  /** Connects, checks the server's MAC, and authenticates; throws with the reason when it cannot */
  static async open(at: ShadowAddress): Promise<ShadowConnection> {
    const socket = net.connect(at.port, at.host);
    socket.setNoDelay(true);
    const c = new ShadowConnection(socket);
    try {
      await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
      const hello = decodeMessage(await c.next());
      if (hello.type !== 'hello') throw new ShadowClientError(`the shadow sent ${hello.type} before HELLO`);
      const nonce = crypto.randomBytes(C.CKPT_SH_NONCE);
      const pid = process.pid;
      socket.write(encodeMessage({ type: 'auth', nonce, mac: authMac(at.token, hello.nonce, nonce, pid), pid, kind: C.CKPT_SH_KIND_CHILD }));
      const answer = decodeMessage(await c.next());
      if (answer.type === 'denied') throw new ShadowClientError(`the shadow refused us: ${answer.reason}`);
      if (answer.type !== 'welcome' || !macEqual(answer.mac, welcomeMac(at.token, nonce, hello.nonce))) {
        throw new ShadowClientError('the shadow did not prove it holds the token');
      }
      return c;
    } catch (e) {
      socket.destroy();
      if (e instanceof ShadowClientError) throw e;
      throw new ShadowClientError(`cannot reach the shadow at ${at.host}:${at.port}: ${(e as Error).message}`);
    }
  }

  close(): void {
    this.socket.destroy();
  }

  /** One request; its result (>= 0) and data, or ShadowCallError for -errno */
  async call(request: Request, what: string): Promise<{ result: number; data: Buffer }> {
    const seq = ++this.seq;
    this.socket.write(encodeMessage({ type: 'request', seq, request }));
    const m = decodeMessage(await this.next());
    if (m.type !== 'reply' || m.seq !== seq) throw new ShadowClientError(`the shadow answered ${request.op} with ${m.type}`);
    const result = Number(m.result);
    if (result < 0) throw new ShadowCallError(request.op, what, -result);
    return { result, data: m.data };
  }

  async stat(path: string): Promise<WireStat> {
    return decodeStat((await this.call({ op: 'stat', path: Buffer.from(path), nofollow: false }, path)).data);
  }

  /** The names in directory `path` ("." and ".." left out) */
  async list(path: string): Promise<string[]> {
    const handle = await this.openHandle(path, WIRE_O.DIRECTORY);
    try {
      const names: string[] = [];
      for (;;) {
        const { data } = await this.call({ op: 'getdents', handle, count: C.CKPT_SH_MAX_DATA, index: BigInt(names.length) }, path);
        const batch = decodeDirents(data);
        if (batch.length === 0) return names.filter((n) => n !== '.' && n !== '..');
        names.push(...batch.map((d) => d.name.toString()));
      }
    } finally {
      await this.closeHandle(handle);
    }
  }

  async rename(from: string, to: string): Promise<void> {
    await this.call({ op: 'rename', from: Buffer.from(from), to: Buffer.from(to) }, from);
  }

  async unlink(path: string): Promise<void> {
    await this.call({ op: 'unlink', path: Buffer.from(path) }, path);
  }

  /** Up to `count` bytes of file `path` from its start */
  async head(path: string, count: number): Promise<Buffer> {
    const handle = await this.openHandle(path, 0);
    try {
      return (await this.call({ op: 'pread', handle, count, offset: 0n }, path)).data;
    } finally {
      await this.closeHandle(handle);
    }
  }

  /** Copies file `path` into local descriptor `fd`, in the largest pieces the protocol carries */
  async download(path: string, fd: number): Promise<void> {
    const handle = await this.openHandle(path, 0);
    try {
      for (let offset = 0; ;) {
        const { data } = await this.call({ op: 'pread', handle, count: C.CKPT_SH_MAX_DATA, offset: BigInt(offset) }, path);
        if (data.length === 0) return;
        fs.writeSync(fd, data, 0, data.length, offset);
        offset += data.length;
      }
    } finally {
      await this.closeHandle(handle);
    }
  }

  private async openHandle(path: string, flags: number): Promise<number> {
    return (await this.call({ op: 'open', path: Buffer.from(path), flags, mode: 0 }, path)).result;
  }

  private async closeHandle(handle: number): Promise<void> {
    await this.call({ op: 'close', handle }, `handle ${handle}`).catch(() => undefined);
  }

  private async next(): Promise<Frame> {
    for (;;) {
      const f = this.parser.next(ANY_TYPE);
      if (f) return f;
      if (this.failure) throw new ShadowClientError(`connection to the shadow failed: ${this.failure.message}`);
      if (this.closed) throw new ShadowClientError('the shadow closed the connection');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}
