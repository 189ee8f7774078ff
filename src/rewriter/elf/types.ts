// The ELF model the rewriter works on. Address kinds are branded so that a file offset is never
// used where a virtual address is meant, or the other way round.

/** A byte offset in a file */
export type FileOffset = number & { readonly __kind: 'FileOffset' };
/** A link-time virtual address, as written in the ELF file (static-pie: relative to its base) */
export type VAddr = number & { readonly __kind: 'VAddr' };

export const fileOffset = (n: number): FileOffset => n as FileOffset;
export const vaddr = (n: number): VAddr => n as VAddr;

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PT_TLS = 7;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;

export interface ElfHeader {
  type: number;
  machine: number;
  entry: VAddr;
  phoff: FileOffset;
  shoff: FileOffset;
  flags: number;
  phnum: number;
  shnum: number;
  shstrndx: number;
}

export interface Segment {
  type: number;
  flags: number;
  offset: FileOffset;
  vaddr: VAddr;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface Section {
  index: number;
  name: string;
  nameOffset: number;
  type: number;
  flags: number;
  addr: VAddr;
  offset: FileOffset;
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  info: number;
  other: number;
  shndx: number;
}

export interface ElfFile {
  bytes: Buffer;
  header: ElfHeader;
  segments: Segment[];
  sections: Section[];
  /** 'exec' for ET_EXEC, 'static-pie' for ET_DYN without an interpreter */
  kind: 'exec' | 'static-pie';
}
