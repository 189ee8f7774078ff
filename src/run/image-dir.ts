// A job's image directory, as ckpt-run keeps it. Guarantee: a good image is never overwritten or
// removed before a newer one is whole beside it, whenever this process or the program is killed.
//
// How: the program's runtime writes every checkpoint to one staging name, `incoming.img` (its writer
// writes incoming.img.tmp, fsyncs it and renames it: the file at the staging name is always whole),
// and ckpt-run renames each one that lands there to the next numbered name, ckpt-NNNNNN.img, the
// highest number being the newest. A rename within one directory is atomic, so an image is at one
// name or the other, never lost between. The runtime keeps the path it was given for the life of
// the computation (a restored process writes where the first run wrote), which is why the staging
// name is fixed and the numbering is done here. A run that was killed before it could name an image
// leaves it at the staging name; the next run names it first, as the newest.
//
// Images set aside are renamed, not removed, for a post-mortem: NAME.bad (it failed its checks or
// is another binary's), NAME.unused (good, but abandoned by `--on-bad-image fresh`). They are not
// counted by --keep and never pruned.
import fs from 'node:fs';
import path from 'node:path';

export const STAGING_NAME = 'incoming.img';
const NUMBERED = /^ckpt-(\d+)\.img(\.bad|\.unused)?$/;

export type SetAsideReason = 'bad' | 'unused';

/** `ckpt-000042.img`: zero-padded, so that `ls` lists them oldest first */
function numberedName(seq: number): string {
  return `ckpt-${String(seq).padStart(6, '0')}.img`;
}

export class ImageDir {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
  }

  /** Where the program's runtime writes (its CKPT_IMAGE) */
  get staging(): string {
    return path.join(this.dir, STAGING_NAME);
  }

  /**
   * Makes the directory, removes the partial file of a writer that was killed, and names an image
   * that a killed run left at the staging name. Call only while no program writes here.
   */
  prepare(): void {
    fs.mkdirSync(this.dir, { recursive: true });
    fs.rmSync(`${this.staging}.tmp`, { force: true });
    this.collect();
  }

  /** The numbered images that may be resumed from, newest first */
  images(): string[] {
    return this.entries().filter((e) => !e.setAside).sort((a, b) => b.seq - a.seq).map((e) => path.join(this.dir, e.name));
  }

  /** Names the image at the staging name, if one is there; returns its new path */
  collect(): string | undefined {
    const target = path.join(this.dir, numberedName(this.nextSeq()));
    try {
      fs.renameSync(this.staging, target);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    return target;
  }

  /** Removes all but the newest `keep` images */
  prune(keep: number): void {
    for (const old of this.images().slice(keep)) fs.rmSync(old, { force: true });
  }

  setAside(image: string, reason: SetAsideReason): void {
    fs.renameSync(image, `${image}.${reason}`);
  }

  private nextSeq(): number {
    return Math.max(0, ...this.entries().map((e) => e.seq)) + 1;
  }

  private entries(): { name: string; seq: number; setAside: boolean }[] {
    return fs.readdirSync(this.dir).flatMap((name) => {
      const m = NUMBERED.exec(name);
      return m ? [{ name, seq: Number(m[1]), setAside: m[2] !== undefined }] : [];
    });
  }
}
