// Links the trampolines of a carried shared object (ld.so or a library) into an area appended to
// it that ld.so never sees: its program headers stay the original ones, so ld.so reads, maps and
// protects the object with exactly the system calls it makes for the original. The runtime maps
// the area itself, at its fixed distance from the object's code, when ld.so maps the object
// (runtime/loader/):
//
//     RX  .ckpt.tramp (trampolines)  .ckpt.redirect (their int3 guards)
//     RW  one page: the slot, a u64 the runtime fills with rt_shim_entry's address
//
// The object is loaded at an address known only at run time, far from the executable's runtime, so
// its trampolines call through the slot (call qword ptr [rip + slot]) rather than rel32.
import * as C from '../../contract.generated.js';
import { PAGE, alignUp, pageUp } from '../elf/align.js';
import type { SitePlan } from '../patch/plan.js';
import type { Redirect, Trampoline, TrampolineAssembler } from '../patch/trampoline.js';
import { redirectTable } from './layout.js';

export interface LinkedObject {
  trampolines: Trampoline[];
  redirects: Redirect[];
  /** object-relative vaddr of the area; its bytes go at the same distance from the file's start */
  area: number;
  /** the RX part: trampolines, then the redirect table */
  code: Buffer;
  /** object-relative vaddrs of the redirect table and of the slot (first u64 of the RW page) */
  redirectTable: number;
  slot: number;
}

export interface ObjectLinkInput {
  plans: SitePlan[];
  assembler: TrampolineAssembler;
  /** the area's vaddr: a page above the object's segments */
  base: number;
}

/** An upper bound of a trampoline's length: moved instructions grow by at most 4 bytes (jcc rel8 to rel32) */
function sizeBound(p: SitePlan): number {
  const moved = [...p.before, ...p.after].reduce((n, d) => n + d.insn.bytes.length + 4, 0);
  return alignUp(moved + 8 + 6 + 8 + 5, 16); // lea, call [rip+slot], lea, jmp back
}

/** The slot's page follows the code; its address must be known before assembling, so the code is sized from a bound */
export function linkSharedObject(input: ObjectLinkInput): LinkedObject {
  const bound = input.plans.reduce((n, p) => n + sizeBound(p) + (p.end - p.start) * C.CKPT_REDIR_SIZE, 0);
  const slot = input.base + pageUp(Math.max(bound, 1));
  const trampolines: Trampoline[] = [];
  let at = input.base;
  for (const plan of input.plans) {
    const t = input.assembler.build(plan, at, { slot });
    trampolines.push(t);
    at = alignUp(at + t.bytes.length, 16);
  }
  const redirects = trampolines.flatMap((t) => t.redirects).sort((a, b) => a.from - b.from);
  const redirAddr = alignUp(at, 8);
  const redirData = redirectTable(redirects);
  if (redirAddr + redirData.length > slot) throw new Error('shared-object layout: trampolines outgrew their bound');
  const code = Buffer.alloc(redirAddr + redirData.length - input.base, 0xcc);
  for (const t of trampolines) t.bytes.copy(code, t.address - input.base);
  redirData.copy(code, redirAddr - input.base);
  return { trampolines, redirects, area: input.base, code, redirectTable: redirAddr, slot };
}

export const SLOT_PAGE = PAGE;
