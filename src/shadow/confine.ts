// The job's file system view: every job path names an object below the server's root, and nothing
// outside the root is ever read, written, created or removed on a job's behalf.
//
// How, without a check-then-use race: a name is never checked and then used again by name. The
// server opens the object, asks the kernel where the opened object really is (readlink of
// /proc/self/fd/N, which names the object the descriptor holds, whatever happened to the path since),
// refuses it with EACCES unless that is the root's realpath or below it, and from then on works only
// through the descriptor:
// - metadata (STAT, ACCESS, CHDIR): the object opened O_PATH (no side effects: no truncation, no FIFO
//   or device opened), symlinks followed by the kernel in one step, the result checked;
// - names (MKDIR, RMDIR, UNLINK, RENAME, READLINK, STAT with NOFOLLOW): the parent directory opened
//   O_PATH|O_DIRECTORY and checked, then the call made on `/proc/self/fd/N/NAME`, where NAME is one
//   component that the kernel looks up in that very directory (these calls never follow a final
//   symlink);
// - OPEN: the checked parent, then `/proc/self/fd/N/NAME` opened with O_NOFOLLOW added, so the open
//   (and any O_CREAT or O_TRUNC) acts on the name itself. When NAME is a symlink the job asked to
//   follow, what it leads to is opened O_PATH, checked, and then opened again through
//   `/proc/self/fd/M` with the job's flags: O_TRUNC only ever reaches a checked object, and a file is
//   never created through a symlink (a dangling one answers EACCES).
// STAT makes the same calls (the object O_PATH, or for NOFOLLOW the parent and then NAME in it with
// O_NOFOLLOW) in one step, synchronously on the event loop or in a worker thread (lookup-pool.ts),
// and checks every opened object's place after; the fstat of an object found outside is thrown away
// unsent.
// A symlink swapped in at any moment therefore changes only which object is opened, and an object
// outside the root is refused before anything is done to it. Paths are absolute in the job's view
// (`/` is the root) and not normalized here: `..` is resolved by the kernel and checked like the rest,
// so `..` above the root, and absolute or relative symlinks leading out, end in EACCES (a path whose
// own `..` climb above `/` is refused before it is opened). A symlink's
// absolute target is the server's path, not the job's. Hard links and bind mounts placed inside the
// root by its owner count as inside. Opens add O_NONBLOCK and O_NOCTTY, so a FIFO or terminal below
// the root cannot hold one of libuv's threads or become the server's terminal.
import { constants as FS, type BigIntStats } from 'node:fs';
import fs, { type FileHandle } from 'node:fs/promises';
import type { Lookup, LookupRequest, PlainStat } from './lookup.js';
import { type LookupMode, Lookups } from './lookup-pool.js';
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import * as C from '../contract.generated.js';
import { WIRE_O, type StatFsLikeWire, type WireTimes } from './protocol.js';

const O_PATH = 0o10000000;
const O_TMPFILE_BIT = 0o20000000;
const SAFE = FS.O_NONBLOCK | FS.O_NOCTTY;

/** An error carrying the errno name the job gets (EACCES for a path that leaves the root) */
export class ErrnoError extends Error {
  override readonly name = 'ErrnoError';
  constructor(readonly code: string, message: string) {
    super(message);
  }
}

/** The job's open flags (x86-64 values) as this host spells them; flags that make no sense on
 *  the server (O_ASYNC, O_DIRECT, O_LARGEFILE, O_CLOEXEC) are dropped. */
const HOST_FLAGS: ReadonlyArray<readonly [wire: number, host: number]> = [
  [WIRE_O.WRONLY, FS.O_WRONLY], [WIRE_O.RDWR, FS.O_RDWR], [WIRE_O.CREAT, FS.O_CREAT], [WIRE_O.EXCL, FS.O_EXCL],
  [WIRE_O.NOCTTY, FS.O_NOCTTY], [WIRE_O.TRUNC, FS.O_TRUNC], [WIRE_O.APPEND, FS.O_APPEND],
  [WIRE_O.NONBLOCK, FS.O_NONBLOCK], [WIRE_O.DSYNC, FS.O_DSYNC], [WIRE_O.DIRECTORY, FS.O_DIRECTORY],
  [WIRE_O.NOFOLLOW, FS.O_NOFOLLOW], [WIRE_O.NOATIME, FS.O_NOATIME], [WIRE_O.SYNC & ~WIRE_O.DSYNC, FS.O_SYNC & ~FS.O_DSYNC],
  [WIRE_O.PATH, O_PATH], [WIRE_O.TMPFILE & ~WIRE_O.DIRECTORY, O_TMPFILE_BIT],
];

