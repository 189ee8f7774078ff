// The shadow protocol, version 1 (docs/shadow-protocol.md), as tagged unions with their encoders and
// decoders. A frame is a 16-byte little-endian header (magic, version, type, seq, length) and a
// payload; the server sends HELLO (nonce, policy text), the client AUTH (nonce, MAC, pid, kind), the
// server WELCOME (MAC, session) or DENIED (reason); then the client sends REQUESTs (24 bytes of
// fields and a tail) and waits for each REPLY (result i64, data). Everything the peer sends passes
// through FrameParser and decodeMessage, which refuse a violation with a ProtocolError whose message
// is the reason the connection is closed. Paths stay bytes (Buffer): Linux names need not be UTF-8.
import crypto from 'node:crypto';
import * as C from '../contract.generated.js';
import { readStruct, structBytes, zeroed } from '../lib/struct.js';

/** Why a peer's bytes break the protocol; the connection is closed with `message` logged */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

export const FRAME_TYPE_NAMES: Record<number, string> = {
  [C.CKPT_SH_HELLO]: 'HELLO', [C.CKPT_SH_AUTH]: 'AUTH', [C.CKPT_SH_WELCOME]: 'WELCOME',
  [C.CKPT_SH_DENIED]: 'DENIED', [C.CKPT_SH_REQUEST]: 'REQUEST', [C.CKPT_SH_REPLY]: 'REPLY',
};

/** Payload bytes a frame of each type needs for its fixed fields */
const MIN_PAYLOAD: Record<number, number> = {
  [C.CKPT_SH_HELLO]: C.CKPT_SH_NONCE, [C.CKPT_SH_AUTH]: C.CKPT_SH_AUTH_SIZE,
  [C.CKPT_SH_WELCOME]: C.CKPT_SH_WELCOME_SIZE, [C.CKPT_SH_DENIED]: 0,
  [C.CKPT_SH_REQUEST]: C.CKPT_SH_RQ_SIZE, [C.CKPT_SH_REPLY]: C.CKPT_SH_RP_SIZE,
};

const HEADER = [
  ['magic', C.CKPT_SH_H_MAGIC, 'u32'], ['version', C.CKPT_SH_H_VERSION, 'u16'], ['type', C.CKPT_SH_H_TYPE, 'u16'],
  ['seq', C.CKPT_SH_H_SEQ, 'u32'], ['length', C.CKPT_SH_H_LENGTH, 'u32'],
] as const;
const AUTH = [['pid', C.CKPT_SH_AUTH_PID, 'u32'], ['kind', C.CKPT_SH_AUTH_KIND, 'u32']] as const;
const REQUEST = [
  ['op', C.CKPT_SH_RQ_OP, 'u32'], ['handle', C.CKPT_SH_RQ_HANDLE, 'u32'], ['flags', C.CKPT_SH_RQ_FLAGS, 'u32'],
  ['count', C.CKPT_SH_RQ_COUNT, 'u32'], ['offset', C.CKPT_SH_RQ_OFFSET, 'u64'],
] as const;

export interface Frame { type: number; seq: number; payload: Buffer }

export type Message =
  | { type: 'hello'; nonce: Buffer; policy: string }
  | { type: 'auth'; nonce: Buffer; mac: Buffer; pid: number; kind: number }
  | { type: 'welcome'; mac: Buffer; session: bigint }
  | { type: 'denied'; reason: string }
  | { type: 'request'; seq: number; request: Request }
  | { type: 'reply'; seq: number; result: bigint; data: Buffer };

