// Linear-sweep decoding of executable code with capstone-wasm.
//
// capstone-wasm's own `disasm` copies each instruction into a JavaScript object field by field
// (measured here: 2.9 s for busybox's 398k instructions) and fails on buffers of about 100 KB,
// because the input is copied onto the wasm stack. So the bulk pass calls cs_disasm itself on
// 32 KB chunks and reads only id and size out of wasm memory (0.56 s for busybox); the few
// instructions whose operands matter are decoded again with the ordinary API (`decodeWindow`).
import '../../lib/wasm-flags.js';
import { Capstone, Const, loadCapstone, type Insn } from 'capstone-wasm';
import type { VAddr } from '../elf/types.js';

/** What the rewriter needs to know about an instruction without reading its text */
export const enum InsnKind {
  Other = 0,
  Syscall,
  Call,
  Jmp,
  Jcc,
  Loop,
  Ret,
  Halt,
  Endbr64,
  Int,
  Sysenter,
}

export interface CodeRegion {
  name: string;
  start: VAddr;
  bytes: Buffer;
}

/** Instructions of one region, in address order; `offsets` are relative to region.start */
export interface DecodedRegion {
  region: CodeRegion;
  count: number;
  offsets: Uint32Array;
  sizes: Uint8Array;
  kinds: Uint8Array;
  /** bytes capstone could not decode (skipped one at a time) */
  undecodable: number;
}

const CHUNK = 32 * 1024;
const INSN_STRUCT_SIZE = 240; // cs_insn in capstone 5 built for wasm32: id, address, size, bytes, mnemonic, op_str, detail

const KIND_BY_NAME: Record<string, InsnKind> = {
  syscall: InsnKind.Syscall, call: InsnKind.Call, lcall: InsnKind.Call,
  jmp: InsnKind.Jmp, ljmp: InsnKind.Jmp,
  loop: InsnKind.Loop, loope: InsnKind.Loop, loopne: InsnKind.Loop,
  jrcxz: InsnKind.Loop, jecxz: InsnKind.Loop, jcxz: InsnKind.Loop,
  ret: InsnKind.Ret, retf: InsnKind.Ret, retfq: InsnKind.Ret, iret: InsnKind.Ret, iretd: InsnKind.Ret, iretq: InsnKind.Ret,
  hlt: InsnKind.Halt, ud2: InsnKind.Halt, ud1: InsnKind.Halt, ud0: InsnKind.Halt,
  endbr64: InsnKind.Endbr64,
  int: InsnKind.Int, int3: InsnKind.Int, into: InsnKind.Int, int1: InsnKind.Int,
  sysenter: InsnKind.Sysenter,
};

interface WasmModule { HEAPU8: Uint8Array }

let wasmModule: Promise<WasmModule> | undefined;

/**
 * capstone-wasm keeps one wasm instance per process, and emscripten fills the object given to the
 * first load with HEAPU8 and friends: load once, and every Decoder shares that object.
 */
function loadWasm(): Promise<WasmModule> {
  wasmModule ??= (async () => {
    const wasm = {} as WasmModule;
    await loadCapstone(wasm as unknown as Record<string, unknown>);
    return wasm;
  })();
  return wasmModule;
}

export class Decoder {
  private readonly kindById = new Map<number, InsnKind>();

  private constructor(private readonly cs: Capstone, private readonly wasm: WasmModule) {}

  static async create(): Promise<Decoder> {
    const wasm = await loadWasm();
    return new Decoder(new Capstone(Const.CS_ARCH_X86, Const.CS_MODE_64), wasm);
  }

  private kindOf(id: number): InsnKind {
    let k = this.kindById.get(id);
    if (k === undefined) {
      const name = this.cs.getInsnName(id);
      k = KIND_BY_NAME[name] ?? (name.startsWith('j') ? InsnKind.Jcc : InsnKind.Other);
      this.kindById.set(id, k);
    }
    return k;
  }

  /** Decodes a whole region by linear sweep; undecodable bytes are skipped one at a time. */
  decodeRegion(region: CodeRegion): DecodedRegion {
    const cap = region.bytes.length;
    const offsets = new Uint32Array(cap);
    const sizes = new Uint8Array(cap);
    const kinds = new Uint8Array(cap);
    const out = Capstone.call('malloc', 4) as number;
    let n = 0, off = 0, undecodable = 0;
    try {
      while (off < cap) {
        const chunk = region.bytes.subarray(off, Math.min(off + CHUNK, cap));
        const count = Capstone.call('cs_disasm', this.cs.handle, chunk, chunk.length,
          BigInt(region.start + off), 0, out) as number;
        if (count === 0) { off++; undecodable++; continue; }
        const view = new DataView(this.wasm.HEAPU8.buffer);
        const base = view.getUint32(out, true);
        for (let i = 0; i < count; i++) {
          const p = base + i * INSN_STRUCT_SIZE;
          const size = view.getUint16(p + 16, true);
          offsets[n] = off; sizes[n] = size; kinds[n] = this.kindOf(view.getUint32(p, true));
          n++; off += size;
        }
        Capstone.call('cs_free', base, count);
      }
    } finally {
      Capstone.call('free', out);
    }
    return { region, count: n, offsets: offsets.slice(0, n), sizes: sizes.slice(0, n), kinds: kinds.slice(0, n), undecodable };
  }

  /** Full decoding (mnemonic and operands) of a few instructions, for planning a patch. */
  decodeWindow(bytes: Uint8Array, address: number): Insn[] {
    try {
      return this.cs.disasm(bytes, { address });
    } catch {
      return [];
    }
  }
}
