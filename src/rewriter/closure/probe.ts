// Trying a candidate file as ld.so's open_verify does: a file that is missing, unreadable, not ELF,
// of the other ELF class, of another machine or not a shared object is passed over and the search
// goes on. (ld.so stops with an error on a non-ELF file or an ET_EXEC; passing over them here can
// only lead to a later candidate or to the "not found" message, never to a wrong file.)
import fs from 'node:fs';
import { IDENT_BYTES, isLoadableLibrary } from './dynamic.js';

function readHead(file: string): Buffer | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(IDENT_BYTES);
    return head.subarray(0, fs.readSync(fd, head, 0, IDENT_BYTES, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** The bytes of `file` if ld.so would load it as an x86-64 library, else undefined */
export function probeLibrary(file: string): Buffer | undefined {
  const head = readHead(file);
  if (!head || !isLoadableLibrary(head)) return undefined;
  try {
    return fs.readFileSync(file);
  } catch {
    return undefined;
  }
}

/**
 * What makes two paths one file: ld.so compares device and inode after opening (_dl_file_id_match_p)
 * and reuses the object it has, so a library reached under two names is loaded, and carried, once.
 */
export function fileIdentity(file: string): string {
  const st = fs.statSync(file, { bigint: true });
  return `${st.dev}:${st.ino}`;
}
