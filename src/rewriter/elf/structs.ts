// The fixed-layout ELF64 structs (little-endian), described once for the struct codec: the reader
// and the writer share these offsets. Field names are the model's (types.ts), so a decoded program
// header is a Segment and a Segment encodes as a program header.
//
// The model holds numbers, not bigints: decodeElf checks that every 64-bit field fits a double
// exactly and names the offset of the first one that does not, so a hostile file ends in a clear
// error instead of an address rounded to something else.
import { RelinkError } from '../../errors.js';
import { readStruct, writeStruct, type Layout, type Struct } from '../../lib/struct.js';

export const EHDR = [
  ['type', 16, 'u16'], ['machine', 18, 'u16'], ['version', 20, 'u32'], ['entry', 24, 'u64'],
  ['phoff', 32, 'u64'], ['shoff', 40, 'u64'], ['flags', 48, 'u32'], ['ehsize', 52, 'u16'],
  ['phentsize', 54, 'u16'], ['phnum', 56, 'u16'], ['shentsize', 58, 'u16'], ['shnum', 60, 'u16'],
  ['shstrndx', 62, 'u16'],
] as const;
export const EHDR_SIZE = 64;

export const PHDR = [
  ['type', 0, 'u32'], ['flags', 4, 'u32'], ['offset', 8, 'u64'], ['vaddr', 16, 'u64'],
  ['paddr', 24, 'u64'], ['filesz', 32, 'u64'], ['memsz', 40, 'u64'], ['align', 48, 'u64'],
] as const;
export const PHDR_SIZE = 56;

export const SHDR = [
  ['nameOffset', 0, 'u32'], ['type', 4, 'u32'], ['flags', 8, 'u64'], ['addr', 16, 'u64'],
  ['offset', 24, 'u64'], ['size', 32, 'u64'], ['link', 40, 'u32'], ['info', 44, 'u32'],
  ['addralign', 48, 'u64'], ['entsize', 56, 'u64'],
] as const;
export const SHDR_SIZE = 64;

export const SYM = [
  ['nameOffset', 0, 'u32'], ['info', 4, 'u8'], ['other', 5, 'u8'], ['shndx', 6, 'u16'],
  ['value', 8, 'u64'], ['size', 16, 'u64'],
] as const;
export const SYM_SIZE = 24;

/** r_info split in its two halves, as a little-endian u64 lays them out: type low, symbol high */
export const RELA = [
  ['offset', 0, 'u64'], ['type', 8, 'u32'], ['symbol', 12, 'u32'], ['addend', 16, 'i64'],
] as const;
export const RELA_SIZE = 24;

export const DYN = [['tag', 0, 'u64'], ['value', 8, 'u64']] as const;
export const DYN_SIZE = 16;

/** A struct with every field a number */
export type ElfStruct<L extends Layout> = { -readonly [F in L[number] as F[0]]: number };

function outOfRange(offset: number): RelinkError {
  return new RelinkError('EMALFORMED', `malformed ELF: value out of range at offset ${offset}`, { offset });
}

/**
 * How 64-bit fields become numbers: 'exact' throws RelinkError for the first one (in layout order)
 * that no double holds exactly; 'rounded' lets Number() round it, for values that are only
 * compared against addresses the rewriter found (symbol values), where rounding can only miss.
 */
export type Conversion = 'exact' | 'rounded';

/** `raw`, read at file offset `at`, with its 64-bit fields as numbers */
export function toNumbers<L extends Layout>(raw: Struct<L>, at: number, layout: L, conversion: Conversion = 'exact'): ElfStruct<L> {
  const out: Record<string, number> = {};
  const fields = raw as Record<string, number | bigint>;
  for (const [name, off] of layout) {
    const v = fields[name];
    if (conversion === 'exact' && typeof v === 'bigint' && (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))) {
      throw outOfRange(at + off);
    }
    out[name] = Number(v);
  }
  return out as ElfStruct<L>;
}

/** Reads a struct at file offset `at`, with every field a number */
export function decodeElf<L extends Layout>(buf: Buffer, at: number, layout: L, conversion: Conversion = 'exact'): ElfStruct<L> {
  return toNumbers(readStruct(buf, at, layout), at, layout, conversion);
}

export function encodeElf<L extends Layout>(buf: Buffer, at: number, layout: L, value: ElfStruct<L>): void {
  const fields = value as Record<string, number>;
  const raw: Record<string, number | bigint> = {};
  for (const [name, , type] of layout) raw[name] = type === 'u64' || type === 'i64' ? BigInt(fields[name]) : fields[name];
  writeStruct(buf, at, layout, raw as Struct<L>);
}
