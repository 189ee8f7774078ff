// The runtime stands alone: the build refuses an object the rewriter could not place anywhere.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, scratch } from '../helpers.js';

const CHECK = path.join(ROOT, 'runtime/check-object.sh');
const PIE_CHECK = path.join(ROOT, 'runtime/pie/check.sh');

async function objectFrom(source: string, flags: string[], ext = 'c'): Promise<string> {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, `x.${ext}`), source);
  await execa('gcc', ['-c', '-O2', ...flags, '-o', path.join(dir, 'x.o'), path.join(dir, `x.${ext}`)]);
  return path.join(dir, 'x.o');
}

/** A restorer-shaped object: its entry and end symbols around BODY */
function restorerSource(body: string, entry = 'rt_restorer_code_start'): string {
  return `\t.text\n\t.globl ${entry}\n${entry}:\n${body}\n\t.globl rt_restorer_code_end\nrt_restorer_code_end:\n`;
}

describe('runtime object check', () => {
  it('accepts the runtime object the build made', async () => {
    const r = await execa('sh', [CHECK, path.join(ROOT, 'build/runtime.o')], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
  });

  it('refuses an object with an absolute relocation', async () => {
    const obj = await objectFrom('__attribute__((visibility("hidden"))) int v; __attribute__((visibility("hidden"))) int *p = &v;', ['-fno-pic']);
    const r = await execa('sh', [CHECK, obj], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /R_X86_64_64/);
  });

  it('refuses an object whose symbols are not hidden', async () => {
    const obj = await objectFrom('int visible(void) { return 1; }', ['-fPIC']);
    const r = await execa('sh', [CHECK, obj], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /not hidden: visible/);
  });
});

describe('pie restorer check', () => {
  it('accepts the restorer the build made', async () => {
    const r = await execa('sh', [PIE_CHECK, path.join(ROOT, 'build/runtime/pie/restorer.o')], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
  });

  it('refuses a restorer without its entry', async () => {
    const obj = await objectFrom(restorerSource('\tret', 'rt_restorer_begin'), [], 'S');
    const r = await execa('sh', [PIE_CHECK, obj], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /rt_restorer_code_start is missing/);
  });

  it('refuses a restorer with a relocation, even a PC-relative one', async () => {
    const obj = await objectFrom(restorerSource('\tcall rt_elsewhere\n\tret'), [], 'S');
    const r = await execa('sh', [PIE_CHECK, obj], { reject: false });
    assert.notEqual(r.exitCode, 0);
    assert.match(r.stderr, /relocations it cannot have: R_X86_64_PLT32/);
  });
});
