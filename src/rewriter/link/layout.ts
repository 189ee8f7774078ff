// Places the runtime object and the trampolines in three new loadable segments above everything
// the program maps, resolves the runtime's relocations, and writes the config block:
//
//     RX  .ckpt.text (runtime code, the SUD allowed region)  .ckpt.tramp (trampolines)
//     R   program headers  .ckpt.config  .ckpt.redirect  .ckpt.rodata
//     RW  .ckpt.data  .ckpt.bss
import * as C from '../../contract.generated.js';
import { RelinkError } from '../../errors.js';
import { alignUp, pageUp } from '../elf/align.js';
import {
  PF_R, PF_W, PF_X, R_X86_64_PC32, R_X86_64_PLT32, SHF_ALLOC, SHF_EXECINSTR, SHF_WRITE, SHN_LORESERVE, SHN_UNDEF,
  SHT_NOBITS, SHT_PROGBITS, STT_FUNC, STT_OBJECT,
} from '../elf/constants.js';
import { PHDR_SIZE } from '../elf/structs.js';
import { symbolType } from '../elf/symbols.js';
import type { AddedSection, AddedSegment, AddedSymbol, Additions } from '../elf/types.js';
import type { SitePlan } from '../patch/plan.js';
import type { Redirect, Trampoline, TrampolineAssembler } from '../patch/trampoline.js';
import type { OutputKind, RuntimeObject } from './runtime-object.js';

export interface LinkedRuntime extends Additions {
  trampolines: Trampoline[];
  redirects: Redirect[];
  /** a dynamic program's carried-object table, encoded again once file offsets are known */
  carriedTable?: Buffer;
  /** its entries, names placed */
  carried?: CarriedEntry[];
}

/** One carried object as the config block's table describes it (ckpt_contract.h, CKPT_CO_*) */
export interface CarriedEntry {
  fileOffset: number; fileSize: number; firstVaddr: number; firstOffset: number; span: number;
  slot: number; redirects: number; redirectCount: number; interp: boolean; area: number; areaSize: number;
  /** what ld.so asks for (a DT_NEEDED name, or a path), then the file's path at relink time; names[] vaddrs are filled in by linkRuntime */
  names: [string, string];
  namesVaddr?: number;
}

/** Writes the table into `table` (its size is fixed by the count) */
export function encodeCarriedTable(table: Buffer, entries: CarriedEntry[]): void {
  entries.forEach((e, i) => {
    const o = i * C.CKPT_CO_SIZE;
    const u64 = (off: number, x: number) => table.writeBigUInt64LE(BigInt(x), o + off);
    u64(C.CKPT_CO_FILE_OFFSET, e.fileOffset);
    u64(C.CKPT_CO_FILE_SIZE, e.fileSize);
    u64(C.CKPT_CO_FIRST_VADDR, e.firstVaddr);
    u64(C.CKPT_CO_FIRST_OFFSET, e.firstOffset);
    u64(C.CKPT_CO_SPAN, e.span);
    u64(C.CKPT_CO_SLOT, e.slot);
    u64(C.CKPT_CO_REDIRECTS, e.redirects);
    table.writeUInt32LE(e.redirectCount, o + C.CKPT_CO_REDIRECT_COUNT);
    table.writeUInt32LE(e.interp ? C.CKPT_CARRIED_INTERP : 0, o + C.CKPT_CO_FLAGS);
    u64(C.CKPT_CO_NAMES, e.namesVaddr ?? 0);
    u64(C.CKPT_CO_AREA, e.area);
    u64(C.CKPT_CO_AREA_SIZE, e.areaSize);
  });
}

export interface LinkInput {
  runtime: RuntimeObject;
  plans: SitePlan[];
  assembler: TrampolineAssembler;
  base: number;
  origEntry: number;
  phnum: number; // program headers the output will have
  sites: number;
  flags: number;
  /** a dynamic program's carried objects, ld.so first; file offsets filled in later */
  carried?: Array<Omit<CarriedEntry, 'fileOffset'>>;
}

