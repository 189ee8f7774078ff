// Choosing a tactic per syscall site (docs/tactics.md). A `jump` window is a run of whole
// instructions around the 2-byte syscall, at least 5 bytes long, that no branch enters except at
// its first byte and that holds only instructions that can move into a trampoline.
import type { Insn } from 'capstone-wasm';
import type { CodeMap } from '../disasm/analysis.js';
import { Mark } from '../disasm/analysis.js';
import { InsnKind, type Decoder, type DecodedRegion } from '../disasm/decoder.js';
import { displace, type Displaced } from './relocate.js';
import { Tactic, type SudReason } from './tactics.js';

export const JMP_SIZE = 5;
const MAX_BEFORE = 4;
const MAX_AFTER = 4;
const ENTRY_MARKS = Mark.DirectTarget | Mark.CallReturn | Mark.AfterTransfer | Mark.Symbol;

export interface SitePlan {
  site: number;
  /** the system call number, when an immediate load into eax/rax before the site shows it */
  nr?: number;
  tactic: Tactic;
  reason?: SudReason;
  /** [start, end) of the bytes the jmp replaces */
  start: number;
  end: number;
  before: Displaced[];
  after: Displaced[];
  /** instruction boundaries inside the jmp's own bytes: an unseen indirect branch there would fail */
  unguarded: number;
}

interface Candidate { lo: number; hi: number; start: number; end: number; unguarded: number }

/** Checks a window of instruction indices [lo, hi] around the site at index `at`; null when fine. */
function refuse(d: DecodedRegion, marks: Uint8Array, lo: number, hi: number, at: number): SudReason | null {
  for (let j = lo; j <= hi; j++) {
    const kind = d.kinds[j] as InsnKind;
    if (j > lo && (marks[d.offsets[j]] & ENTRY_MARKS)) return 'branch-target';
    if (j > lo && d.offsets[j - 1] + d.sizes[j - 1] !== d.offsets[j]) return 'no-window';
    if (kind === InsnKind.Endbr64) return 'no-window';
    if (j !== at && (kind === InsnKind.Syscall || kind === InsnKind.Sysenter || kind === InsnKind.Int)) return 'unrelocatable';
    if (j < hi && (kind === InsnKind.Jmp || kind === InsnKind.Ret || kind === InsnKind.Halt)) return 'no-window';
    if (kind === InsnKind.Call || kind === InsnKind.Loop) return 'unrelocatable';
  }
  return null;
}

function candidates(d: DecodedRegion, marks: Uint8Array, at: number, reasons: Set<SudReason>): Candidate[] {
  const out: Candidate[] = [];
  for (let before = 0; before <= MAX_BEFORE && at - before >= 0; before++) {
    for (let after = 0; after <= MAX_AFTER && at + after < d.count; after++) {
      const lo = at - before, hi = at + after;
      const start = d.offsets[lo], end = d.offsets[hi] + d.sizes[hi];
      if (end - start < JMP_SIZE) continue;
      const why = refuse(d, marks, lo, hi, at);
      if (why) { reasons.add(why); continue; }
      let unguarded = 0;
      for (let j = lo + 1; j <= hi && d.offsets[j] - start < JMP_SIZE; j++) unguarded++;
      out.push({ lo, hi, start, end, unguarded });
    }
  }
  // Fewest unguarded boundaries first, then the smallest window, then the fewest moved instructions
  return out.sort((a, b) => a.unguarded - b.unguarded || (a.end - a.start) - (b.end - b.start) || (a.hi - a.lo) - (b.hi - b.lo));
}

function overlaps(claimed: Array<[number, number]>, start: number, end: number): boolean {
  return claimed.some(([s, e]) => start < e && s < end);
}

/** Decodes the window in full and finds how to move each instruction but the syscall */
function displaceWindow(decoder: Decoder, d: DecodedRegion, c: Candidate, at: number): { before: Displaced[]; after: Displaced[] } | null {
  const base = d.region.start;
  const insns: Insn[] = decoder.decodeWindow(d.region.bytes.subarray(c.start, c.end), base + c.start);
  if (insns.length !== c.hi - c.lo + 1) return null;
  const moved: Displaced[] = [];
  for (let j = 0; j < insns.length; j++) {
    if (c.lo + j === at) continue;
    const m = displace(insns[j]);
    if (!m) return null;
    moved.push(m);
  }
  const split = at - c.lo;
  return { before: moved.slice(0, split), after: moved.slice(split) };
}

function sudPlan(site: number, reason: SudReason, nr?: number): SitePlan {
  return { site, nr, tactic: Tactic.Sud, reason, start: site, end: site + 2, before: [], after: [], unguarded: 0 };
}

/**
 * The number a site passes in rax, when the same straight-line code loads it as an immediate:
 * `mov eax, imm32` (b8) or `mov rax, imm32` (48 c7 c0). Anything else leaves it unknown.
 */
export function syscallNumber(d: DecodedRegion, marks: Uint8Array, at: number): number | undefined {
  const b = d.region.bytes;
  for (let j = at - 1; j >= 0 && j >= at - 8; j--) {
    const off = d.offsets[j], size = d.sizes[j];
    if (size === 5 && b[off] === 0xb8) return b.readUInt32LE(off + 1);
    if (size === 7 && b[off] === 0x48 && b[off + 1] === 0xc7 && b[off + 2] === 0xc0) return b.readInt32LE(off + 3);
    const kind = d.kinds[j] as InsnKind;
    if (kind !== InsnKind.Other || (marks[off] & ENTRY_MARKS)) return undefined;
  }
  return undefined;
}

/** Plans one site; `claimed` holds the windows already taken, in any order. */
export function planSite(decoder: Decoder, map: CodeMap, r: number, at: number, claimed: Array<[number, number]>): SitePlan {
  const d = map.regions[r], marks = map.marks[r];
  const site = d.region.start + d.offsets[at];
  const nr = syscallNumber(d, marks, at);
  const reasons = new Set<SudReason>();
  for (const c of candidates(d, marks, at, reasons)) {
    const start = d.region.start + c.start, end = d.region.start + c.end;
    if (overlaps(claimed, start, end)) { reasons.add('overlap'); continue; }
    const moved = displaceWindow(decoder, d, c, at);
    if (!moved) { reasons.add('unrelocatable'); continue; }
    claimed.push([start, end]);
    return { site, nr, tactic: Tactic.Jump, start, end, ...moved, unguarded: c.unguarded };
  }
  const order: SudReason[] = ['overlap', 'unrelocatable', 'branch-target', 'no-window'];
  return sudPlan(site, order.find((x) => reasons.has(x)) ?? 'no-window', nr);
}

/** Every syscall site in the map, as [region index, instruction index] */
export function findSites(map: CodeMap): Array<[number, number]> {
  const sites: Array<[number, number]> = [];
  map.regions.forEach((d, r) => {
    for (let i = 0; i < d.count; i++) if (d.kinds[i] === InsnKind.Syscall) sites.push([r, i]);
  });
  return sites;
}

export function forcedSud(map: CodeMap, r: number, at: number): SitePlan {
  const d = map.regions[r];
  return sudPlan(d.region.start + d.offsets[at], 'forced', syscallNumber(d, map.marks[r], at));
}
