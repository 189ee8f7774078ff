// The output is an ordinary ELF file: the binutils and gdb accept it, the original sections stay
// where they were, the added code has section and symbol names, and it is self-contained.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, runProgram, sample, scratch } from '../helpers.js';

interface SectionRow { name: string; addr: string; off: string; size: string }

function sections(readelfS: string): SectionRow[] {
  return [...readelfS.matchAll(/^\s*\[\s*\d+\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)]
    .map((m) => ({ name: m[1], addr: m[2], off: m[3], size: m[4] }));
}

describe('relinked output as an ELF file', function () {
  this.timeout(120_000);
  const dir = scratch();
  const input = '/bin/busybox';
  const output = path.join(dir, 'busybox.ckpt');

  before(async () => { await relinkFile(input, output); });

  it('is accepted by readelf -a without warnings', async () => {
    const r = await execa('readelf', ['-a', '-W', output]);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /Entry point address:/);
  });

  it('keeps every original section at its address and offset, and adds named sections', async () => {
    const before = sections((await execa('readelf', ['-S', '-W', input])).stdout);
    const after = sections((await execa('readelf', ['-S', '-W', output])).stdout);
    for (const s of before.filter((x) => x.name !== '.shstrtab' && x.name !== '.symtab' && x.name !== '.strtab')) {
      assert.deepEqual(after.find((x) => x.name === s.name), s, s.name);
    }
    for (const name of ['.ckpt.text', '.ckpt.tramp', '.ckpt.config', '.ckpt.rodata', '.ckpt.data', '.ckpt.bss']) {
      assert.ok(after.some((x) => x.name === name), `missing section ${name}`);
    }
  });

  it('disassembles with objdump -d, showing the runtime and trampolines by name', async () => {
    const r = await execa('objdump', ['-d', '--section=.ckpt.text', '--section=.ckpt.tramp', output]);
    assert.match(r.stdout, /<rt_shim_entry>:/);
    assert.match(r.stdout, /<ckpt_tramp_[0-9a-f]+>:/);
    assert.match(r.stdout, /call\s+[0-9a-f]+ <rt_shim_entry>/);
  });

  it('runs under gdb, which resolves the runtime symbols', async () => {
    const r = await execa('gdb', ['-batch', '-nx', '-ex', 'break rt_init', '-ex', 'run', '-ex', 'bt 1', '-ex', 'continue',
      '--args', output, 'echo', 'under gdb'], { reject: false, timeout: 60_000 });
    assert.match(r.stdout, /Breakpoint 1, 0x[0-9a-f]+ in rt_init/);
    assert.match(r.stdout, /under gdb/);
    assert.match(r.stdout, /exited normally/);
  });

  it('is self-contained: copied elsewhere, it still runs', async () => {
    const elsewhere = scratch();
    const copy = path.join(elsewhere, 'busybox'); // busybox picks its applet by name
    fs.copyFileSync(output, copy);
    fs.chmodSync(copy, 0o755);
    const r = await runProgram(copy, ['sh', '-c', 'echo copied; exit 7'], { cwd: elsewhere });
    assert.deepEqual([r.stdout, r.exitCode], ['copied\n', 7]);
  });

  it('leaves the input file untouched', async () => {
    const again = path.join(dir, 'again');
    const before = fs.readFileSync(input);
    await relinkFile(input, again);
    assert.ok(fs.readFileSync(input).equals(before));
  });

  it('produces the same bytes for the same input (a reproducible build)', async () => {
    const second = path.join(dir, 'second');
    await relinkFile(input, second);
    assert.ok(fs.readFileSync(second).equals(fs.readFileSync(output)));
  });

  it('relinks static-pie programs, which run at a random base', async () => {
    const pie = path.join(dir, 'hello-pie.ckpt');
    await relinkFile(sample('pie', 'hello'), pie);
    const hdr = (await execa('readelf', ['-h', pie])).stdout;
    assert.match(hdr, /DYN \(Position-Independent Executable file\)/);
    const r = await runProgram(pie, [], { cwd: dir });
    assert.equal(r.exitCode, 3);
  });
});
