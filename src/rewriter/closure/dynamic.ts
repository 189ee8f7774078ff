// What ld.so reads of an object to find what it depends on: PT_INTERP, and in PT_DYNAMIC the tags
// DT_NEEDED, DT_RPATH, DT_RUNPATH, DT_SONAME and DT_FLAGS_1. The dynamic strings are found as ld.so
// finds them once the object is mapped: DT_STRTAB is a virtual address, turned into a file offset
// through the PT_LOAD that holds it.
//
// Contract: every offset is checked against the file before it is read, so a hostile object ends in
// a RelinkError that names the file and the offset at fault, never in a read past the end.
import { RelinkError } from '../../errors.js';
import { offsetOf, readStruct } from '../../lib/struct.js';
import {
  DF_1_NODEFLIB, DT_FLAGS_1, DT_NEEDED, DT_NULL, DT_RPATH, DT_RUNPATH, DT_SONAME, DT_STRSZ, DT_STRTAB,
  EI_CLASS, EI_DATA, ELF_MAGIC, ELFCLASS64, ELFDATA2LSB, EM_X86_64, ET_DYN, PT_DYNAMIC, PT_INTERP, PT_LOAD,
} from '../elf/constants.js';
import { DYN, DYN_SIZE, EHDR, EHDR_SIZE, PHDR, PHDR_SIZE, decodeElf, type ElfStruct } from '../elf/structs.js';

export interface DynamicInfo {
  /** PT_INTERP, for an executable */
  interp?: string;
  needed: string[];
  /** DT_RPATH, absent when the object also has DT_RUNPATH (ld.so then ignores it, even for the
   *  objects this one loads) */
  rpath?: string;
  runpath?: string;
  soname?: string;
  /** DF_1_NODEFLIB: neither the cache's system entries nor the default dirs serve this object */
  noDefaultLib: boolean;
}

type ProgramHeader = ElfStruct<typeof PHDR>;

/** The first bytes of a file that isLoadableLibrary needs to judge it */
export const IDENT_BYTES = EHDR_SIZE;

/**
 * Whether ld.so would take a file with this header as a library of an x86-64 process: ELF64,
 * little-endian, x86-64, ET_DYN. ld.so skips a file of the other class or machine and searches on.
 */
export function isLoadableLibrary(head: Buffer): boolean {
  return head.length >= EHDR_SIZE && head.readUInt32BE(0) === ELF_MAGIC && head[EI_CLASS] === ELFCLASS64
    && head[EI_DATA] === ELFDATA2LSB && head.readUInt16LE(offsetOf(EHDR, 'machine')) === EM_X86_64
    && head.readUInt16LE(offsetOf(EHDR, 'type')) === ET_DYN;
}

function malformed(file: string, message: string, offset?: number): RelinkError {
  return new RelinkError('EMALFORMED', `malformed ELF: ${file}: ${message}`, { offset });
}

function checkIsElf64(file: string, bytes: Buffer): void {
  if (bytes.length < 4 || bytes.readUInt32BE(0) !== ELF_MAGIC) {
    throw new RelinkError('ENOTELF', `${file}: not an ELF file (bad magic)`, { offset: 0 });
  }
  if (bytes.length < EHDR_SIZE) throw malformed(file, `${bytes.length} bytes, shorter than an ELF header`, 0);
  if (bytes[EI_CLASS] !== ELFCLASS64 || bytes[EI_DATA] !== ELFDATA2LSB) {
    throw new RelinkError('ECLASS', `${file}: not a 64-bit little-endian ELF file`, { offset: EI_CLASS });
  }
}

/** decodeElf names the offset of a field no double holds; this adds the file's name to the message */
function withFileName<T>(file: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    if (e instanceof RelinkError && !e.message.includes(file)) {
      throw new RelinkError(e.code, e.message.replace(/^malformed ELF: /, `malformed ELF: ${file}: `), { offset: e.offset, cause: e });
    }
    throw e;
  }
}

function programHeaders(file: string, bytes: Buffer): ProgramHeader[] {
  const { phoff, phnum, phentsize } = decodeElf(bytes, 0, EHDR);
  if (phnum === 0) return [];
  if (phentsize !== PHDR_SIZE) throw malformed(file, `program header entry size is not ${PHDR_SIZE}`, offsetOf(EHDR, 'phentsize'));
  if (phoff < EHDR_SIZE || phoff + phnum * PHDR_SIZE > bytes.length) {
    throw malformed(file, `program header table (offset ${phoff}, ${phnum} entries) lies outside the file`, offsetOf(EHDR, 'phoff'));
  }
  return Array.from({ length: phnum }, (_, i) => decodeElf(bytes, phoff + i * PHDR_SIZE, PHDR));
}

