// One connection, one session (docs/shadow-protocol.md): the challenge and response, then the job
// process's requests, one at a time, each answered before the next is read. The session owns its
// handle table (handle → open file); everything it opened is closed when the connection ends. A
// violation of the protocol closes this connection only, with the reason logged; a failed file
// operation is the job's -errno, never an exception that leaves the session.
import crypto from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import type net from 'node:net';
import os from 'node:os';
import * as C from '../contract.generated.js';
import { zeroed } from '../lib/struct.js';
import { ConfinedRoot, ErrnoError, futimens, type ListEntry, type StatFsLike } from './confine.js';
import {
  FrameParser, ProtocolError, WIRE_O, authMac, decodeMessage, encodeDirent, encodeMessage, encodeStat, encodeStatfs,
  direntSize, kindName, macEqual, welcomeMac, type Frame, type Request,
} from './protocol.js';

export interface SessionContext {
  root: ConfinedRoot;
  token: Buffer;
  /** The HELLO policy text */
  policy: string;
  /** How long an unauthenticated peer may hold a connection */
  authTimeoutMs: number;
  /** One event, one line (stderr) */
  log(line: string): void;
  /** A job's exit (stdout) */
  print(line: string): void;
}

interface OpenFile {
  file: FileHandle;
  /** the job's path, for log lines */
  path: string;
  /** the job's open flags (wire values) */
  flags: number;
  /** opened O_APPEND: the kernel puts every write through `file` at the end */
  append: boolean;
  /** the same file without O_APPEND, opened for the first write at an offset to an O_APPEND file */
  positional?: FileHandle;
  /** `dev:ino`, the key that orders appends to the file */
  inode?: string;
  /** a directory's entries as GETDENTS last listed them, from index 0 */
  listing?: ListEntry[];
}

interface Outcome { result: bigint; data?: Buffer }

/** Open files a session may hold; one more answers EMFILE */
const MAX_HANDLES = 1024;
/** Bytes read ahead of the request in hand before the socket is paused */
const READ_AHEAD = C.CKPT_SH_HEADER + C.CKPT_SH_MAX_PAYLOAD;
const INT64_END = 1n << 63n;
const ERRNO = os.constants.errno as Record<string, number>;

export class Session {
  private readonly parser = new FrameParser();
  private readonly serverNonce = crypto.randomBytes(C.CKPT_SH_NONCE);
  private state: 'auth' | 'serving' | 'closed' = 'auth';
  private readonly handles = new Map<number, OpenFile>();
  private nextHandle = 1;
  private busy = false;
  private authTimer?: NodeJS.Timeout;
  private kind = 0;
  private pid = 0;
  private readonly peer: string;
  private closedCallback?: () => void;

  constructor(private readonly socket: net.Socket, readonly id: bigint, private readonly ctx: SessionContext) {
    this.peer = `${socket.remoteAddress}:${socket.remotePort}`;
  }

  /** Sends HELLO and serves the connection; `onClosed` runs once the session has let go of everything */
  start(onClosed: () => void): void {
    this.closedCallback = onClosed;
    this.log(`connected from ${this.peer}`);
    this.socket.setNoDelay(true);
    this.socket.setKeepAlive(true, 60_000);
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('end', () => this.close('the peer closed the connection'));
    this.socket.on('error', (e) => this.close(`socket error: ${e.message}`));
    this.socket.on('close', () => this.close('connection lost'));
    this.authTimer = setTimeout(() => this.close(`no AUTH within ${this.ctx.authTimeoutMs / 1000} s`), this.ctx.authTimeoutMs);
    this.socket.write(encodeMessage({ type: 'hello', nonce: this.serverNonce, policy: this.ctx.policy }));
  }

