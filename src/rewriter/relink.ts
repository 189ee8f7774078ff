// ckpt-relink as a library: input bytes in, relinked bytes and a report out. Nothing here touches
// the file system except reading the runtime object; the CLI owns files and exit codes.
import fs from 'node:fs';
import path from 'node:path';
import { RelinkError } from '../errors.js';
import { CKPT_FLAG_SUD_ALWAYS, CKPT_FLAG_SUD_NEEDED, CKPT_FLAG_SUD_NEVER } from '../contract.generated.js';
import { RUNTIME_OBJECT } from '../paths.js';
import { readElf, readSharedObject } from './elf/read.js';
import { PF_X, PT_LOAD, SHF_ALLOC, SHF_EXECINSTR, SHT_DYNSYM, SHT_PROGBITS, SHT_SYMTAB, STT_FUNC } from './elf/constants.js';
import { readSymbols, symbolType } from './elf/symbols.js';
import type { ElfFile } from './elf/types.js';
import { addedFileEnd, chooseLayout, writeOutput, type OutputLayout, type Payload, type WindowPatch } from './elf/write.js';
import { PAGE, pageUp } from './elf/align.js';
import { PHDR, PHDR_SIZE } from './elf/structs.js';
import { offsetOf } from '../lib/struct.js';
import { analyse, type CodeMap } from './disasm/analysis.js';
import { Decoder, type CodeRegion } from './disasm/decoder.js';
import { findSites, forcedSud, planSite, type SitePlan } from './patch/plan.js';
import { Tactic, type SudReason } from './patch/tactics.js';
import { TrampolineAssembler } from './patch/trampoline.js';
import { encodeCarriedTable, linkRuntime, type CarriedEntry } from './link/layout.js';
import { SLOT_PAGE, linkSharedObject, type LinkedObject } from './link/shared-object.js';
import { readRuntimeObject } from './link/runtime-object.js';

export interface RelinkOptions {
  /** sites to leave to the SUD net: 'all', or a list of site addresses */
  sudSites?: 'all' | number[];
  /**
   * When the runtime arms the SUD net: 'auto' (default) only if some site was left to it,
   * 'always' also to catch code the rewriter cannot see (JIT), 'never' not at all.
   */
  sudNet?: 'auto' | 'always' | 'never';
  runtimeObject?: string;
  /**
   * A dynamically linked executable's interpreter and libraries, to be patched and carried in the
   * output (closure/: resolveClosure gives them in this order: ld.so first, then load order)
   */
  carried?: CarriedInput[];
}

export interface CarriedInput {
  /** what ld.so asks for: a DT_NEEDED name, the interpreter's path, or a --with file's path */
  name: string;
  /** the file it was read from */
  path: string;
  role: 'interp' | 'needed' | 'with';
  bytes: Buffer;
}

/** What the report says of each carried object */
export interface ObjectReport {
  name: string;
  path: string;
  role: CarriedInput['role'];
  sites: number;
  patched: number;
  sud: number;
  sudReasons: Partial<Record<SudReason, number>>;
  legacySites: number;
  unguardedBoundaries: number;
  redirects: number;
  bytes: number;
}

export interface SiteReport {
  address: string;
  /** system call number, when the code before the site shows it */
  nr?: number;
  tactic: Tactic;
  reason?: SudReason;
  window?: [string, string];
  moved?: { before: number; after: number };
  trampoline?: string;
  unguarded?: number;
}

export interface RelinkReport {
  kind: ElfFile['kind'];
  instructions: number;
  undecodableBytes: number;
  sites: number;
  patched: Record<Tactic, number>;
  sud: number;
  sudReasons: Partial<Record<SudReason, number>>;
  /** int 0x80 and sysenter: not patched; the SUD net sees them */
  legacySites: string[];
  redirects: number;
  unguardedBoundaries: number;
  addedBytes: number;
  timeMs: number;
  siteReports: SiteReport[];
  /** dynamic executables: ld.so and the libraries carried in the output, with their own counts */
  objects?: ObjectReport[];
}

export interface RelinkResult { output: Buffer; report: RelinkReport }

const hex = (n: number) => `0x${n.toString(16)}`;

