// Which way a job starts: from the newest image that passes every check ckpt-inspect makes (each
// record's and the memory contents' checksums) and was made by this very program (binary id), or
// afresh. The runtime checks the image again before it restores anything; these checks come first
// so that a bad image can be passed over for an older one, which the runtime cannot do.
import { BinaryIdError, binaryId } from '../image/binary-id.js';
import { ImageReadError, checkImage, fileSource } from '../image/read.js';
import type { Image, ImageDir } from './image-dir.js';
import type { LocalCopy } from './store.js';
import type { RunEvent } from './events.js';

/** What to do when the newest image is bad (`--on-bad-image`) */
export type BadImagePolicy = 'fallback' | 'fresh' | 'fail';
export const BAD_IMAGE_POLICIES: readonly BadImagePolicy[] = ['fallback', 'fresh', 'fail'];

export type Start =
  /** `copy` is a local file holding the image (the image itself in a local directory), released
   *  when the program has ended */
  | { kind: 'resume'; image: Image; copy: LocalCopy }
  | { kind: 'fresh' }
  | { kind: 'refuse'; reason: string };

export class ProgramError extends Error {
  override readonly name = 'ProgramError';
}

/** The binary id images of `program` carry; throws ProgramError when it is not a relinked binary */
export function programId(program: string): bigint {
  try {
    const src = fileSource(program);
    try { return binaryId(src); } finally { src.close(); }
  } catch (e) {
    if (e instanceof ImageReadError || e instanceof BinaryIdError) throw new ProgramError(e.message);
    throw e;
  }
}

/** Why `image` cannot be resumed by the program whose binary id is `id`; undefined when it can */
export function whyNotResumable(image: string, id: bigint): string | undefined {
  let src;
  try {
    src = fileSource(image);
  } catch (e) {
    if (e instanceof ImageReadError) return e.message;
    throw e;
  }
  try {
    const { image: decoded, problems } = checkImage(src);
    if (problems.length > 0) return problems[0];
    const made = decoded.header!.binaryId;
    if (made !== id) return `made by another binary (binary id 0x${made.toString(16)}, the program's 0x${id.toString(16)})`;
    return undefined;
  } finally {
    src.close();
  }
}

/**
 * Looks at the images newest first. Under `fallback` a bad one is set aside and the next is tried,
 * and with none left the job starts afresh; under `fresh` the first bad one starts the job afresh
 * and the older ones are set aside unused, so that a later run cannot resume the abandoned
 * computation; under `fail` nothing is touched and the job is refused.
 */
export async function chooseStart(images: ImageDir, id: bigint, policy: BadImagePolicy, report: (e: RunEvent) => void): Promise<Start> {
  const candidates = await images.images();
  for (let i = 0; i < candidates.length; i++) {
    const image = candidates[i];
    const copy = await images.localCopy(image);
    const reason = whyNotResumable(copy.file, id);
    if (reason === undefined) {
      if (i > 0) report({ kind: 'falling-back', image: image.location });
      return { kind: 'resume', image, copy };
    }
    copy.release();
    report({ kind: 'bad-image', image: image.location, reason });
    if (policy === 'fail') return { kind: 'refuse', reason: `${image.location} is bad and --on-bad-image is fail` };
    await images.setAside(image, 'bad');
    if (policy === 'fresh') {
      for (const older of candidates.slice(i + 1)) await images.setAside(older, 'unused');
      break;
    }
  }
  if (candidates.length > 0) report({ kind: 'starting-afresh' });
  return { kind: 'fresh' };
}
