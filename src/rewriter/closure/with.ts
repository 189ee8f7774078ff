// The files a --with PATH names: the shared object itself, or every x86-64 shared object named
// *.so or *.so.* under a directory, at any depth (python's lib-dynload, perl's auto/ tree). Files
// that are not such objects are passed over silently inside a directory, since plugin trees hold
// other files too; named on their own, they are an error.
import fs from 'node:fs';
import { RelinkError } from '../../errors.js';
import { probeLibrary } from './probe.js';

export interface WithFile { path: string; bytes: Buffer }

const SHARED_OBJECT_NAME = /\.so(\.|$)/;

function readDirectory(dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    throw new RelinkError('EIO', `--with: cannot read directory ${dir} (${(e as NodeJS.ErrnoException).code ?? 'error'})`, { cause: e });
  }
}

/**
 * Candidate paths under `dir` in a stable order: regular files before symlinks, so that where a
 * symlink and its target are both there the target's own path is the one carried. Symlinked
 * directories are not entered (a link back up would never end).
 */
function candidatesUnder(dir: string): { files: string[]; links: string[] } {
  const files: string[] = [];
  const links: string[] = [];
  const entries = readDirectory(dir).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = `${dir.replace(/\/+$/, '')}/${e.name}`;
    if (e.isDirectory()) {
      const below = candidatesUnder(p);
      files.push(...below.files);
      links.push(...below.links);
    } else if (SHARED_OBJECT_NAME.test(e.name)) {
      (e.isSymbolicLink() ? links : e.isFile() ? files : []).push(p);
    }
  }
  return { files, links };
}

function loadable(paths: string[]): WithFile[] {
  return paths.flatMap((p) => {
    const bytes = probeLibrary(p);
    return bytes ? [{ path: p, bytes }] : [];
  });
}

/** The shared objects --with `withPath` carries, in order; throws RelinkError if there are none */
export function withFiles(withPath: string): WithFile[] {
  const st = fs.statSync(withPath, { throwIfNoEntry: false });
  if (!st) throw new RelinkError('EIO', `--with ${withPath}: no such file or directory`);
  if (st.isDirectory()) {
    const { files, links } = candidatesUnder(withPath);
    const found = loadable([...files, ...links]);
    if (found.length === 0) throw new RelinkError('ENOTELF', `--with ${withPath}: the directory holds no x86-64 shared object (*.so, *.so.*)`);
    return found;
  }
  const found = loadable([withPath]);
  if (found.length === 0) throw new RelinkError('ENOTELF', `--with ${withPath}: not an x86-64 shared object`);
  return found;
}
