// Which files a relinked dynamic program carries: its interpreter and the libraries ld.so would load
// for it, resolved on this machine at relink time exactly as glibc 2.36's ld.so resolves them at run
// time (locate.ts has the search order), plus the --with objects and what they need in turn.
//
// Contract: every object is named by what ld.so asks for and located at the path ld.so would open;
// objects come in ld.so's load order (breadth-first over DT_NEEDED, no file twice); anything that
// stops ld.so (a library found nowhere) stops here with a one-line RelinkError saying who needed it
// and where it was looked for. The files are read once, here; nothing is written.
import { RelinkError } from '../../errors.js';
import { readDynamicInfo } from './dynamic.js';
import { readLdCache, type LdCache } from './ld-cache.js';
import { locateLibrary, type Requester, type SearchContext } from './locate.js';
import { fileIdentity, probeLibrary } from './probe.js';
import { expandTokens, originOfExecutable, originOfPath } from './search-path.js';
import { withFiles } from './with.js';

export interface CarriedObject {
  /** what ld.so will ask for: the DT_NEEDED string ('libc.so.6'), the PT_INTERP path, or for a
   *  --with file its own path (a DT_NEEDED string with $ORIGIN, $LIB or $PLATFORM: as ld.so
   *  expands it, since that is what it asks for) */
  name: string;
  /** the file on this machine, as resolved (not symlink-resolved: the path ld.so would open) */
  path: string;
  /** DT_SONAME, when the object has one */
  soname?: string;
  role: 'interp' | 'needed' | 'with';
  /** names (paths) of the objects whose DT_NEEDED named it; empty for interp and with */
  neededBy: string[];
  bytes: Buffer;
}
export interface ClosureOptions {
  /** --library-path DIR (repeatable): searched as LD_LIBRARY_PATH would be */
  libraryPath?: string[];
  /** --with PATH (repeatable): a shared object, or a directory whose *.so* files are all carried
   *  (python's lib-dynload, perl's auto/ tree: recurse), together with THEIR DT_NEEDED closure */
  with?: string[];
  /** for tests: where /etc/ld.so.cache is read from (default '/etc/ld.so.cache') */
  cacheFile?: string;
}
export interface Closure { interp: CarriedObject; objects: CarriedObject[] /* load order, interp excluded */ }

const DEFAULT_CACHE_FILE = '/etc/ld.so.cache';

/** A carried object as the resolver tracks it: what it needs, and every name that now finds it */
interface Loaded extends Requester {
  carried: CarriedObject;
  /** ld.so's names of a loaded object: the name it was asked for, its path, its soname, and any
   *  other name under which the same file was found later */
  names: Set<string>;
}

function carry(role: CarriedObject['role'], name: string, path: string, bytes: Buffer, loader: Requester | undefined): Loaded {
  const info = readDynamicInfo(path, bytes);
  const carried: CarriedObject = { name, path, role, neededBy: [], bytes, ...(info.soname === undefined ? {} : { soname: info.soname }) };
  const names = new Set([name, path, ...(info.soname === undefined ? [] : [info.soname])]);
  return { path, origin: originOfPath(path), info, loader, carried, names };
}

class ClosureBuilder {
  readonly objects: Loaded[] = [];
  private readonly byIdentity = new Map<string, Loaded>();

  constructor(readonly interp: Loaded, private readonly ctx: SearchContext) {
    this.byIdentity.set(fileIdentity(interp.path), interp);
  }

  private loadedByName(name: string): Loaded | undefined {
    return [this.interp, ...this.objects].find((l) => l.names.has(name));
  }

  /** The object that DT_NEEDED `name` of `requester` gives, and whether it is new */
  private need(requester: Requester, name: string): { lib: Loaded; isNew: boolean } {
    const known = this.loadedByName(name);
    if (known) return { lib: known, isNew: false };
    const found = locateLibrary(name, requester, this.ctx);
    const sameFile = this.byIdentity.get(fileIdentity(found.path));
    if (sameFile) {
      sameFile.names.add(name);
      return { lib: sameFile, isNew: false };
    }
    return { lib: this.add(carry('needed', name, found.path, found.bytes, requester)), isNew: true };
  }

  private add(lib: Loaded): Loaded {
    this.objects.push(lib);
    this.byIdentity.set(fileIdentity(lib.path), lib);
    return lib;
  }

  /** ld.so's _dl_map_object_deps: breadth-first from `root`, each object's DT_NEEDED in order */
  loadDependencies(root: Requester): void {
    for (const queue = [root]; queue.length > 0;) {
      const requester = queue.shift()!;
      // ld.so expands the tokens of every DT_NEEDED string (dl-deps.c) before it looks the name up
      for (const name of requester.info.needed.map((n) => expandTokens(n, requester.origin))) {
        const { lib, isNew } = this.need(requester, name);
        if (lib.carried.role === 'needed' && !lib.carried.neededBy.includes(requester.path)) lib.carried.neededBy.push(requester.path);
        if (isNew) queue.push(lib);
      }
    }
  }

  /** A --with object, as if the executable dlopened it by path: skipped if that file is carried already */
  loadWith(path: string, bytes: Buffer, executable: Requester): void {
    if (this.byIdentity.has(fileIdentity(path))) return;
    this.loadDependencies(this.add(carry('with', path, path, bytes, executable)));
  }
}

function executableRequester(exePath: string, exe: Buffer): Requester & { interp: string } {
  const info = readDynamicInfo(exePath, exe);
  if (info.interp === undefined) {
    throw new RelinkError('ETYPE', `${exePath} has no PT_INTERP: not a dynamically linked executable, it has no library closure`);
  }
  return { path: exePath, origin: originOfExecutable(exePath), info, interp: info.interp };
}

function loadInterpreter(interpPath: string, exePath: string): Loaded {
  const bytes = probeLibrary(interpPath);
  if (!bytes) throw new RelinkError('EIO', `${interpPath} (the interpreter of ${exePath}) not found or not an x86-64 shared object`);
  return carry('interp', interpPath, interpPath, bytes, undefined);
}

function lazyCache(file: string): () => LdCache {
  let cache: LdCache | undefined;
  return () => (cache ??= readLdCache(file));
}

/** exePath: the executable's path (for $ORIGIN); exe: its bytes. Throws RelinkError. */
export function resolveClosure(exePath: string, exe: Buffer, opts: ClosureOptions = {}): Closure {
  const executable = executableRequester(exePath, exe);
  const cacheFile = opts.cacheFile ?? DEFAULT_CACHE_FILE;
  const ctx: SearchContext = { executable, libraryPath: opts.libraryPath ?? [], cacheFile, cache: lazyCache(cacheFile) };
  const builder = new ClosureBuilder(loadInterpreter(executable.interp, exePath), ctx);
  builder.loadDependencies(executable);
  for (const withPath of opts.with ?? []) {
    for (const file of withFiles(withPath)) builder.loadWith(file.path, file.bytes, executable);
  }
  return { interp: builder.interp.carried, objects: builder.objects.map((l) => l.carried) };
}