/** A request as the job means it. Handles are the numbers OPEN replied; offsets are u64. */
export type Request =
  | { op: 'open'; path: Buffer; flags: number; mode: number }
  | { op: 'close'; handle: number }
  | { op: 'pread'; handle: number; count: number; offset: bigint }
  | { op: 'pwrite'; handle: number; append: boolean; offset: bigint; data: Buffer }
  | { op: 'fstat'; handle: number }
  | { op: 'stat'; path: Buffer; nofollow: boolean }
  | { op: 'access'; path: Buffer; mode: number }
  | { op: 'getdents'; handle: number; count: number; index: bigint }
  | { op: 'mkdir'; path: Buffer; mode: number }
  | { op: 'rmdir'; path: Buffer }
  | { op: 'unlink'; path: Buffer }
  | { op: 'rename'; from: Buffer; to: Buffer; noReplace?: boolean; exchange?: boolean }
  | { op: 'readlink'; path: Buffer }
  | { op: 'ftruncate'; handle: number; length: bigint }
  | { op: 'fsync'; handle: number }
  | { op: 'chdir'; path: Buffer }
  | { op: 'exit'; status: number }
  | { op: 'symlink'; target: Buffer; path: Buffer }
  | { op: 'link'; from: Buffer; to: Buffer; follow: boolean }
  | { op: 'chmod'; path: Buffer; nofollow: boolean; mode: number }
  | { op: 'fchmod'; handle: number; mode: number }
  | { op: 'chown'; path: Buffer; nofollow: boolean; uid: number; gid: number }
  | { op: 'fchown'; handle: number; uid: number; gid: number }
  | { op: 'utimens'; path: Buffer; nofollow: boolean; times: WireTimes }
  | { op: 'futimens'; handle: number; times: WireTimes }
  | { op: 'mknod'; path: Buffer; mode: number; dev: bigint }
  | { op: 'statfs'; path: Buffer }
  | { op: 'fstatfs'; handle: number }
  | { op: 'fallocate'; handle: number; mode: number; offset: bigint; length: bigint }
  | { op: 'copy'; handle: number; count: number; offset: bigint; to: number; toOffset: bigint }
  /** an op this server does not know: answered -ENOSYS, the session goes on */
  | { op: 'unknown'; code: number };

export type Op = Request['op'];

/** UTIMENS times: [atime, mtime], each seconds and nanoseconds; the nanoseconds may be
 *  CKPT_SH_UTIME_NOW or CKPT_SH_UTIME_OMIT */
export type WireTimes = [{ sec: bigint; nsec: bigint }, { sec: bigint; nsec: bigint }];

export const OP_CODES: Record<Exclude<Op, 'unknown'>, number> = {
  open: C.CKPT_SH_OP_OPEN, close: C.CKPT_SH_OP_CLOSE, pread: C.CKPT_SH_OP_PREAD, pwrite: C.CKPT_SH_OP_PWRITE,
  fstat: C.CKPT_SH_OP_FSTAT, stat: C.CKPT_SH_OP_STAT, access: C.CKPT_SH_OP_ACCESS, getdents: C.CKPT_SH_OP_GETDENTS,
  mkdir: C.CKPT_SH_OP_MKDIR, rmdir: C.CKPT_SH_OP_RMDIR, unlink: C.CKPT_SH_OP_UNLINK, rename: C.CKPT_SH_OP_RENAME,
  readlink: C.CKPT_SH_OP_READLINK, ftruncate: C.CKPT_SH_OP_FTRUNCATE, fsync: C.CKPT_SH_OP_FSYNC,
  chdir: C.CKPT_SH_OP_CHDIR, exit: C.CKPT_SH_OP_EXIT, symlink: C.CKPT_SH_OP_SYMLINK, link: C.CKPT_SH_OP_LINK,
  chmod: C.CKPT_SH_OP_CHMOD, fchmod: C.CKPT_SH_OP_FCHMOD, chown: C.CKPT_SH_OP_CHOWN, fchown: C.CKPT_SH_OP_FCHOWN,
  utimens: C.CKPT_SH_OP_UTIMENS, futimens: C.CKPT_SH_OP_FUTIMENS, mknod: C.CKPT_SH_OP_MKNOD, statfs: C.CKPT_SH_OP_STATFS,
  fstatfs: C.CKPT_SH_OP_FSTATFS, fallocate: C.CKPT_SH_OP_FALLOCATE, copy: C.CKPT_SH_OP_COPY,
};
const OP_NAMES = new Map(Object.entries(OP_CODES).map(([name, code]) => [code, name as Exclude<Op, 'unknown'>]));

/** Open flags on the wire: the job's, as Linux x86-64 defines them */
export const WIRE_O = {
  WRONLY: 0o1, RDWR: 0o2, CREAT: 0o100, EXCL: 0o200, NOCTTY: 0o400, TRUNC: 0o1000, APPEND: 0o2000,
  NONBLOCK: 0o4000, DSYNC: 0o10000, DIRECTORY: 0o200000, NOFOLLOW: 0o400000, NOATIME: 0o1000000,
  CLOEXEC: 0o2000000, SYNC: 0o4010000, PATH: 0o10000000, TMPFILE: 0o20200000,
} as const;

// ---- frames ----

/** Reads frames from a byte stream. Each header is checked as soon as its 16 bytes are in, so a
 *  frame over the bound is refused before its payload is buffered. */
export class FrameParser {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** Bytes received and not yet returned as frames */
  get buffered(): number {
    return this.size;
  }

