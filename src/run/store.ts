// Where a job's images are kept: a directory of this machine's (or a shared file system's), or the
// shadow of a remote-syscall job (`--image-dir shadow:NAME`). image-dir.ts keeps its bookkeeping
// (staging name, numbering, setting aside) the same on both through this interface; names here are
// the images' names in the store (`ckpt-000003.img`), locations what a user reads in the log.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as C from '../contract.generated.js';
import { ShadowCallError, ShadowConnection, shadowAddress } from '../shadow/client.js';

/** A local file that holds an image, for checking it and restarting from it */
export interface LocalCopy { file: string; release(): void }

export interface ImageStore {
  /** The store, for messages (a local directory: its path) */
  readonly where: string;
  /** Whether `where` is a local directory that fs.watch can watch */
  readonly watchable: boolean;
  /** The program's CKPT_IMAGE for the image at the staging name `staging` */
  imageTarget(staging: string): string;
  /** Makes the store if it is not there */
  ensure(): Promise<void>;
  /** The names in the store */
  names(): Promise<string[]>;
  /** Renames `from` to `to`; false when `from` is not there */
  rename(from: string, to: string): Promise<boolean>;
  remove(name: string): Promise<void>;
  /** The first CKPT_IH_SIZE bytes of `name`, or fewer; undefined when it cannot be read */
  header(name: string): Promise<Buffer | undefined>;
  location(name: string): string;
  localCopy(name: string): Promise<LocalCopy>;
  /** Whether `name` is a partial file of the runtime's writer writing to `staging` */
  isPartial(name: string, staging: string): boolean;
  close(): void;
}

/** The runtime's temporary files beside a local image: IMAGE.<job>-<nonce>-<generation>.tmp (publish.c) */
const LOCAL_PARTIAL = /^\.[0-9a-f]{16}-[0-9a-f]{16}-[0-9a-f]{16}\.tmp$/;

export class LocalStore implements ImageStore {
  readonly where: string;
  readonly watchable = true;

  constructor(dir: string) {
    this.where = path.resolve(dir);
  }

  imageTarget(staging: string): string {
    return this.location(staging);
  }

  async ensure(): Promise<void> {
    fs.mkdirSync(this.where, { recursive: true });
  }

  async names(): Promise<string[]> {
    return fs.readdirSync(this.where);
  }

  async rename(from: string, to: string): Promise<boolean> {
    try {
      fs.renameSync(this.location(from), this.location(to));
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    fs.rmSync(this.location(name), { force: true });
  }

  async header(name: string): Promise<Buffer | undefined> {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.location(name), 'r');
      const b = Buffer.alloc(C.CKPT_IH_SIZE);
      return b.subarray(0, fs.readSync(fd, b, 0, b.length, 0));
    } catch {
      return undefined;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }

  location(name: string): string {
    return path.join(this.where, name);
  }

  async localCopy(name: string): Promise<LocalCopy> {
    return { file: this.location(name), release: () => {} };
  }

  isPartial(name: string, staging: string): boolean {
    return name.startsWith(staging) && LOCAL_PARTIAL.test(name.slice(staging.length));
  }

  close(): void {}
}

/**
 * Images on the shadow, in the job's `/.ckpt` directory of the shadow's root, where the runtime
 * keeps `CKPT_IMAGE=shadow:FILE` images (remote/image.c): the store's names there are prefixed
 * `NAME.` (the runtime's image names cannot hold a `/`). An image is checked and restarted from a
 * copy in this machine's temporary directory ($TMPDIR), removed when the program has ended.
 */
export class ShadowStore implements ImageStore {
  private static readonly DIR = '/.ckpt';
  readonly watchable = false;

  private constructor(private readonly conn: ShadowConnection, private readonly prefix: string) {}

  static async open(name: string, env: NodeJS.ProcessEnv): Promise<ShadowStore> {
    return new ShadowStore(await ShadowConnection.open(shadowAddress(env)), `${name}.`);
  }

  get where(): string {
    return `shadow:${ShadowStore.DIR}/${this.prefix}*`;
  }

  imageTarget(staging: string): string {
    return `shadow:${this.prefix}${staging}`;
  }

  async ensure(): Promise<void> {
    await this.conn.stat(ShadowStore.DIR);	// the server makes it; fails here if it cannot be reached
  }

  async names(): Promise<string[]> {
    return (await this.conn.list(ShadowStore.DIR)).filter((n) => n.startsWith(this.prefix)).map((n) => n.slice(this.prefix.length));
  }

  async rename(from: string, to: string): Promise<boolean> {
    try {
      await this.conn.rename(this.path(from), this.path(to));
      return true;
    } catch (e) {
      if (e instanceof ShadowCallError && e.code === 'ENOENT') return false;
      throw e;
    }
  }

  async remove(name: string): Promise<void> {
    await this.conn.unlink(this.path(name)).catch((e) => { if (!(e instanceof ShadowCallError && e.code === 'ENOENT')) throw e; });
  }

  async header(name: string): Promise<Buffer | undefined> {
    return this.conn.head(this.path(name), C.CKPT_IH_SIZE).catch(() => undefined);
  }

  location(name: string): string {
    return `shadow:${this.path(name)}`;
  }

  async localCopy(name: string): Promise<LocalCopy> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-run-'));
    const file = path.join(dir, name);
    const release = () => fs.rmSync(dir, { recursive: true, force: true });
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      await this.conn.download(this.path(name), fd);
    } catch (e) {
      release();
      throw e;
    } finally {
      fs.closeSync(fd);
    }
    return { file, release };
  }

  /** The runtime's writer uploads to FILE.tmp and renames it over FILE (remote/image.c) */
  isPartial(name: string, staging: string): boolean {
    return name === `${staging}.tmp`;
  }

  close(): void {
    this.conn.close();
  }

  private path(name: string): string {
    return `${ShadowStore.DIR}/${this.prefix}${name}`;
  }
}
