// The runtime as the rewriter sees it: the sections, symbols and relocations of the relocatable
// object that runtime/Makefile builds (build/runtime.o).
import elfy from 'elfy';
import { RelinkError } from '../../errors.js';
import { ET_REL, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHT_NOBITS, SHT_RELA, SHT_SYMTAB } from '../elf/types.js';

export type OutputKind = 'text' | 'rodata' | 'data' | 'bss';

export interface InputSection {
  index: number;
  name: string;
  kind: OutputKind;
  size: number;
  align: number;
  data: Buffer;
}

export interface RuntimeSymbol {
  name: string;
  /** input section index, or 0 when undefined */
  shndx: number;
  value: number;
  size: number;
  type: number; // STT_*
}

export interface Relocation {
  section: number; // the input section patched
  offset: number;
  type: number;
  symbol: number;
  addend: number;
}

export interface RuntimeObject {
  sections: InputSection[];
  symbols: RuntimeSymbol[];
  relocations: Relocation[];
}

export const R_X86_64_PC32 = 2;
export const R_X86_64_PLT32 = 4;

function kindOf(type: number, flags: number): OutputKind {
  if (type === SHT_NOBITS) return 'bss';
  if (flags & SHF_EXECINSTR) return 'text';
  return flags & SHF_WRITE ? 'data' : 'rodata';
}

function readSymbols(buf: Buffer, shoff: number, symtab: number, names: (link: number, off: number) => string): RuntimeSymbol[] {
  const h = shoff + symtab * 64;
  const off = Number(buf.readBigUInt64LE(h + 24)), size = Number(buf.readBigUInt64LE(h + 32));
  const link = buf.readUInt32LE(h + 40);
  const out: RuntimeSymbol[] = [];
  for (let p = off; p + 24 <= off + size; p += 24) {
    out.push({
      name: names(link, buf.readUInt32LE(p)),
      type: buf[p + 4] & 0xf,
      shndx: buf.readUInt16LE(p + 6),
      value: Number(buf.readBigUInt64LE(p + 8)),
      size: Number(buf.readBigUInt64LE(p + 16)),
    });
  }
  return out;
}

function readRelocations(buf: Buffer, shoff: number, index: number): Relocation[] {
  const h = shoff + index * 64;
  const off = Number(buf.readBigUInt64LE(h + 24)), size = Number(buf.readBigUInt64LE(h + 32));
  const target = buf.readUInt32LE(h + 44);
  const out: Relocation[] = [];
  for (let p = off; p + 24 <= off + size; p += 24) {
    const info = buf.readBigUInt64LE(p + 8);
    out.push({
      section: target,
      offset: Number(buf.readBigUInt64LE(p)),
      type: Number(info & 0xffffffffn),
      symbol: Number(info >> 32n),
      addend: Number(buf.readBigInt64LE(p + 16)),
    });
  }
  return out;
}

/** Parses the runtime object; it is built by this project, so a fault here is a build problem. */
export function readRuntimeObject(buf: Buffer): RuntimeObject {
  const elf = elfy.parse(buf);
  if (buf.readUInt16LE(16) !== ET_REL) throw new RelinkError('ERUNTIME', 'runtime object is not relocatable');
  const shoff = Number(buf.readBigUInt64LE(40));
  const raw = elf.body.sections;
  const names = (link: number, off: number) => {
    const s = raw[link].data;
    const end = s.indexOf(0, off);
    return s.subarray(off, end < 0 ? s.length : end).toString('latin1');
  };
  const sections: InputSection[] = [];
  let symbols: RuntimeSymbol[] = [];
  let relocations: Relocation[] = [];
  raw.forEach((s, index) => {
    const h = shoff + index * 64;
    const type = buf.readUInt32LE(h + 4), flags = Number(buf.readBigUInt64LE(h + 8));
    if (type === SHT_SYMTAB) symbols = readSymbols(buf, shoff, index, names);
    else if (type === SHT_RELA) relocations = relocations.concat(readRelocations(buf, shoff, index));
    else if (flags & SHF_ALLOC) {
      const size = Number(buf.readBigUInt64LE(h + 32));
      sections.push({ index, name: s.name, kind: kindOf(type, flags), size, align: Math.max(1, Number(buf.readBigUInt64LE(h + 48))),
        data: type === SHT_NOBITS ? Buffer.alloc(0) : Buffer.from(s.data) });
    }
  });
  return { sections, symbols, relocations };
}
