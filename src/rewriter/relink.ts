// ckpt-relink as a library: input bytes in, relinked bytes and a report out. Nothing here touches
// the file system except reading the runtime object; the CLI owns files and exit codes.
import fs from 'node:fs';
import { RelinkError } from '../errors.js';
import { CKPT_FLAG_SUD_ALWAYS, CKPT_FLAG_SUD_NEEDED, CKPT_FLAG_SUD_NEVER } from '../contract.generated.js';
import { RUNTIME_OBJECT } from '../paths.js';
import { readElf } from './elf/read.js';
import { PF_X, PT_LOAD, SHF_ALLOC, SHF_EXECINSTR, SHT_PROGBITS, SHT_SYMTAB, STT_FUNC } from './elf/constants.js';
import { readSymbols, symbolType } from './elf/symbols.js';
import type { ElfFile } from './elf/types.js';
import { chooseLayout, writeOutput } from './elf/write.js';
import { analyse, type CodeMap } from './disasm/analysis.js';
import { Decoder, type CodeRegion } from './disasm/decoder.js';
import { findSites, forcedSud, planSite, type SitePlan } from './patch/plan.js';
import { Tactic, type SudReason } from './patch/tactics.js';
import { TrampolineAssembler } from './patch/trampoline.js';
import { linkRuntime } from './link/layout.js';
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

/** Where code can be entered: the entry point and every function symbol */
function functionSymbols(elf: ElfFile): number[] {
  const symtab = elf.sections.find((s) => s.type === SHT_SYMTAB);
  const functions = symtab ? readSymbols(elf.bytes, symtab).filter((s) => symbolType(s) === STT_FUNC) : [];
  return [elf.header.entry, ...functions.map((s) => s.value)];
}

function planAll(decoder: Decoder, map: CodeMap, opts: RelinkOptions): SitePlan[] {
  const forced = opts.sudSites === 'all' ? null : new Set(opts.sudSites ?? []);
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

function sudFlags(policy: NonNullable<RelinkOptions['sudNet']>, plans: SitePlan[], map: CodeMap): number {
  const needed = plans.some((p) => p.tactic === Tactic.Sud) || map.legacySites.length > 0;
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

/** Relinks an executable held in memory. Throws RelinkError for input it cannot take. */
export async function relink(input: Buffer, opts: RelinkOptions = {}): Promise<RelinkResult> {
  const t0 = performance.now();
  const elf = readElf(input);
  const { decoder, assembler } = await loadTools();
  const regions = codeRegions(elf).map((r) => decoder.decodeRegion(r));
  const map = analyse(regions, functionSymbols(elf));
  if (map.instructions === 0) throw new RelinkError('ENOCODE', 'no executable code found');
  const plans = planAll(decoder, map, opts);
  const layout = chooseLayout(elf);
  checkReach(regions.map((d) => d.region), layout.base);
  const linked = linkRuntime({
    runtime: readRuntime(opts.runtimeObject ?? RUNTIME_OBJECT),
    plans: plans.filter((p) => p.tactic === Tactic.Jump), assembler, base: layout.base,
    origEntry: elf.header.entry, phnum: elf.header.phnum + 3, sites: plans.length,
    flags: sudFlags(opts.sudNet ?? 'auto', plans, map),
  });
  const patches = linked.trampolines.map((t) => ({ vaddr: t.plan.start, bytes: assembler.windowBytes(t) }));
  const output = writeOutput(elf, linked, layout, patches);
  const trampolineAt = new Map(linked.trampolines.map((t) => [t.plan.site, t.address]));
  const report = summarise(elf, map, plans, trampolineAt, linked.redirects.length, output.length - input.length, t0);
  return { output, report };
}

