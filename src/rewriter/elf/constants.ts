// The ELF numbers the toolchain uses, all in one place, named and valued as in the System V gABI
// and the x86-64 psABI (<elf.h>). Only what some code reads or writes is here.

/** e_ident: "\x7fELF" read as a big-endian u32, then the class, data encoding and version bytes */
export const ELF_MAGIC = 0x7f454c46;
export const EI_CLASS = 4;
export const EI_DATA = 5;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;

/** e_type */
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;

/** e_machine */
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

/** p_type */
export const PT_NULL = 0;
export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_INTERP = 3;
export const PT_PHDR = 6;
export const PT_TLS = 7;

/** p_flags */
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** sh_type */
export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_DYNSYM = 11;
export const SHT_NOBITS = 8;

/** sh_flags */
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

/** Section indices from here up are reserved (SHN_ABS, SHN_COMMON...), never a real section */
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;

/** st_info: binding in the high four bits, type in the low four */
export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;

/** st_other: visibility */
export const STV_DEFAULT = 0;
export const STV_HIDDEN = 2;

/** r_info type (x86-64 psABI) */
export const R_X86_64_PC32 = 2;
export const R_X86_64_PLT32 = 4;

/** d_tag, and the DT_FLAGS_1 bit that marks a position-independent executable */
export const DT_NULL = 0;
export const DT_FLAGS_1 = 0x6ffffffb;
export const DF_1_PIE = 0x08000000;