export function hostOpenFlags(wire: number): number {
  let host = 0;
  for (const [w, h] of HOST_FLAGS) if ((wire & w) === w) host |= h;
  return host;
}

/** A job path taken apart: `name` is its last component, null when the path names the root or
 *  ends in `.` or `..` (a directory that has no name in a parent the server could open) */
interface JobPath { readonly text: string; dirs: Buffer[]; name: Buffer | null; trailingSlash: boolean }

export interface ListEntry { ino: bigint; type: number; name: Buffer }

const SLASH = 0x2f;
const DOT = Buffer.from('.'), DOTDOT = Buffer.from('..');

export class ConfinedRoot {
  private constructor(readonly real: Buffer, private readonly lookups: Lookups) {}

  /** The root's realpath, with `/.ckpt` created in it for checkpoint images; `log` hears where
   *  metadata lookups are made (lookup-pool.ts) */
  static async open(dir: string, log: (line: string) => void = () => {}, lookupMode: LookupMode = 'auto'): Promise<ConfinedRoot> {
    const real = await fs.realpath(dir, { encoding: 'buffer' });
    if (!(await fs.stat(real)).isDirectory()) throw new ErrnoError('ENOTDIR', `${dir} is not a directory`);
    await fs.mkdir(Buffer.concat([real, Buffer.from('/.ckpt')]), { mode: 0o700 }).catch((e) => {
      if (e.code !== 'EEXIST') throw e;
    });
    const lookups = new Lookups(log, lookupMode);
    await lookups.start();
    return new ConfinedRoot(real, lookups);
  }

  /** The server's real path of the job's `/.ckpt` */
  get checkpointDir(): Buffer {
    return this.under([Buffer.from('.ckpt')]);
  }

  /** OPEN: a descriptor for the object, opened with the job's flags (x86-64 values) */
  async open(path: Buffer, wireFlags: number, mode: number): Promise<FileHandle> {
    const p = parse(path);
    let flags = hostOpenFlags(wireFlags);
    if ((p.name === null || p.trailingSlash) && flags & FS.O_CREAT) throw new ErrnoError('EISDIR', `${p.text}: O_CREAT on a directory`);
    if (p.trailingSlash) flags = (flags | FS.O_DIRECTORY) & ~FS.O_NOFOLLOW; // `name/` follows a symlink, as in Linux
    if (p.name === null) return this.reopen(await this.object(p, FS.O_DIRECTORY), flags, mode);
    return this.inParent(p, (_dir, at) => this.openName(p, at, flags, mode));
  }

  private async openName(p: JobPath, at: Buffer, flags: number, mode: number): Promise<FileHandle> {
    let file: FileHandle | undefined;
    try {
      file = await fs.open(at, flags | FS.O_NOFOLLOW | SAFE, mode);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // a final symlink with O_NOFOLLOW gives ELOOP, or ENOTDIR with O_DIRECTORY
      if ((code !== 'ELOOP' && code !== 'ENOTDIR') || flags & FS.O_NOFOLLOW || !(await isSymlink(at))) throw e;
    }
    if (file) {
      // O_PATH|O_NOFOLLOW opens a symlink itself instead of failing
      const followLink = flags & O_PATH && !(flags & FS.O_NOFOLLOW) && (await file.stat()).isSymbolicLink();
      if (!followLink) return this.checked(file, p);
      await file.close();
    }
    let target: FileHandle;
    try {
      target = await this.openChecked(at, O_PATH | (flags & FS.O_DIRECTORY), p);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT' && flags & FS.O_CREAT) throw new ErrnoError('EACCES', `${p.text}: refused to create through a symlink`);
      throw e;
    }
    return this.reopen(target, flags, mode);
  }

