// The chain of an incremental image (docs/image-format.md, "Incremental images"): the image, its
// parent, the parent's parent... down to a full image. Each link is a file in the directory of the
// image that names it; it is checked as any image is, and must be the state its child recorded
// (same job, the generation and header checksum in the child's parent record). The walk stops at
// the first link that is missing or wrong, as a restart would.
import fs from 'node:fs';
import path from 'node:path';
import { ImageReadError, checkImage, fileSource, type Image } from './read.js';

export interface ChainLink {
  file: string;
  /** the link's header generation; undefined when it could not be read */
  generation?: bigint;
  /** bytes in the file */
  size?: number;
  /** whether it names a parent of its own */
  incremental: boolean;
  /** why a restart would refuse the chain at this link */
  problem?: string;
}

const MAX_LINKS = 255;	// as the runtime's RT_MAX_CHAIN

function linkFile(child: string, name: string): string {
  return path.join(path.dirname(child), name);
}

/** One link, read and checked against what its child recorded */
function readLink(file: string, child: Image, data: boolean): { link: ChainLink; image?: Image } {
  const named = child.parent!;
  if (!fs.existsSync(file)) return { link: { file, incremental: false, problem: 'missing' } };
  let src;
  try {
    src = fileSource(file);
  } catch (e) {
    if (!(e instanceof ImageReadError)) throw e;
    return { link: { file, incremental: false, problem: `cannot be read: ${e.message}` } };
  }
  try {
    const { image, problems } = checkImage(src, { data });
    const h = image.header;
    const link: ChainLink = { file, generation: h?.generation, size: image.size, incremental: image.parent !== undefined };
    if (problems.length) link.problem = `damaged: ${problems[0]}`;
    else if (!h || h.generation !== named.generation || h.crc !== named.headerCrc ||
             h.jobStart !== child.header!.jobStart || h.jobNonce !== child.header!.jobNonce) {
      link.problem = 'not the state its child names (another checkpoint at that name)';
    }
    return { link, image };
  } finally {
    src.close();
  }
}

/** The links below `image` (read from `file`), nearest first; empty for a full image */
export function readChain(file: string, image: Image, opts: { data: boolean }): ChainLink[] {
  const links: ChainLink[] = [];
  let child = image, childFile = file;
  while (child.parent !== undefined && links.length < MAX_LINKS) {
    const { link, image: next } = readLink(linkFile(childFile, child.parent.name), child, opts.data);
    links.push(link);
    if (link.problem || !next) break;
    child = next;
    childFile = link.file;
  }
  return links;
}
