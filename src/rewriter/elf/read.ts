// Reads and checks an input executable. elfy walks the header, program and section tables; every
// range is checked here first, so that a malformed file ends in a RelinkError naming the fault,
// never in an exception from inside elfy or a read past the end of the buffer.
//
// elfy quirks worked around here: it reads sh_addralign and sh_entsize at the wrong offsets (46
// and 54 instead of 48 and 56) and turns flag words into objects, so those fields are read raw.
import elfy from 'elfy';
import { RelinkError } from '../../errors.js';
import { CKPT_CONFIG_MAGIC, CKPT_SEC_CONFIG } from '../../contract.generated.js';
import {
  ET_DYN, ET_EXEC, ET_REL, EM_X86_64, PT_DYNAMIC, PT_INTERP, PT_LOAD, SHT_NOBITS,
  fileOffset, vaddr,
  type ElfFile, type ElfHeader, type Section, type Segment,
} from './types.js';

const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const ADDRESS_LIMIT = 2 ** 47; // user space on x86-64
const DT_FLAGS_1 = 0x6ffffffb;
const DF_1_PIE = 0x08000000;

function malformed(message: string, offset?: number): RelinkError {
  return new RelinkError('EMALFORMED', `malformed ELF: ${message}`, { offset });
}

function u64(buf: Buffer, off: number): number {
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw malformed(`value out of range at offset ${off}`, off);
  return Number(v);
}

function checkIdent(buf: Buffer): void {
  if (buf.length < 4 || buf.readUInt32BE(0) !== 0x7f454c46) {
    throw new RelinkError('ENOTELF', 'not an ELF file (bad magic)', { offset: 0 });
  }
  if (buf.length < EHDR_SIZE) throw malformed(`file is ${buf.length} bytes, shorter than an ELF header`, 0);
  if (buf[4] === 1) throw new RelinkError('ECLASS', '32-bit ELF files are not supported (x86-64 only)', { offset: 4 });
  if (buf[4] !== 2) throw malformed(`bad ELF class ${buf[4]}`, 4);
  if (buf[5] !== 1) throw new RelinkError('EENDIAN', 'big-endian ELF files are not supported', { offset: 5 });
}

function readHeader(buf: Buffer): ElfHeader {
  const machine = buf.readUInt16LE(18);
  if (machine !== EM_X86_64) {
    throw new RelinkError('EMACHINE', `ELF machine ${machine} is not x86-64`, { offset: 18 });
  }
  const type = buf.readUInt16LE(16);
  if (type === ET_REL) throw new RelinkError('ETYPE', 'a relocatable object (.o), not an executable', { offset: 16 });
  if (type !== ET_EXEC && type !== ET_DYN) {
    throw new RelinkError('ETYPE', `ELF type ${type} is not an executable`, { offset: 16 });
  }
  if (buf.readUInt16LE(54) !== PHDR_SIZE) throw malformed('program header entry size is not 56', 54);
  const shnum = buf.readUInt16LE(60);
  if (shnum !== 0 && buf.readUInt16LE(58) !== SHDR_SIZE) throw malformed('section header entry size is not 64', 58);
  return {
    type, machine,
    entry: vaddr(u64(buf, 24)),
    phoff: fileOffset(u64(buf, 32)),
    shoff: fileOffset(u64(buf, 40)),
    flags: buf.readUInt32LE(48),
    phnum: buf.readUInt16LE(56),
    shnum,
    shstrndx: buf.readUInt16LE(62),
  };
}

function checkTables(buf: Buffer, h: ElfHeader): void {
  if (h.phnum === 0) throw malformed('no program headers', 56);
  if (h.phoff < EHDR_SIZE || h.phoff + h.phnum * PHDR_SIZE > buf.length) {
    throw malformed(`program header table (offset ${h.phoff}, ${h.phnum} entries) lies outside the file`, 32);
  }
  if (h.shnum === 0) return;
  if (h.shoff < EHDR_SIZE || h.shoff + h.shnum * SHDR_SIZE > buf.length) {
    throw malformed(`section header table (offset ${h.shoff}, ${h.shnum} entries) lies outside the file`, 40);
  }
  if (h.shstrndx >= h.shnum) throw malformed(`section name table index ${h.shstrndx} out of range`, 62);
}

