// Reads and checks an input executable. elfy walks the header, program and section tables; every
// range is checked here first, so that a malformed file ends in a RelinkError naming the fault,
// never in an exception from inside elfy or a read past the end of the buffer.
//
// elfy quirks worked around here: it reads sh_addralign and sh_entsize at the wrong offsets (46
// and 54 instead of 48 and 56) and turns flag words into objects, so those fields are read raw.
import elfy from 'elfy';
import { RelinkError } from '../../errors.js';
import { CKPT_CONFIG_MAGIC, CKPT_SEC_CONFIG } from '../../contract.generated.js';
import { offsetOf, readStruct } from '../../lib/struct.js';
import {
  DF_1_PIE, DT_FLAGS_1, DT_NULL, EI_CLASS, EI_DATA, ELF_MAGIC, ELFCLASS32, ELFCLASS64, ELFDATA2LSB,
  EM_X86_64, ET_DYN, ET_EXEC, ET_REL, PF_X, PT_DYNAMIC, PT_INTERP, PT_LOAD, SHT_NOBITS,
} from './constants.js';
import { DYN, DYN_SIZE, EHDR, EHDR_SIZE, PHDR, PHDR_SIZE, SHDR, SHDR_SIZE, decodeElf, toNumbers } from './structs.js';
import { fileOffset, vaddr, type ElfFile, type ElfHeader, type Section, type Segment } from './types.js';

const ADDRESS_LIMIT = 2 ** 47; // user space on x86-64
const at = (name: (typeof EHDR)[number][0]) => offsetOf(EHDR, name);

function malformed(message: string, offset?: number): RelinkError {
  return new RelinkError('EMALFORMED', `malformed ELF: ${message}`, { offset });
}

function checkIdent(buf: Buffer): void {
  if (buf.length < 4 || buf.readUInt32BE(0) !== ELF_MAGIC) {
    throw new RelinkError('ENOTELF', 'not an ELF file (bad magic)', { offset: 0 });
  }
  if (buf.length < EHDR_SIZE) throw malformed(`file is ${buf.length} bytes, shorter than an ELF header`, 0);
  const elfClass = buf[EI_CLASS];
  if (elfClass === ELFCLASS32) throw new RelinkError('ECLASS', '32-bit ELF files are not supported (x86-64 only)', { offset: EI_CLASS });
  if (elfClass !== ELFCLASS64) throw malformed(`bad ELF class ${elfClass}`, EI_CLASS);
  if (buf[EI_DATA] !== ELFDATA2LSB) throw new RelinkError('EENDIAN', 'big-endian ELF files are not supported', { offset: EI_DATA });
}

/** What the header says it is, checked before any address or offset in it is trusted */
function checkKind(h: { machine: number; type: number; phentsize: number; shentsize: number; shnum: number }): void {
  if (h.machine !== EM_X86_64) {
    throw new RelinkError('EMACHINE', `ELF machine ${h.machine} is not x86-64`, { offset: at('machine') });
  }
  if (h.type === ET_REL) throw new RelinkError('ETYPE', 'a relocatable object (.o), not an executable', { offset: at('type') });
  if (h.type !== ET_EXEC && h.type !== ET_DYN) {
    throw new RelinkError('ETYPE', `ELF type ${h.type} is not an executable`, { offset: at('type') });
  }
  if (h.phentsize !== PHDR_SIZE) throw malformed(`program header entry size is not ${PHDR_SIZE}`, at('phentsize'));
  if (h.shnum !== 0 && h.shentsize !== SHDR_SIZE) throw malformed(`section header entry size is not ${SHDR_SIZE}`, at('shentsize'));
}

function readHeader(buf: Buffer): ElfHeader {
  const raw = readStruct(buf, 0, EHDR);
  checkKind(raw);
  const h = toNumbers(raw, 0, EHDR);
  return { ...h, entry: vaddr(h.entry), phoff: fileOffset(h.phoff), shoff: fileOffset(h.shoff) };
}

function checkTables(buf: Buffer, h: ElfHeader): void {
  if (h.phnum === 0) throw malformed('no program headers', at('phnum'));
  if (h.phoff < EHDR_SIZE || h.phoff + h.phnum * PHDR_SIZE > buf.length) {
    throw malformed(`program header table (offset ${h.phoff}, ${h.phnum} entries) lies outside the file`, at('phoff'));
  }
  if (h.shnum === 0) return;
  if (h.shoff < EHDR_SIZE || h.shoff + h.shnum * SHDR_SIZE > buf.length) {
    throw malformed(`section header table (offset ${h.shoff}, ${h.shnum} entries) lies outside the file`, at('shoff'));
  }
  if (h.shstrndx >= h.shnum) throw malformed(`section name table index ${h.shstrndx} out of range`, at('shstrndx'));
}

function readSegment(buf: Buffer, off: number): Segment {
  const p = decodeElf(buf, off, PHDR);
  const s: Segment = { ...p, offset: fileOffset(p.offset), vaddr: vaddr(p.vaddr) };
  if (s.type === PT_LOAD) checkLoad(buf, s, off);
  else if (s.filesz && s.offset + s.filesz > buf.length) throw malformed(`segment at header offset ${off} lies outside the file`, off);
  return s;
}

