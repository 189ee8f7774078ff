// What the runtime writes on stderr is text a user reads: whole lines, and no byte a terminal or a
// log would choke on (a length counted by hand once wrote a message's NUL after it).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, runProgram, sample, scratch } from '../helpers.js';

describe('runtime messages', function () {
  this.timeout(120_000);
  let prog: string;
  let dir: string;

  before(async () => {
    dir = scratch();
    prog = path.join(dir, 'hello.ckpt');
    await relinkFile(sample('glibc', 'hello'), prog);
  });

  function assertText(stderr: string, expected: string): void {
    assert.ok(!stderr.includes('\0'), `stderr holds a NUL byte: ${JSON.stringify(stderr)}`);
    assert.equal(stderr, expected);
  }

  it('says CKPT_IMAGE=shadow:NAME needs CKPT_SHADOW in one line, with no NUL byte after it', async () => {
    const r = await runProgram(prog, [], { cwd: dir, env: { CKPT_IMAGE: 'shadow:job' } });
    assert.equal(r.exitCode, 3);  // hello's own status: the program runs on, without checkpoints
    assertText(r.stderr, 'ckpt: CKPT_IMAGE=shadow:... needs CKPT_SHADOW; not checkpointing\nhello from stderr\n');
  });

  it('refuses a missing image in one line with no NUL byte', async () => {
    const r = await runProgram(prog, [], { cwd: dir, env: { CKPT_RESTART: path.join(dir, 'none.img') } });
    assert.equal(r.exitCode, 2);
    assertText(r.stderr, `ckpt: cannot restart from ${path.join(dir, 'none.img')}: cannot open it\n`);
  });

  it('writes a message line in one write, so that lines others write to the same log are not cut into it', async () => {
    const trace = path.join(dir, 'writes.trace');
    const image = path.join(dir, 'none.img');
    await execa('strace', ['-e', 'trace=write', '-e', 'signal=none', '-s', '200', '-o', trace, prog], { cwd: dir, reject: false, env: { CKPT_RESTART: image } });
    const writes = fs.readFileSync(trace, 'utf8').split('\n').filter((l) => l.startsWith('write(2, '));
    assert.deepEqual(writes, [`write(2, "ckpt: cannot restart from ${image}: cannot open it\\n", ${`ckpt: cannot restart from ${image}: cannot open it\n`.length}) = ${`ckpt: cannot restart from ${image}: cannot open it\n`.length}`]);
  });
});
