// Links the trampolines of a carried shared object (ld.so or a library) into two new segments of
// its own, above everything it maps:
//
//     RX  program headers  .ckpt.tramp (trampolines)  .ckpt.redirect (its int3 guards)
//     RW  .ckpt.slot: one u64, rt_shim_entry's address, written by the runtime when it is mapped
//
// The object is loaded at an address known only at run time, far from the executable's runtime, so
// its trampolines call through the slot (call qword ptr [rip + slot]) rather than rel32.
import * as C from '../../contract.generated.js';
import { alignUp, pageUp } from '../elf/align.js';
import { PF_R, PF_W, PF_X, SHF_EXECINSTR, SHF_WRITE } from '../elf/constants.js';
import { PHDR_SIZE } from '../elf/structs.js';
import type { AddedSegment, Additions } from '../elf/types.js';
import type { SitePlan } from '../patch/plan.js';
import type { Redirect, Trampoline, TrampolineAssembler } from '../patch/trampoline.js';
import { redirectTable, section } from './layout.js';

export interface LinkedObject extends Additions {
  trampolines: Trampoline[];
  redirects: Redirect[];
  /** object-relative vaddr of the slot the runtime fills */
  slot: number;
  /** object-relative vaddr of the redirect table */
  redirectTable: number;
}

export interface ObjectLinkInput {
  plans: SitePlan[];
  assembler: TrampolineAssembler;
  /** the first free page above the object's segments */
  base: number;
  /** program headers the output will have */
  phnum: number;
  /** the object's own entry point, kept */
  entry: number;
}

/** The slot comes first in its page, so its address is known before the trampolines are built */
export function linkSharedObject(input: ObjectLinkInput): LinkedObject {
  const rxAddr = input.base;
  const phdrBytes = input.phnum * PHDR_SIZE;
  const trampAddr = alignUp(rxAddr + phdrBytes, 16);
  const trampSize = input.plans.reduce((n, p) => n + alignUp(estimateSize(p), 16), 0);
  // the slot's page follows the RX segment; its address must be fixed before assembling, so the
  // RX segment is sized from an upper bound of each trampoline's length
  const redirBound = input.plans.reduce((n, p) => n + (p.end - p.start), 0) * C.CKPT_REDIR_SIZE;
  const slot = pageUp(trampAddr + trampSize + redirBound + 8);

  const trampolines: Trampoline[] = [];
  let at = trampAddr;
  for (const plan of input.plans) {
    const t = input.assembler.build(plan, at, { slot });
    trampolines.push(t);
    at = alignUp(at + t.bytes.length, 16);
  }
  const trampData = Buffer.alloc(at - trampAddr, 0xcc);
  for (const t of trampolines) t.bytes.copy(trampData, t.address - trampAddr);
  const redirects = trampolines.flatMap((t) => t.redirects).sort((a, b) => a.from - b.from);
  const redirAddr = alignUp(at, 8);
  const redirData = redirectTable(redirects);
  if (redirAddr + redirData.length > slot) throw new Error('shared-object layout: trampolines outgrew their bound');

  const segments: AddedSegment[] = [
    { flags: PF_R | PF_X, vaddr: rxAddr, memsz: redirAddr + redirData.length - rxAddr, phdrBytes, sections: [
      section(C.CKPT_SEC_TRAMP, SHF_EXECINSTR, trampAddr, trampData, 16),
      section('.ckpt.redirect', 0, redirAddr, redirData, 8),
    ] },
    { flags: PF_R | PF_W, vaddr: slot, memsz: 8, phdrBytes: 0, sections: [
      section('.ckpt.slot', SHF_WRITE, slot, Buffer.alloc(8), 8),
    ] },
  ];
  return { segments, entry: input.entry, phdrVaddr: rxAddr, symbols: [], trampolines, redirects, slot, redirectTable: redirAddr };
}

/** An upper bound of a trampoline's length: moved instructions grow by at most 4 bytes (jcc rel8 to rel32) */
function estimateSize(p: SitePlan): number {
  const moved = [...p.before, ...p.after].reduce((n, d) => n + d.insn.bytes.length + 4, 0);
  return moved + 8 + 6 + 8 + 5; // lea, call [rip+slot], lea, jmp back
}
