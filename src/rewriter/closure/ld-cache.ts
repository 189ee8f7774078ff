// /etc/ld.so.cache, read as glibc 2.36's ld.so reads it (elf/dl-cache.c, sysdeps/generic/dl-cache.h):
// the "glibc-ld.so.cache1.1" format only, a 48-byte header, then fixed entries whose key (the
// library's name) and value (its path) are offsets of NUL-terminated strings from the start of the
// file. A cache ld.so would not use (missing, old "ld.so-1.7.0" format, wrong byte order,
// truncated) reads as empty: the search then goes on to the default dirs, as ld.so's does.
import fs from 'node:fs';
import { readStruct } from '../../lib/struct.js';

const MAGIC = 'glibc-ld.so.cache1.1';

const HEADER = [['nlibs', 20, 'u32'], ['stringsLength', 24, 'u32'], ['flags', 28, 'u8']] as const;
const HEADER_SIZE = 48;
const ENTRY = [['flags', 0, 'u32'], ['key', 4, 'u32'], ['value', 8, 'u32'], ['hwcap', 16, 'u64']] as const;
const ENTRY_SIZE = 24;

/** Entry flags of a 64-bit x86-64 glibc library (FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 in ldconfig.h) */
const FLAGS_X8664_LIBC6 = 0x0303;
/** Header flags: byte order unknown (an old ldconfig) or little-endian; anything else is unusable */
const ENDIAN_MASK = 3;
const USABLE_ENDIAN = new Set([0, 2]);

/** Library name -> the path ld.so's cache lookup gives it */
export type LdCache = ReadonlyMap<string, string>;

function cString(bytes: Buffer, at: number): string | undefined {
  const nul = at < bytes.length ? bytes.indexOf(0, at) : -1;
  return nul < 0 ? undefined : bytes.toString('latin1', at, nul);
}

function readCacheFile(file: string): Buffer | undefined {
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * The cache's x86-64 entries. Where a name has several, the one with no hwcap, that is not in a
 * glibc-hwcaps (x86-64-v2, -v3...) or legacy hwcap subdirectory, is taken even where ld.so would
 * prefer the copy built for this CPU: the carried copy must run on whichever x86-64 the program and
 * its images move to later, and only the baseline build is sure to.
 */
export function readLdCache(file: string): LdCache {
  const cache = new Map<string, string>();
  const bytes = readCacheFile(file);
  if (!bytes || bytes.length < HEADER_SIZE || bytes.toString('latin1', 0, MAGIC.length) !== MAGIC) return cache;
  const { nlibs, flags } = readStruct(bytes, 0, HEADER);
  if (!USABLE_ENDIAN.has(flags & ENDIAN_MASK) || HEADER_SIZE + nlibs * ENTRY_SIZE > bytes.length) return cache;
  const baseline = new Set<string>();
  for (let i = 0; i < nlibs; i++) {
    const entry = readStruct(bytes, HEADER_SIZE + i * ENTRY_SIZE, ENTRY);
    if (entry.flags !== FLAGS_X8664_LIBC6) continue;
    const name = cString(bytes, entry.key);
    const path = cString(bytes, entry.value);
    if (name === undefined || path === undefined || baseline.has(name)) continue;
    if (entry.hwcap === 0n) baseline.add(name);
    if (entry.hwcap === 0n || !cache.has(name)) cache.set(name, path);
  }
  return cache;
}