  /** The checked object `target` (O_PATH) opened again with `flags`, less those that would act on a
   *  name (the object is found already, and /proc/self/fd/N is a symlink); `target` is consumed */
  private async reopen(target: FileHandle, flags: number, mode: number): Promise<FileHandle> {
    if (flags & O_PATH) return target;
    try {
      return await this.openChecked(procPath(target), (flags & ~(FS.O_CREAT | FS.O_EXCL | FS.O_NOFOLLOW)) | SAFE, null, mode);
    } finally {
      await target.close();
    }
  }

  /** A second descriptor for the object `file` holds, opened with `wireFlags` (never creating or
   *  truncating): for writes at an offset to a file the job opened O_APPEND */
  async openAgain(file: FileHandle, wireFlags: number): Promise<FileHandle> {
    const flags = hostOpenFlags(wireFlags) & ~(FS.O_CREAT | FS.O_EXCL | FS.O_TRUNC | O_TMPFILE_BIT);
    return this.openChecked(procPath(file), flags | SAFE, null);
  }

  /** The job's stat or lstat, made in one step (lookup-pool.ts) on the event loop; undefined when
   *  lookups go to worker threads now (stat). Errors are thrown. */
  statNow(path: Buffer, nofollow: boolean): PlainStat | undefined {
    const p = parse(path);
    const found = this.lookups.now(this.statRequest(p, nofollow));
    return found && this.insideStat(found, p);
  }

  /** The job's stat or lstat, wherever lookups are made */
  async stat(path: Buffer, nofollow: boolean): Promise<PlainStat> {
    const p = parse(path), request = this.statRequest(p, nofollow);
    return this.insideStat(this.lookups.now(request) ?? await this.lookups.inWorker(request), p);
  }

  private statRequest(p: JobPath, nofollow: boolean): LookupRequest {
    if (nofollow && p.name !== null && !p.trailingSlash) return { op: 'lstat', dir: this.under(p.dirs), name: p.name };
    return { op: 'stat', path: this.under(p.name === null ? p.dirs : [...p.dirs, p.name]), flags: p.trailingSlash ? FS.O_DIRECTORY : 0 };
  }

  /** The stat found, once every object the lookup opened is known to be inside */
  private insideStat(found: Lookup, p: JobPath): PlainStat {
    for (const real of found.reals) this.inside(real, p);
    return found.stat;
  }

  async access(path: Buffer, mode: number): Promise<void> {
    if (mode & ~7) throw new ErrnoError('EINVAL', `access mode ${mode}`);
    await using(await this.object(parse(path), 0), (f) => fs.access(procPath(f), mode));
  }

  /** Succeeds when the path is a directory the job may enter */
  async chdir(path: Buffer): Promise<void> {
    await using(await this.object(parse(path), FS.O_DIRECTORY), (f) => fs.access(procPath(f), FS.X_OK));
  }

  async mkdir(path: Buffer, mode: number): Promise<void> {
    const p = parse(path);
    if (p.name === null) throw new ErrnoError('EEXIST', `${p.text} exists`);
    await this.inParent(p, (_dir, at) => fs.mkdir(at, { mode }));
  }

  async rmdir(path: Buffer): Promise<void> {
    const p = parse(path);
    if (p.name === null) throw new ErrnoError(p.dirs.length === 0 ? 'EBUSY' : DOT.equals(p.dirs[p.dirs.length - 1]) ? 'EINVAL' : 'ENOTEMPTY', `rmdir ${p.text}`);
    await this.inParent(p, (_dir, at) => fs.rmdir(at));
  }

  async unlink(path: Buffer): Promise<void> {
    const p = parse(path);
    if (p.name === null) throw new ErrnoError('EISDIR', `unlink ${p.text}`);
    await this.inParent(p, async (_dir, at) => {
      if (p.trailingSlash) throw new ErrnoError((await fs.lstat(at)).isDirectory() ? 'EISDIR' : 'ENOTDIR', `unlink ${p.text}`);
      await fs.unlink(at);
    });
  }