function readSegment(buf: Buffer, off: number): Segment {
  const s: Segment = {
    type: buf.readUInt32LE(off),
    flags: buf.readUInt32LE(off + 4),
    offset: fileOffset(u64(buf, off + 8)),
    vaddr: vaddr(u64(buf, off + 16)),
    paddr: u64(buf, off + 24),
    filesz: u64(buf, off + 32),
    memsz: u64(buf, off + 40),
    align: u64(buf, off + 48),
  };
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
  const strOffset = u64(buf, strtabOff + 24);
  const strSize = u64(buf, strtabOff + 32);
  if (strOffset + strSize > buf.length) throw malformed('section name table lies outside the file', strtabOff);
  return parsed.body.sections.map((es, index) => {
    const off = h.shoff + index * SHDR_SIZE;
    const s: Section = {
      index, name: es.name,
      nameOffset: buf.readUInt32LE(off),
      type: buf.readUInt32LE(off + 4),
      flags: u64(buf, off + 8),
      addr: vaddr(u64(buf, off + 16)),
      offset: fileOffset(u64(buf, off + 24)),
      size: u64(buf, off + 32),
      link: buf.readUInt32LE(off + 40),
      info: buf.readUInt32LE(off + 44),
      addralign: u64(buf, off + 48),
      entsize: u64(buf, off + 56),
    };
    if (s.type !== SHT_NOBITS && index !== 0 && s.offset + s.size > buf.length) {
      throw malformed(`section ${s.name || index} lies outside the file`, off);
    }
    return s;
  });
}

function hasPieFlag(buf: Buffer, segments: Segment[]): boolean {
  const dyn = segments.find((s) => s.type === PT_DYNAMIC);
  if (!dyn) return false;
  for (let off: number = dyn.offset; off + 16 <= dyn.offset + dyn.filesz; off += 16) {
    const tag = buf.readBigUInt64LE(off);
    if (tag === 0n) break;
    if (tag === BigInt(DT_FLAGS_1)) return (Number(buf.readBigUInt64LE(off + 8) & 0xffffffffn) & DF_1_PIE) !== 0;
  }
  return false;
}

function classify(buf: Buffer, h: ElfHeader, segments: Segment[]): ElfFile['kind'] {
  if (segments.some((s) => s.type === PT_INTERP)) {
    throw new RelinkError('EDYNAMIC', 'dynamically linked executables are not supported yet (static and static-pie only)');
  }
  if (h.type === ET_EXEC) return 'exec';
  if (!hasPieFlag(buf, segments)) {
    throw new RelinkError('ESHARED', 'a shared library, not an executable (ET_DYN without the PIE flag)', { offset: 16 });
  }
  return 'static-pie';
}

function checkEntry(h: ElfHeader, segments: Segment[]): void {
  const inText = segments.some((s) => s.type === PT_LOAD && (s.flags & 1) && h.entry >= s.vaddr && h.entry < s.vaddr + s.filesz);
  if (!inText) throw malformed(`entry point 0x${h.entry.toString(16)} is not in an executable segment`, 24);
}

function checkNotRelinked(buf: Buffer, sections: Section[]): void {
  const magic = Buffer.alloc(8);
  magic.writeBigUInt64LE(CKPT_CONFIG_MAGIC);
  if (sections.some((s) => s.name === CKPT_SEC_CONFIG) || buf.indexOf(magic) >= 0) {
    throw new RelinkError('EALREADY', 'already relinked by ckpt-relink (it carries a ckpt runtime)');
  }
}

/** Reads and checks an executable; throws RelinkError for anything the rewriter cannot take. */
export function readElf(bytes: Buffer): ElfFile {
  checkIdent(bytes);
  const header = readHeader(bytes);
  checkTables(bytes, header);
  const segments: Segment[] = [];
  for (let i = 0; i < header.phnum; i++) segments.push(readSegment(bytes, header.phoff + i * PHDR_SIZE));
  checkLoads(segments, header.phoff);
  const kind = classify(bytes, header, segments);
  checkEntry(header, segments);
  const sections = readSections(bytes, header);
  checkNotRelinked(bytes, sections);
  return { bytes, header, segments, sections, kind };
}