function checkLoad(buf: Buffer, s: Segment, off: number): void {
  if (s.offset + s.filesz > buf.length) throw malformed(`loadable segment ends past the end of the file`, off);
  if (s.filesz > s.memsz) throw malformed('loadable segment has more file bytes than memory bytes', off);
  if (s.vaddr + s.memsz > ADDRESS_LIMIT) throw malformed('loadable segment lies outside user space', off);
  if (s.align > 1 && ((s.align & (s.align - 1)) !== 0 || (s.offset % s.align) !== (s.vaddr % s.align))) {
    throw malformed('loadable segment alignment is inconsistent', off);
  }
}

function checkLoads(segments: Segment[], phoff: number): void {
  const loads = segments.filter((s) => s.type === PT_LOAD);
  if (loads.length === 0) throw malformed('no loadable segment', phoff);
  for (let i = 1; i < loads.length; i++) {
    if (loads[i].vaddr < loads[i - 1].vaddr + loads[i - 1].memsz) {
      throw malformed('loadable segments overlap or are not in address order', phoff);
    }
  }
}

function readSections(buf: Buffer, h: ElfHeader): Section[] {
  if (h.shnum === 0) return [];
  let parsed: ReturnType<typeof elfy.parse>;
  try {
    parsed = elfy.parse(buf);
  } catch (e) {
    throw malformed(`section table unreadable (${(e as Error).message})`, h.shoff);
  }
  const strtabOff = h.shoff + h.shstrndx * SHDR_SIZE;
  const names = decodeElf(buf, strtabOff, SHDR);
  if (names.offset + names.size > buf.length) throw malformed('section name table lies outside the file', strtabOff);
  return parsed.body.sections.map((es, index) => {
    const off = h.shoff + index * SHDR_SIZE;
    const sh = decodeElf(buf, off, SHDR);
    const s: Section = { index, name: es.name, ...sh, addr: vaddr(sh.addr), offset: fileOffset(sh.offset) };
    if (s.type !== SHT_NOBITS && index !== 0 && s.offset + s.size > buf.length) {
      throw malformed(`section ${s.name || index} lies outside the file`, off);
    }
    return s;
  });
}

function hasPieFlag(buf: Buffer, segments: Segment[]): boolean {
  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dyn) return false;
  for (let off: number = dyn.offset; off + DYN_SIZE <= dyn.offset + dyn.filesz; off += DYN_SIZE) {
    const { tag, value } = readStruct(buf, off, DYN);
    if (tag === BigInt(DT_NULL)) break;
    if (tag === BigInt(DT_FLAGS_1)) return (Number(value & 0xffffffffn) & DF_1_PIE) !== 0;
  }
  return false;
}

function classify(buf: Buffer, h: ElfHeader, segments: Segment[]): ElfFile['kind'] {
  if (segments.some((s) => s.type === PT_INTERP)) {
    if (h.type === ET_DYN && !hasPieFlag(buf, segments)) {
      throw new RelinkError('ESHARED', 'a shared library, not an executable (ET_DYN without the PIE flag)', { offset: 16 });
    }
    return 'dynamic';
  }
  if (h.type === ET_EXEC) return 'exec';
  if (!hasPieFlag(buf, segments)) {
    throw new RelinkError('ESHARED', 'a shared library, not an executable (ET_DYN without the PIE flag)', { offset: 16 });
  }
  return 'static-pie';
}

function checkEntry(h: ElfHeader, segments: Segment[]): void {
  const inText = segments.some((s) => s.type === PT_LOAD && (s.flags & PF_X) && h.entry >= s.vaddr && h.entry < s.vaddr + s.filesz);
  if (!inText) throw malformed(`entry point 0x${h.entry.toString(16)} is not in an executable segment`, at('entry'));
}

function checkNotRelinked(buf: Buffer, sections: Section[]): void {
  const magic = Buffer.alloc(8);
  magic.writeBigUInt64LE(CKPT_CONFIG_MAGIC);
  if (sections.some((s) => s.name === CKPT_SEC_CONFIG) || buf.indexOf(magic) >= 0) {
    throw new RelinkError('EALREADY', 'already relinked by ckpt-relink (it carries a ckpt runtime)');
  }
}

function readTables(bytes: Buffer): { header: ElfHeader; segments: Segment[] } {
  checkIdent(bytes);
  const header = readHeader(bytes);
  checkTables(bytes, header);
  const segments: Segment[] = [];
  for (let i = 0; i < header.phnum; i++) segments.push(readSegment(bytes, header.phoff + i * PHDR_SIZE));
  checkLoads(segments, header.phoff);
  return { header, segments };
}

/** Reads and checks an executable; throws RelinkError for anything the rewriter cannot take. */
export function readElf(bytes: Buffer): ElfFile {
  const { header, segments } = readTables(bytes);
  const kind = classify(bytes, header, segments);
  checkEntry(header, segments);
  const sections = readSections(bytes, header);
  checkNotRelinked(bytes, sections);
  return { bytes, header, segments, sections, kind };
}

/**
 * Reads and checks a shared object to be carried in a dynamic program's output: ld.so or a library
 * (which may have an interpreter and an entry point of its own, as libc.so.6 does).
 */
export function readSharedObject(bytes: Buffer): ElfFile {
  const { header, segments } = readTables(bytes);
  if (header.type !== ET_DYN) throw new RelinkError('ETYPE', 'not a shared object (ELF type is not ET_DYN)', { offset: at('type') });
  const sections = readSections(bytes, header);
  checkNotRelinked(bytes, sections);
  return { bytes, header, segments, sections, kind: 'shared' };
}
