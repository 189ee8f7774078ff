// A shadow protocol client for the tests: the handshake (checking the server's MAC), one request at
// a time with its reply's seq checked, and the raw socket for tests that send broken frames.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import * as C from '../../src/contract.generated.js';
import {
  FrameParser, authMac, decodeMessage, decodeStat, encodeMessage, welcomeMac, type Frame, type Request, type WireStat,
} from '../../src/shadow/protocol.js';

const ANY_TYPE = [C.CKPT_SH_HELLO, C.CKPT_SH_AUTH, C.CKPT_SH_WELCOME, C.CKPT_SH_DENIED, C.CKPT_SH_REQUEST, C.CKPT_SH_REPLY];

/** Frames as they arrive on a socket; null once the server has closed it */
export class FrameReader {
  private readonly parser = new FrameParser();
  private closed = false;
  private wake?: () => void;

  constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.parser.push(c);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  async next(): Promise<Frame | null> {
    for (;;) {
      const f = this.parser.next(ANY_TYPE);
      if (f) return f;
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

export interface Hello { nonce: Buffer; policy: string }

/** Connects and reads HELLO */
export async function connectRaw(port: number): Promise<{ socket: net.Socket; reader: FrameReader; hello: Hello }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const reader = new FrameReader(socket);
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const f = await reader.next();
  assert.ok(f, 'the server closed the connection before HELLO');
  const m = decodeMessage(f);
  assert.equal(m.type, 'hello');
  return { socket, reader, hello: m };
}

export interface Reply { result: number; data: Buffer }

export interface ClientOptions { pid?: number; kind?: number }

export class ShadowClient {
  private seq = 0;

  private constructor(readonly socket: net.Socket, readonly reader: FrameReader, readonly hello: Hello, readonly session: bigint) {}

  /** Connects and authenticates; throws with the reason when the server answers DENIED */
  static async connect(port: number, token: Buffer, opts: ClientOptions = {}): Promise<ShadowClient> {
    const { socket, reader, hello } = await connectRaw(port);
    const pid = opts.pid ?? process.pid;
    const nonce = crypto.randomBytes(C.CKPT_SH_NONCE);
    socket.write(encodeMessage({ type: 'auth', nonce, mac: authMac(token, hello.nonce, nonce, pid), pid, kind: opts.kind ?? C.CKPT_SH_KIND_CHILD }));
    const f = await reader.next();
    assert.ok(f, 'the server closed the connection instead of answering AUTH');
    const m = decodeMessage(f);
    if (m.type === 'denied') {
      socket.destroy();
      throw new Error(`DENIED: ${m.reason}`);
    }
    assert.equal(m.type, 'welcome');
    assert.deepEqual(m.mac, welcomeMac(token, nonce, hello.nonce), 'the server MAC');
    return new ShadowClient(socket, reader, hello, m.session);
  }

  async call(request: Request): Promise<Reply> {
    const seq = ++this.seq;
    this.socket.write(encodeMessage({ type: 'request', seq, request }));
    const f = await this.reader.next();
    assert.ok(f, `the server closed the connection instead of answering ${request.op}`);
    const m = decodeMessage(f);
    assert.equal(m.type, 'reply');
    assert.equal(m.seq, seq, 'the reply carries the request seq');
    return { result: Number(m.result), data: m.data };
  }

  /** A handle; fails the test when OPEN fails */
  async open(path: string, flags: number, mode = 0o644): Promise<number> {
    const r = await this.call({ op: 'open', path: Buffer.from(path), flags, mode });
    assert.ok(r.result > 0, `open ${path}: ${r.result}`);
    return r.result;
  }

  /** OPEN's result: a handle or -errno */
  async tryOpen(path: string, flags: number, mode = 0o644): Promise<number> {
    return (await this.call({ op: 'open', path: Buffer.from(path), flags, mode })).result;
  }

  async pread(handle: number, count: number, offset: number): Promise<Buffer> {
    const r = await this.call({ op: 'pread', handle, count, offset: BigInt(offset) });
    assert.ok(r.result >= 0, `pread: ${r.result}`);
    assert.equal(r.data.length, r.result);
    return r.data;
  }

  /** The count written and the offset after */
  async pwrite(handle: number, data: Buffer | string, offset: number, append = false): Promise<{ written: number; end: number }> {
    const r = await this.call({ op: 'pwrite', handle, append, offset: BigInt(offset), data: Buffer.from(data) });
    assert.ok(r.result >= 0, `pwrite: ${r.result}`);
    return { written: r.result, end: Number(r.data.readBigUInt64LE()) };
  }

  async stat(path: string, nofollow = false): Promise<WireStat> {
    const r = await this.call({ op: 'stat', path: Buffer.from(path), nofollow });
    assert.equal(r.result, 0, `stat ${path}`);
    return decodeStat(r.data);
  }

  /** A path request's result: 0 or -errno */
  async path(op: 'rmdir' | 'unlink' | 'chdir' | 'readlink', path: string): Promise<Reply> {
    return this.call({ op, path: Buffer.from(path) });
  }

  end(): void {
    this.socket.destroy();
  }
}