  /** The next whole frame, or undefined until more bytes arrive. `expected`: the frame types the
   *  receiver accepts at this point; any other is a ProtocolError. */
  next(expected: readonly number[]): Frame | undefined {
    if (this.size < C.CKPT_SH_HEADER) return undefined;
    const header = checkHeader(this.peek(C.CKPT_SH_HEADER), expected);
    const total = C.CKPT_SH_HEADER + header.length;
    if (this.size < total) return undefined;
    const bytes = this.take(total);
    return { type: header.type, seq: header.seq, payload: bytes.subarray(C.CKPT_SH_HEADER) };
  }

  private peek(n: number): Buffer {
    if (this.chunks[0].length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0].subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.size = rest.length;
    return all.subarray(0, n);
  }
}

function checkHeader(bytes: Buffer, expected: readonly number[]): { type: number; seq: number; length: number } {
  const h = readStruct(bytes, 0, HEADER);
  if (h.magic !== C.CKPT_SH_MAGIC) throw new ProtocolError(`bad magic 0x${h.magic.toString(16).padStart(8, '0')}`);
  if (h.version !== C.CKPT_SH_VERSION) throw new ProtocolError(`unsupported version ${h.version}`);
  const name = FRAME_TYPE_NAMES[h.type] ?? `type ${h.type}`;
  if (!expected.includes(h.type)) {
    throw new ProtocolError(`unexpected ${name} frame (expected ${expected.map((t) => FRAME_TYPE_NAMES[t]).join(' or ')})`);
  }
  if (h.length > C.CKPT_SH_MAX_PAYLOAD) throw new ProtocolError(`${name} payload of ${h.length} bytes is over ${C.CKPT_SH_MAX_PAYLOAD}`);
  if (h.length < MIN_PAYLOAD[h.type]) throw new ProtocolError(`${name} payload of ${h.length} bytes is shorter than its ${MIN_PAYLOAD[h.type]} bytes of fields`);
  return h;
}

/** A frame of `type` whose payload is `parts` one after another, copied once; the header written
 *  field by field (every reply passes here) */
export function encodeFrame(type: number, seq: number, ...parts: Buffer[]): Buffer {
  let length = 0;
  for (const part of parts) length += part.length;
  if (length > C.CKPT_SH_MAX_PAYLOAD) throw new RangeError(`payload of ${length} bytes is over ${C.CKPT_SH_MAX_PAYLOAD}`);
  const frame = Buffer.allocUnsafe(C.CKPT_SH_HEADER + length);
  frame.fill(0, 0, C.CKPT_SH_HEADER);
  frame.writeUInt32LE(C.CKPT_SH_MAGIC, C.CKPT_SH_H_MAGIC);
  frame.writeUInt16LE(C.CKPT_SH_VERSION, C.CKPT_SH_H_VERSION);
  frame.writeUInt16LE(type, C.CKPT_SH_H_TYPE);
  frame.writeUInt32LE(seq, C.CKPT_SH_H_SEQ);
  frame.writeUInt32LE(length, C.CKPT_SH_H_LENGTH);
  let at = C.CKPT_SH_HEADER;
  for (const part of parts) at += part.copy(frame, at);
  return frame;
}

// ---- messages ----

export function encodeMessage(m: Message): Buffer {
  switch (m.type) {
    case 'hello': return encodeFrame(C.CKPT_SH_HELLO, 0, m.nonce, Buffer.from(m.policy));
    case 'auth': {
      const p = structBytes(C.CKPT_SH_AUTH_SIZE, AUTH, m);
      m.nonce.copy(p, C.CKPT_SH_AUTH_NONCE);
      m.mac.copy(p, C.CKPT_SH_AUTH_MAC);
      return encodeFrame(C.CKPT_SH_AUTH, 0, p);
    }
    case 'welcome': {
      const p = zeroed(C.CKPT_SH_WELCOME_SIZE);
      m.mac.copy(p, C.CKPT_SH_WELCOME_MAC);
      p.writeBigUInt64LE(m.session, C.CKPT_SH_WELCOME_SESSION);
      return encodeFrame(C.CKPT_SH_WELCOME, 0, p);
    }
    case 'denied': return encodeFrame(C.CKPT_SH_DENIED, 0, Buffer.from(m.reason));
    case 'request': return encodeFrame(C.CKPT_SH_REQUEST, m.seq, encodeRequest(m.request));
    case 'reply': {
      const result = zeroed(C.CKPT_SH_RP_SIZE);
      result.writeBigInt64LE(m.result, C.CKPT_SH_RP_RESULT);
      return encodeFrame(C.CKPT_SH_REPLY, m.seq, result, m.data);
    }
  }
}

