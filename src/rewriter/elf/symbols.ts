// Symbol tables, read and made. The rewriter reads two: the input executable's (its function
// symbols mark where code can be entered) and the runtime object's (where its sections and entry
// points are, and what its relocations refer to).
import { decodeElf, encodeElf, SYM, SYM_SIZE } from './structs.js';
import type { ElfSymbol } from './types.js';

/** Where a table lies in the file */
export interface FileRange { offset: number; size: number }

export const symbolType = (s: ElfSymbol) => s.info & 0xf;
export const symbolInfo = (binding: number, type: number) => (binding << 4) | type;

/** The NUL-terminated string at `at` in a string table; one without its NUL ends with the table */
function stringAt(buf: Buffer, table: FileRange, at: number): string {
  const start = table.offset + at, limit = table.offset + table.size;
  const nul = buf.indexOf(0, start);
  return buf.toString('latin1', start, nul < 0 || nul > limit ? limit : nul);
}

/**
 * Every entry of the symbol table `symtab` (a trailing partial entry is ignored). Names come from
 * `strtab`; without one, every name is empty (for callers that only need addresses). Values and
 * sizes past 2^53 are rounded, not refused: the rewriter only compares them with addresses it
 * decoded, and an input's symbol table is not worth refusing the input for.
 */
export function readSymbols(buf: Buffer, symtab: FileRange, strtab?: FileRange): ElfSymbol[] {
  const out: ElfSymbol[] = [];
  for (let p = symtab.offset; p + SYM_SIZE <= symtab.offset + symtab.size; p += SYM_SIZE) {
    const sym = decodeElf(buf, p, SYM, 'rounded');
    out.push({ ...sym, name: strtab ? stringAt(buf, strtab, sym.nameOffset) : '' });
  }
  return out;
}

/** Encodes symbol table entries, one after another */
export function symbolTable(symbols: Omit<ElfSymbol, 'name'>[]): Buffer {
  const out = Buffer.alloc(symbols.length * SYM_SIZE);
  symbols.forEach((s, i) => encodeElf(out, i * SYM_SIZE, SYM, s));
  return out;
}
