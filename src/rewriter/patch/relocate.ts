// Moving an instruction from its original address into a trampoline. Only two kinds of x86-64
// instruction depend on where they are: RIP-relative memory operands (disp32 after ModRM) and
// relative branches. The first keep their bytes with the disp32 rewritten; the second are
// re-encoded in their rel32 form. Anything else that depends on its address (call, loop, jrcxz,
// a second syscall) is refused, and the planner picks another window.
import type { Insn } from 'capstone-wasm';
import { directTarget } from '../disasm/analysis.js';

export interface Displaced {
  insn: Insn;
  /** bytes for the instruction at its new address */
  encode(at: number): Buffer;
  /** size of what encode() returns */
  size: number;
}

const JCC = /^j(a|ae|b|be|e|g|ge|l|le|ne|no|np|ns|o|p|s)$/;
const FIXED = /^(call|lcall|loop|loope|loopne|jrcxz|jecxz|jcxz|syscall|sysenter|int|int3|into|int1|iret|iretq|iretd|ljmp|retf|retfq|xbegin|endbr64)$/;

function i32(n: number): boolean {
  return n >= -0x80000000 && n <= 0x7fffffff;
}

function rel32(out: Buffer, at: number, value: number): void {
  if (!i32(value)) throw new RangeError('displacement does not fit in 32 bits');
  out.writeInt32LE(value, at);
}

/** The disp32 of a RIP-relative operand: its position in the bytes, and the absolute target */
function ripOperand(insn: Insn): { at: number; target: number } | undefined | null {
  const m = /\[rip ([+-]) (0x[0-9a-f]+|\d+)\]/.exec(insn.opStr);
  if (!m) return /\brip\b/.test(insn.opStr) ? null : undefined;
  const disp = (m[1] === '-' ? -1 : 1) * Number(m[2]);
  if (!i32(disp)) return null;
  const pattern = Buffer.alloc(4);
  pattern.writeInt32LE(disp);
  const bytes = Buffer.from(insn.bytes);
  const at = bytes.indexOf(pattern);
  if (at < 0 || bytes.indexOf(pattern, at + 1) >= 0) return null; // not found, or ambiguous
  return { at, target: Number(insn.address) + insn.size + disp };
}

function branch(insn: Insn, opcode: (target: number, at: number) => Buffer, size: number): Displaced | null {
  const bytes = Uint8Array.from(insn.bytes);
  const target = directTarget(bytes, 0, insn.size, Number(insn.address));
  if (target === undefined) return null;
  return { insn, size, encode: (at) => opcode(target, at) };
}

function jcc(insn: Insn): Displaced | null {
  const b = insn.bytes;
  let cond: number;
  const last = b.findIndex((x: number) => (x >= 0x70 && x <= 0x7f) || x === 0x0f);
  if (last < 0) return null;
  if (b[last] === 0x0f) cond = b[last + 1] & 0x0f;
  else cond = b[last] & 0x0f;
  return branch(insn, (target, at) => {
    const out = Buffer.from([0x0f, 0x80 | cond, 0, 0, 0, 0]);
    rel32(out, 2, target - (at + 6));
    return out;
  }, 6);
}

function jmp(insn: Insn): Displaced | null {
  return branch(insn, (target, at) => {
    const out = Buffer.from([0xe9, 0, 0, 0, 0]);
    rel32(out, 1, target - (at + 5));
    return out;
  }, 5);
}

/** How to move `insn`, or null when it cannot be moved */
export function displace(insn: Insn): Displaced | null {
  const name = insn.mnemonic.replace(/^(bnd|notrack) /, '');
  if (FIXED.test(name)) return null;
  if (JCC.test(name)) return jcc(insn);
  if (name === 'jmp' && /^0x[0-9a-f]+$/.test(insn.opStr)) return jmp(insn);
  const rip = ripOperand(insn);
  if (rip === null) return null;
  const original = Buffer.from(insn.bytes);
  if (rip === undefined) return { insn, size: insn.size, encode: () => Buffer.from(original) };
  return {
    insn, size: insn.size,
    encode(at) {
      const out = Buffer.from(original);
      rel32(out, rip.at, rip.target - (at + insn.size));
      return out;
    },
  };
}
