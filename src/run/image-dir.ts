// A job's image directory, as ckpt-run keeps it. Guarantee: a good image is never overwritten or
// removed before a newer one is whole beside it, whenever this process or the program is killed.
//
// How: the program's runtime writes every checkpoint to one staging name, `incoming.img` (its writer
// writes a temporary file of its own, fsyncs it and renames it: the file at the staging name is
// always whole; docs/image-format.md, "One writer per image"),
// and ckpt-run renames each one that lands there to the next numbered name, ckpt-NNNNNN.img, the
// highest number being the newest. A rename within one directory is atomic, so an image is at one
// name or the other, never lost between. The runtime keeps the path it was given for the life of
// the computation (a restored process writes where the first run wrote), which is why the staging
// name is fixed and the numbering is done here. A run that was killed before it could name an image
// leaves it at the staging name; the next run names it first, as the newest.
//
// Images set aside are renamed, not removed, for a post-mortem: NAME.bad (it failed its checks or
// is another binary's), NAME.unused (good, but abandoned by `--on-bad-image fresh`), NAME.stale (it
// landed after a newer state of the job had been named: the writer of a killed run that finished
// late). They are not counted by --keep and never pruned.
import * as C from '../contract.generated.js';
import { FILE_HEADER } from '../image/format.js';
import { readStruct } from '../lib/struct.js';
import { LocalStore, type ImageStore, type LocalCopy } from './store.js';

export const STAGING_NAME = 'incoming.img';
const NUMBERED = /^ckpt-(\d+)\.img(\.bad|\.unused|\.stale)?$/;

export type SetAsideReason = 'bad' | 'unused' | 'stale';

interface JobState { start: bigint; nonce: bigint; generation: bigint }

/** The job and generation an image's header names; undefined for a file that is not an image of this format */
function stateOf(header: Buffer | undefined): JobState | undefined {
  if (!header || header.length < C.CKPT_IH_SIZE) return undefined;
  const h = readStruct(header, 0, FILE_HEADER);
  if (h.magic !== C.CKPT_IMAGE_MAGIC || h.version !== C.CKPT_IMAGE_VERSION) return undefined;
  return { start: h.jobStart, nonce: h.jobNonce, generation: h.generation };
}

/** Whether state x is older than state y, as the runtime orders them (publish.c) */
function olderState(x: JobState | undefined, y: JobState | undefined): boolean {
  if (!x || !y) return false;
  if (x.start === y.start && x.nonce === y.nonce) return x.generation < y.generation;
  return x.start !== y.start ? x.start < y.start : x.nonce < y.nonce;
}

/** `ckpt-000042.img`: zero-padded, so that `ls` lists them oldest first */
function numberedName(seq: number): string {
  return `ckpt-${String(seq).padStart(6, '0')}.img`;
}

interface Entry { name: string; seq: number; setAside: boolean }

/** The numbered images that may be resumed from, newest first */
function resumable(entries: Entry[]): Entry[] {
  return entries.filter((e) => !e.setAside).sort((a, b) => b.seq - a.seq);
}

/** An image of the directory: its name in the store and the location a user reads */
export interface Image { name: string; location: string }

export class ImageDir {
  constructor(readonly store: ImageStore) {}

  /** A directory of this machine's */
  static local(dir: string): ImageDir {
    return new ImageDir(new LocalStore(dir));
  }

  /** Where the images are, for messages */
  get where(): string {
    return this.store.where;
  }

  /** Where the program's runtime writes (its CKPT_IMAGE) */
  get staging(): string {
    return this.store.imageTarget(STAGING_NAME);
  }

  /**
   * Makes the directory, removes the partial file of a writer that was killed, and names an image
   * that a killed run left at the staging name. Call only while no program writes here.
   */
  async prepare(): Promise<void> {
    await this.store.ensure();
    for (const name of (await this.store.names()).filter((n) => this.store.isPartial(n, STAGING_NAME))) await this.store.remove(name);
    await this.collect();
  }

  /** The numbered images that may be resumed from, newest first */
  async images(): Promise<Image[]> {
    return resumable(await this.entries()).map((e) => this.image(e.name));
  }

  /**
   * Names the image at the staging name, if one is there; returns it, with `stale` set (and the
   * image set aside) when it holds an older state than the newest image already named.
   */
  async collect(): Promise<{ image: Image; stale: boolean } | undefined> {
    const entries = await this.entries();	// one listing: on the shadow each is a round trip
    const newest = resumable(entries)[0];
    const target = numberedName(Math.max(0, ...entries.map((e) => e.seq)) + 1);
    if (!(await this.store.rename(STAGING_NAME, target))) return undefined;
    if (newest === undefined || !olderState(stateOf(await this.store.header(target)), stateOf(await this.store.header(newest.name)))) {
      return { image: this.image(target), stale: false };
    }
    return { image: await this.setAside(this.image(target), 'stale'), stale: true };
  }

  /** Removes all but the newest `keep` images */
  async prune(keep: number): Promise<void> {
    for (const old of (await this.images()).slice(keep)) await this.store.remove(old.name);
  }

  async setAside(image: Image, reason: SetAsideReason): Promise<Image> {
    const renamed = `${image.name}.${reason}`;
    await this.store.rename(image.name, renamed);
    return this.image(renamed);
  }

  /** A local file holding `image`, to check it and to restart from */
  localCopy(image: Image): Promise<LocalCopy> {
    return this.store.localCopy(image.name);
  }

  close(): void {
    this.store.close();
  }

  private image(name: string): Image {
    return { name, location: this.store.location(name) };
  }


  private async entries(): Promise<Entry[]> {
    return (await this.store.names()).flatMap((name) => {
      const m = NUMBERED.exec(name);
      return m ? [{ name, seq: Number(m[1]), setAside: m[2] !== undefined }] : [];
    });
  }
}