/** The message a frame carries. The parser has already checked its type and minimum size. */
export function decodeMessage(f: Frame): Message {
  const p = f.payload;
  switch (f.type) {
    case C.CKPT_SH_HELLO: return { type: 'hello', nonce: p.subarray(0, C.CKPT_SH_NONCE), policy: p.subarray(C.CKPT_SH_NONCE).toString() };
    case C.CKPT_SH_AUTH: return {
      type: 'auth', nonce: p.subarray(C.CKPT_SH_AUTH_NONCE, C.CKPT_SH_AUTH_NONCE + C.CKPT_SH_NONCE),
      mac: p.subarray(C.CKPT_SH_AUTH_MAC, C.CKPT_SH_AUTH_MAC + C.CKPT_SH_MAC), ...readStruct(p, 0, AUTH),
    };
    case C.CKPT_SH_WELCOME: return {
      type: 'welcome', mac: p.subarray(C.CKPT_SH_WELCOME_MAC, C.CKPT_SH_WELCOME_MAC + C.CKPT_SH_MAC),
      session: p.readBigUInt64LE(C.CKPT_SH_WELCOME_SESSION),
    };
    case C.CKPT_SH_DENIED: return { type: 'denied', reason: p.toString() };
    case C.CKPT_SH_REQUEST: return { type: 'request', seq: f.seq, request: decodeRequest(p) };
    case C.CKPT_SH_REPLY: return { type: 'reply', seq: f.seq, result: p.readBigInt64LE(C.CKPT_SH_RP_RESULT), data: p.subarray(C.CKPT_SH_RP_SIZE) };
    default: throw new ProtocolError(`unknown frame type ${f.type}`);
  }
}

// ---- requests ----

interface RequestFields { op: number; handle: number; flags: number; count: number; offset: bigint; tail: Buffer }

const NO_FIELDS = { handle: 0, flags: 0, count: 0, offset: 0n, tail: Buffer.alloc(0) };

function fieldsOf(r: Request): Omit<RequestFields, 'op'> {
  switch (r.op) {
    case 'open': return { ...NO_FIELDS, flags: r.flags, count: r.mode, tail: pathTail(r.path) };
    case 'close': case 'fstat': case 'fsync': return { ...NO_FIELDS, handle: r.handle };
    case 'pread': return { ...NO_FIELDS, handle: r.handle, count: r.count, offset: r.offset };
    case 'pwrite': return { ...NO_FIELDS, handle: r.handle, flags: r.append ? C.CKPT_SH_APPEND : 0, offset: r.offset, tail: r.data };
    case 'stat': return { ...NO_FIELDS, flags: r.nofollow ? C.CKPT_SH_NOFOLLOW : 0, tail: pathTail(r.path) };
    case 'access': case 'mkdir': return { ...NO_FIELDS, count: r.mode, tail: pathTail(r.path) };
    case 'getdents': return { ...NO_FIELDS, handle: r.handle, count: r.count, offset: r.index };
    case 'rmdir': case 'unlink': case 'readlink': case 'chdir': return { ...NO_FIELDS, tail: pathTail(r.path) };
    case 'rename': return {
      ...NO_FIELDS, flags: (r.noReplace ? C.CKPT_SH_NOREPLACE : 0) | (r.exchange ? C.CKPT_SH_EXCHANGE : 0),
      tail: Buffer.concat([pathTail(r.from), pathTail(r.to)]),
    };
    case 'symlink': return { ...NO_FIELDS, tail: Buffer.concat([pathTail(r.target), pathTail(r.path)]) };
    case 'link': return { ...NO_FIELDS, flags: r.follow ? C.CKPT_SH_FOLLOW : 0, tail: Buffer.concat([pathTail(r.from), pathTail(r.to)]) };
    case 'chmod': return { ...NO_FIELDS, flags: r.nofollow ? C.CKPT_SH_NOFOLLOW : 0, count: r.mode, tail: pathTail(r.path) };
    case 'fchmod': return { ...NO_FIELDS, handle: r.handle, count: r.mode };
    case 'chown': return { ...NO_FIELDS, flags: r.nofollow ? C.CKPT_SH_NOFOLLOW : 0, count: r.uid, offset: BigInt(r.gid), tail: pathTail(r.path) };
    case 'fchown': return { ...NO_FIELDS, handle: r.handle, count: r.uid, offset: BigInt(r.gid) };
    case 'utimens': return { ...NO_FIELDS, flags: r.nofollow ? C.CKPT_SH_NOFOLLOW : 0, tail: Buffer.concat([encodeTimes(r.times), pathTail(r.path)]) };
    case 'futimens': return { ...NO_FIELDS, handle: r.handle, tail: encodeTimes(r.times) };
    case 'mknod': return { ...NO_FIELDS, count: r.mode, offset: r.dev, tail: pathTail(r.path) };
    case 'statfs': return { ...NO_FIELDS, tail: pathTail(r.path) };
    case 'fstatfs': return { ...NO_FIELDS, handle: r.handle };
    case 'fallocate': {
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(r.length);
      return { ...NO_FIELDS, handle: r.handle, flags: r.mode, offset: r.offset, tail: len };
    }
    case 'copy': {
      const tail = zeroed(C.CKPT_SH_COPY_SIZE);
      tail.writeUInt32LE(r.to, C.CKPT_SH_COPY_TO);
      tail.writeBigUInt64LE(r.toOffset, C.CKPT_SH_COPY_AT);
      return { ...NO_FIELDS, handle: r.handle, count: r.count, offset: r.offset, tail };
    }
    case 'ftruncate': return { ...NO_FIELDS, handle: r.handle, offset: r.length };
    case 'exit': return { ...NO_FIELDS, count: r.status };
    case 'unknown': return NO_FIELDS;
  }
}

