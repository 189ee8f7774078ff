// The whole file interface of a job on the shadow (issue 13): what busybox's tar, cp -a, touch -r,
// find -newer, chmod -R, ln -s, df and mv do to a remote tree equals what they do to a local one;
// every forwarded call of runtime/remote/calls.h, by path and by descriptor, gives what the
// kernel gives on a local copy of the tree (test/shadow/calls-probe.c); every refused call gives
// its errno; and, run as root, nothing the job does to its remote files changes the execute
// machine's /dev/null, the directory the job started in, or /tmp.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, runProgram, scratch, textOf, waitFor } from '../helpers.js';
import { callRows, listing, syscallNumbers } from './calls.js';
import { startShadow, type Shadow } from './shadow-process.js';

const PROBE_SRC = path.join(ROOT, 'test/shadow/calls-probe.c');

/** The probe's tree: a file f of 10 bytes, a directory d, a symlink sl -> f */
function probeTree(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.join(dir, 'd'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'f'), '0123456789');
  fs.symlinkSync('f', path.join(dir, 'sl'));
}

/** `tar tv` lines, the date and time of directories and symlinks left out (busybox sets neither) */
function tv(text: string): string {
  return text.split('\n').map((l) => /^[dl]/.test(l) ? l.replace(/ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ' ') : l).join('\n');
}

/** The archive: symlinks (one leading out of the tree), a hard link, a FIFO, modes, owners, times */
function makeArchive(base: string): string {
  const src = path.join(base, 'src'), tarball = path.join(base, 'arch.tar');
  fs.mkdirSync(path.join(src, 'd/e'), { recursive: true });
  fs.writeFileSync(path.join(src, 'd/a.txt'), 'alpha\n');
  fs.writeFileSync(path.join(src, 'd/e/b.txt'), 'bravo bravo\n');
  fs.writeFileSync(path.join(src, 'd/x.sh'), '#!/bin/sh\necho x\n');
  fs.symlinkSync('a.txt', path.join(src, 'd/sl'));
  fs.symlinkSync('../../../outside/secret', path.join(src, 'd/e/out'));
  fs.linkSync(path.join(src, 'd/a.txt'), path.join(src, 'd/hard'));
  execFileSync('mkfifo', ['-m', '0620', path.join(src, 'd/ff')]);
  fs.chmodSync(path.join(src, 'd/a.txt'), 0o640);
  fs.chmodSync(path.join(src, 'd/x.sh'), 0o4755);
  fs.chmodSync(path.join(src, 'd/e'), 0o751);
  fs.chownSync(path.join(src, 'd/e/b.txt'), 1234, 5678);
  fs.chownSync(path.join(src, 'd/x.sh'), 42, 43);
  fs.utimesSync(path.join(src, 'd/e/b.txt'), 1046660583, 1046660583); // 2003-03-03
  fs.utimesSync(path.join(src, 'd/a.txt'), 1115269505, 1115269505); // 2005-05-05
  fs.utimesSync(path.join(src, 'd/x.sh'), 1262304000, 1262304000); // 2010-01-01
  execFileSync('tar', ['-C', src, '-cf', tarball, 'd']);
  return tarball;
}

/** The busybox commands the issue names, each printing what a user would look at */
const SCRIPT = [
  'set -e', 'tar xf arch.tar', 'echo "== tar tv"', 'tar cf - --no-recursion $(find d | sort) | tar tvf -',
  'cp -a d copy', 'echo "== cp -a"', 'ls -ln copy', 'ls -ln copy/e',
  'touch -r d/e/b.txt copy/a.txt', 'echo "== find -newer"', 'find copy -newer d/e/b.txt ! -type d | sort',
  'chmod -R go-rwx copy', 'echo "== chmod -R"', 'ls -ln copy | cut -c1-10',
  'ln -s copy/x.sh link', 'echo "== through a symlink"', 'cat link',
  'mkdir m1 m2', 'echo moved > m1/x', 'mv m1/x m2/', 'mv m2 m1/', 'echo "== mv"', 'find m1 | sort', 'cat m1/m2/x',
  'echo "== df"', 'df -k . | tail -n 1 | awk \'{ print $2 }\'', 'echo "== FIFO"', 'test -p d/ff && echo fifo',
].join('\n');

