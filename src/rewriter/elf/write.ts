// Writes the relinked executable: the input bytes with patched windows, three new loadable
// segments, a moved program header table, and section headers, names and symbols for everything
// added, so that readelf, objdump and gdb see an ordinary ELF file. Original sections keep their
// indices, offsets and addresses; only .shstrtab, .symtab and .strtab are rewritten (appended).
import { RelinkError } from '../../errors.js';
import { PAGE, alignUp, pageUp } from './align.js';
import {
  PT_INTERP, PT_LOAD, PT_NULL, PT_PHDR, SHT_NOBITS, SHT_NULL, SHT_STRTAB, SHT_SYMTAB, STB_GLOBAL, STT_FUNC, STT_OBJECT, STV_HIDDEN,
} from './constants.js';
import { EHDR, PHDR, PHDR_SIZE, SHDR, SHDR_SIZE, SYM_SIZE, encodeElf, type ElfStruct } from './structs.js';
import { symbolInfo, symbolTable } from './symbols.js';
import type { AddedSection, Additions, ElfFile, Segment } from './types.js';

/** Largest hole the legacy-compatible layout may leave in the file (see chooseLayout) */
const MAX_FILE_HOLE = 64 * 1024 * 1024;

export interface WindowPatch { vaddr: number; bytes: Buffer }

/** Bytes placed in the file outside every segment: the objects a dynamic program carries */
export interface Payload { offset: number; data: Buffer }

export interface OutputLayout {
  /** vaddr of the first added segment */
  base: number;
  /** file offset = vaddr - delta for every added segment */
  delta: number;
}

/**
 * Old kernels (before 5.18) compute AT_PHDR as the first segment's load address plus e_phoff, so
 * the moved program headers are placed where that formula finds them: file offset and vaddr keep
 * the first PT_LOAD's difference. That leaves a hole in the file as large as the program's bss;
 * past MAX_FILE_HOLE the compact layout is used, which only kernels from 5.18 on read correctly.
 */
export function chooseLayout(elf: ElfFile): OutputLayout {
  const loads = elf.segments.filter((s) => s.type === PT_LOAD);
  const first = loads[0];
  const delta0 = first.vaddr - first.offset;
  const loadEnd = Math.max(...loads.map((s) => s.vaddr + s.memsz));
  const fileEnd = elf.bytes.length;
  const base = pageUp(Math.max(loadEnd, fileEnd + delta0));
  if (base - delta0 - fileEnd <= MAX_FILE_HOLE) return { base, delta: delta0 };
  const compactBase = pageUp(loadEnd);
  return { base: compactBase, delta: compactBase - pageUp(fileEnd) };
}

function vaddrToOffset(segments: Segment[], vaddr: number, size: number): number {
  const s = segments.find((x) => x.type === PT_LOAD && vaddr >= x.vaddr && vaddr + size <= x.vaddr + x.filesz);
  if (!s) throw new RelinkError('ELAYOUT', `patched bytes at 0x${vaddr.toString(16)} are not in the file`);
  return vaddr - s.vaddr + s.offset;
}

/**
 * The output's program headers: the input's, PT_PHDR moved to `at`, the new PT_LOADs after the last
 * one. `kernel`: the table the kernel reads, where a dynamic program's PT_INTERP becomes PT_NULL
 * (the runtime, not the kernel, maps the interpreter); the loader's copy keeps it for ld.so.
 */
