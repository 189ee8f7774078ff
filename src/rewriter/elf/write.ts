// Writes the relinked executable: the input bytes with patched windows, three new loadable
// segments, a moved program header table, and section headers, names and symbols for everything
// added, so that readelf, objdump and gdb see an ordinary ELF file. Original sections keep their
// indices, offsets and addresses; only .shstrtab, .symtab and .strtab are rewritten (appended).
import { RelinkError } from '../../errors.js';
import type { AddedSection, LinkedRuntime } from '../link/layout.js';
import { PAGE, pageUp } from '../link/layout.js';
import { PT_LOAD, PT_PHDR, SHT_NOBITS, SHT_STRTAB, SHT_SYMTAB, type ElfFile, type Segment } from './types.js';

/** Largest hole the legacy-compatible layout may leave in the file (see chooseLayout) */
const MAX_FILE_HOLE = 64 * 1024 * 1024;
const SYM_SIZE = 24;
const STB_GLOBAL = 1;
const STV_HIDDEN = 2;

export interface WindowPatch { vaddr: number; bytes: Buffer }

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

function writePhdr(out: Buffer, at: number, s: Segment): void {
  out.writeUInt32LE(s.type, at);
  out.writeUInt32LE(s.flags, at + 4);
  out.writeBigUInt64LE(BigInt(s.offset), at + 8);
  out.writeBigUInt64LE(BigInt(s.vaddr), at + 16);
  out.writeBigUInt64LE(BigInt(s.paddr), at + 24);
  out.writeBigUInt64LE(BigInt(s.filesz), at + 32);
  out.writeBigUInt64LE(BigInt(s.memsz), at + 40);
  out.writeBigUInt64LE(BigInt(s.align), at + 48);
}