/** Executable code: from section headers if the file has them, else from executable segments */
function codeRegions(elf: ElfFile): CodeRegion[] {
  const secs = elf.sections.filter((s) => s.type === SHT_PROGBITS && (s.flags & SHF_ALLOC) && (s.flags & SHF_EXECINSTR) && s.size > 0);
  if (secs.length) {
    return secs.map((s) => {
      const seg = elf.segments.find((g) => g.type === PT_LOAD && s.addr >= g.vaddr && s.addr + s.size <= g.vaddr + g.filesz);
      if (!seg || s.offset - seg.offset !== s.addr - seg.vaddr) {
        throw new RelinkError('EMALFORMED', `malformed ELF: code section ${s.name} does not match its segment`, { offset: s.offset });
      }
      return { name: s.name, start: s.addr, bytes: elf.bytes.subarray(s.offset, s.offset + s.size) };
    });
  }
  return elf.segments.filter((g) => g.type === PT_LOAD && (g.flags & PF_X) && g.filesz > 0)
    .map((g, i) => ({ name: `segment${i}`, start: g.vaddr, bytes: elf.bytes.subarray(g.offset, g.offset + g.filesz) }));
}

/** Where code can be entered: the entry point and every function symbol, static or dynamic */
function functionSymbols(elf: ElfFile): number[] {
  const tables = elf.sections.filter((s) => s.type === SHT_SYMTAB || s.type === SHT_DYNSYM);
  const functions = tables.flatMap((t) => readSymbols(elf.bytes, t)).filter((s) => symbolType(s) === STT_FUNC && s.value !== 0);
  return [...(elf.header.entry ? [elf.header.entry] : []), ...functions.map((s) => s.value)];
}

function planAll(decoder: Decoder, map: CodeMap, sudSites: RelinkOptions['sudSites']): SitePlan[] {
  const forced = sudSites === 'all' ? null : new Set(sudSites ?? []);
  const claimed: Array<[number, number]> = [];
  return findSites(map).map(([r, i]) => {
    const site = map.regions[r].region.start + map.regions[r].offsets[i];
    if (forced === null || forced.has(site)) return forcedSud(map, r, i);
    return planSite(decoder, map, r, i, claimed);
  });
}

function siteReport(p: SitePlan, trampolineAt: Map<number, number>): SiteReport {
  if (p.tactic === Tactic.Sud) return { address: hex(p.site), nr: p.nr, tactic: p.tactic, reason: p.reason };
  return {
    address: hex(p.site), nr: p.nr, tactic: p.tactic, window: [hex(p.start), hex(p.end)],
    moved: { before: p.before.length, after: p.after.length }, trampoline: hex(trampolineAt.get(p.site)!), unguarded: p.unguarded,
  };
}

function summarise(elf: ElfFile, map: CodeMap, plans: SitePlan[], trampolineAt: Map<number, number>, redirects: number, added: number, t0: number): RelinkReport {
  const sudReasons: RelinkReport['sudReasons'] = {};
  for (const p of plans) if (p.reason) sudReasons[p.reason] = (sudReasons[p.reason] ?? 0) + 1;
  const jumps = plans.filter((p) => p.tactic === Tactic.Jump);
  return {
    kind: elf.kind,
    instructions: map.instructions,
    undecodableBytes: map.undecodable,
    sites: plans.length,
    patched: { [Tactic.Jump]: jumps.length, [Tactic.Sud]: 0 },
    sud: plans.length - jumps.length,
    sudReasons,
    legacySites: map.legacySites.map(hex),
    redirects,
    unguardedBoundaries: jumps.reduce((n, p) => n + p.unguarded, 0),
    addedBytes: added,
    timeMs: Math.round(performance.now() - t0),
    siteReports: plans.map((p) => siteReport(p, trampolineAt)),
  };
}

/** Jumps between the code and its trampolines are rel32: everything must lie within 2 GiB */
const REACH = 0x7fffffff - 0x10000000; // keeping 256 MiB for the runtime and trampolines

function checkReach(code: CodeRegion[], base: number): void {
  const lowest = Math.min(...code.map((r) => r.start));
  if (base - lowest > REACH) {
    throw new RelinkError('ELAYOUT', `the program's segments span more than 2 GiB (code at 0x${lowest.toString(16)}, end at 0x${base.toString(16)}): trampolines could not be reached`);
  }
}

function leftToNet(plans: SitePlan[], map: CodeMap): boolean {
  return plans.some((p) => p.tactic === Tactic.Sud) || map.legacySites.length > 0;
}