export function encodeRequest(r: Request): Buffer {
  const { tail, ...fields } = fieldsOf(r);
  const op = r.op === 'unknown' ? r.code : OP_CODES[r.op];
  return Buffer.concat([structBytes(C.CKPT_SH_RQ_SIZE, REQUEST, { op, ...fields }), tail]);
}

export function decodeRequest(payload: Buffer): Request {
  const { op: code, handle, flags, count, offset } = readStruct(payload, 0, REQUEST);
  const tail = payload.subarray(C.CKPT_SH_RQ_SIZE);
  const op = OP_NAMES.get(code);
  const path = () => onePath(tail, op!);
  switch (op) {
    case 'open': return { op, path: path(), flags, mode: count };
    case 'close': case 'fstat': case 'fsync': return { op, handle };
    case 'pread': return { op, handle, count, offset };
    case 'pwrite':
      if (tail.length > C.CKPT_SH_MAX_DATA) throw new ProtocolError(`PWRITE of ${tail.length} bytes is over ${C.CKPT_SH_MAX_DATA}`);
      return { op, handle, append: (flags & C.CKPT_SH_APPEND) !== 0, offset, data: tail };
    case 'stat': return { op, path: path(), nofollow: (flags & C.CKPT_SH_NOFOLLOW) !== 0 };
    case 'access': case 'mkdir': return { op, path: path(), mode: count };
    case 'getdents': return { op, handle, count, index: offset };
    case 'rmdir': case 'unlink': case 'readlink': case 'chdir': return { op, path: path() };
    case 'rename': {
      const [from, to] = paths(tail, 2, op);
      return { op, from, to, noReplace: (flags & C.CKPT_SH_NOREPLACE) !== 0, exchange: (flags & C.CKPT_SH_EXCHANGE) !== 0 };
    }
    case 'symlink': {
      const [target, path] = paths(tail, 2, op);
      return { op, target, path };
    }
    case 'link': {
      const [from, to] = paths(tail, 2, op);
      return { op, from, to, follow: (flags & C.CKPT_SH_FOLLOW) !== 0 };
    }
    case 'chmod': return { op, path: path(), nofollow: (flags & C.CKPT_SH_NOFOLLOW) !== 0, mode: count };
    case 'fchmod': return { op, handle, mode: count };
    case 'chown': return { op, path: path(), nofollow: (flags & C.CKPT_SH_NOFOLLOW) !== 0, uid: count, gid: Number(offset & 0xffffffffn) };
    case 'fchown': return { op, handle, uid: count, gid: Number(offset & 0xffffffffn) };
    case 'utimens': {
      const times = fixedPart(tail, C.CKPT_SH_TIMES_SIZE, op);
      return { op, times: decodeTimes(times), nofollow: (flags & C.CKPT_SH_NOFOLLOW) !== 0, path: onePath(tail.subarray(C.CKPT_SH_TIMES_SIZE), op) };
    }
    case 'futimens': return { op, handle, times: decodeTimes(exactly(tail, C.CKPT_SH_TIMES_SIZE, op)) };
    case 'mknod': return { op, path: path(), mode: count, dev: offset };
    case 'statfs': return { op, path: path() };
    case 'fstatfs': return { op, handle };
    case 'fallocate': return { op, handle, mode: flags, offset, length: exactly(tail, 8, op).readBigUInt64LE(0) };
    case 'copy': {
      const t = exactly(tail, C.CKPT_SH_COPY_SIZE, op);
      return { op, handle, count, offset, to: t.readUInt32LE(C.CKPT_SH_COPY_TO), toOffset: t.readBigUInt64LE(C.CKPT_SH_COPY_AT) };
    }
    case 'ftruncate': return { op, handle, length: offset };
    case 'exit': return { op, status: count };
    case undefined: return { op: 'unknown', code };
  }
}

