// The runtime as the rewriter sees it: the sections, symbols and relocations of the relocatable
// object that runtime/Makefile builds (build/runtime.o).
import elfy from 'elfy';
import { RelinkError } from '../../errors.js';
import { ET_REL, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_RELA, SHT_SYMTAB } from '../elf/constants.js';
import { readRelocations, type Relocation } from '../elf/relocations.js';
import { EHDR, SHDR, SHDR_SIZE, decodeElf } from '../elf/structs.js';
import { readSymbols } from '../elf/symbols.js';
import type { ElfSymbol } from '../elf/types.js';

export type OutputKind = 'text' | 'rodata' | 'data' | 'bss';

export interface InputSection {
  index: number;
  name: string;
  kind: OutputKind;
  size: number;
  align: number;
  data: Buffer;
}

export interface RuntimeObject {
  sections: InputSection[];
  /** the object's symbol table; relocations refer to it by index */
  symbols: ElfSymbol[];
  relocations: Relocation[];
}

function kindOf(type: number, flags: number): OutputKind {
  if (type === SHT_NOBITS) return 'bss';
  if (flags & SHF_EXECINSTR) return 'text';
  return flags & SHF_WRITE ? 'data' : 'rodata';
}

/** Parses the runtime object; it is built by this project, so a fault here is a build problem. */
export function readRuntimeObject(buf: Buffer): RuntimeObject {
  const elf = elfy.parse(buf);
  const header = decodeElf(buf, 0, EHDR);
  if (header.type !== ET_REL) throw new RelinkError('ERUNTIME', 'runtime object is not relocatable');
  const headers = elf.body.sections.map((_, index) => decodeElf(buf, header.shoff + index * SHDR_SIZE, SHDR));
  const sections: InputSection[] = [];
  let symbols: ElfSymbol[] = [];
  let relocations: Relocation[] = [];
  elf.body.sections.forEach((s, index) => {
    const h = headers[index];
    if (h.type === SHT_SYMTAB) symbols = readSymbols(buf, h, headers[h.link]);
    else if (h.type === SHT_RELA) relocations = relocations.concat(readRelocations(buf, h, h.info));
    else if (h.flags & SHF_ALLOC) {
      sections.push({ index, name: s.name, kind: kindOf(h.type, h.flags), size: h.size, align: Math.max(1, h.addralign),
        data: h.type === SHT_NOBITS ? Buffer.alloc(0) : Buffer.from(s.data) });
    }
  });
  return { sections, symbols, relocations };
}