/** Concatenates the runtime's input sections of one kind; returns offsets by input index */
function gather(rt: RuntimeObject, kind: OutputKind): { size: number; align: number; at: Map<number, number> } {
  const at = new Map<number, number>();
  let size = 0, align = 1;
  for (const s of rt.sections.filter((x) => x.kind === kind)) {
    size = alignUp(size, s.align);
    at.set(s.index, size);
    size += s.size;
    align = Math.max(align, s.align);
  }
  return { size, align, at };
}

function fill(rt: RuntimeObject, kind: OutputKind, layout: { size: number; at: Map<number, number> }): Buffer {
  const out = Buffer.alloc(layout.size);
  for (const s of rt.sections) if (s.kind === kind) s.data.copy(out, layout.at.get(s.index)!);
  return out;
}

export function section(name: string, flags: number, vaddr: number, data: Buffer, align: number, type = SHT_PROGBITS, size = data.length): AddedSection {
  return { name, type, flags: flags | SHF_ALLOC, vaddr, size, align, entsize: 0, data: type === SHT_NOBITS ? Buffer.alloc(0) : data };
}

/** Values of the config block, all link-time addresses or counts (see ckpt_contract.h) */
interface ConfigValues {
  flags: number; self: number; entry: number; text: number; textSize: number; tramp: number;
  trampSize: number; sites: number; patched: number; redirects: number; redirectCount: number;
  loaderPhdr: number; loaderPhnum: number; carried: number; carriedCount: number;
}

function configBlock(v: ConfigValues): Buffer {
  const b = Buffer.alloc(C.CKPT_CFG_SIZE);
  b.writeBigUInt64LE(C.CKPT_CONFIG_MAGIC, C.CKPT_CFG_MAGIC);
  b.writeUInt32LE(C.CKPT_CONFIG_VERSION, C.CKPT_CFG_VERSION);
  b.writeUInt32LE(v.flags, C.CKPT_CFG_FLAGS);
  const u64 = (off: number, x: number) => b.writeBigUInt64LE(BigInt(x), off);
  u64(C.CKPT_CFG_SELF_VADDR, v.self);
  u64(C.CKPT_CFG_ORIG_ENTRY, v.entry);
  u64(C.CKPT_CFG_RT_TEXT, v.text);
  u64(C.CKPT_CFG_RT_TEXT_SIZE, v.textSize);
  u64(C.CKPT_CFG_TRAMP, v.tramp);
  u64(C.CKPT_CFG_TRAMP_SIZE, v.trampSize);
  b.writeUInt32LE(v.sites, C.CKPT_CFG_SITES);
  b.writeUInt32LE(v.patched, C.CKPT_CFG_SITES_PATCHED);
  u64(C.CKPT_CFG_REDIRECTS, v.redirects);
  b.writeUInt32LE(v.redirectCount, C.CKPT_CFG_REDIRECT_COUNT);
  u64(C.CKPT_CFG_LOADER_PHDR, v.loaderPhdr);
  b.writeUInt32LE(v.loaderPhnum, C.CKPT_CFG_LOADER_PHNUM);
  b.writeUInt32LE(v.carriedCount, C.CKPT_CFG_CARRIED_COUNT);
  u64(C.CKPT_CFG_CARRIED, v.carried);
  return b;
}

export function redirectTable(redirects: Redirect[]): Buffer {
  const b = Buffer.alloc(redirects.length * C.CKPT_REDIR_SIZE);
  redirects.forEach((r, i) => {
    b.writeBigUInt64LE(BigInt(r.from), i * C.CKPT_REDIR_SIZE + C.CKPT_REDIR_FROM);
    b.writeBigUInt64LE(BigInt(r.to), i * C.CKPT_REDIR_SIZE + C.CKPT_REDIR_TO);
  });
  return b;
}

/** A symbol's final address; the only undefined one the runtime may use is the config block */
function symbolAddress(rt: RuntimeObject, index: number, secBase: Map<number, number>, configAddr: number): number {
  const s = rt.symbols[index];
  if (s.shndx === SHN_UNDEF) {
    if (s.name === C.CKPT_SYM_CONFIG) return configAddr;
    throw new RelinkError('ERUNTIME', `runtime object needs an unknown symbol: ${s.name}`);
  }
  const base = secBase.get(s.shndx);
  if (base === undefined) throw new RelinkError('ERUNTIME', `runtime symbol ${s.name} is in a section that is not placed`);
  return base + s.value;
}