function sudFlags(policy: NonNullable<RelinkOptions['sudNet']>, needed: boolean): number {
  return (needed ? CKPT_FLAG_SUD_NEEDED : 0) | (policy === 'always' ? CKPT_FLAG_SUD_ALWAYS : 0) | (policy === 'never' ? CKPT_FLAG_SUD_NEVER : 0);
}

let tools: Promise<{ decoder: Decoder; assembler: TrampolineAssembler }> | undefined;
function loadTools() {
  tools ??= Promise.all([Decoder.create(), TrampolineAssembler.create()]).then(([decoder, assembler]) => ({ decoder, assembler }));
  return tools;
}

function readRuntime(file: string) {
  try {
    return readRuntimeObject(fs.readFileSync(file));
  } catch (e) {
    if (e instanceof RelinkError) throw e;
    throw new RelinkError('ERUNTIME', `cannot read the runtime object ${file} (run \`npm run build\`): ${(e as Error).message}`, { cause: e });
  }
}

interface Planned { elf: ElfFile; map: CodeMap; plans: SitePlan[]; regions: CodeRegion[] }

/** Could the code hold a system call instruction at all: syscall (0f 05), sysenter (0f 34), int 0x80 (cd 80)? */
function mayHoldSites(code: CodeRegion[]): boolean {
  const patterns = [Buffer.from([0x0f, 0x05]), Buffer.from([0x0f, 0x34]), Buffer.from([0xcd, 0x80])];
  return code.some((r) => patterns.some((p) => Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.length).indexOf(p) >= 0));
}

async function planObject(elf: ElfFile, sudSites: RelinkOptions['sudSites'], what: string): Promise<Planned> {
  const { decoder } = await loadTools();
  const code = codeRegions(elf);
  if (!code.some((r) => r.bytes.length > 0)) throw new RelinkError('ENOCODE', `no executable code found${what}`);
  // most libraries and many programs leave every system call to libc: nothing to decode or plan
  if (!mayHoldSites(code)) return { elf, map: analyse([], []), plans: [], regions: code };
  const regions = code.map((r) => decoder.decodeRegion(r));
  const map = analyse(regions, functionSymbols(elf));
  if (map.instructions === 0) throw new RelinkError('ENOCODE', `no executable code found${what}`);
  return { elf, map, plans: planAll(decoder, map, sudSites), regions: regions.map((d) => d.region) };
}

/** A carried object patched: its new bytes, what the carried table says of it, and its report */
interface PatchedObject { bytes: Buffer; entry: Omit<CarriedEntry, 'fileOffset'>; report: ObjectReport; needsNet: boolean }

function loadSpan(elf: ElfFile): { firstVaddr: number; firstOffset: number } {
  const first = elf.segments.find((s) => s.type === PT_LOAD)!;
  return { firstVaddr: first.vaddr - (first.vaddr % 0x1000), firstOffset: first.offset - (first.offset % 0x1000) };
}

/**
 * The carried copy: the object's own bytes with its windows patched and every p_align above a page
 * lowered to a page (so that ld.so maps it with the plain path, leaving room after it for the
 * area: docs/dynamic.md), then the area and the slot's page at the same offsets as their vaddrs.
 */
function carriedBytes(elf: ElfFile, linked: LinkedObject, patches: WindowPatch[]): Buffer {
  const areaOffset = linked.area;
  const out = Buffer.alloc(linked.slot + SLOT_PAGE);
  elf.bytes.copy(out, 0);
  for (const p of patches) p.bytes.copy(out, fileOffsetOf(elf, p.vaddr));
  linked.code.copy(out, areaOffset);
  elf.segments.forEach((s, i) => {
    if (s.type === PT_LOAD && s.align > PAGE) out.writeBigUInt64LE(BigInt(PAGE), elf.header.phoff + i * PHDR_SIZE + offsetOf(PHDR, 'align'));
  });
  return out;
}

function fileOffsetOf(elf: ElfFile, vaddr: number): number {
  const s = elf.segments.find((x) => x.type === PT_LOAD && vaddr >= x.vaddr && vaddr < x.vaddr + x.filesz)!;
  return vaddr - s.vaddr + s.offset;
}

