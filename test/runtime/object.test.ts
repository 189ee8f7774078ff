// The runtime stands alone: the build refuses an object the rewriter could not place anywhere.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, scratch } from '../helpers.js';

const CHECK = path.join(ROOT, 'runtime/check-object.sh');

async function objectFrom(source: string, flags: string[]): Promise<string> {
  const dir = scratch();
  fs.writeFileSync(path.join(dir, 'x.c'), source);
  await execa('gcc', ['-c', '-O2', ...flags, '-o', path.join(dir, 'x.o'), path.join(dir, 'x.c')]);
  return path.join(dir, 'x.o');
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