function relocate(rt: RuntimeObject, secBase: Map<number, number>, images: Map<number, { buf: Buffer; off: number }>, configAddr: number): void {
  for (const r of rt.relocations) {
    const target = images.get(r.section);
    if (!target) continue; // relocations of sections that are not loaded (none expected)
    if (r.type !== R_X86_64_PC32 && r.type !== R_X86_64_PLT32) {
      throw new RelinkError('ERUNTIME', `runtime object has relocation type ${r.type}; only PC-relative ones are allowed`);
    }
    const place = secBase.get(r.section)! + r.offset;
    const value = symbolAddress(rt, r.symbol, secBase, configAddr) + r.addend - place;
    if (value < -0x80000000 || value > 0x7fffffff) throw new RelinkError('ELAYOUT', 'runtime relocation out of 32-bit range');
    target.buf.writeInt32LE(value, target.off + r.offset);
  }
}

/** The runtime's named functions and objects, for the output's symbol table (debuggers, objdump) */
function runtimeSymbols(rt: RuntimeObject, secBase: Map<number, number>): AddedSymbol[] {
  const placed = (shndx: number) => shndx !== SHN_UNDEF && shndx < SHN_LORESERVE && secBase.has(shndx);
  return rt.symbols
    .filter((s) => s.name && placed(s.shndx) && (symbolType(s) === STT_OBJECT || symbolType(s) === STT_FUNC))
    .map((s) => ({ name: s.name, vaddr: secBase.get(s.shndx)! + s.value, size: s.size, type: symbolType(s) === STT_FUNC ? 'func' as const : 'object' as const }));
}