function fileBytesOf(file: string, bytes: Buffer, ph: ProgramHeader): Buffer {
  if (ph.offset + ph.filesz > bytes.length) throw malformed(file, `segment at file offset ${ph.offset} lies outside the file`, ph.offset);
  return bytes.subarray(ph.offset, ph.offset + ph.filesz);
}

/** A NUL-terminated string starting at `at` and ending before `end` */
function cString(file: string, bytes: Buffer, at: number, end: number): string {
  const nul = at < end ? bytes.indexOf(0, at) : -1;
  if (nul < 0 || nul >= end) throw malformed(file, `string at file offset ${at} is not terminated within its table`, at);
  return bytes.toString('latin1', at, nul);
}

/** The file offset of virtual address `addr`, through the PT_LOAD whose file bytes hold it */
function offsetOfAddress(file: string, loads: ProgramHeader[], addr: number, tagOffset: number): number {
  const load = loads.find((p) => addr >= p.vaddr && addr < p.vaddr + p.filesz);
  if (!load) throw malformed(file, `DT_STRTAB 0x${addr.toString(16)} is in no loadable segment's file bytes`, tagOffset);
  return load.offset + (addr - load.vaddr);
}

interface DynamicEntry { tag: number; value: number; offset: number }

function dynamicEntries(file: string, bytes: Buffer, dynamic: ProgramHeader): DynamicEntry[] {
  fileBytesOf(file, bytes, dynamic);
  const entries: DynamicEntry[] = [];
  for (let off = dynamic.offset; off + DYN_SIZE <= dynamic.offset + dynamic.filesz; off += DYN_SIZE) {
    const { tag, value } = readStruct(bytes, off, DYN);
    if (tag === BigInt(DT_NULL)) break;
    // Tags are small or in the OS range; values past 2^53 are only ever addresses, and an address
    // that large lies in no segment, so clamping it cannot make a wrong lookup succeed.
    entries.push({ tag: Number(tag), value: Number(value > BigInt(Number.MAX_SAFE_INTEGER) ? -1n : value), offset: off });
  }
  return entries;
}

function readDynamic(file: string, bytes: Buffer, phs: ProgramHeader[], dynamic: ProgramHeader): Omit<DynamicInfo, 'interp'> {
  const entries = dynamicEntries(file, bytes, dynamic);
  const last = (tag: number) => entries.filter((e) => e.tag === tag).pop();
  const strtab = last(DT_STRTAB);
  const stringsAt = strtab ? offsetOfAddress(file, phs.filter((p) => p.type === PT_LOAD), strtab.value, strtab.offset) : 0;
  const strsz = last(DT_STRSZ);
  const stringsEnd = Math.min(bytes.length, strsz && strsz.value >= 0 ? stringsAt + strsz.value : bytes.length);
  const stringOf = (e: DynamicEntry) => {
    if (!strtab) throw malformed(file, 'a dynamic string tag without DT_STRTAB', e.offset);
    if (e.value < 0) throw malformed(file, 'dynamic string offset out of range', e.offset);
    return cString(file, bytes, stringsAt + e.value, stringsEnd);
  };
  const optional = (tag: number) => { const e = last(tag); return e ? stringOf(e) : undefined; };
  const runpath = optional(DT_RUNPATH);
  const flags1 = last(DT_FLAGS_1)?.value ?? 0;
  return {
    needed: entries.filter((e) => e.tag === DT_NEEDED).map(stringOf),
    rpath: runpath === undefined ? optional(DT_RPATH) : undefined,
    runpath,
    soname: optional(DT_SONAME),
    noDefaultLib: (flags1 & DF_1_NODEFLIB) !== 0,
  };
}

/** PT_INTERP and the dynamic section's search information of an ELF64 object (`file` names it in errors) */
export function readDynamicInfo(file: string, bytes: Buffer): DynamicInfo {
  checkIsElf64(file, bytes);
  return withFileName(file, () => {
    const phs = programHeaders(file, bytes);
    const interpHeader = phs.find((p) => p.type === PT_INTERP);
    const interpBytes = interpHeader && fileBytesOf(file, bytes, interpHeader);
    const interp = interpBytes && cString(file, bytes, interpHeader.offset, interpHeader.offset + interpBytes.length);
    const dynamic = phs.find((p) => p.type === PT_DYNAMIC);
    const info = dynamic ? readDynamic(file, bytes, phs, dynamic) : { needed: [], noDefaultLib: false };
    return interp === undefined ? info : { interp, ...info };
  });
}
