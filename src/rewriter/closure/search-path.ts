// Search-path strings as glibc 2.36's ld.so reads them (elf/dl-load.c: fillin_rpath,
// _dl_dst_substitute): colon-separated lists whose elements may hold the dynamic string tokens
// $ORIGIN, $LIB and $PLATFORM, bare or in braces. Paths are built as ld.so builds them, by joining
// strings, never normalised: the path given for a library is the one ld.so would open and report.
import fs from 'node:fs';
import path from 'node:path';

/**
 * $LIB as this machine's ld.so expands it: Debian builds glibc with slibdir /lib/x86_64-linux-gnu
 * and patches DL_DST_LIB to "lib/x86_64-linux-gnu" (seen with LD_DEBUG=libs on a RUNPATH of
 * /nonexist/$LIB/$PLATFORM: it searched /nonexist/lib/x86_64-linux-gnu/x86_64).
 */
export const DST_LIB = 'lib/x86_64-linux-gnu';
/** $PLATFORM: AT_PLATFORM, which the kernel sets to "x86_64" on every x86-64 CPU */
export const DST_PLATFORM = 'x86_64';

/** The directories of ld.so's last search step, in its order (ld.so --help lists them) */
export const DEFAULT_DIRS = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'];

/** A token followed by a letter, digit or '_' is part of a longer name, not a token (gABI) */
const TOKEN = /\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))/g;

/** `s` with its tokens replaced; `origin` is the directory of the object the string comes from */
export function expandTokens(s: string, origin: string): string {
  return s.replace(TOKEN, (_, braced: string | undefined, bare: string | undefined) => {
    const token = braced ?? bare;
    return token === 'ORIGIN' ? origin : token === 'LIB' ? DST_LIB : DST_PLATFORM;
  });
}

/** DT_RPATH and DT_RUNPATH separate their directories with ':'; LD_LIBRARY_PATH with ':' or ';' */
export const DYNAMIC_PATH_SEPARATOR = /:/;
export const LIBRARY_PATH_SEPARATOR = /[:;]/;

/**
 * The directories of a DT_RPATH, DT_RUNPATH or library-path list, without trailing slashes and
 * without repeats. An element that expands to nothing is dropped; an element that was empty to
 * begin with stays, as '', which ld.so searches as the working directory.
 */
export function searchDirs(list: string, origin: string, separator = DYNAMIC_PATH_SEPARATOR): string[] {
  const dirs: string[] = [];
  if (list === '') return dirs; // an empty DT_RPATH or DT_RUNPATH is no path at all, not the working directory
  for (const element of list.split(separator)) {
    const dir = element === '' ? '' : stripTrailingSlashes(expandTokens(element, origin));
    if (element !== '' && dir === '') continue;
    if (!dirs.includes(dir)) dirs.push(dir);
  }
  return dirs;
}

function stripTrailingSlashes(dir: string): string {
  return dir.length > 1 ? dir.replace(/\/+$/, '') || '/' : dir;
}

/** The file ld.so tries for `name` in `dir` */
export function candidatePath(dir: string, name: string): string {
  return dir === '' ? name : dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/**
 * $ORIGIN of an object opened as `file`: its directory as a string, made absolute against the
 * working directory but with symlinks and '..' left as they are (ld.so's _dl_new_object).
 */
export function originOfPath(file: string): string {
  const absolute = file.startsWith('/') ? file : `${process.cwd()}/${file}`;
  const slash = absolute.lastIndexOf('/');
  return slash === 0 ? '/' : absolute.slice(0, slash);
}

/**
 * $ORIGIN of the executable. ld.so takes it from /proc/self/exe, which the kernel gives with every
 * symlink resolved: a symlink to a program elsewhere still finds the program's own $ORIGIN/../lib.
 * A path that cannot be resolved (tests that pass bytes only) falls back to its directory.
 */
export function originOfExecutable(exePath: string): string {
  try {
    return path.dirname(fs.realpathSync(exePath));
  } catch {
    return originOfPath(exePath);
  }
}
