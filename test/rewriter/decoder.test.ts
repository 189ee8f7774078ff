// The chunked decoder against an independent linear sweep (objdump), and the branch-target reader.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { execa } from 'execa';
import { Decoder, InsnKind } from '../../src/rewriter/disasm/decoder.js';
import { directTarget } from '../../src/rewriter/disasm/analysis.js';
import { readElf } from '../../src/rewriter/elf/read.js';

describe('decoder', function () {
  this.timeout(60_000);

  it('decodes busybox .text (1.5 MB, far past capstone-wasm\'s 100 KB limit) exactly as objdump does', async () => {
    const elf = readElf(fs.readFileSync('/bin/busybox'));
    const text = elf.sections.find((s) => s.name === '.text')!;
    const decoder = await Decoder.create();
    const d = decoder.decodeRegion({ name: '.text', start: text.addr, bytes: elf.bytes.subarray(text.offset, text.offset + text.size) });
    const dump = (await execa('objdump', ['-d', '--insn-width=16', '--section=.text', '/bin/busybox'], { maxBuffer: 1 << 30 })).stdout;
    const starts = [...dump.matchAll(/^\s+([0-9a-f]+):\t/gm)].map((m) => parseInt(m[1], 16));
    assert.equal(d.count, starts.length);
    for (let i = 0; i < d.count; i += 997) assert.equal(text.addr + d.offsets[i], starts[i], `instruction ${i}`);
    const syscalls = [...dump.matchAll(/\tsyscall/g)].length;
    assert.equal([...d.kinds].filter((k) => k === InsnKind.Syscall).length, syscalls);
  });

  it('reads rel8, rel32 and prefixed direct branch targets, and none from indirect ones', () => {
    const at = 0x1000;
    assert.equal(directTarget(Uint8Array.from([0xeb, 0xfe]), 0, 2, at), at);                       // jmp .
    assert.equal(directTarget(Uint8Array.from([0x74, 0x10]), 0, 2, at), at + 0x12);                // je +0x10
    assert.equal(directTarget(Uint8Array.from([0x0f, 0x85, 0, 1, 0, 0]), 0, 6, at), at + 6 + 0x100); // jne rel32
    assert.equal(directTarget(Uint8Array.from([0xe8, 0xfb, 0xff, 0xff, 0xff]), 0, 5, at), at);     // call -5
    assert.equal(directTarget(Uint8Array.from([0xf2, 0xe9, 0, 0, 0, 0]), 0, 6, at), at + 6);        // bnd jmp
    assert.equal(directTarget(Uint8Array.from([0xff, 0xe0]), 0, 2, at), undefined);                // jmp rax
  });
});