describe('the file calls of a job on the shadow (issue 13)', function () {
  this.timeout(300_000);
  const base = scratch('ckpt-filecalls-');
  const bin = path.join(base, 'bin');
  let shadow: Shadow;
  let probe: string, probeRelinked: string;
  const env = () => ({ CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile });
  const jobEnv = () => ({ PATH: '/usr/bin:/bin', ...env() });

  before(async () => {
    fs.mkdirSync(bin);
    probe = path.join(base, 'calls-probe');
    probeRelinked = path.join(bin, 'calls-probe');
    await execa('gcc', ['-O1', '-static', '-o', probe, PROBE_SRC]);
    await relinkFile(probe, probeRelinked);
    await relinkFile('/bin/busybox', path.join(bin, 'busybox'));
    shadow = await startShadow();
  });
  after(async () => shadow?.stop());

  /** A fresh, empty directory on the execute side for the job to start in */
  const startDir = () => fs.mkdtempSync(path.join(base, 'exec-'));

  it('busybox tar, cp -a, touch -r, find -newer, chmod -R, ln -s, df and mv give on a remote tree what they give on a local one', async () => {
    const tarball = makeArchive(base);
    const local = path.join(base, 'local'), remote = path.join(shadow.root, 'w');
    for (const dir of [local, remote]) {
      fs.mkdirSync(dir);
      fs.copyFileSync(tarball, path.join(dir, 'arch.tar'));
    }
    // the job's /etc is the shadow's: the same users and groups as here, for tar and ls to name
    fs.mkdirSync(path.join(shadow.root, 'etc'), { recursive: true });
    for (const f of ['passwd', 'group']) fs.copyFileSync(path.join('/etc', f), path.join(shadow.root, 'etc', f));
    const want = await runProgram('/bin/busybox', ['sh', '-c', SCRIPT], { cwd: local });
    assert.equal(want.exitCode, 0, want.stderr);
    const cwd = startDir();
    const got = await runProgram(path.join(bin, 'busybox'), ['sh', '-c', `cd /w\n${SCRIPT}`], { cwd, env: env() });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(got.stderr, '');
    assert.equal(tv(got.stdout), tv(want.stdout));
    assert.match(got.stdout, /^prw--w---- root\/root\s+0 \S+ \S+ d\/ff$/m, 'the FIFO is in the archive made of the remote tree');
    assert.match(got.stdout, /^-rw-r--r-- 1234\/5678\s+12 2003-03-03 03:03:03 d\/e\/b.txt$/m);
    assert.match(got.stdout, /^-rw-r----- root\/root\s+0 2005-05-05 05:05:05 d\/hard -> d\/a.txt$/m, 'the hard link is one again');
    assert.equal(listing(remote), listing(local));
    assert.equal(fs.readlinkSync(path.join(remote, 'd/e/out')), '../../../outside/secret', 'a symlink may hold any text');
    assert.deepEqual(fs.readdirSync(cwd), [], 'nothing landed where the job started');
  });

  it('df and stat -f report the shadow\'s file system, not the execute machine\'s', async () => {
    // the shadow's root is a tmpfs of 37 MiB, mounted in a mount namespace only that shadow sees
    const own = await startShadow({ ownMounts: true });
    try {
      execFileSync('nsenter', ['-t', String(own.proc.pid), '-m', 'mount', '-t', 'tmpfs', '-o', 'size=37m', 'tmpfs', own.root]);
      const got = await runProgram(path.join(bin, 'busybox'), ['sh', '-c', 'mkdir /w && cd /w && df -k . | tail -n 1 && stat -f -c "%T %b %S" .'],
        { cwd: startDir(), env: { CKPT_SHADOW: `127.0.0.1:${own.port}`, CKPT_SHADOW_TOKEN_FILE: own.tokenFile } });
      assert.equal(got.exitCode, 0, got.stderr);
      assert.match(got.stdout, /\s37888\s+0\s+37888\s+0% /, `df: 37888 KiB, none used: ${got.stdout}`);
      assert.match(got.stdout, /^tmpfs 9472 4096$/m, 'stat -f: a tmpfs of 9472 blocks of 4096 bytes');
    } finally {
      await own.stop();
    }
  });

  it('each forwarded call, by path and by descriptor, gives the result and errno it gives on a local copy of the tree', async () => {
    const source = fs.readFileSync(PROBE_SRC, 'utf8');
    const untested = callRows().filter((r) => r.cls === 'FWD' && !source.includes(`SYS_${r.name}`)).map((r) => r.name);
    assert.deepEqual(untested, [], 'every forwarded call of calls.h is made by the probe');
    const local = path.join(base, 'probe-local');
    probeTree(local);
    const want = await runProgram(probe, ['forwarded', local], { cwd: base });
    assert.equal(want.exitCode, 0, want.stderr);
    probeTree(path.join(shadow.root, 'probe'));
    const got = await runProgram(probeRelinked, ['forwarded', '/probe'], { cwd: startDir(), env: env() });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(got.stdout, want.stdout);
    assert.ok(want.stdout.split('\n').length > 150, 'the probe got through its calls');
    assert.equal(listing(path.join(shadow.root, 'probe'), false), listing(local, false), 'the trees hold the same (the times the probe set are in its output)');
  });

  it('each refused call gives its documented errno on a remote descriptor or path, and io_setup and io_uring_setup give ENOSYS', async () => {
    const numbers = syscallNumbers();
    const refused = callRows().filter((r) => r.cls === 'REFUSE');
    probeTree(path.join(shadow.root, 'refused'));
    const got = await runProgram(probeRelinked, ['refused', '/refused', ...refused.map((r) => `${numbers.get(r.name)}:${r.spec}`)], { cwd: startDir(), env: env() });
    assert.equal(got.exitCode, 0, got.stderr);
    assert.equal(got.stdout, refused.map((r) => `${numbers.get(r.name)} ${r.errno}\n`).join(''));
  });

  it('after a restart, remote descriptors are placeholders again before the program forks: never /dev/null', async () => {
    // each child of the shell reads what its descriptor 3 (a remote file the shell opened) is
    const script = 'exec 3<>/ph.txt; for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18; do (readlink /proc/self/fd/3 >> /links.txt); sleep 0.15; done';
    const env = { ...jobEnv(), CKPT_IMAGE: 'shadow:ph.img' };
    const run = execa(path.join(bin, 'busybox'), ['sh', '-c', script], { cwd: startDir(), env, reject: false });
    const links = path.join(shadow.root, 'links.txt');
    await waitFor(() => (textOf(links).match(/\n/g) ?? []).length >= 4, 'four children of the shell');
    const since = shadow.log.length;
    run.kill('SIGUSR2');
    await shadow.waitForLog(/checkpoint stored ph\.img/, 60_000, since);
    run.kill('SIGKILL');
    assert.equal((await run).signal, 'SIGKILL');
    const before = textOf(links).split('\n').length - 1;
    assert.ok(before < 18, 'killed before the loop ended');
    const again = await execa(path.join(bin, 'busybox'), [], { cwd: startDir(), env: { ...jobEnv(), CKPT_RESTART: 'shadow:ph.img' }, reject: false });
    assert.equal(again.exitCode, 0, again.stderr);
    const seen = textOf(links).trimEnd().split('\n');
    assert.ok(seen.length > before, 'children ran after the restart');
    assert.deepEqual([...new Set(seen)], ['/memfd:ckpt-remote-placeholder (deleted)']);
  });

  it('run as root (skipped otherwise: the harm it guards against, a job changing /dev/null, needs root; run the suite as root to lift it), calls on remote descriptors and paths leave /dev/null, the start directory and /tmp as they were', async function () {
    if (process.getuid!() !== 0) this.skip();
    const tag = `ckpt-probe-${process.pid}`;
    const devNull = () => { const s = fs.statSync('/dev/null', { bigint: true }); return [s.mode, s.uid, s.gid, s.rdev, s.mtimeNs, s.ctimeNs].join(' '); };
    const dirState = (d: string) => { const s = fs.statSync(d, { bigint: true }); return `${s.mode} ${s.uid} ${s.gid} ${s.mtimeNs} ${s.ctimeNs} ${fs.readdirSync(d).join(',')}`; };
    const cwd = startDir();
    const before = { devNull: devNull(), cwd: dirState(cwd), tmp: fs.statSync('/tmp').mode };
    // the job's tree is /tmp/TAG in its own view: on the shadow, under the default policy
    const tree = path.join(shadow.root, 'tmp', tag);
    probeTree(tree);
    const placeholders = await runProgram(probeRelinked, ['placeholders', `/tmp/${tag}`], { cwd, env: env() });
    assert.equal(placeholders.exitCode, 0, placeholders.stderr);
    assert.equal(placeholders.stdout, [
      'fchmod = 0', 'fchown = 0', 'ftruncate = 0', 'fallocate = 0', 'write = 1', 'read = 1', 'futimens = 0', 'ioctl FIONREAD = -1 ENOTTY',
      'mmap = -1 ENODEV', 'fsetxattr = -1 EOPNOTSUPP', 'flock = -1 ENOLCK', '  f: f 0600 4321:4321 n1 s8192 m978307200.000', ''].join('\n'));
    const st = fs.statSync(path.join(tree, 'f'));
    assert.deepEqual([st.mode & 0o7777, st.uid, st.gid, st.size, st.mtimeMs], [0o600, 4321, 4321, 8192, 978307200000], 'the calls reached the remote file');
    // a program the job execs that is not relinked is handed the placeholder: every call fails, and
    // through /proc/self/fd it reaches a private inode, never a file of this machine
    const inherited = await runProgram(path.join(bin, 'busybox'), ['sh', '-c',
      `exec 3<>/tmp/${tag}/f; ${probe} placeholders /proc/self/fd 3; /bin/chmod 666 /proc/self/fd/3; /bin/touch -d 2001-01-01 /proc/self/fd/3; echo done`], { cwd, env: env() });
    assert.equal(inherited.stdout, ['fchmod', 'fchown', 'ftruncate', 'fallocate', 'write', 'read', 'futimens', 'ioctl FIONREAD', 'mmap', 'fsetxattr', 'flock']
      .map((c) => `${c} = -1 EBADF\n`).join('') + 'done\n', inherited.stderr);
    assert.deepEqual(fs.statSync(path.join(tree, 'f')).mode & 0o7777, 0o600, 'the remote file is the shadow\'s alone');
    probeTree(tree);
    const every = await runProgram(probeRelinked, ['forwarded', `/tmp/${tag}`], { cwd, env: env() });
    assert.equal(every.exitCode, 0, every.stderr);
    assert.equal(devNull(), before.devNull, '/dev/null is as it was');
    assert.equal(dirState(cwd), before.cwd, 'the start directory is as it was');
    assert.equal(fs.existsSync(path.join('/tmp', tag)), false, 'nothing was made in the execute machine\'s /tmp');
    assert.equal(fs.statSync('/tmp').mode, before.tmp);
  });
});