function programHeaders(elf: ElfFile, linked: Additions, layout: OutputLayout, at = linked.phdrVaddr, kernel = true): Segment[] {
  const phdrSize = linked.segments.find((s) => s.phdrBytes)!.phdrBytes;
  const phdrOffset = at - layout.delta;
  const hideInterp = kernel && linked.loaderPhdrVaddr !== undefined;
  const kept = elf.segments.map((s) => {
    if (s.type === PT_INTERP && hideInterp) return { ...s, type: PT_NULL };
    if (s.type !== PT_PHDR) return { ...s };
    return { ...s, offset: phdrOffset as Segment['offset'], vaddr: at as Segment['vaddr'], paddr: at, filesz: phdrSize, memsz: phdrSize };
  });
  const added: Segment[] = linked.segments.map((g) => {
    const fileBytes = Math.max(0, ...g.sections.filter((x) => x.type !== SHT_NOBITS).map((x) => x.vaddr + x.size - g.vaddr));
    return { type: PT_LOAD, flags: g.flags, offset: (g.vaddr - layout.delta) as Segment['offset'], vaddr: g.vaddr as Segment['vaddr'],
      paddr: g.vaddr, filesz: fileBytes, memsz: g.memsz, align: PAGE };
  });
  let lastLoad = -1;
  kept.forEach((s, i) => { if (s.type === PT_LOAD) lastLoad = i; });
  return [...kept.slice(0, lastLoad + 1), ...added, ...kept.slice(lastLoad + 1)];
}

class StringTable {
  private parts: Buffer[];
  private size: number;
  constructor(initial: Buffer) { this.parts = [initial.length ? initial : Buffer.from([0])]; this.size = this.parts[0].length; }
  add(name: string): number {
    const at = this.size;
    const b = Buffer.from(name + '\0', 'latin1');
    this.parts.push(b);
    this.size += b.length;
    return at;
  }
  bytes(): Buffer { return Buffer.concat(this.parts); }
}

type SectionHeader = ElfStruct<typeof SHDR>;

/** A section header with every field but those given zero */
const sectionHeader = (h: Partial<SectionHeader>): SectionHeader => ({
  nameOffset: 0, type: SHT_NULL, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, addralign: 0, entsize: 0, ...h,
});

/**
 * Appended metadata: section name table, symbol table and string table as blobs, then the section
 * header table at `end`.
 */
interface Tail { blobs: Array<{ offset: number; data: Buffer }>; headers: SectionHeader[]; shstrndx: number; end: number }

function buildTail(elf: ElfFile, linked: Additions, layout: OutputLayout, start: number): Tail {
  const blobs: Tail['blobs'] = [];
  let cursor = start;
  const place = (data: Buffer, align = 8) => { cursor = alignUp(cursor, align); const offset = cursor; blobs.push({ offset, data }); cursor += data.length; return offset; };

  const orig = elf.sections;
  const headers: SectionHeader[] = orig.length ? orig.map((s) => sectionHeader(s)) : [sectionHeader({})];
  const oldShstr = orig.length ? elf.bytes.subarray(orig[elf.header.shstrndx].offset, orig[elf.header.shstrndx].offset + orig[elf.header.shstrndx].size) : Buffer.alloc(0);
  const shstr = new StringTable(Buffer.from(oldShstr));

  const added = linked.segments.flatMap((g) => g.sections);
  const indexOf = new Map<AddedSection, number>();
  for (const s of added) {
    indexOf.set(s, headers.length);
    headers.push(sectionHeader({
      nameOffset: shstr.add(s.name), type: s.type, flags: s.flags, addr: s.vaddr, offset: s.vaddr - layout.delta, size: s.size,
      addralign: s.align, entsize: s.entsize,
    }));
  }

  // Symbols: the input's table extended, or a new one; added symbols are global and hidden so that
  // no existing symbol index moves (locals must precede globals).
  let symIdx = orig.findIndex((s) => s.type === SHT_SYMTAB);
  let oldSyms = Buffer.alloc(SYM_SIZE), oldStr = Buffer.from([0]), info = 1;
  if (symIdx >= 0) {
    const s = orig[symIdx], str = orig[s.link];
    if (!str || str.type !== SHT_STRTAB) throw new RelinkError('EMALFORMED', 'malformed ELF: symbol table without a string table');
    oldSyms = Buffer.from(elf.bytes.subarray(s.offset, s.offset + s.size));
    oldStr = Buffer.from(elf.bytes.subarray(str.offset, str.offset + str.size));
    info = s.info;
  }
  const strtab = new StringTable(oldStr);
  const newSyms = symbolTable(linked.symbols.map((sym) => {
    const sec = added.find((s) => sym.vaddr >= s.vaddr && sym.vaddr < s.vaddr + Math.max(1, s.size)) ?? added[0];
    return {
      nameOffset: strtab.add(sym.name), info: symbolInfo(STB_GLOBAL, sym.type === 'func' ? STT_FUNC : STT_OBJECT),
      other: STV_HIDDEN, shndx: indexOf.get(sec)!, value: sym.vaddr, size: sym.size,
    };
  }));
  const symData = Buffer.concat([oldSyms, newSyms]);
  const strData = strtab.bytes();
  if (symIdx >= 0) {
    const strIdx = orig[symIdx].link;
    Object.assign(headers[symIdx], { offset: place(symData), size: symData.length });
    Object.assign(headers[strIdx], { offset: place(strData, 1), size: strData.length });
  } else {
    const strIdx = headers.length + 1;
    symIdx = headers.length;
    headers.push(sectionHeader({
      nameOffset: shstr.add('.symtab'), type: SHT_SYMTAB, offset: place(symData), size: symData.length, link: strIdx, info, addralign: 8, entsize: SYM_SIZE,
    }));
    headers.push(sectionHeader({ nameOffset: shstr.add('.strtab'), type: SHT_STRTAB, offset: place(strData, 1), size: strData.length, addralign: 1 }));
  }
  let shstrndx = elf.header.shstrndx;
  if (!orig.length) {
    shstrndx = headers.length;
    headers.push(sectionHeader({ nameOffset: shstr.add('.shstrtab'), type: SHT_STRTAB, addralign: 1 }));
  }
  const shstrData = shstr.bytes();
  Object.assign(headers[shstrndx], { offset: place(shstrData, 1), size: shstrData.length });
  const shoff = alignUp(cursor, 8); // the section header table itself comes last
  return { blobs, headers, shstrndx, end: shoff };
}

