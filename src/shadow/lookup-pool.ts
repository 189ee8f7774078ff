// Where the shadow makes its hot metadata lookup (STAT): on the event loop when that cannot stall
// it, in a small pool of worker threads otherwise. Either way a stat is one step instead of the
// three or four trips through libuv's thread pool that fs.promises takes.
//
// Measured here (node 5,000 stats of a cached name; quiet machine, 2 vCPUs): fs.promises open O_PATH
// + readlink + fstat + close 140-190 us; the same with callbacks 75-110 us; one worker-thread message
// round trip with the calls made synchronously in the worker 33-45 us; the calls made on the event
// loop 11-15 us. A remote stat answered with no file system work at all costs the job about 20 us
// more than a plain TCP round trip with an echo server (45 us), so only the event loop path keeps a
// stat within twice the round trip.
//
// When the event loop path is safe: the lookup opens O_PATH, which never waits for a FIFO, a device
// or a lock, so on a local file system the worst it does is read a cold inode from disk; that is what
// nginx does on its event loop for every request. It is not safe where a lookup can wait on a
// network, a user-space server or an automounter (NFS, CIFS, FUSE, autofs, ...): the table of mounts
// is read at start and every few seconds, and any mount of a type not known to be local sends every
// lookup to the workers. A lookup that still takes more than SLOW_MS on the event loop (a failing
// disk, a file system missing from LOCAL_TYPES) sends them to the workers for PAUSE_MS, with a line
// in the log. SLOW_MS is far above a cold inode read, because on this shared VM a lookup of a cached
// name is now and then measured at 5 ms: the process was not running, and the workers would not help
// (they cost a worker round trip, measured in the server at 65-125 us, on every stat after). The workers keep the server's promise that one
// slow job does not stall the others: a lookup that hangs holds one worker, as with libuv's pool.
import fs from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Lookup, type LookupRequest, type PlainStat, lookupNow } from './lookup.js';

export type WorkerRequest = { id: number; request: LookupRequest };
export type WorkerAnswer = { id: number; reals: Uint8Array[]; stat: PlainStat } | { id: number; code: string; message: string };

/** File systems whose lookups never wait on anything but a local disk */
const LOCAL_TYPES = new Set([
  'ext2', 'ext3', 'ext4', 'xfs', 'btrfs', 'f2fs', 'jfs', 'reiserfs', 'bcachefs', 'zfs', 'vfat', 'exfat', 'ntfs3',
  'squashfs', 'iso9660', 'erofs', 'overlay', 'tmpfs', 'ramfs', 'devtmpfs', 'devpts', 'proc', 'sysfs', 'cgroup',
  'cgroup2', 'mqueue', 'hugetlbfs', 'debugfs', 'tracefs', 'securityfs', 'pstore', 'bpf', 'configfs', 'nsfs',
  'efivarfs', 'fusectl', 'binfmt_misc', 'selinuxfs',
]);
const SLOW_MS = 100;
const PAUSE_MS = 30_000;
const MOUNTS_EVERY_MS = 2_000;

/** The mount types in /proc/self/mountinfo text not known to be local (none: all are) */
export function remoteMounts(mountinfo: string): string[] {
  const types = mountinfo.split('\n').filter(Boolean).map((line) => line.split(' - ')[1]?.split(' ')[0] ?? '?');
  return [...new Set(types.filter((t) => !LOCAL_TYPES.has(t)))];
}

/** --lookups: where STAT's lookups are made; auto decides from the mount table and the guard */
export type LookupMode = 'auto' | 'event-loop' | 'workers';
export const LOOKUP_MODES: readonly LookupMode[] = ['auto', 'event-loop', 'workers'];

export class Lookups {
  private readonly pool = new LookupPool();
  private mountsLocal = false;
  private pausedUntil = 0;
  private readonly toClose: number[] = [];

  constructor(private readonly log: (line: string) => void, private readonly mode: LookupMode = 'auto') {}

  /** In auto mode, reads the mount table now and every MOUNTS_EVERY_MS from then on */
  async start(): Promise<void> {
    if (this.mode !== 'auto') return this.log(`lookups ${this.mode === 'workers' ? 'in worker threads' : 'on the event loop'} (--lookups ${this.mode})`);
    await this.readMounts();
    setInterval(() => void this.readMounts(), MOUNTS_EVERY_MS).unref();
  }