  /** Renames within the root; returns the server's real path of the directory `to` landed in.
   *  `noReplace` (RENAME_NOREPLACE) never replaces `to`: a file is linked there (EEXIST if it
   *  exists) and unlinked from `from`; a directory takes the place of an empty one made for it.
   *  RENAME_EXCHANGE has no such equivalent: EINVAL, as on a file system without it. */
  async rename(from: Buffer, to: Buffer, noReplace = false, exchange = false): Promise<Buffer> {
    const a = parse(from), b = parse(to);
    if (exchange) throw new ErrnoError('EINVAL', `rename ${a.text} ${b.text}: RENAME_EXCHANGE is not carried out on the shadow`);
    if (a.name === null || b.name === null) throw new ErrnoError('EBUSY', `rename ${a.text} ${b.text}`);
    return this.inParent(a, (_, oldAt) => this.inParent(b, async (newDir, newAt) => {
      const old = await fs.lstat(oldAt);
      if ((a.trailingSlash || b.trailingSlash) && !old.isDirectory()) throw new ErrnoError('ENOTDIR', `rename ${a.text} ${b.text}`);
      if (!noReplace) await fs.rename(oldAt, newAt);
      else if (!old.isDirectory()) {
        await fs.link(oldAt, newAt);
        await fs.unlink(oldAt);
      } else {
        await fs.mkdir(newAt, { mode: 0o700 });
        await fs.rename(oldAt, newAt).catch(async (e) => {
          await fs.rmdir(newAt).catch(() => {});
          throw e;
        });
      }
      return newDir;
    }));
  }

  /** A symlink holding `target` as it is: any text, since following it is confined like any lookup */
  async symlink(target: Buffer, path: Buffer): Promise<void> {
    const p = parse(path);
    if (p.name === null) throw new ErrnoError('EEXIST', `${p.text} exists`);
    if (p.trailingSlash) throw new ErrnoError('ENOENT', `symlink ${p.text}`);
    await this.inParent(p, (_dir, at) => fs.symlink(target, at));
  }

  /** A hard link in the root to an object in the root. Without `follow` (link(2)'s default) the
   *  existing name is linked as it is, a symlink included, inside its checked directory; with it,
   *  the object the symlinks lead to is opened and checked, linked by its real path, and the new
   *  link confirmed to be that object (else removed: EACCES) */
  async link(from: Buffer, to: Buffer, follow: boolean): Promise<void> {
    const a = parse(from), b = parse(to);
    if (a.name === null) throw new ErrnoError('EPERM', `link ${a.text}: a directory`);
    if (b.name === null) throw new ErrnoError('EEXIST', `${b.text} exists`);
    if (!follow) {
      await this.inParent(a, (_, oldAt) => this.inParent(b, (_d, newAt) => fs.link(oldAt, newAt)));
      return;
    }
    await using(await this.object(a, 0), async (obj) => {
      const real = await this.verify(obj, a), st = await obj.stat({ bigint: true });
      if (st.isDirectory()) throw new ErrnoError('EPERM', `link ${a.text}: a directory`);
      await this.inParent(b, async (_d, at) => {
        await fs.link(real, at);
        const made = await fs.lstat(at, { bigint: true });
        if (made.ino !== st.ino || made.dev !== st.dev) {
          await fs.unlink(at);
          throw new ErrnoError('EACCES', `${a.text} changed while it was linked`);
        }
      });
    });
  }

  /** chmod, or with `nofollow` fchmodat(AT_SYMLINK_NOFOLLOW): EOPNOTSUPP on a symlink, as in Linux */
  async chmod(path: Buffer, mode: number, nofollow: boolean): Promise<void> {
    await using(await this.target(parse(path), nofollow), async (f) => {
      if (nofollow && (await f.stat()).isSymbolicLink()) throw new ErrnoError('EOPNOTSUPP', `chmod of the symlink ${parse(path).text}`);
      await fs.chmod(procPath(f), mode);
    });
  }

  /** chown, or lchown with `nofollow` (the name itself, in its checked directory); -1 keeps an id */
  async chown(path: Buffer, uid: number, gid: number, nofollow: boolean): Promise<void> {
    const p = parse(path);
    if (nofollow && p.name !== null && !p.trailingSlash) {
      await this.inParent(p, (_dir, at) => fs.lchown(at, uid, gid));
      return;
    }
    await using(await this.object(p, 0), (f) => fs.chown(procPath(f), uid, gid));
  }