const NUL = Buffer.from([0]);

/** The first `n` bytes of a tail that goes on after them */
function fixedPart(tail: Buffer, n: number, op: Op): Buffer {
  if (tail.length < n) throw new ProtocolError(`${op.toUpperCase()} tail of ${tail.length} bytes is shorter than its ${n} bytes of fields`);
  return tail.subarray(0, n);
}

/** A tail of exactly `n` bytes */
function exactly(tail: Buffer, n: number, op: Op): Buffer {
  if (tail.length !== n) throw new ProtocolError(`${op.toUpperCase()} tail of ${tail.length} bytes is not ${n}`);
  return tail;
}

function encodeTimes(t: WireTimes): Buffer {
  const b = zeroed(C.CKPT_SH_TIMES_SIZE);
  t.forEach((x, i) => {
    b.writeBigInt64LE(x.sec, 16 * i);
    b.writeBigUInt64LE(x.nsec, 16 * i + 8);
  });
  return b;
}

function decodeTimes(b: Buffer): WireTimes {
  const one = (i: number) => ({ sec: b.readBigInt64LE(16 * i), nsec: b.readBigUInt64LE(16 * i + 8) });
  return [one(0), one(1)];
}

function pathTail(path: Buffer): Buffer {
  return Buffer.concat([path, NUL]);
}

function onePath(tail: Buffer, op: Op): Buffer {
  return paths(tail, 1, op)[0];
}

/** Exactly `n` NUL-terminated paths, each within CKPT_SH_MAX_PATH with its NUL, and nothing after */
function paths(tail: Buffer, n: number, op: Op): Buffer[] {
  const out: Buffer[] = [];
  let at = 0;
  for (let i = 0; i < n; i++) {
    const nul = tail.indexOf(0, at);
    if (nul < 0) throw new ProtocolError(`${op.toUpperCase()} path ${i + 1} is not NUL-terminated`);
    if (nul - at + 1 > C.CKPT_SH_MAX_PATH) throw new ProtocolError(`${op.toUpperCase()} path of ${nul - at + 1} bytes is over ${C.CKPT_SH_MAX_PATH}`);
    out.push(tail.subarray(at, nul));
    at = nul + 1;
  }
  if (at !== tail.length) throw new ProtocolError(`${op.toUpperCase()} has ${tail.length - at} bytes after its path${n > 1 ? 's' : ''}`);
  return out;
}

// ---- reply data ----

/** x86-64 `struct stat` as the kernel fills it (CKPT_SH_STAT_SIZE bytes, offsets from the contract);
 *  the signed fields (size, blocks, times) are written as their two's complement. */
const STAT = [
  ['dev', C.CKPT_SH_STAT_DEV, 'u64'], ['ino', C.CKPT_SH_STAT_INO, 'u64'], ['nlink', C.CKPT_SH_STAT_NLINK, 'u64'],
  ['mode', C.CKPT_SH_STAT_MODE, 'u32'], ['uid', C.CKPT_SH_STAT_UID, 'u32'], ['gid', C.CKPT_SH_STAT_GID, 'u32'],
  ['rdev', C.CKPT_SH_STAT_RDEV, 'u64'], ['size', C.CKPT_SH_STAT_SZ, 'u64'], ['blksize', C.CKPT_SH_STAT_BLKSIZE, 'u64'],
  ['blocks', C.CKPT_SH_STAT_BLOCKS, 'u64'],
  ['atime', C.CKPT_SH_STAT_ATIME, 'u64'], ['atimeNsec', C.CKPT_SH_STAT_ATIME + 8, 'u64'],
  ['mtime', C.CKPT_SH_STAT_MTIME, 'u64'], ['mtimeNsec', C.CKPT_SH_STAT_MTIME + 8, 'u64'],
  ['ctime', C.CKPT_SH_STAT_CTIME, 'u64'], ['ctimeNsec', C.CKPT_SH_STAT_CTIME + 8, 'u64'],
] as const;

