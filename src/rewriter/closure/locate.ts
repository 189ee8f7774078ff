// Where ld.so finds one DT_NEEDED name, in glibc 2.36's order (elf/dl-load.c, _dl_map_object):
//
//   a name holding '/'  is a path, used as is;
//   otherwise           1. DT_RPATH of the requesting object, then of the object that loaded it, and
//                          so on up to the executable, then the executable's own, all skipped when
//                          the requesting object has DT_RUNPATH;
//                       2. the library path (LD_LIBRARY_PATH; here --library-path);
//                       3. DT_RUNPATH of the requesting object only;
//                       4. /etc/ld.so.cache (minus the default dirs' entries under DF_1_NODEFLIB);
//                       5. the default dirs, unless the requesting object has DF_1_NODEFLIB.
//
// A candidate ld.so cannot take (probe.ts) is passed over. Not searched, unlike ld.so: the
// glibc-hwcaps (x86-64-v2...) and legacy hwcap (tls, x86_64) subdirectories of each directory, for
// the reason ld-cache.ts gives: the carried copy must be the one that runs on any x86-64.
import { RelinkError } from '../../errors.js';
import type { DynamicInfo } from './dynamic.js';
import type { LdCache } from './ld-cache.js';
import { probeLibrary } from './probe.js';
import { DEFAULT_DIRS, LIBRARY_PATH_SEPARATOR, candidatePath, searchDirs } from './search-path.js';

/** An object whose DT_NEEDED names are looked up: the executable, a library, a --with object */
export interface Requester {
  /** the path it was opened as (the executable's as given): named in messages and neededBy */
  path: string;
  /** what $ORIGIN expands to in its strings */
  origin: string;
  info: DynamicInfo;
  /** the object whose lookup first loaded it (ld.so's l_loader); none for the executable */
  loader?: Requester;
}

export interface SearchContext {
  executable: Requester;
  libraryPath: string[];
  cacheFile: string;
  cache: () => LdCache;
}

export interface Located { path: string; bytes: Buffer }

/** One place to look, in order: a directory, or the cache */
type Place = { dir: string } | { cache: true };

function rpathDirs(requester: Requester, executable: Requester): string[] {
  if (requester.info.runpath !== undefined) return [];
  const dirs: string[] = [];
  let sawExecutable = false;
  for (let l: Requester | undefined = requester; l; l = l.loader) {
    if (l.info.rpath !== undefined) dirs.push(...searchDirs(l.info.rpath, l.origin));
    sawExecutable ||= l === executable;
  }
  if (!sawExecutable && executable.info.rpath !== undefined) dirs.push(...searchDirs(executable.info.rpath, executable.origin));
  return dirs;
}

function placesFor(requester: Requester, ctx: SearchContext): Place[] {
  const dirs = (list: string[]) => list.map((dir) => ({ dir }));
  const runpath = requester.info.runpath;
  return [
    ...dirs(rpathDirs(requester, ctx.executable)),
    ...dirs(ctx.libraryPath.flatMap((list) => searchDirs(list, ctx.executable.origin, LIBRARY_PATH_SEPARATOR))),
    ...dirs(runpath === undefined ? [] : searchDirs(runpath, requester.origin)),
    { cache: true },
    ...dirs(requester.info.noDefaultLib ? [] : DEFAULT_DIRS),
  ];
}

function inDefaultDir(file: string): boolean {
  return DEFAULT_DIRS.some((dir) => file.startsWith(`${dir}/`));
}

function fromCache(name: string, requester: Requester, ctx: SearchContext): Located | undefined {
  const cached = ctx.cache().get(name);
  if (cached === undefined || (requester.info.noDefaultLib && inDefaultDir(cached))) return undefined;
  const bytes = probeLibrary(cached);
  return bytes && { path: cached, bytes };
}

function notFound(name: string, requester: Requester, searched: string[]): RelinkError {
  const places = searched.map((p) => (p === '' ? '.' : p)).filter((p, i, all) => all.indexOf(p) === i);
  return new RelinkError('EIO', `${name} (needed by ${requester.path}) not found; searched: ${places.join(', ')} (add --library-path DIR)`);
}

/** The file ld.so loads for DT_NEEDED `name` (tokens expanded) of `requester`; throws RelinkError if there is none */
export function locateLibrary(name: string, requester: Requester, ctx: SearchContext): Located {
  if (name.includes('/')) {
    const bytes = probeLibrary(name);
    if (!bytes) throw notFound(name, requester, [name]);
    return { path: name, bytes };
  }
  const searched: string[] = [];
  for (const place of placesFor(requester, ctx)) {
    if ('cache' in place) {
      const found = fromCache(name, requester, ctx);
      if (found) return found;
      searched.push(ctx.cacheFile);
      continue;
    }
    const file = candidatePath(place.dir, name);
    const bytes = probeLibrary(file);
    if (bytes) return { path: file, bytes };
    searched.push(place.dir);
  }
  throw notFound(name, requester, searched);
}