  /** utimensat: with `nofollow` the name itself (lutimes) */
  async utimens(path: Buffer, times: WireTimes, nofollow: boolean): Promise<void> {
    const p = parse(path);
    if (nofollow && p.name !== null && !p.trailingSlash) {
      await this.inParent(p, async (_dir, at) => {
        const t = await resolveTimes(times, () => fs.lstat(at, { bigint: true }));
        if (t) await fs.lutimes(at, t[0], t[1]);
      });
      return;
    }
    await using(await this.object(p, 0), (f) => futimensPath(procPath(f), f, times));
  }

  /** mknod of a FIFO or a regular file; device nodes and sockets are refused (EPERM), whatever the
   *  server's privileges: a job's device node would reach the submit machine's devices. A FIFO is
   *  made by mkfifo(1) (Node has no mknod) under a temporary name, then linked to its own. */
  async mknod(path: Buffer, mode: number, dev: bigint): Promise<void> {
    void dev;
    const p = parse(path), type = mode & S_IFMT;
    if (p.name === null) throw new ErrnoError('EEXIST', `${p.text} exists`);
    if (type === S_IFCHR || type === S_IFBLK) throw new ErrnoError('EPERM', `${p.text}: device nodes are refused on the shadow`);
    if (type === S_IFSOCK) throw new ErrnoError('EPERM', `${p.text}: sockets are refused on the shadow`);
    if (type === S_IFDIR) throw new ErrnoError('EPERM', `mknod ${p.text}: a directory`);
    if (type !== 0 && type !== S_IFREG && type !== S_IFIFO) throw new ErrnoError('EINVAL', `mknod ${p.text}: type 0o${type.toString(8)}`);
    await this.inParent(p, async (_dir, at) => {
      if (type !== S_IFIFO) {
        await (await fs.open(at, FS.O_CREAT | FS.O_EXCL | FS.O_WRONLY | FS.O_NOFOLLOW | SAFE, mode & 0o7777)).close();
        return;
      }
      const temp = Buffer.concat([at.subarray(0, at.lastIndexOf(SLASH) + 1), Buffer.from(`.ckpt-fifo-${crypto.randomBytes(6).toString('hex')}`)]);
      // the child reaches the directory this process holds open through this process's /proc entry
      await makeFifo(Buffer.concat([Buffer.from(`/proc/${process.pid}`), temp.subarray('/proc/self'.length)]), mode & 0o7777 & ~SERVER_UMASK);
      try {
        await fs.link(temp, at);
      } finally {
        await fs.unlink(temp).catch(() => {});
      }
    });
  }

  /** statfs of the file system a path is on */
  async statfs(path: Buffer): Promise<StatFsLike> {
    return using(await this.object(parse(path), 0), (f) => this.statfsOf(f));
  }

  async statfsOf(file: FileHandle): Promise<StatFsLike> {
    return fs.statfs(procPath(file), { bigint: true });
  }

  /** The object a path names, opened O_PATH and checked; with `nofollow` a final symlink itself */
  private async target(p: JobPath, nofollow: boolean): Promise<FileHandle> {
    if (!nofollow || p.name === null || p.trailingSlash) return this.object(p, 0);
    return this.inParent(p, (_dir, at) => this.openChecked(at, O_PATH | FS.O_NOFOLLOW, p));
  }

  async readlink(path: Buffer): Promise<Buffer> {
    const p = parse(path);
    if (p.name === null || p.trailingSlash) {
      await (await this.object(p, FS.O_DIRECTORY)).close();
      throw new ErrnoError('EINVAL', `${p.text} is not a symlink`);
    }
    return this.inParent(p, (_dir, at) => fs.readlink(at, { encoding: 'buffer' }));
  }