/** Where the file's loadable bytes end once the added segments are in */
export function addedFileEnd(elf: ElfFile, linked: Additions, layout: OutputLayout): number {
  return Math.max(...programHeaders(elf, linked, layout).filter((s) => s.type === PT_LOAD).map((s) => s.offset + s.filesz));
}

/** The relinked file */
export function writeOutput(elf: ElfFile, linked: Additions, layout: OutputLayout, patches: WindowPatch[], payloads: Payload[] = []): Buffer {
  const phdrs = programHeaders(elf, linked, layout);
  const segEnd = Math.max(...phdrs.filter((s) => s.type === PT_LOAD).map((s) => s.offset + s.filesz));
  const payloadEnd = Math.max(0, ...payloads.map((p) => p.offset + p.data.length));
  for (const p of payloads) if (p.offset < Math.max(segEnd, elf.bytes.length)) throw new RelinkError('ELAYOUT', 'a carried object overlaps the program');
  const tail = buildTail(elf, linked, layout, Math.max(segEnd, elf.bytes.length, payloadEnd));
  const out = Buffer.alloc(tail.end + tail.headers.length * SHDR_SIZE);
  for (const p of payloads) p.data.copy(out, p.offset);
  elf.bytes.copy(out, 0);
  for (const p of patches) p.bytes.copy(out, vaddrToOffset(elf.segments, p.vaddr, p.bytes.length));
  for (const g of linked.segments) for (const s of g.sections) s.data.copy(out, s.vaddr - layout.delta);
  const phoff = linked.phdrVaddr - layout.delta;
  phdrs.forEach((s, i) => encodeElf(out, phoff + i * PHDR_SIZE, PHDR, s));
  if (linked.loaderPhdrVaddr !== undefined) {
    const at = linked.loaderPhdrVaddr;
    programHeaders(elf, linked, layout, at, false).forEach((s, i) => encodeElf(out, at - layout.delta + i * PHDR_SIZE, PHDR, s));
  }
  for (const b of tail.blobs) b.data.copy(out, b.offset);
  tail.headers.forEach((h, i) => encodeElf(out, tail.end + i * SHDR_SIZE, SHDR, h));
  encodeElf(out, 0, EHDR, {
    ...elf.header, entry: linked.entry, phoff, shoff: tail.end,
    phnum: phdrs.length, shentsize: SHDR_SIZE, shnum: tail.headers.length, shstrndx: tail.shstrndx,
  });
  return out;
}