export interface WireStat {
  dev: bigint; ino: bigint; nlink: bigint; mode: number; uid: number; gid: number; rdev: bigint;
  size: bigint; blksize: bigint; blocks: bigint;
  atime: bigint; atimeNsec: bigint; mtime: bigint; mtimeNsec: bigint; ctime: bigint; ctimeNsec: bigint;
}

/** What encodeStat needs of a node:fs BigIntStats */
export interface StatSource {
  dev: bigint; ino: bigint; nlink: bigint; mode: bigint; uid: bigint; gid: bigint; rdev: bigint;
  size: bigint; blksize: bigint; blocks: bigint; atimeNs: bigint; mtimeNs: bigint; ctimeNs: bigint;
}

const NS = 1_000_000_000n;
const STAT_AT = Object.fromEntries(STAT.map(([name, at]) => [name, at])) as Record<(typeof STAT)[number][0], number>;

/** The kernel's struct stat of `st`, written field by field through a DataView (native 64-bit
 *  stores): it is in every STAT and FSTAT reply, and writeStruct, whose Buffer.writeBigUInt64LE
 *  splits each value with BigInt arithmetic, took 2.3-2.6 us for it here, this about 1 us */
export function encodeStat(st: StatSource): Buffer {
  const out = zeroed(C.CKPT_SH_STAT_SIZE);
  const v = new DataView(out.buffer, out.byteOffset, out.length), at = 0;
  v.setBigUint64(at + STAT_AT.dev, st.dev, true);
  v.setBigUint64(at + STAT_AT.ino, st.ino, true);
  v.setBigUint64(at + STAT_AT.nlink, st.nlink, true);
  v.setUint32(at + STAT_AT.mode, Number(st.mode), true);
  v.setUint32(at + STAT_AT.uid, Number(st.uid), true);
  v.setUint32(at + STAT_AT.gid, Number(st.gid), true);
  v.setBigUint64(at + STAT_AT.rdev, st.rdev, true);
  v.setBigInt64(at + STAT_AT.size, st.size, true);
  v.setBigInt64(at + STAT_AT.blksize, st.blksize, true);
  v.setBigInt64(at + STAT_AT.blocks, st.blocks, true);
  for (const [ns, sec, nsec] of [[st.atimeNs, STAT_AT.atime, STAT_AT.atimeNsec], [st.mtimeNs, STAT_AT.mtime, STAT_AT.mtimeNsec], [st.ctimeNs, STAT_AT.ctime, STAT_AT.ctimeNsec]] as const) {
    // seconds rounded down and 0..999999999 nanoseconds, also before 1970
    const n = ((ns % NS) + NS) % NS;
    v.setBigInt64(at + sec, (ns - n) / NS, true);
    v.setBigUint64(at + nsec, n, true);
  }
  return out;
}

export function decodeStat(data: Buffer): WireStat {
  if (data.length < C.CKPT_SH_STAT_SIZE) throw new ProtocolError(`struct stat of ${data.length} bytes, not ${C.CKPT_SH_STAT_SIZE}`);
  const s = readStruct(data, 0, STAT);
  const i64 = (v: bigint) => BigInt.asIntN(64, v);
  return { ...s, size: i64(s.size), blksize: i64(s.blksize), blocks: i64(s.blocks), atime: i64(s.atime), mtime: i64(s.mtime), ctime: i64(s.ctime) };
}

/** One `linux_dirent64`: d_ino u64, d_off i64, d_reclen u16, d_type u8, d_name NUL-terminated,
 *  the record padded to CKPT_SH_DIRENT_ALIGN bytes (offsets from the contract) */
export interface Dirent { ino: bigint; off: bigint; type: number; name: Buffer }

export function direntSize(nameLength: number): number {
  const align = C.CKPT_SH_DIRENT_ALIGN;
  return Math.ceil((C.CKPT_SH_DIRENT_NAME + nameLength + 1) / align) * align;
}

export function encodeDirent(d: Dirent): Buffer {
  const rec = zeroed(direntSize(d.name.length));
  rec.writeBigUInt64LE(d.ino, C.CKPT_SH_DIRENT_INO);
  rec.writeBigInt64LE(d.off, C.CKPT_SH_DIRENT_OFF);
  rec.writeUInt16LE(rec.length, C.CKPT_SH_DIRENT_RECLEN);
  rec.writeUInt8(d.type, C.CKPT_SH_DIRENT_TYPE);
  d.name.copy(rec, C.CKPT_SH_DIRENT_NAME);
  return rec;
}

