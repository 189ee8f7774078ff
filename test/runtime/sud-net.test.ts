// When the SUD net is armed, and what it catches that no rewriter can see: a syscall in code
// generated at run time (samples/jit.c).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { relinkFile, runProgram, sample, scratch } from '../helpers.js';

interface Stats { trapped: number; patched: number; by_number: Record<string, number> }

async function statsOf(file: string, env: Record<string, string>): Promise<Stats> {
  const dir = scratch();
  const r = await runProgram(file, [], { cwd: dir, env: { CKPT_STATS: 'stats.json', ...env } });
  assert.equal(r.stdout, 'generated code returned the pid: yes\n');
  assert.equal(r.exitCode, 0);
  return JSON.parse(fs.readFileSync(path.join(dir, 'stats.json'), 'utf8'));
}

describe('the SUD net policy', function () {
  this.timeout(60_000);
  const dir = scratch();
  const auto = path.join(dir, 'jit.auto');
  const always = path.join(dir, 'jit.always');

  before(async () => {
    await relinkFile(sample('glibc', 'jit'), auto);
    await relinkFile(sample('glibc', 'jit'), always, ['--sud-net', 'always']);
  });

  it('is not armed by default when every site was patched, so generated code goes unseen', async () => {
    const s = await statsOf(auto, {});
    assert.equal(s.trapped, 0);
    assert.equal(s.by_number['39'], 1, 'only the program\'s own getpid is counted');
  });

  it('catches the syscall in generated code when CKPT_SUD=on', async () => {
    const s = await statsOf(auto, { CKPT_SUD: 'on' });
    assert.equal(s.trapped, 1);
    assert.equal(s.by_number['39'], 2);
  });

  it('is armed by a binary relinked with --sud-net always, unless CKPT_SUD=off', async () => {
    assert.equal((await statsOf(always, {})).trapped, 1);
    assert.equal((await statsOf(always, { CKPT_SUD: 'off' })).trapped, 0);
  });

  it('is armed by default when the rewriter left a site to it', async () => {
    const forced = path.join(dir, 'jit.forced');
    await relinkFile(sample('glibc', 'jit'), forced, ['--sud-sites', 'all']);
    const s = await statsOf(forced, {});
    assert.equal(s.patched, 0);
    assert.ok(s.trapped > 10);
  });
});