  /** The entries of an open directory, `.` and `..` first, read through its descriptor; d_ino
   *  and d_type come from lstat. The root's `..` is the root itself, as in a chroot. */
  async list(dir: FileHandle): Promise<ListEntry[]> {
    const real = await this.verify(dir, null);
    const self = await dir.stat({ bigint: true });
    const parent = real.equals(this.real) ? self : await fs.stat(Buffer.concat([procPath(dir), Buffer.from('/..')]), { bigint: true });
    const out: ListEntry[] = [entry(DOT, self), entry(DOTDOT, parent)];
    const names = await fs.readdir(procPath(dir), { encoding: 'buffer' });
    for (let i = 0; i < names.length; i += 64) {
      const batch = await Promise.all(names.slice(i, i + 64).map((name) =>
        fs.lstat(Buffer.concat([procPath(dir), Buffer.from('/'), name]), { bigint: true }).then((st) => entry(name, st), () => null)));
      for (const e of batch) if (e) out.push(e); // an entry removed meanwhile is left out
    }
    return out;
  }

  /** The object a path names, symlinks followed, opened O_PATH (plus `flags`) and checked */
  private object(p: JobPath, flags: number): Promise<FileHandle> {
    return this.openChecked(this.under(p.name === null ? p.dirs : [...p.dirs, p.name]), O_PATH | flags | (p.trailingSlash ? FS.O_DIRECTORY : 0), p);
  }

  /** Runs `fn` with the path's checked parent directory: its real path and `/proc/self/fd/N/NAME` */
  private async inParent<T>(p: JobPath, fn: (dirReal: Buffer, at: Buffer) => Promise<T>): Promise<T> {
    const dir = await fs.open(this.under(p.dirs), O_PATH | FS.O_DIRECTORY);
    try {
      const real = await this.verify(dir, p);
      return await fn(real, Buffer.concat([procPath(dir), Buffer.from('/'), p.name!]));
    } finally {
      await dir.close();
    }
  }

  private async openChecked(hostPath: Buffer, flags: number, p: JobPath | null, mode?: number): Promise<FileHandle> {
    return this.checked(await fs.open(hostPath, flags, mode), p);
  }

  /** `file` when it lies inside the root; otherwise it is closed and EACCES thrown */
  private async checked(file: FileHandle, p: JobPath | null): Promise<FileHandle> {
    try {
      await this.verify(file, p);
      return file;
    } catch (e) {
      await file.close();
      throw e;
    }
  }

  /** Where the open object really is; EACCES unless that is the root or below it */
  private async verify(file: FileHandle, p: JobPath | null): Promise<Buffer> {
    return this.inside(await fs.readlink(procPath(file), { encoding: 'buffer' }), p);
  }

  /** `real` when it is the root or below it; otherwise EACCES */
  private inside(real: Buffer, p: JobPath | null): Buffer {
    const inside = real.equals(this.real) || (real.length > this.real.length && real.subarray(0, this.real.length).equals(this.real) &&
      (real[this.real.length] === SLASH || this.real.length === 1));
    if (!inside) throw new ErrnoError('EACCES', `${p?.text ?? 'a descriptor'} leads out of the root (to ${real.toString()})`);
    return real;
  }

  private under(components: Buffer[]): Buffer {
    const parts: Buffer[] = [this.real];
    for (const c of components) parts.push(Buffer.from('/'), c);
    return Buffer.concat(parts);
  }
}

function parse(path: Buffer): JobPath {
  const quoted = () => JSON.stringify(path.toString());
  if (path.length === 0) throw new ErrnoError('ENOENT', 'empty path');
  if (path[0] !== SLASH) throw new ErrnoError('EINVAL', `${quoted()} is not absolute`);
  const components: Buffer[] = [];
  for (let at = 0; at < path.length;) {
    let end = path.indexOf(SLASH, at);
    if (end < 0) end = path.length;
    if (end > at) components.push(path.subarray(at, end));
    at = end + 1;
  }
  // `..` that climbs above `/` in the path's own text is refused before the kernel sees it, so that
  // no answer tells the job what exists outside; `..` after a symlink is the kernel's, and checked
  let depth = 0;
  for (const c of components) {
    depth += c.equals(DOTDOT) ? -1 : c.equals(DOT) ? 0 : 1;
    if (depth < 0) throw new ErrnoError('EACCES', `${quoted()} climbs above the root`);
  }
  const last = components[components.length - 1];
  const trailingSlash = path[path.length - 1] === SLASH && components.length > 0;
  // the text is for messages only: made when one is, not for every stat
  const described = (p: Omit<JobPath, 'text'>): JobPath => Object.defineProperty(p, 'text', { get: quoted }) as JobPath;
  if (last === undefined || last.equals(DOT) || last.equals(DOTDOT)) return described({ dirs: components, name: null, trailingSlash: false });
  return described({ dirs: components.slice(0, -1), name: last, trailingSlash });
}

