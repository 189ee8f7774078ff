// Migration across hosts: three network namespaces joined by veth pairs stand for the submit
// machine (the shadow) and two execute machines. A relinked busybox sha256sum of a large file in
// the shadow's root starts on execute host 1 with its images on the shadow, is vacated (checkpoint, exit 85)
// mid-file, is restarted on execute host 2 from the shadow's image, reaching the shadow
// at another address, and prints what an uninterrupted run prints: the remote file went on
// being read from the right offset. Then busybox tar, vacated while it writes a large file of an
// archive and restarted on host 2, makes the rest (symlink, hard link, FIFO, modes, owners, times)
// through the forwarded calls: the tree equals a local extraction.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, scratch, textOf, waitFor } from '../helpers.js';
import { received, signalWhileStopped } from '../process.js';
import { listing } from './calls.js';
import { startShadow, type Shadow } from './shadow-process.js';

const tag = `${process.pid % 100000}`;
const SUB = `cks${tag}`, EX1 = `ckx${tag}a`, EX2 = `ckx${tag}b`;

async function ip(...args: string[]) {
  await execa('ip', args);
}

/** submit <-> ex1 on 10.77.1.0/24, submit <-> ex2 on 10.77.2.0/24 */
async function makeHosts(): Promise<void> {
  for (const ns of [SUB, EX1, EX2]) {
    await ip('netns', 'add', ns);
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  for (const [n, ex] of [[1, EX1], [2, EX2]] as const) {
    const [a, b] = [`s${tag}${n}`, `e${tag}${n}`];
    await ip('link', 'add', a, 'netns', SUB, 'type', 'veth', 'peer', 'name', b, 'netns', ex);
    await ip('-n', SUB, 'addr', 'add', `10.77.${n}.1/24`, 'dev', a);
    await ip('-n', ex, 'addr', 'add', `10.77.${n}.2/24`, 'dev', b);
    await ip('-n', SUB, 'link', 'set', a, 'up');
    await ip('-n', ex, 'link', 'set', b, 'up');
  }
}

async function removeHosts(): Promise<void> {
  for (const ns of [SUB, EX1, EX2]) await execa('ip', ['netns', 'del', ns], { reject: false });
}

describe('migration between execute hosts (network namespaces)', function () {
  this.timeout(180_000);
  const base = scratch('ckpt-migrate-');
  let shadow: Shadow;

  const bin = path.join(base, 'busybox.ckpt');
  before(async () => {
    await makeHosts();
    await relinkFile('/bin/busybox', bin);
    shadow = await startShadow({ listen: '0.0.0.0:7000', netns: SUB, args: ['--stdout', '/out.txt'] });
  });
  after(async () => {
    await shadow?.stop();
    await removeHosts();
  });

  it('checkpointed on host 1, restarted on host 2 from the shadow\'s image, it ends as an uninterrupted run', async () => {
    const big = path.join(shadow.root, 'big.bin');
    fs.writeFileSync(big, crypto.randomBytes(96 << 20));
    const want = (await execa('sha256sum', ['big.bin'], { cwd: shadow.root })).stdout + '\n';
    const env = (host: number) => ({ PATH: '/usr/bin:/bin', CKPT_SHADOW: `10.77.${host}.1:7000`, CKPT_SHADOW_TOKEN_FILE: shadow!.tokenFile });

    // Vacated (checkpoint, then exit 85), not checkpointed and then killed: however fast the
    // machine, the job cannot read on between its image and its end
    const job = spawn('ip', ['netns', 'exec', EX1, 'env', ...Object.entries({ ...env(1), CKPT_IMAGE: 'shadow:run.img', CKPT_VACATE_SIGNAL: 'TERM' }).map(([k, v]) => `${k}=${v}`), bin, 'sha256sum', 'big.bin'],
      { cwd: base, stdio: 'ignore' });
    const ended = new Promise((r) => job.once('exit', (code, sig) => r(sig ?? code)));
    await shadow.waitForLog(/connected from/);
    // `ip netns exec` and env exec the job in place: job.pid is the relinked busybox. Mid-file: the
    // shadow has read a MiB more since the job connected, and the job, stopped, has printed nothing.
    const shadowRead = received(shadow.proc.pid!);
    await waitFor(() => received(shadow!.proc.pid!) - shadowRead > 1 << 20 || job.exitCode !== null, 'the shadow to read a MiB of big.bin for the job');
    await signalWhileStopped(job, 'SIGTERM', () => {
      assert.equal(textOf(path.join(shadow!.root, 'out.txt')), '', 'the job is still reading when it is checkpointed');
    });
    assert.equal(await ended, 85, 'vacated: "requeue me"');
    await shadow.waitForLog(/checkpoint stored run\.img$/, 60_000);
    assert.equal(fs.readFileSync(path.join(shadow.root, 'out.txt'), 'utf8'), '', 'vacated before it printed');

    const restarted = await execa('ip', ['netns', 'exec', EX2, 'env', ...Object.entries({ ...env(2), CKPT_RESTART: 'shadow:run.img' }).map(([k, v]) => `${k}=${v}`), bin],
      { cwd: base, reject: false });
    assert.equal(restarted.exitCode, 0, restarted.stderr);
    assert.equal(fs.readFileSync(path.join(shadow.root, 'out.txt'), 'utf8'), want);
    // host 2 cannot even reach host 1's address for the shadow: the job really used 10.77.2.1
    const cross = await execa('ip', ['netns', 'exec', EX2, 'env', ...Object.entries(env(1)).map(([k, v]) => `${k}=${v}`), 'CKPT_SHADOW_RETRY=1', bin, 'true'], { reject: false });
    assert.equal(cross.exitCode, 86);
  });
  it('a tar extraction vacated on host 1 mid-file goes on on host 2 making links, a FIFO, modes, owners and times', async () => {
    // the archive: a large file first, then what only the metadata calls make
    const src = path.join(base, 'tree');
    fs.mkdirSync(path.join(src, 'd'), { recursive: true });
    fs.writeFileSync(path.join(src, 'big.bin'), crypto.randomBytes(96 << 20));
    fs.writeFileSync(path.join(src, 'd/a.txt'), 'alpha\n');
    fs.symlinkSync('a.txt', path.join(src, 'd/sl'));
    fs.linkSync(path.join(src, 'd/a.txt'), path.join(src, 'd/hard'));
    execFileSync('mkfifo', ['-m', '0640', path.join(src, 'd/ff')]);
    fs.chmodSync(path.join(src, 'd/a.txt'), 0o604);
    fs.chownSync(path.join(src, 'd/a.txt'), 2345, 6789);
    fs.utimesSync(path.join(src, 'd/a.txt'), 1046660583, 1046660583);
    const archive = path.join(shadow!.root, 'x.tar');
    execFileSync('tar', ['-C', src, '-cf', archive, 'big.bin', 'd']);
    const local = path.join(base, 'local-x');
    fs.mkdirSync(local);
    execFileSync('/bin/busybox', ['tar', 'xf', archive], { cwd: local });
    fs.mkdirSync(path.join(shadow!.root, 'x'));
    const env = (host: number) => ({ PATH: '/usr/bin:/bin', CKPT_SHADOW: `10.77.${host}.1:7000`, CKPT_SHADOW_TOKEN_FILE: shadow!.tokenFile });
    const job = spawn('ip', ['netns', 'exec', EX1, 'env', ...Object.entries({ ...env(1), CKPT_IMAGE: 'shadow:tar.img', CKPT_VACATE_SIGNAL: 'TERM' }).map(([k, v]) => `${k}=${v}`), bin, 'tar', 'xf', '/x.tar', '-C', '/x'],
      { cwd: base, stdio: 'ignore' });
    const ended = new Promise((r) => job.once('exit', (code, sig) => r(sig ?? code)));
    const since = shadow!.log.length;
    await shadow!.waitForLog(/connected from/, 10_000, since);
    const shadowRead = received(shadow!.proc.pid!);
    await waitFor(() => received(shadow!.proc.pid!) - shadowRead > 1 << 20 || job.exitCode !== null, 'the shadow to receive a MiB of big.bin from the job');
    await signalWhileStopped(job, 'SIGTERM', () => {
      assert.ok(!fs.existsSync(path.join(shadow!.root, 'x/d')), 'the job is still writing big.bin when it is checkpointed');
    });
    assert.equal(await ended, 85, 'vacated: "requeue me"');
    await shadow!.waitForLog(/checkpoint stored tar\.img$/, 60_000, since);
    const restarted = await execa('ip', ['netns', 'exec', EX2, 'env', ...Object.entries({ ...env(2), CKPT_RESTART: 'shadow:tar.img' }).map(([k, v]) => `${k}=${v}`), bin],
      { cwd: base, reject: false });
    assert.equal(restarted.exitCode, 0, restarted.stderr);
    assert.equal(listing(path.join(shadow!.root, 'x')), listing(local));
    const sum = (f: string) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex');
    assert.equal(sum(path.join(shadow!.root, 'x/big.bin')), sum(path.join(local, 'big.bin')), 'big.bin went on from where it was');
    assert.ok(fs.statSync(path.join(shadow!.root, 'x/d/ff')).isFIFO());
  });
});
