// Relocation tables with addends (SHT_RELA), the only kind an x86-64 object file has.
import { decodeElf, RELA, RELA_SIZE } from './structs.js';
import type { FileRange } from './symbols.js';

export interface Relocation {
  /** index of the section the relocation patches (the table's sh_info) */
  section: number;
  /** offset of the patched bytes in that section */
  offset: number;
  /** R_X86_64_* */
  type: number;
  /** index in the symbol table */
  symbol: number;
  addend: number;
}

/** Every entry of a SHT_RELA table that patches section `target` */
export function readRelocations(buf: Buffer, table: FileRange, target: number): Relocation[] {
  const out: Relocation[] = [];
  for (let p = table.offset; p + RELA_SIZE <= table.offset + table.size; p += RELA_SIZE) {
    out.push({ section: target, ...decodeElf(buf, p, RELA) });
  }
  return out;
}