export type StatFsLike = StatFsLikeWire;

const S_IFMT = 0o170000, S_IFSOCK = 0o140000, S_IFREG = 0o100000, S_IFBLK = 0o60000, S_IFDIR = 0o40000, S_IFCHR = 0o20000, S_IFIFO = 0o10000;
const UTIME_NOW = BigInt(C.CKPT_SH_UTIME_NOW), UTIME_OMIT = BigInt(C.CKPT_SH_UTIME_OMIT);
/** The server's umask, read once (it applies to the FIFOs it makes, as the kernel applies it to files) */
const SERVER_UMASK = process.umask();

/** The two times to set, in seconds (Node's unit: a double, to about a microsecond), or null when
 *  both are UTIME_OMIT; UTIME_NOW is the server's clock, UTIME_OMIT the time the file has */
async function resolveTimes(times: WireTimes, current: () => Promise<BigIntStats>): Promise<[number, number] | null> {
  if (times.every((t) => t.nsec === UTIME_OMIT)) {
    await current(); // the kernel looks the file up all the same
    return null;
  }
  const now = Date.now() / 1000;
  const st = times.some((t) => t.nsec === UTIME_OMIT) ? await current() : undefined;
  const was = [st?.atimeNs, st?.mtimeNs];
  return times.map((t, i) => t.nsec === UTIME_NOW ? now : t.nsec === UTIME_OMIT ? Number(was[i]!) / 1e9 : Number(t.sec) + Number(t.nsec) / 1e9) as [number, number];
}

/** futimens on an open file */
export async function futimens(file: FileHandle, times: WireTimes): Promise<void> {
  const t = await resolveTimes(times, () => file.stat({ bigint: true }));
  if (t) await file.utimes(t[0], t[1]);
}

async function futimensPath(path: Buffer, file: FileHandle, times: WireTimes): Promise<void> {
  const t = await resolveTimes(times, () => file.stat({ bigint: true }));
  if (t) await fs.utimes(path, t[0], t[1]);
}

/** The errno names of mkfifo(1)'s messages (strerror texts) */
const STRERROR: ReadonlyArray<readonly [string, string]> = [
  ['File exists', 'EEXIST'], ['Permission denied', 'EACCES'], ['No such file', 'ENOENT'], ['Not a directory', 'ENOTDIR'],
  ['No space left', 'ENOSPC'], ['Read-only file system', 'EROFS'], ['Operation not permitted', 'EPERM'], ['Disk quota', 'EDQUOT'],
];

/** mkfifo(1) at `path`, a name of the server's making (ASCII) in a directory it holds open */
function makeFifo(path: Buffer, mode: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('mkfifo', ['-m', mode.toString(8), '--', path.toString('latin1')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', (e) => reject(new ErrnoError('EIO', `mkfifo: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) return resolve();
      const code2 = STRERROR.find(([text]) => err.includes(text))?.[1] ?? 'EIO';
      reject(new ErrnoError(code2, `mkfifo: ${err.trim()}`));
    });
  });
}

function procPath(file: FileHandle): Buffer {
  return Buffer.from(`/proc/self/fd/${file.fd}`);
}

async function isSymlink(at: Buffer): Promise<boolean> {
  return fs.lstat(at).then((st) => st.isSymbolicLink(), () => false);
}

/** Runs `fn` on `file`, then closes it */
async function using<T>(file: FileHandle, fn: (f: FileHandle) => Promise<T>): Promise<T> {
  try {
    return await fn(file);
  } finally {
    await file.close();
  }
}

function entry(name: Buffer, st: BigIntStats): ListEntry {
  return { ino: st.ino, type: Number((st.mode & 0o170000n) >> 12n), name };
}
