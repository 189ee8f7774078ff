// Per-site trampolines, assembled with keystone-wasm at their final addresses:
//
//     <instructions displaced from before the syscall>
//     lea  rsp, [rsp - 0x80]        ; step over the red zone before anything is pushed
//     call rt_shim_entry            ; the runtime makes the call; rax = result
//     lea  rsp, [rsp + 0x80]        ; CKPT_TRAMP_RESUME_SKIP bytes: children resume after it
//     <instructions displaced from after the syscall>
//     jmp  <end of the window>
import '../../lib/wasm-flags.js';
import { Keystone, Const, loadKeystone } from 'keystone-wasm';
import { CKPT_RED_ZONE, CKPT_TRAMP_RESUME_SKIP } from '../../contract.generated.js';
import { RelinkError } from '../../errors.js';
import type { SitePlan } from './plan.js';
import { JMP_SIZE } from './plan.js';

export interface Redirect { from: number; to: number }

/**
 * How a trampoline reaches the runtime: the executable's call rt_shim_entry directly (rel32, same
 * file); a carried shared object, loaded at an address nobody knows in advance, calls through a
 * u64 slot of its own that the runtime fills with rt_shim_entry's address when it is mapped.
 */
export type RuntimeTarget = { shim: number } | { slot: number };

export interface Trampoline {
  plan: SitePlan;
  address: number;
  bytes: Buffer;
  /** int3 positions inside the window and where in the trampoline they resume */
  redirects: Redirect[];
}

const RESUME_LEA = Buffer.from([0x48, 0x8d, 0xa4, 0x24, CKPT_RED_ZONE, 0, 0, 0]);
const INT3 = 0xcc;

export class TrampolineAssembler {
  private constructor(private readonly ks: Keystone) {}

  static async create(): Promise<TrampolineAssembler> {
    await loadKeystone();
    return new TrampolineAssembler(new Keystone(Const.KS_ARCH_X86, Const.KS_MODE_64));
  }

  private asm(text: string, address: number): Buffer {
    try {
      return Buffer.from(this.ks.asm(text, { address }));
    } catch (e) {
      throw new RelinkError('ELAYOUT', `cannot assemble a trampoline at 0x${address.toString(16)} (${(e as Error).message})`, { cause: e });
    }
  }

  private runtimeCall(at: number, target: RuntimeTarget): Buffer {
    const red = `0x${CKPT_RED_ZONE.toString(16)}`;
    const code = 'shim' in target
      ? this.asm(`lea rsp, [rsp - ${red}]; call 0x${target.shim.toString(16)}; lea rsp, [rsp + ${red}]`, at)
      : this.slotCall(at, target.slot);
    if (!code.subarray(code.length - CKPT_TRAMP_RESUME_SKIP).equals(RESUME_LEA)) {
      throw new Error('keystone encoded the resume lea differently from the contract');
    }
    return code;
  }

  /** lea; call qword ptr [rip + slot] (ff 15 disp32, encoded here: keystone wants an absolute form); lea */
  private slotCall(at: number, slot: number): Buffer {
    const red = `0x${CKPT_RED_ZONE.toString(16)}`;
    const down = this.asm(`lea rsp, [rsp - ${red}]`, at);
    const call = Buffer.from([0xff, 0x15, 0, 0, 0, 0]);
    const next = at + down.length + call.length;
    call.writeInt32LE(slot - next, 2);
    return Buffer.concat([down, call, this.asm(`lea rsp, [rsp + ${red}]`, next)]);
  }

  /** Builds the trampoline for `plan` at `address`, calling the runtime as `target` says. */
  build(plan: SitePlan, address: number, target: RuntimeTarget): Trampoline {
    const parts: Buffer[] = [];
    const copyAt = new Map<number, number>();
    let at = address;
    const emit = (b: Buffer) => { parts.push(b); at += b.length; };
    for (const d of plan.before) { copyAt.set(Number(d.insn.address), at); emit(d.encode(at)); }
    copyAt.set(plan.site, at);
    emit(this.runtimeCall(at, target));
    for (const d of plan.after) { copyAt.set(Number(d.insn.address), at); emit(d.encode(at)); }
    const last = plan.after[plan.after.length - 1]?.insn.mnemonic ?? '';
    if (!/^(jmp|ret|bnd jmp|bnd ret|notrack jmp)$/.test(last)) emit(this.asm(`jmp 0x${plan.end.toString(16)}`, at));
    const redirects: Redirect[] = [];
    for (const [from, to] of copyAt) if (from - plan.start >= JMP_SIZE) redirects.push({ from, to });
    return { plan, address, bytes: Buffer.concat(parts), redirects };
  }

  /** The bytes that replace the window: jmp rel32 to the trampoline, then int3 to the end */
  windowBytes(t: Trampoline): Buffer {
    const out = Buffer.alloc(t.plan.end - t.plan.start, INT3);
    out[0] = 0xe9;
    out.writeInt32LE(t.address - (t.plan.start + JMP_SIZE), 1);
    return out;
  }
}
