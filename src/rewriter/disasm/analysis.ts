// What the rewriter learns from decoded code: the syscall sites, and every address that control
// may reach other than by falling through (so no patch may cover it except at its first byte).
import type { DecodedRegion } from './decoder.js';
import { InsnKind } from './decoder.js';

/** Per-byte marks over a region */
export const enum Mark {
  InsnStart = 1,
  /** target of a direct jmp, jcc, loop or call */
  DirectTarget = 2,
  /** follows a call: the callee returns here */
  CallReturn = 4,
  /** follows an unconditional transfer: only a branch (maybe indirect) can reach it */
  AfterTransfer = 8,
  /** a function symbol or the entry point */
  Symbol = 16,
}

export interface CodeMap {
  regions: DecodedRegion[];
  marks: Uint8Array[];
  instructions: number;
  undecodable: number;
  /** `int 0x80` and `sysenter` sites: the SUD net catches them, the rewriter does not patch them */
  legacySites: number[];
}

const PREFIXES = new Set([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3]);

/**
 * Target of a direct relative branch, or undefined for an indirect one. The displacement of every
 * direct branch form (rel8, rel16, rel32) is the instruction's last bytes, after the opcode.
 */
export function directTarget(bytes: Uint8Array, at: number, size: number, address: number): number | undefined {
  let i = at;
  while (i < at + size && PREFIXES.has(bytes[i])) i++;
  if (i < at + size && (bytes[i] & 0xf0) === 0x40) i++; // REX
  const op = bytes[i];
  let opLen: number;
  if (op === 0xe8 || op === 0xe9 || op === 0xeb || (op >= 0x70 && op <= 0x7f) || (op >= 0xe0 && op <= 0xe3)) opLen = 1;
  else if (op === 0x0f && bytes[i + 1] >= 0x80 && bytes[i + 1] <= 0x8f) opLen = 2;
  else return undefined;
  const immAt = i + opLen, immLen = at + size - immAt;
  let rel: number;
  if (immLen === 1) rel = (bytes[immAt] << 24) >> 24;
  else if (immLen === 2) rel = (bytes[immAt] | (bytes[immAt + 1] << 8)) << 16 >> 16;
  else if (immLen === 4) rel = bytes[immAt] | (bytes[immAt + 1] << 8) | (bytes[immAt + 2] << 16) | (bytes[immAt + 3] << 24);
  else return undefined;
  return address + size + rel;
}

function markTarget(map: CodeMap, addr: number, mark: Mark): void {
  for (let r = 0; r < map.regions.length; r++) {
    const reg = map.regions[r].region;
    const off = addr - reg.start;
    if (off >= 0 && off < reg.bytes.length) { map.marks[r][off] |= mark; return; }
  }
}

function markRegion(map: CodeMap, r: number): void {
  const d = map.regions[r], marks = map.marks[r], bytes = d.region.bytes;
  for (let i = 0; i < d.count; i++) {
    const off = d.offsets[i], size = d.sizes[i], kind = d.kinds[i] as InsnKind;
    marks[off] |= Mark.InsnStart;
    const next = off + size;
    if (kind === InsnKind.Call || kind === InsnKind.Jmp || kind === InsnKind.Jcc || kind === InsnKind.Loop) {
      const t = directTarget(bytes, off, size, d.region.start + off);
      if (t !== undefined) markTarget(map, t, Mark.DirectTarget);
    }
    if (next < bytes.length) {
      if (kind === InsnKind.Call) marks[next] |= Mark.CallReturn;
      if (kind === InsnKind.Jmp || kind === InsnKind.Ret || kind === InsnKind.Halt) marks[next] |= Mark.AfterTransfer;
    }
    if (kind === InsnKind.Int && size === 2 && bytes[off] === 0xcd && bytes[off + 1] === 0x80) map.legacySites.push(d.region.start + off);
    if (kind === InsnKind.Sysenter) map.legacySites.push(d.region.start + off);
  }
}

/** Builds the code map; `symbols` are function starts known from the symbol table and the entry. */
export function analyse(regions: DecodedRegion[], symbols: number[]): CodeMap {
  const map: CodeMap = {
    regions,
    marks: regions.map((d) => new Uint8Array(d.region.bytes.length)),
    instructions: regions.reduce((n, d) => n + d.count, 0),
    undecodable: regions.reduce((n, d) => n + d.undecodable, 0),
    legacySites: [],
  };
  for (let r = 0; r < regions.length; r++) markRegion(map, r);
  for (const s of symbols) markTarget(map, s, Mark.Symbol);
  return map;
}