export function decodeDirents(data: Buffer): Dirent[] {
  const out: Dirent[] = [];
  for (let at = 0; at < data.length;) {
    if (data.length - at < C.CKPT_SH_DIRENT_NAME) throw new ProtocolError(`dirent record at ${at} is truncated`);
    const reclen = data.readUInt16LE(at + C.CKPT_SH_DIRENT_RECLEN);
    if (reclen < C.CKPT_SH_DIRENT_NAME + 1 || reclen % C.CKPT_SH_DIRENT_ALIGN !== 0 || at + reclen > data.length) throw new ProtocolError(`dirent record at ${at} has length ${reclen}`);
    const name = data.subarray(at + C.CKPT_SH_DIRENT_NAME, at + reclen);
    out.push({
      ino: data.readBigUInt64LE(at + C.CKPT_SH_DIRENT_INO), off: data.readBigInt64LE(at + C.CKPT_SH_DIRENT_OFF),
      type: data.readUInt8(at + C.CKPT_SH_DIRENT_TYPE), name: name.subarray(0, name.indexOf(0)),
    });
    at += reclen;
  }
  return out;
}

// ---- authentication ----

export const AUTH_LABEL = C.CKPT_SH_AUTH_LABEL;
export const WELCOME_LABEL = C.CKPT_SH_WELCOME_LABEL;

const CR = 0x0d, LF = 0x0a;

/** The key: the token file's bytes without the CR and LF bytes at its end, however many (the
 *  contract's rule, which the runtime follows too: a file saved with CRLF line ends works) */
export function tokenFromFile(bytes: Buffer): Buffer {
  let end = bytes.length;
  while (end > 0 && (bytes[end - 1] === CR || bytes[end - 1] === LF)) end--;
  return bytes.subarray(0, end);
}

/** The client's MAC: HMAC-SHA256(token, label | server nonce | client nonce | pid u32 LE) */
export function authMac(token: Buffer, serverNonce: Buffer, clientNonce: Buffer, pid: number): Buffer {
  const p = zeroed(4);
  p.writeUInt32LE(pid);
  return crypto.createHmac('sha256', token).update(AUTH_LABEL).update(serverNonce).update(clientNonce).update(p).digest();
}

/** The server's MAC: HMAC-SHA256(token, label | client nonce | server nonce) */
export function welcomeMac(token: Buffer, clientNonce: Buffer, serverNonce: Buffer): Buffer {
  return crypto.createHmac('sha256', token).update(WELCOME_LABEL).update(clientNonce).update(serverNonce).digest();
}

/** Compares in constant time */
export function macEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

export function kindName(kind: number): string {
  const base = kind & ~C.CKPT_SH_KIND_AGAIN;
  const name = base === C.CKPT_SH_KIND_JOB ? 'JOB' : base === C.CKPT_SH_KIND_CHILD ? 'CHILD' : `kind ${base}`;
  return kind & C.CKPT_SH_KIND_AGAIN ? `${name}|AGAIN` : name;
}

/** What `struct statfs` carries that the server can know (fs.statfs) */
export interface StatFsLikeWire { type: bigint; bsize: bigint; blocks: bigint; bfree: bigint; bavail: bigint; files: bigint; ffree: bigint }

const ST_VALID = 0x20n;
const NAME_MAX = 255n;

/** x86-64 `struct statfs` (CKPT_SH_STATFS_SIZE bytes): no fsid (zero), f_frsize is f_bsize, f_namelen
 *  is Linux's NAME_MAX, f_flags says only that the flags are valid (ST_VALID): Node does not give them */
export function encodeStatfs(st: StatFsLikeWire): Buffer {
  const b = zeroed(C.CKPT_SH_STATFS_SIZE);
  const put = (v: bigint, at: number) => b.writeBigInt64LE(v, at);
  put(st.type, C.CKPT_SH_STATFS_TYPE);
  put(st.bsize, C.CKPT_SH_STATFS_BSIZE);
  put(st.blocks, C.CKPT_SH_STATFS_BLOCKS);
  put(st.bfree, C.CKPT_SH_STATFS_BFREE);
  put(st.bavail, C.CKPT_SH_STATFS_BAVAIL);
  put(st.files, C.CKPT_SH_STATFS_FILES);
  put(st.ffree, C.CKPT_SH_STATFS_FFREE);
  put(NAME_MAX, C.CKPT_SH_STATFS_NAMELEN);
  put(st.bsize, C.CKPT_SH_STATFS_FRSIZE);
  put(ST_VALID, C.CKPT_SH_STATFS_FLAGS);
  return b;
}