  /** Ends the session (once): logs why, sends `last` if given, and closes its files */
  close(reason: string, last?: Buffer): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    clearTimeout(this.authTimer);
    this.log(`closed: ${reason}`);
    if (last) {
      this.socket.end(last);
      setTimeout(() => this.socket.destroy(), 1000).unref(); // a peer that does not close its side
    } else {
      this.socket.destroy();
    }
    if (!this.busy) void this.release();
  }

  private log(line: string): void {
    this.ctx.log(`session ${this.id}: ${line}`);
  }

  private received(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.parser.push(chunk);
    if (this.busy && this.parser.buffered > READ_AHEAD) this.socket.pause();
    void this.pump();
  }

  /** Handles the frames received, one after another; only one pump runs at a time */
  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (let frame; this.state !== 'closed' && (frame = this.parser.next(this.state === 'auth' ? [C.CKPT_SH_AUTH] : [C.CKPT_SH_REQUEST]));) {
        if (this.state === 'auth') this.authenticate(frame);
        else {
          const waiting = this.serve(frame);
          if (waiting) await waiting;
        }
      }
    } catch (e) {
      this.close(e instanceof ProtocolError ? e.message : `internal error: ${(e as Error).message}`);
    } finally {
      this.busy = false;
      if (this.state === 'closed') void this.release();
      else this.socket.resume();
    }
  }

  private authenticate(frame: Frame): void {
    const m = decodeMessage(frame);
    if (m.type !== 'auth') throw new ProtocolError(`unexpected ${m.type}`);
    const deny = (reason: string) => {
      this.log(`authentication failed (pid ${m.pid}, ${kindName(m.kind)}): ${reason}`);
      this.close(`denied: ${reason}`, encodeMessage({ type: 'denied', reason }));
    };
    if (!macEqual(authMac(this.ctx.token, this.serverNonce, m.nonce, m.pid), m.mac)) return deny('bad MAC');
    const base = m.kind & ~C.CKPT_SH_KIND_AGAIN;
    if (base !== C.CKPT_SH_KIND_JOB && base !== C.CKPT_SH_KIND_CHILD) return deny(`unknown kind ${m.kind}`);
    clearTimeout(this.authTimer);
    this.state = 'serving';
    this.pid = m.pid;
    this.kind = m.kind;
    this.log(`authenticated: pid ${m.pid}, ${kindName(m.kind)}`);
    this.socket.write(encodeMessage({ type: 'welcome', mac: welcomeMac(this.ctx.token, m.nonce, this.serverNonce), session: this.id }));
  }

  /** Answers one request; returns a promise only when the answer has to wait (a file system call
   *  in libuv's pool, a full socket): a stat answered on the event loop goes out at once */
  private serve(frame: Frame): Promise<void> | undefined {
    const m = decodeMessage(frame);
    if (m.type !== 'request') throw new ProtocolError(`unexpected ${m.type}`);
    let outcome: Outcome | Promise<Outcome>;
    try {
      outcome = this.execute(m.request);
    } catch (e) {
      outcome = this.failure(e, m.request);
    }
    if (outcome instanceof Promise) return outcome.catch((e) => this.failure(e, m.request)).then((o) => this.reply(m.seq, o));
    return this.reply(m.seq, outcome);
  }

  private failure(e: unknown, r: Request): Outcome {
    return { result: BigInt(-this.errno(e, r)) };
  }

  private reply(seq: number, outcome: Outcome): Promise<void> | undefined {
    if (this.state === 'closed') return undefined;
    if (this.socket.write(encodeMessage({ type: 'reply', seq, result: outcome.result, data: outcome.data ?? EMPTY }))) return undefined;
    return this.drained();
  }

  /** The errno a failed request answers; refusals and unexpected faults are logged */
  private errno(e: unknown, r: Request): number {
    const code = (e as NodeJS.ErrnoException).code;
    if (e instanceof ErrnoError && code === 'EACCES') this.log(`refused ${r.op}: ${e.message}`);
    const n = code === undefined ? undefined : ERRNO[code];
    if (n !== undefined) return n;
    this.log(`${r.op} failed: ${(e as Error).message}`);
    return ERRNO.EIO;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off('drain', done).off('close', done);
        resolve();
      };
      this.socket.on('drain', done).on('close', done);
    });
  }

  private async release(): Promise<void> {
    const files = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(files.map(closeFile));
    const cb = this.closedCallback;
    this.closedCallback = undefined;
    cb?.();
  }

  private execute(r: Request): Outcome | Promise<Outcome> {
    const root = this.ctx.root;
    switch (r.op) {
      case 'open': return this.open(r.path, r.flags, r.mode);
      case 'close': return this.closeHandle(r.handle);
      case 'pread': return this.pread(this.handle(r.handle), r.count, r.offset);
      case 'pwrite': return this.pwrite(this.handle(r.handle), r.append, r.offset, r.data);
      case 'fstat': return this.handle(r.handle).file.stat({ bigint: true }).then(statOutcome);
      case 'stat': {
        const now = root.statNow(r.path, r.nofollow);
        return now ? statOutcome(now) : root.stat(r.path, r.nofollow).then(statOutcome);
      }
      case 'access': return root.access(r.path, r.mode).then(ok);
      case 'getdents': return this.getdents(this.handle(r.handle), r.count, r.index);
      case 'mkdir': return root.mkdir(r.path, r.mode & 0o7777).then(ok);
      case 'rmdir': return root.rmdir(r.path).then(ok);
      case 'unlink': return root.unlink(r.path).then(ok);
      case 'rename': return this.rename(r.from, r.to, r.noReplace, r.exchange);
      case 'readlink': return root.readlink(r.path).then((target) => ({ result: BigInt(target.length), data: target }));
      case 'ftruncate': return this.ftruncate(this.handle(r.handle), r.length);
      case 'fsync': return this.handle(r.handle).file.sync().then(ok);
      case 'chdir': return root.chdir(r.path).then(ok);
      case 'exit': return Promise.resolve(this.exited(r.status));
      case 'symlink': return root.symlink(r.target, r.path).then(ok);
      case 'link': return root.link(r.from, r.to, r.follow).then(ok);
      case 'chmod': return root.chmod(r.path, r.mode & 0o7777, r.nofollow).then(ok);
      case 'fchmod': return this.handle(r.handle).file.chmod(r.mode & 0o7777).then(ok);
      case 'chown': return root.chown(r.path, ownerId(r.uid), ownerId(r.gid), r.nofollow).then(ok);
      case 'fchown': return this.handle(r.handle).file.chown(ownerId(r.uid), ownerId(r.gid)).then(ok);
      case 'utimens': return root.utimens(r.path, r.times, r.nofollow).then(ok);
      case 'futimens': return futimens(this.handle(r.handle).file, r.times).then(ok);
      case 'mknod': return root.mknod(r.path, r.mode, r.dev).then(ok);
      case 'statfs': return root.statfs(r.path).then(statfsOutcome);
      case 'fstatfs': return root.statfsOf(this.handle(r.handle).file).then(statfsOutcome);
      case 'fallocate': return this.fallocate(this.handle(r.handle), r.mode, r.offset, r.length);
      case 'copy': return this.copy(this.handle(r.handle), r.count, r.offset, this.handle(r.to), r.toOffset);
      case 'unknown': return Promise.reject(new ErrnoError('ENOSYS', `op ${r.code}`));
    }
  }

  private handle(n: number): OpenFile {
    const h = this.handles.get(n);
    if (!h) throw new ErrnoError('EBADF', `handle ${n}`);
    return h;
  }

  private async open(path: Buffer, flags: number, mode: number): Promise<Outcome> {
    if (this.handles.size >= MAX_HANDLES) throw new ErrnoError('EMFILE', `${MAX_HANDLES} files open`);
    const file = await this.ctx.root.open(path, flags, mode & 0o7777);
    if (this.state === 'closed') {
      await file.close();
      return ok();
    }
    const n = this.nextHandle++;
    this.handles.set(n, { file, path: path.toString(), flags, append: (flags & WIRE_O.APPEND) !== 0 });
    return { result: BigInt(n) };
  }

  private async closeHandle(n: number): Promise<Outcome> {
    const h = this.handle(n);
    this.handles.delete(n);
    await Promise.all([h.file.close(), h.positional?.close()]);
    return ok();
  }

  private async pread(h: OpenFile, count: number, offset: bigint): Promise<Outcome> {
    if (offset >= INT64_END) throw new ErrnoError('EINVAL', `offset ${offset}`);
    // a short read, as the kernel may give: the client asks again for the rest
    const want = Math.min(count, C.CKPT_SH_MAX_DATA);
    if (want === 0 || offset > BigInt(Number.MAX_SAFE_INTEGER)) return ok();
    const buf = Buffer.allocUnsafe(want);
    const { bytesRead } = await h.file.read(buf, 0, want, Number(offset));
    return { result: BigInt(bytesRead), data: buf.subarray(0, bytesRead) };
  }

  /** Writes all of `data` (unless the file takes no more); replies the count and the offset after.
   *  An APPEND lands at the file's end: placed by the kernel on a file opened O_APPEND, else at the
   *  size fstat gives. Appends to one file are made one at a time, so the end each one replies is its
   *  own even when other sessions append too. A write at an offset to a file opened O_APPEND (a
   *  client making an append again after a lost connection) goes through a descriptor without
   *  O_APPEND, since Linux's pwrite would append all the same. */
  private async pwrite(h: OpenFile, append: boolean, offset: bigint, data: Buffer): Promise<Outcome> {
    if (offset >= INT64_END) throw new ErrnoError('EINVAL', `offset ${offset}`);
    if (!append) {
      if (h.append) h.positional ??= await this.ctx.root.openAgain(h.file, h.flags & ~WIRE_O.APPEND);
      const done = await writeAll(h.positional ?? h.file, data, offset);
      return { result: BigInt(done), data: u64(offset + BigInt(done)) };
    }
    h.inode ??= await h.file.stat({ bigint: true }).then((st) => `${st.dev}:${st.ino}`);
    return oneAtATime(h.inode, async () => {
      const start = h.append ? null : (await h.file.stat({ bigint: true })).size;
      const done = await writeAll(h.file, data, start);
      const end = start === null ? (await h.file.stat({ bigint: true })).size : start + BigInt(done);
      return { result: BigInt(done), data: u64(end) };
    });
  }

  private async ftruncate(h: OpenFile, length: bigint): Promise<Outcome> {
    if (length >= INT64_END) throw new ErrnoError('EINVAL', `length ${length}`);
    if (length > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError('EFBIG', `length ${length}`);
    await h.file.truncate(Number(length));
    return ok();
  }

  /** linux_dirent64 records from entry `index` on, as many as fit in `count` bytes. Index 0 lists
   *  the directory afresh (rewinddir); later indexes read the same listing. */
  private async getdents(h: OpenFile, count: number, index: bigint): Promise<Outcome> {
    if (!h.listing || index === 0n) {
      if (!(await h.file.stat()).isDirectory()) throw new ErrnoError('ENOTDIR', h.path);
      h.listing = await this.ctx.root.list(h.file);
    }
    const room = Math.min(count, C.CKPT_SH_MAX_DATA);
    const records: Buffer[] = [];
    let size = 0;
    for (let i = Number(index < BigInt(h.listing.length) ? index : h.listing.length); i < h.listing.length; i++) {
      const e = h.listing[i];
      if (size + direntSize(e.name.length) > room) break;
      const rec = encodeDirent({ ino: e.ino, off: BigInt(i + 1), type: e.type, name: e.name });
      records.push(rec);
      size += rec.length;
    }
    if (records.length === 0 && index < BigInt(h.listing.length)) throw new ErrnoError('EINVAL', `a ${count}-byte buffer holds no entry`);
    return { result: BigInt(size), data: Buffer.concat(records) };
  }

  /** fallocate: the size it asks for (mode 0), or nothing (KEEP_SIZE); the blocks themselves are
   *  the server's file system's to allocate when written. Other modes (holes, ranges) are not the
   *  shadow's: EOPNOTSUPP, as from a file system without them. */
  private async fallocate(h: OpenFile, mode: number, offset: bigint, length: bigint): Promise<Outcome> {
    if (mode & ~FALLOC_FL_KEEP_SIZE) throw new ErrnoError('EOPNOTSUPP', `fallocate mode ${mode}`);
    if (offset >= INT64_END || length >= INT64_END || length === 0n) throw new ErrnoError('EINVAL', `fallocate ${offset} ${length}`);
    if ((h.flags & 3) === 0) throw new ErrnoError('EBADF', `${h.path} is not open for writing`);
    const st = await h.file.stat({ bigint: true });
    if (!st.isFile()) throw new ErrnoError(st.isDirectory() ? 'EISDIR' : 'ENODEV', h.path);
    const end = offset + length;
    if (end > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError('EFBIG', `length ${end}`);
    if (!(mode & FALLOC_FL_KEEP_SIZE) && end > st.size) await h.file.truncate(Number(end));
    return ok();
  }

  /** COPY: `count` bytes from one open file to another, read and written here (copy_file_range,
   *  sendfile between remote files); a short count at the end of `from` */
  private async copy(from: OpenFile, count: number, offset: bigint, to: OpenFile, toOffset: bigint): Promise<Outcome> {
    if (offset >= INT64_END || toOffset >= INT64_END) throw new ErrnoError('EINVAL', 'offset');
    if (offset + BigInt(count) > BigInt(Number.MAX_SAFE_INTEGER) || toOffset + BigInt(count) > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError('EFBIG', 'offset');
    const [a, b] = await Promise.all([from.file.stat({ bigint: true }), to.file.stat({ bigint: true })]);
    if (a.isDirectory() || b.isDirectory()) throw new ErrnoError('EISDIR', 'copy of a directory');
    const overlap = offset < toOffset + BigInt(count) && toOffset < offset + BigInt(count);
    if (a.dev === b.dev && a.ino === b.ino && overlap) throw new ErrnoError('EINVAL', 'copy onto itself');
    const buf = Buffer.allocUnsafe(Math.min(count, C.CKPT_SH_MAX_DATA));
    let done = 0;
    while (done < count) {
      const { bytesRead } = await from.file.read(buf, 0, Math.min(buf.length, count - done), Number(offset) + done);
      if (bytesRead === 0) break;
      if (to.append) to.positional ??= await this.ctx.root.openAgain(to.file, to.flags & ~WIRE_O.APPEND);
      const written = await writeAll(to.positional ?? to.file, buf.subarray(0, bytesRead), toOffset + BigInt(done));
      done += written;
      if (written < bytesRead) break;
    }
    return { result: BigInt(done) };
  }

  private async rename(from: Buffer, to: Buffer, noReplace = false, exchange = false): Promise<Outcome> {
    const dir = await this.ctx.root.rename(from, to, noReplace, exchange);
    if (dir.equals(this.ctx.root.checkpointDir)) this.log(`checkpoint stored ${to.subarray(to.lastIndexOf('/') + 1).toString()}`);
    return ok();
  }

  private exited(status: number): Outcome {
    const how = describeStatus(status);
    this.log(`pid ${this.pid} ${how}`);
    if ((this.kind & ~C.CKPT_SH_KIND_AGAIN) === C.CKPT_SH_KIND_JOB) this.ctx.print(`job ${this.id} ${how}`);
    return ok();
  }
}

/** Writes `data` at `position` (null: where the kernel puts it); the count written */
async function writeAll(file: FileHandle, data: Buffer, position: bigint | null): Promise<number> {
  if (position !== null && position + BigInt(data.length) > BigInt(Number.MAX_SAFE_INTEGER)) throw new ErrnoError('EFBIG', `offset ${position}`);
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await file.write(data, done, data.length - done, position === null ? null : Number(position) + done);
    if (bytesWritten === 0) break;
    done += bytesWritten;
  }
  return done;
}

/** The tail of each file's queue of appends; shared by every session of the server process */
const appendQueues = new Map<string, Promise<unknown>>();

/** Runs `fn` after every earlier call with the same key has finished */
async function oneAtATime<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const run = (appendQueues.get(key) ?? Promise.resolve()).then(fn);
  const tail = run.catch(() => {});
  appendQueues.set(key, tail);
  try {
    return await run;
  } finally {
    if (appendQueues.get(key) === tail) appendQueues.delete(key);
  }
}

