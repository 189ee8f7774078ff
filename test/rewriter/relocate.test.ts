// Moving instructions into a trampoline: what keeps its meaning at a new address, and what is refused.
import assert from 'node:assert/strict';
import { Decoder } from '../../src/rewriter/disasm/decoder.js';
import { displace } from '../../src/rewriter/patch/relocate.js';

describe('relocating displaced instructions', () => {
  let decoder: Decoder;
  before(async () => { decoder = await Decoder.create(); });

  const one = (bytes: number[], address = 0x401000) => decoder.decodeWindow(Uint8Array.from(bytes), address)[0];

  it('copies an instruction that does not depend on its address unchanged', () => {
    const d = displace(one([0xb8, 0x27, 0, 0, 0]))!;  // mov eax, 39
    assert.deepEqual([...d.encode(0x900000)], [0xb8, 0x27, 0, 0, 0]);
  });

  it('rewrites the disp32 of a RIP-relative operand so it reaches the same address', () => {
    // mov rax, [rip + 0x100] at 0x401000: reads 0x401107
    const d = displace(one([0x48, 0x8b, 0x05, 0x00, 0x01, 0x00, 0x00]))!;
    const moved = d.encode(0x500000);
    assert.equal(0x500000 + 7 + moved.readInt32LE(3), 0x401107);
    assert.deepEqual([...moved.subarray(0, 3)], [0x48, 0x8b, 0x05]);
  });

  it('re-encodes a short conditional branch as rel32 to the same target', () => {
    const d = displace(one([0x73, 0x10]))!; // jae 0x401012
    const moved = d.encode(0x500000);
    assert.deepEqual([...moved.subarray(0, 2)], [0x0f, 0x83]);
    assert.equal(0x500000 + 6 + moved.readInt32LE(2), 0x401012);
  });

  it('re-encodes a short jmp as rel32', () => {
    const moved = displace(one([0xeb, 0x20]))!.encode(0x500000); // jmp 0x401022
    assert.equal(moved[0], 0xe9);
    assert.equal(0x500000 + 5 + moved.readInt32LE(1), 0x401022);
  });

  it('refuses instructions that cannot move: call, loop, jrcxz, syscall, endbr64', () => {
    for (const bytes of [[0xe8, 0, 0, 0, 0], [0xe2, 0xfe], [0xe3, 0x00], [0x0f, 0x05], [0xf3, 0x0f, 0x1e, 0xfa]]) {
      assert.equal(displace(one(bytes)), null, bytes.map((b) => b.toString(16)).join(' '));
    }
  });

  it('refuses a RIP-relative operand whose displacement also appears as the immediate', () => {
    // mov dword ptr [rip + 0x10], 0x10: two copies of 10 00 00 00, which to rewrite is ambiguous
    assert.equal(displace(one([0xc7, 0x05, 0x10, 0, 0, 0, 0x10, 0, 0, 0])), null);
  });
});