  /** Where the lookups go now */
  private get where(): 'event loop' | 'workers' {
    if (this.mode !== 'auto') return this.mode === 'workers' ? 'workers' : 'event loop';
    return this.mountsLocal && Date.now() >= this.pausedUntil ? 'event loop' : 'workers';
  }

  /** The lookup made now, on the event loop; undefined when lookups go to the workers (inWorker) */
  now(r: LookupRequest): Lookup | undefined {
    if (this.where === 'workers') return undefined;
    const t0 = performance.now();
    try {
      return lookupNow(r, this.closeLater);
    } finally {
      const ms = performance.now() - t0;
      if (ms > SLOW_MS) {
        this.pausedUntil = Date.now() + PAUSE_MS;
        this.log(`a lookup took ${ms.toFixed(1)} ms on the event loop; lookups go to worker threads for ${PAUSE_MS / 1000} s`);
      }
    }
  }

  /** Closes `fd` once this turn of the event loop is over: after the reply went out, so the close
   *  is not part of the job's wait (closing an O_PATH descriptor never blocks) */
  private readonly closeLater = (fd: number): void => {
    if (this.toClose.push(fd) === 1) setImmediate(() => this.toClose.splice(0).forEach((n) => fs.closeSync(n)));
  };

  inWorker(r: LookupRequest): Promise<Lookup> {
    return this.pool.lookup(r);
  }

  private async readMounts(): Promise<void> {
    const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '? - unreadable ');
    const remote = remoteMounts(text);
    const local = remote.length === 0;
    if (local !== this.mountsLocal) this.log(local ? 'all file systems are local: lookups on the event loop' : `file systems that may wait (${remote.join(', ')}): lookups in worker threads`);
    this.mountsLocal = local;
  }
}

type Pending = { resolve: (l: Lookup) => void; reject: (e: Error) => void };

const WORKER = new URL('./lookup-worker.js', import.meta.url);

/** Worker threads that make lookups, started as they are needed, up to `size` */
export class LookupPool {
  private readonly idle: Worker[] = [];
  private readonly queue: WorkerRequest[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly busy = new Map<Worker, number>();
  private nextId = 1;
  private started = 0;

  constructor(private readonly size = Math.min(4, Math.max(2, os.availableParallelism()))) {}

  lookup(request: LookupRequest): Promise<Lookup> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.queue.push({ id, request });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      const worker = this.idle.pop() ?? (this.started < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const next = this.queue.shift()!;
      this.busy.set(worker, next.id);
      worker.postMessage(next);
    }
  }

  /** A new worker that does not keep the process alive; one that dies fails its lookup with EIO
   *  and another is started when one is needed */
  private spawn(): Worker {
    this.started++;
    const worker = new Worker(WORKER);
    worker.unref();
    worker.on('message', (a: WorkerAnswer) => {
      this.busy.delete(worker);
      this.idle.push(worker);
      this.settle(a);
      this.dispatch();
    });
    worker.on('error', (e) => this.lost(worker, e));
    worker.on('exit', (code) => this.lost(worker, new Error(`lookup worker exited with code ${code}`)));
    return worker;
  }

  private settle(a: WorkerAnswer): void {
    const p = this.pending.get(a.id);
    this.pending.delete(a.id);
    if (!p) return;
    if ('code' in a) p.reject(Object.assign(new Error(a.message), { code: a.code }));
    else p.resolve({ reals: a.reals.map((r) => Buffer.from(r.buffer, r.byteOffset, r.byteLength)), stat: a.stat });
  }

  private lost(worker: Worker, e: Error): void {
    const at = this.idle.indexOf(worker);
    if (at >= 0) this.idle.splice(at, 1);
    else if (!this.busy.has(worker)) return; // its error and its exit both come here
    this.started--;
    const id = this.busy.get(worker);
    this.busy.delete(worker);
    if (id !== undefined) this.settle({ id, code: 'EIO', message: e.message });
    this.dispatch();
  }
}
