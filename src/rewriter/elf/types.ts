// The ELF model the rewriter works on. Address kinds are branded so that a file offset is never
// used where a virtual address is meant, or the other way round.

/** A byte offset in a file */
export type FileOffset = number & { readonly __kind: 'FileOffset' };
/** A link-time virtual address, as written in the ELF file (static-pie: relative to its base) */
export type VAddr = number & { readonly __kind: 'VAddr' };

export const fileOffset = (n: number): FileOffset => n as FileOffset;
export const vaddr = (n: number): VAddr => n as VAddr;

/** The ELF header past e_ident (structs.ts: EHDR) */
export interface ElfHeader {
  type: number;
  machine: number;
  version: number;
  entry: VAddr;
  phoff: FileOffset;
  shoff: FileOffset;
  flags: number;
  ehsize: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

/** A program header (structs.ts: PHDR) */
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

/** A section header (structs.ts: SHDR), with its index and its name read from the name table */
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

/** A symbol table entry (structs.ts: SYM), with its name read from the string table */
export interface ElfSymbol {
  name: string;
  nameOffset: number;
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
  /**
   * 'exec' for ET_EXEC, 'static-pie' for ET_DYN without an interpreter, 'dynamic' for an executable
   * with one (PT_INTERP), 'shared' for a shared object read with readSharedObject (ld.so, a library)
   */
  kind: 'exec' | 'static-pie' | 'dynamic' | 'shared';
}

/** A section the rewriter adds; its file offset is its address minus the output layout's delta */
export interface AddedSection {
  name: string;
  type: number;
  flags: number;
  vaddr: number;
  size: number;
  align: number;
  entsize: number;
  /** file image, empty for NOBITS */
  data: Buffer;
}

/** A loadable segment the rewriter adds (PT_LOAD, page-aligned) */
export interface AddedSegment {
  flags: number;
  vaddr: number;
  memsz: number;
  sections: AddedSection[];
  /** bytes of program headers at the start of the segment (R only) */
  phdrBytes: number;
}

/** A symbol the rewriter adds: global and hidden, in whichever added section holds its address */
export interface AddedSymbol { name: string; vaddr: number; size: number; type: 'func' | 'object' }

/** Everything the output has that the input had not, as elf/write.ts needs it */
export interface Additions {
  segments: AddedSegment[];
  /** the new e_entry */
  entry: number;
  /** where the moved program header table is loaded */
  phdrVaddr: number;
  /** a dynamic program's second table, shown to ld.so (AT_PHDR): PT_INTERP kept, PT_PHDR its own */
  loaderPhdrVaddr?: number;
  symbols: AddedSymbol[];
}
