// Relinked jobs against a real ckpt-shadow on loopback: their file system calls run in the
// shadow's root, nothing they create lands on the execute side, and what they print and leave
// behind equals a local run of the original. busybox sh runs a pipeline (each forked process its
// own session) on remote files. The shadow reports the job's exit status.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, sample, scratch, textOf, waitFor } from '../helpers.js';
import { rootTree, startShadow, tree, type Shadow } from './shadow-process.js';

const SCRIPT = 'cat in.txt | sort | uniq -c > counts.txt; cp in.txt copy.txt; mkdir d; mv copy.txt d/; ' +
  'wc -l < in.txt; ls d; cat d/copy.txt | tr a-z A-Z | head -n 3; echo done';
const INPUT = ['pear', 'apple', 'fig', 'apple', 'kiwi', 'pear', 'apple', 'plum'].join('\n') + '\n';

function jobEnv(shadow: Shadow, extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: '/usr/bin:/bin', CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, ...extra };
}

describe('jobs on the shadow (loopback)', function () {
  this.timeout(120_000);
  const base = scratch('ckpt-shadow-');
  const bins = path.join(base, 'bin');
  let shadow: Shadow;

  before(async () => {
    fs.mkdirSync(bins);
    await relinkFile('/bin/busybox', path.join(bins, 'busybox.ckpt'));
    await relinkFile(sample('glibc', 'fileops'), path.join(bins, 'fileops.ckpt'));
    shadow = await startShadow({ args: ['--stdout', '/job.out', '--stderr', '/job.err'] });
  });
  after(async () => shadow?.stop());

  it('busybox sh: a pipeline, cp, mkdir, mv on remote files give the local run\'s output and files, all in the root', async () => {
    const local = path.join(base, 'local');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'in.txt'), INPUT);
    const want = await execa('/bin/busybox', ['sh', '-c', SCRIPT], { cwd: local });
    // the remote run: stdout and stderr are the shadow's files (--stdout, --stderr)
    fs.writeFileSync(path.join(shadow.root, 'in.txt'), INPUT);
    const exec = path.join(base, 'exec');
    fs.mkdirSync(exec);
    const got = await execa(path.join(bins, 'busybox.ckpt'), ['sh', '-c', SCRIPT], { cwd: exec, env: jobEnv(shadow), reject: false });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(got.stdout, '', 'stdout went to the shadow');
    assert.deepEqual(tree(exec), {}, 'nothing was created on the execute side');
    const files = rootTree(shadow.root);
    assert.equal(files['job.out'], want.stdout + '\n');
    assert.equal(files['job.err'], '');
    delete files['job.out'];
    delete files['job.err'];
    assert.deepEqual(files, tree(local));
    await shadow.waitForStdout(/^job \d+ exited 0$/);
  });

  it('busybox sh: children write and read through descriptors the shell opened, at the offsets they share with it', async () => {
    // each line is written by another process (a subshell, sort, a relinked program exec'd, wc):
    // with offsets private to each process they would land on top of each other; `read` and `head`
    // take turns on one descriptor
    const script = '{ echo first; (echo from a subshell); sort in.txt; "$BB" echo from an exec; echo between; wc -l < in.txt; } > group.txt; ' +
      'for i in 1 2 3; do (echo line $i); done > loop.txt; exec 3< loop.txt; read x <&3; head -n 1 <&3; read y <&3; ' +
      'echo "x=$x y=$y"; cat group.txt';
    const local = scratch();
    fs.writeFileSync(path.join(local, 'in.txt'), INPUT);
    const want = await execa('/bin/busybox', ['sh', '-c', script], { cwd: local, env: { BB: '/bin/busybox' } });
    const root = path.join(base, 'shared-root');
    const own = await startShadow({ root });
    try {
      fs.writeFileSync(path.join(root, 'in.txt'), INPUT);
      const got = await execa(path.join(bins, 'busybox.ckpt'), ['sh', '-c', script], { cwd: scratch(), env: jobEnv(own, { BB: path.join(bins, 'busybox.ckpt') }), reject: false });
      assert.equal(got.exitCode, 0, got.stderr);
      assert.equal(got.stdout, want.stdout);
      assert.deepEqual(rootTree(root), tree(local));
    } finally {
      await own.stop();
    }
  });

  for (const [flavour, cc] of [['glibc', 'gcc'], ['musl', 'musl-gcc']]) {
    it(`${flavour} posix_spawn and vfork with file actions on remote files: the children's dup2, close, open and chdir leave the parent's table as it was`, async () => {
      // the children run in the parent's memory, the runtime's file table included, until they exec
      const exe = path.join(scratch(), 'spawn-actions');
      await execa(cc, ['-O1', '-static', '-o', exe, path.join(ROOT, 'test/fixtures/spawn-actions.c')]);
      await relinkFile(exe, `${exe}.ckpt`);
      const local = scratch();
      const want = await execa(exe, [], { cwd: local });
      assert.match(want.stdout, /still in its directory\nlog\.txt \(fd 3\): mode 2, offset 114, holds 114 bytes\ndescriptor 7 \(fd 7\): closed/);
      const root = path.join(base, `spawn-${flavour}`);
      const own = await startShadow({ root, args: ['--stdout', '/job.out', '--stderr', '/job.err'] });
      try {
        const got = await execa(`${exe}.ckpt`, [], { cwd: scratch(), env: jobEnv(own), reject: false });
        assert.equal(got.exitCode, 0, got.stderr);
        const files = rootTree(root);
        assert.equal(files['job.out'], want.stdout + '\n');
        assert.equal(files['job.err'], '');
        delete files['job.out'];
        delete files['job.err'];
        assert.deepEqual(files, tree(local));
      } finally {
        await own.stop();
      }
    });
  }

  it('children killed outright give their shared offsets back: after 4,200 of them a new file is still shared with a child', async () => {
    // each SIGKILLed child held a reference to the offset of a file its parent opened; the table
    // has 4,096 cursors, so without collecting the dead ones' references the last file's offset
    // would be private to each process, and the parent's third line would land on the child's
    const exe = path.join(scratch(), 'cursor-leak');
    await execa('gcc', ['-O1', '-static', '-o', exe, path.join(ROOT, 'test/fixtures/cursor-leak.c')]);
    await relinkFile(exe, `${exe}.ckpt`);
    const got = await execa(`${exe}.ckpt`, ['4200'], { cwd: scratch(), env: jobEnv(shadow), reject: false });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(fs.readFileSync(path.join(shadow.root, 'job.out'), 'utf8'), 'parent: first\nchild: second\nparent: third\n');
    assert.equal(fs.readFileSync(path.join(shadow.root, 'out.txt'), 'utf8'), 'parent: first\nchild: second\nparent: third\n');
  });

  it('busybox sh checkpointed mid-loop, killed and restarted: the children it starts after the restart share its offset', async () => {
    // the shell's output file is shared with its children through the cursor table; a restart
    // maps the table back as the process's own memory, and the next fork must share it again
    const lines = Array.from({ length: 20 }, (_, i) => i + 1);
    const script = `{ for i in ${lines.join(' ')}; do (echo line $i); sleep 0.15; done; } > /out.txt`;
    const root = path.join(base, 'restart-root');
    const own = await startShadow({ root });
    try {
      const env = jobEnv(own, { CKPT_IMAGE: 'shadow:loop.img' });
      const run = execa(path.join(bins, 'busybox.ckpt'), ['sh', '-c', script], { cwd: scratch(), env, reject: false });
      // mid-loop: five lines written, and the loop's own sleeps leave at least two seconds to go
      await waitFor(() => (textOf(path.join(root, 'out.txt')).match(/\n/g) ?? []).length >= 5, 'line 5 of the loop');
      run.kill('SIGUSR2');
      await own.waitForLog(/checkpoint stored loop\.img/);
      run.kill('SIGKILL');
      assert.equal((await run).signal, 'SIGKILL');
      const written = fs.readFileSync(path.join(root, 'out.txt'), 'utf8');
      assert.ok(!written.includes('line 20'), 'killed before the loop ended');
      const again = await execa(path.join(bins, 'busybox.ckpt'), [], { cwd: scratch(), env: jobEnv(own, { CKPT_RESTART: 'shadow:loop.img' }), reject: false });
      assert.equal(again.exitCode, 0, again.stderr);
      assert.equal(fs.readFileSync(path.join(root, 'out.txt'), 'utf8'), lines.map((i) => `line ${i}\n`).join(''));
    } finally {
      await own.stop();
    }
  });

  it('fileops: a thousand small operations give the local run\'s checksums', async () => {
    const local = scratch();
    const want = await execa(sample('glibc', 'fileops'), ['100', 'ops.d'], { cwd: local });
    const exec = scratch();
    const got = await execa(path.join(bins, 'fileops.ckpt'), ['100', 'ops.d'], { cwd: exec, env: jobEnv(shadow), reject: false });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(fs.readFileSync(path.join(shadow.root, 'job.out'), 'utf8'), want.stdout + '\n');
    assert.ok(!fs.existsSync(path.join(shadow.root, 'ops.d')), 'the job removed its directory on the shadow');
    assert.deepEqual(tree(exec), {});
  });

  it('reports the job\'s exit status on its stdout', async () => {
    const got = await execa(path.join(bins, 'busybox.ckpt'), ['sh', '-c', 'exit 3'], { cwd: scratch(), env: jobEnv(shadow), reject: false });
    assert.equal(got.exitCode, 3);
    await shadow.waitForStdout(/^job \d+ exited 3$/);
  });

  it('a wrong token: the job stops with one line and exit 86, and the shadow logs the refusal', async () => {
    const bad = path.join(base, 'bad.token');
    fs.writeFileSync(bad, 'not the token\n');
    const got = await execa(path.join(bins, 'fileops.ckpt'), ['1'], { cwd: scratch(), env: jobEnv(shadow, { CKPT_SHADOW_TOKEN_FILE: bad }), reject: false });
    assert.equal(got.exitCode, 86);
    assert.match(got.stderr, /^ckpt: shadow 127\.0\.0\.1:\d+: .+$/);
    assert.equal(got.stderr.split('\n').length, 1);
    await shadow.waitForLog(/authentication failed/);
  });

  it('a token file saved with CRLF line ends authenticates, on the shadow\'s side and the job\'s, as the same token with LF', async () => {
    const crlf = await startShadow({ tokenText: 'crlf-token-0123\r\n' });
    try {
      const lf = path.join(base, 'lf.token');
      fs.writeFileSync(lf, 'crlf-token-0123\n');
      for (const [name, tokenFile] of [['crlf', crlf.tokenFile], ['lf', lf]]) {
        const got = await execa(path.join(bins, 'busybox.ckpt'), ['sh', '-c', `echo ${name} > ${name}.txt; cat ${name}.txt`],
          { cwd: scratch(), env: jobEnv(crlf, { CKPT_SHADOW_TOKEN_FILE: tokenFile }), reject: false });
        assert.equal(got.exitCode, 0, `${name}: ${got.stderr}`);
        assert.equal(got.stdout, name);
        assert.equal(fs.readFileSync(path.join(crlf.root, `${name}.txt`), 'utf8'), `${name}\n`);
      }
    } finally {
      await crlf.stop();
    }
  });

  it('no shadow at all: the job gives up after CKPT_SHADOW_RETRY seconds with exit 86', async () => {
    const t0 = Date.now();
    const got = await execa(path.join(bins, 'fileops.ckpt'), ['1'], {
      cwd: scratch(), reject: false, env: { PATH: '/usr/bin:/bin', CKPT_SHADOW: '127.0.0.1:1', CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, CKPT_SHADOW_RETRY: '1' },
    });
    assert.equal(got.exitCode, 86);
    assert.match(got.stderr, /^ckpt: shadow 127\.0\.0\.1:1: unreachable for longer than CKPT_SHADOW_RETRY seconds; giving up$/);
    assert.ok(Date.now() - t0 >= 900, 'it kept trying for the retry time');
  });
});