/** Lays out and links everything the relinked program adds. */
export function linkRuntime(input: LinkInput): LinkedRuntime {
  const rt = input.runtime;
  const textL = gather(rt, 'text'), roL = gather(rt, 'rodata'), dataL = gather(rt, 'data'), bssL = gather(rt, 'bss');
  const secBase = new Map<number, number>();
  const images = new Map<number, { buf: Buffer; off: number }>();

  // RX: runtime text, then the trampolines, which need rt_shim_entry's address
  const textAddr = input.base;
  const textData = fill(rt, 'text', textL);
  for (const [idx, off] of textL.at) { secBase.set(idx, textAddr + off); images.set(idx, { buf: textData, off }); }
  const shimSym = rt.symbols.find((s) => s.name === C.CKPT_SYM_SHIM);
  const startSym = rt.symbols.find((s) => s.name === C.CKPT_SYM_START);
  if (!shimSym || !startSym) throw new RelinkError('ERUNTIME', 'runtime object lacks rt_shim_entry or rt_start');
  const shim = secBase.get(shimSym.shndx)! + shimSym.value;
  const trampAddr = alignUp(textAddr + textL.size, 16);
  const trampolines: Trampoline[] = [];
  let at = trampAddr;
  for (const plan of input.plans) {
    const t = input.assembler.build(plan, at, { shim });
    trampolines.push(t);
    at = alignUp(at + t.bytes.length, 16);
  }
  const trampData = Buffer.alloc(at - trampAddr, 0xcc);
  for (const t of trampolines) t.bytes.copy(trampData, t.address - trampAddr);
  const rxEnd = trampAddr + trampData.length;

  // R: program headers (twice for a dynamic program), config block, redirect table, the carried
  // objects' table and names, runtime read-only data
  const rAddr = pageUp(rxEnd);
  const phdrBytes = input.phnum * PHDR_SIZE;
  const dynamic = (input.carried?.length ?? 0) > 0;
  const loaderPhdrAddr = rAddr + phdrBytes;
  const configAddr = alignUp(loaderPhdrAddr + (dynamic ? phdrBytes : 0), 8);
  const redirects = trampolines.flatMap((t) => t.redirects).sort((a, b) => a.from - b.from);
  const redirAddr = configAddr + C.CKPT_CFG_SIZE;
  const redirData = redirectTable(redirects);
  const carried = (input.carried ?? []).map((e) => ({ ...e, fileOffset: 0 }));
  const carriedAddr = alignUp(redirAddr + redirData.length, 8);
  const carriedData = Buffer.alloc(carried.length * C.CKPT_CO_SIZE);
  let namesAt = carriedAddr + carriedData.length;
  const names = carried.map((e) => {
    e.namesVaddr = namesAt;
    const b = Buffer.from(`${e.names[0]}\0${e.names[1]}\0`, 'latin1');
    namesAt += b.length;
    return b;
  });
  encodeCarriedTable(carriedData, carried);
  const carriedSection = Buffer.concat([carriedData, ...names]);
  const roAddr = alignUp(carriedAddr + carriedSection.length, Math.max(roL.align, 8));
  const roData = fill(rt, 'rodata', roL);
  for (const [idx, off] of roL.at) { secBase.set(idx, roAddr + off); images.set(idx, { buf: roData, off }); }
  const rEnd = roAddr + roL.size;

  // RW: runtime data and bss
  const dataAddr = pageUp(rEnd);
  const dataData = fill(rt, 'data', dataL);
  for (const [idx, off] of dataL.at) { secBase.set(idx, dataAddr + off); images.set(idx, { buf: dataData, off }); }
  const bssAddr = alignUp(dataAddr + dataL.size, Math.max(bssL.align, 8));
  for (const [idx, off] of bssL.at) secBase.set(idx, bssAddr + off);

  relocate(rt, secBase, images, configAddr);
  const config = configBlock({
    flags: input.flags, self: configAddr, entry: input.origEntry, text: textAddr, textSize: textL.size,
    tramp: trampAddr, trampSize: trampData.length, sites: input.sites,
    patched: trampolines.length, redirects: redirAddr, redirectCount: redirects.length,
    loaderPhdr: dynamic ? loaderPhdrAddr : 0, loaderPhnum: dynamic ? input.phnum : 0,
    carried: dynamic ? carriedAddr : 0, carriedCount: carried.length,
  });

  const segments: AddedSegment[] = [
    { flags: PF_R | PF_X, vaddr: textAddr, memsz: rxEnd - textAddr, phdrBytes: 0, sections: [
      section(C.CKPT_SEC_TEXT, SHF_EXECINSTR, textAddr, textData, Math.max(16, textL.align)),
      section(C.CKPT_SEC_TRAMP, SHF_EXECINSTR, trampAddr, trampData, 16),
    ] },
    { flags: PF_R, vaddr: rAddr, memsz: rEnd - rAddr, phdrBytes, sections: [
      section(C.CKPT_SEC_CONFIG, 0, configAddr, config, 8),
      section('.ckpt.redirect', 0, redirAddr, redirData, 8),
      ...(dynamic ? [section('.ckpt.carried', 0, carriedAddr, carriedSection, 8)] : []),
      section(C.CKPT_SEC_RODATA, 0, roAddr, roData, roL.align),
    ] },
    { flags: PF_R | PF_W, vaddr: dataAddr, memsz: bssAddr + bssL.size - dataAddr, phdrBytes: 0, sections: [
      section(C.CKPT_SEC_DATA, SHF_WRITE, dataAddr, dataData, dataL.align),
      section(C.CKPT_SEC_BSS, SHF_WRITE, bssAddr, Buffer.alloc(0), bssL.align, SHT_NOBITS, bssL.size),
    ] },
  ];
  const symbols = runtimeSymbols(rt, secBase).concat(trampolines.map((t) => ({
    name: `ckpt_tramp_${t.plan.site.toString(16)}`, vaddr: t.address, size: t.bytes.length, type: 'func' as const,
  })));
  return {
    segments, entry: secBase.get(startSym.shndx)! + startSym.value, phdrVaddr: rAddr, symbols, trampolines, redirects,
    ...(dynamic ? { loaderPhdrVaddr: loaderPhdrAddr, carriedTable: carriedSection.subarray(0, carriedData.length), carried } : {}),
  };
}