/** The output's program headers: the input's, PT_PHDR moved, the new PT_LOADs after the last one */
function programHeaders(elf: ElfFile, linked: LinkedRuntime, layout: OutputLayout): Segment[] {
  const phdrSize = linked.segments.find((s) => s.phdrBytes)!.phdrBytes;
  const phdrOffset = linked.phdrVaddr - layout.delta;
  const kept = elf.segments.map((s) => s.type !== PT_PHDR ? { ...s } : {
    ...s, offset: phdrOffset as Segment['offset'], vaddr: linked.phdrVaddr as Segment['vaddr'], paddr: linked.phdrVaddr, filesz: phdrSize, memsz: phdrSize,
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

interface SectionHeader {
  name: number; type: number; flags: number; addr: number; offset: number; size: number;
  link: number; info: number; align: number; entsize: number;
}

function writeShdr(out: Buffer, at: number, h: SectionHeader): void {
  out.writeUInt32LE(h.name, at);
  out.writeUInt32LE(h.type, at + 4);
  out.writeBigUInt64LE(BigInt(h.flags), at + 8);
  out.writeBigUInt64LE(BigInt(h.addr), at + 16);
  out.writeBigUInt64LE(BigInt(h.offset), at + 24);
  out.writeBigUInt64LE(BigInt(h.size), at + 32);
  out.writeUInt32LE(h.link, at + 40);
  out.writeUInt32LE(h.info, at + 44);
  out.writeBigUInt64LE(BigInt(h.align), at + 48);
  out.writeBigUInt64LE(BigInt(h.entsize), at + 56);
}

/**
 * Appended metadata: section name table, symbol table and string table as blobs, then the section
 * header table at `end`.
 */
interface Tail { blobs: Array<{ offset: number; data: Buffer }>; headers: SectionHeader[]; shstrndx: number; end: number }

function buildTail(elf: ElfFile, linked: LinkedRuntime, layout: OutputLayout, start: number): Tail {
  const blobs: Tail['blobs'] = [];
  let cursor = start;
  const place = (data: Buffer, align = 8) => { cursor = Math.ceil(cursor / align) * align; const offset = cursor; blobs.push({ offset, data }); cursor += data.length; return offset; };

  const orig = elf.sections;
  const headers: SectionHeader[] = orig.length
    ? orig.map((s) => ({ name: s.nameOffset, type: s.type, flags: s.flags, addr: s.addr, offset: s.offset, size: s.size, link: s.link, info: s.info, align: s.addralign, entsize: s.entsize }))
    : [{ name: 0, type: 0, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, align: 0, entsize: 0 }];
  const oldShstr = orig.length ? elf.bytes.subarray(orig[elf.header.shstrndx].offset, orig[elf.header.shstrndx].offset + orig[elf.header.shstrndx].size) : Buffer.alloc(0);
  const shstr = new StringTable(Buffer.from(oldShstr));

  const added = linked.segments.flatMap((g) => g.sections);
  const indexOf = new Map<AddedSection, number>();
  for (const s of added) {
    indexOf.set(s, headers.length);
    headers.push({ name: shstr.add(s.name), type: s.type, flags: s.flags, addr: s.vaddr, offset: s.vaddr - layout.delta, size: s.size, link: 0, info: 0, align: s.align, entsize: s.entsize });
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
  const newSyms = Buffer.alloc(linked.symbols.length * SYM_SIZE);
  linked.symbols.forEach((sym, i) => {
    const sec = added.find((s) => sym.vaddr >= s.vaddr && sym.vaddr < s.vaddr + Math.max(1, s.size)) ?? added[0];
    const p = i * SYM_SIZE;
    newSyms.writeUInt32LE(strtab.add(sym.name), p);
    newSyms[p + 4] = (STB_GLOBAL << 4) | (sym.type === 'func' ? 2 : 1);
    newSyms[p + 5] = STV_HIDDEN;
    newSyms.writeUInt16LE(indexOf.get(sec)!, p + 6);
    newSyms.writeBigUInt64LE(BigInt(sym.vaddr), p + 8);
    newSyms.writeBigUInt64LE(BigInt(sym.size), p + 16);
  });
  const symData = Buffer.concat([oldSyms, newSyms]);
  const strData = strtab.bytes();
  if (symIdx >= 0) {
    const strIdx = orig[symIdx].link;
    Object.assign(headers[symIdx], { offset: place(symData), size: symData.length });
    Object.assign(headers[strIdx], { offset: place(strData, 1), size: strData.length });
  } else {
    const strIdx = headers.length + 1;
    symIdx = headers.length;
    headers.push({ name: shstr.add('.symtab'), type: SHT_SYMTAB, flags: 0, addr: 0, offset: place(symData), size: symData.length, link: strIdx, info, align: 8, entsize: SYM_SIZE });
    headers.push({ name: shstr.add('.strtab'), type: SHT_STRTAB, flags: 0, addr: 0, offset: place(strData, 1), size: strData.length, link: 0, info: 0, align: 1, entsize: 0 });
  }
  let shstrndx = elf.header.shstrndx;
  if (!orig.length) {
    shstrndx = headers.length;
    headers.push({ name: shstr.add('.shstrtab'), type: SHT_STRTAB, flags: 0, addr: 0, offset: 0, size: 0, link: 0, info: 0, align: 1, entsize: 0 });
  }
  const shstrData = shstr.bytes();
  Object.assign(headers[shstrndx], { offset: place(shstrData, 1), size: shstrData.length });
  const shoff = Math.ceil(cursor / 8) * 8; // the section header table itself comes last
  return { blobs, headers, shstrndx, end: shoff };
}

/** The relinked file */
export function writeOutput(elf: ElfFile, linked: LinkedRuntime, layout: OutputLayout, patches: WindowPatch[]): Buffer {
  const phdrs = programHeaders(elf, linked, layout);
  const segEnd = Math.max(...phdrs.filter((s) => s.type === PT_LOAD).map((s) => s.offset + s.filesz));
  const tail = buildTail(elf, linked, layout, Math.max(segEnd, elf.bytes.length));
  const out = Buffer.alloc(tail.end + tail.headers.length * 64);
  elf.bytes.copy(out, 0);
  for (const p of patches) p.bytes.copy(out, vaddrToOffset(elf.segments, p.vaddr, p.bytes.length));
  for (const g of linked.segments) for (const s of g.sections) s.data.copy(out, s.vaddr - layout.delta);
  const phoff = linked.phdrVaddr - layout.delta;
  phdrs.forEach((s, i) => writePhdr(out, phoff + i * 56, s));
  for (const b of tail.blobs) b.data.copy(out, b.offset);
  tail.headers.forEach((h, i) => writeShdr(out, tail.end + i * 64, h));
  out.writeBigUInt64LE(BigInt(linked.entry), 24);
  out.writeBigUInt64LE(BigInt(phoff), 32);
  out.writeBigUInt64LE(BigInt(tail.end), 40);
  out.writeUInt16LE(64, 58);
  out.writeUInt16LE(phdrs.length, 56);
  out.writeUInt16LE(tail.headers.length, 60);
  out.writeUInt16LE(tail.shstrndx, 62);
  return out;
}