async function patchObject(obj: CarriedInput, opts: RelinkOptions): Promise<PatchedObject> {
  let elf: ElfFile;
  try {
    elf = readSharedObject(obj.bytes);
  } catch (e) {
    if (e instanceof RelinkError) throw new RelinkError(e.code, `${obj.path}: ${e.message}`, { cause: e });
    throw e;
  }
  const p = await planObject(elf, opts.sudSites === 'all' ? 'all' : undefined, ` in ${obj.path}`);
  const { assembler } = await loadTools();
  const loadEnd = Math.max(...elf.segments.filter((s) => s.type === PT_LOAD).map((s) => s.vaddr + s.memsz));
  // the area lies at the same offset in the file as in memory (past the bss too: the file is padded)
  const area = pageUp(Math.max(loadEnd, elf.bytes.length));
  checkReach(p.regions, area);
  const linked = linkSharedObject({ plans: p.plans.filter((x) => x.tactic === Tactic.Jump), assembler, base: area });
  const patches = linked.trampolines.map((t) => ({ vaddr: t.plan.start, bytes: assembler.windowBytes(t) }));
  const bytes = carriedBytes(elf, linked, patches);
  const span = loadSpan(elf);
  const jumps = linked.trampolines.length;
  const sudReasons: ObjectReport['sudReasons'] = {};
  for (const x of p.plans) if (x.reason) sudReasons[x.reason] = (sudReasons[x.reason] ?? 0) + 1;
  return {
    bytes,
    entry: {
      fileSize: bytes.length, firstVaddr: span.firstVaddr, firstOffset: span.firstOffset,
      span: linked.slot + SLOT_PAGE - span.firstVaddr, slot: linked.slot, redirects: linked.redirectTable,
      redirectCount: linked.redirects.length, interp: obj.role === 'interp', names: [obj.name, obj.path],
      area, areaSize: linked.code.length,
    },
    report: {
      name: obj.name, path: obj.path, role: obj.role, sites: p.plans.length, patched: jumps, sud: p.plans.length - jumps, sudReasons,
      legacySites: p.map.legacySites.length, unguardedBoundaries: linked.trampolines.reduce((n, t) => n + t.plan.unguarded, 0),
      redirects: linked.redirects.length, bytes: bytes.length,
    },
    needsNet: leftToNet(p.plans, p.map),
  };
}

/** Page-aligned places for the carried objects after everything the executable's output holds */
function placePayloads(start: number, objects: PatchedObject[]): Payload[] {
  let at = pageUp(start);
  return objects.map((o) => {
    const placed = { offset: at, data: o.bytes };
    at = pageUp(at + o.bytes.length);
    return placed;
  });
}

/** Relinks an executable held in memory. Throws RelinkError for input it cannot take. */
export async function relink(input: Buffer, opts: RelinkOptions = {}): Promise<RelinkResult> {
  const t0 = performance.now();
  const elf = readElf(input);
  if (elf.kind === 'dynamic' && !opts.carried?.length) {
    throw new RelinkError('EDYNAMIC', 'a dynamically linked executable: its interpreter and libraries must be given (the ckpt-relink command resolves them)');
  }
  const exe = await planObject(elf, opts.sudSites, '');
  const objects: PatchedObject[] = [];
  for (const c of opts.carried ?? []) objects.push(await patchObject(c, opts));
  const { assembler } = await loadTools();
  const layout: OutputLayout = chooseLayout(elf);
  checkReach(exe.regions, layout.base);
  const needsNet = leftToNet(exe.plans, exe.map) || objects.some((o) => o.needsNet);
  const linked = linkRuntime({
    runtime: readRuntime(opts.runtimeObject ?? RUNTIME_OBJECT),
    plans: exe.plans.filter((p) => p.tactic === Tactic.Jump), assembler, base: layout.base,
    origEntry: elf.header.entry, phnum: elf.header.phnum + 3, sites: exe.plans.length,
    flags: sudFlags(opts.sudNet ?? 'auto', needsNet),
    carried: objects.map((o) => o.entry),
  });
  const payloads = placePayloads(Math.max(addedFileEnd(elf, linked, layout), input.length), objects);
  if (linked.carriedTable) encodeCarriedTable(linked.carriedTable, linked.carried!.map((e, i) => ({ ...e, fileOffset: payloads[i].offset })));
  const patches = linked.trampolines.map((t) => ({ vaddr: t.plan.start, bytes: assembler.windowBytes(t) }));
  const output = writeOutput(elf, linked, layout, patches, payloads);
  const trampolineAt = new Map(linked.trampolines.map((t) => [t.plan.site, t.address]));
  const report = summarise(elf, exe.map, exe.plans, trampolineAt, linked.redirects.length, output.length - input.length, t0);
  if (objects.length) report.objects = objects.map((o) => o.report);
  return { output, report };
}