function closeFile(h: OpenFile): Promise<unknown> {
  return Promise.all([h.file.close(), h.positional?.close()]).catch(() => {});
}

const FALLOC_FL_KEEP_SIZE = 1;

/** A chown id on the wire: 0xffffffff (the kernel's -1) leaves it as it is */
function ownerId(id: number): number {
  return id === 0xffffffff ? -1 : id;
}

function statfsOutcome(st: StatFsLike): Outcome {
  return { result: 0n, data: encodeStatfs(st) };
}

function ok(): Outcome {
  return { result: 0n };
}

function statOutcome(st: Parameters<typeof encodeStat>[0]): Outcome {
  return { result: 0n, data: encodeStat(st) };
}

const EMPTY = Buffer.alloc(0);

function u64(v: bigint): Buffer {
  const b = zeroed(8);
  b.writeBigUInt64LE(v);
  return b;
}

/** `exited N` or `killed by SIGNAME` for a status in `wait` form */
export function describeStatus(status: number): string {
  const signal = status & 0x7f;
  if (signal === 0) return `exited ${(status >> 8) & 0xff}`;
  if (signal === 0x7f) return `stopped (status 0x${status.toString(16)})`;
  const name = Object.entries(os.constants.signals).find(([, n]) => n === signal)?.[0] ?? `signal ${signal}`;
  return `killed by ${name}${status & 0x80 ? ' (core dumped)' : ''}`;
}
