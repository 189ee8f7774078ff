// Kernel objects the runtime cannot rebuild are refused, never restored as something else: at the
// checkpoint (a warning naming the descriptor when the program goes on, an error before the vacate
// signal's exit, the previous image kept either way), and at restart when an image lacks the
// record of a descriptor's object. What is rebuilt is shown by the zdtm samples (zdtm.test.ts).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { fileRestorable, fileSource, readImage } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import { fixture, relinkFile, runProgram, scratch, waitFor } from '../helpers.js';
import { checkpointable } from '../process.js';

interface Run { child: ChildProcess; out: () => string; err: () => string; ended: Promise<{ code: number | null; signal: string | null }> }

function start(bin: string, arg: string, cwd: string, env: Record<string, string>): Run {
  const child = spawn(bin, [arg], { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
  let out = '', err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const ended = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('close', (code, signal) => r({ code, signal })));
  return { child, out: () => out, err: () => err, ended };
}

const generation = (image: string) => readImage(fileSource(image)).header!.generation;

describe('kernel objects that cannot be rebuilt', function () {
  this.timeout(120_000);
  const dir = scratch('ckpt-kobjects-');
  const bin = path.join(dir, 'kobject-refused.ckpt');
  before(async () => relinkFile(await fixture('kobject-refused'), bin));

  /** Started, checkpointed once while it holds only its eventfd (the image to keep), then given what `what` names */
  async function holding(what: string, image: string, env: Record<string, string> = {}): Promise<{ run: Run; first: bigint }> {
    const run = start(bin, what, dir, { CKPT_IMAGE: image, ...env });
    await waitFor(() => run.out().includes('READY1\n'), 'READY1');
    await checkpointable(run.child);
    run.child.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image), 'the first image');
    const first = generation(image);
    run.child.stdin!.write('\n');
    await waitFor(() => run.out().includes('READY2\n'), 'READY2');
    return { run, first };
  }

  const PIDFD = 'descriptor 4 (anon_inode:[pidfd]) cannot be restored: no restore is known for this kind of object (docs/limits.md)';

  it('a checkpoint is refused with a warning naming the descriptor, the image stays, and the program goes on', async () => {
    const image = path.join(dir, 'warn.img');
    const { run, first } = await holding('pidfd', image);
    const imageBytes = fs.readFileSync(image);
    run.child.kill('SIGUSR2');
    await waitFor(() => run.err().includes('\n'), 'the refusal on stderr');
    run.child.stdin!.end('\n');
    assert.deepEqual(await run.ended, { code: 0, signal: null });
    assert.equal(run.err(), `ckpt: warning: checkpoint refused, previous image kept: ${PIDFD}\n`);
    assert.equal(run.out(), 'READY1\nREADY2\nwent on\n');
    assert.equal(generation(image), first);
    assert.ok(fs.readFileSync(image).equals(imageBytes), 'the previous image is untouched');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('warn.img') && f !== 'warn.img'), [], 'no temporary image is left');
  });

  it('the vacate signal reports an error and does what it would have done, the image kept', async () => {
    const image = path.join(dir, 'vacate.img');
    const { run, first } = await holding('pidfd', image, { CKPT_VACATE_SIGNAL: 'TERM' });
    await checkpointable(run.child, 'SIGTERM');
    run.child.kill('SIGTERM');
    assert.deepEqual(await run.ended, { code: null, signal: 'SIGTERM' });
    assert.equal(run.err(), `ckpt: error: checkpoint refused, previous image kept: ${PIDFD}\n`);
    assert.equal(generation(image), first);
  });

  it('an inotify instance with events not yet read is refused: they would be lost', async () => {
    await refused('inotify-unread', '(inotify) cannot be restored: it has events not yet read, which would be lost');
  });

  /** Checkpointed while it holds `what`: the program goes on, its stderr is the one refusal, the first image stays */
  async function refused(what: string, refusal: string): Promise<void> {
    const image = path.join(dir, `${what}.img`);
    const { run, first } = await holding(what, image);
    run.child.kill('SIGUSR2');
    await waitFor(() => run.err().includes('\n'), 'the refusal on stderr');
    run.child.stdin!.end('\n');
    assert.deepEqual(await run.ended, { code: 0, signal: null });
    assert.equal(run.err(), `ckpt: warning: checkpoint refused, previous image kept: descriptor 4 ${refusal} (docs/limits.md)\n`);
    assert.equal(generation(image), first);
  }

  it('a memfd mapped MAP_SHARED is refused: the mapping would come back a private copy', async () => {
    await refused('memfd-shared', '(/memfd:shared (deleted)) cannot be restored: it is mapped MAP_SHARED, and the mapping would come back a private copy');
  });

  it('an epoll instance watching a descriptor closed since is refused: the registration has no number to come back at', async () => {
    await refused('epoll-closed', '(epoll) cannot be restored: a descriptor it watches was closed while its file stays open elsewhere');
  });

  it('a file whose name was removed while another link remains is refused: the other link is not known', async () => {
    await refused('unlinked-linked', `(${fs.realpathSync(dir)}/linked-a (deleted)) cannot be restored: its name was removed and its other links are not known`);
  });

  it('a named FIFO another process holds too is refused: that process is not in the image', async () => {
    await refused('fifo-peer', `(${fs.realpathSync(dir)}/peer.fifo) cannot be restored: another process holds this FIFO too`);
  });

  it('a pseudo-terminal the program opened itself is refused: it would come back as the restarting process\'s terminal', async () => {
    await refused('pty', '(/dev/ptmx) cannot be restored: a pseudo-terminal the program opened itself is not made again '
      + '(it would come back as the restarting process\'s terminal)');
  });

  it('a restart from an image whose eventfd lacks its record is refused, naming the descriptor', async () => {
    const image = path.join(dir, 'lacking.img'), lacking = path.join(dir, 'lacking-eventfd.img');
    const { run } = await holding('pidfd', image);
    run.child.kill('SIGKILL');
    await run.ended;
    const src = fileSource(image), decoded = readImage(src);
    assert.ok(decoded.records.some((r) => r.header.kind === C.CKPT_REC_EVENTFD), 'the image holds the eventfd');
    const without = { ...decoded, records: decoded.records.filter((r) => r.header.kind !== C.CKPT_REC_EVENTFD) };
    fs.writeFileSync(lacking, encodeImage(without, src, { seal: true }));
    const got = await runProgram(bin, ['pidfd'], { cwd: dir, env: { CKPT_RESTART: lacking } });
    assert.deepEqual({ code: got.exitCode, stderr: got.stderr }, {
      code: C.CKPT_EXIT_BAD_IMAGE,
      stderr: `ckpt: cannot restart from ${lacking}: descriptor 3 (anon_inode:[eventfd]) cannot be restored: the image does not hold this object\n`,
    });
    const whole = await runProgram(bin, ['pidfd'], { cwd: dir, env: { CKPT_RESTART: image }, input: '\n' });
    assert.deepEqual(whole, { stdout: 'READY2\nwent on\n', stderr: '', exitCode: 0, signal: undefined }, 'the whole image restarts');
  });
});

describe('kernel objects in an image', function () {
  this.timeout(120_000);

  it('ckpt-inspect\'s reader decodes every kind with its state, and encodes the image back to the same bytes', async () => {
    const dir = scratch('ckpt-kobjects-all-');
    const bin = path.join(dir, 'kobject-all.ckpt'), image = path.join(dir, 'all.img');
    await relinkFile(await fixture('kobject-all'), bin);
    const run = start(bin, 'all', dir, { CKPT_IMAGE: image });
    await waitFor(() => run.out() === 'READY\n' || run.child.exitCode !== null, 'READY');
    await checkpointable(run.child);
    run.child.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image), 'the image');
    run.child.kill('SIGKILL');
    await run.ended;
    assert.equal(run.err(), '', 'nothing was refused or warned about');
    const src = fileSource(image), decoded = readImage(src);
    assert.deepEqual(decoded.problems, []);
    const objects = Object.fromEntries(decoded.objects.map((o) => [o.kind, o.value]));
    const pipeInode = BigInt(/^pipe:\[(\d+)\]$/.exec(decoded.files.find((f) => f.fd === 3)!.path)![1]);
    assert.deepEqual({ ...objects.pipe, capacity: undefined }, { inode: pipeInode, capacity: undefined, bytes: 3, unread: Buffer.from('abc') });
    assert.deepEqual(objects.fown, { fd: 3, signal: 40, ownerType: 1, owner: decoded.process!.pid });
    assert.deepEqual(objects.eventfd, { fd: 5, flags: C.CKPT_EVENTFD_SEMAPHORE, count: 5n });
    const timer = objects.timerfd as { fd: number; clock: number; intervalSec: bigint; valueSec: bigint };
    assert.deepEqual([timer.fd, timer.clock, timer.intervalSec], [6, 1, 3600n]);
    assert.ok(timer.valueSec > 0n && timer.valueSec < 3600n, `${timer.valueSec} s left of the hour`);
    assert.deepEqual(objects.signalfd, { fd: 7, reserved: 0, mask: 1n << 9n });
    assert.deepEqual(objects.epoll, { fd: 8, count: 1, entries: [{ tfd: 5, events: 0x19, data: 0x1234n }] });
    const kept = decoded.objects.filter((o) => o.kind === 'fileData').map((o) => o.value);
    assert.deepEqual(kept.map((k) => ({ fd: k.fd, kind: k.kind, size: k.fileSize, extents: k.extents.map((e) => [e.offset, e.length]) })), [
      { fd: 9, kind: C.CKPT_FDATA_MEMFD, size: 6n, extents: [[0n, 6n]] },
      { fd: 10, kind: C.CKPT_FDATA_TMPFILE, size: (1n << 20n) + 3n, extents: [[1n << 20n, 3n]] },
    ]);
    assert.equal(kept[0].seals, 4 /* F_SEAL_GROW */);
    const tmpfileData = decoded.records.find((r) => r.decoded?.kind === 'fileData' && r.decoded.value.fd === 10)!;
    assert.equal(src.read(Number(tmpfileData.header.dataOffset), 3).toString(), 'end', 'the hole is not stored, the bytes after it are');
    assert.deepEqual((objects.inotify as { watches: unknown[] }).watches, [{ wd: 1, mask: 0x100, pathAt: 24, reserved: 0, path: `${fs.realpathSync(dir)}/.` }]);
    assert.deepEqual({ ...objects.fifo, capacity: undefined }, { fd: 12, first: 12, mode: 0o600, capacity: undefined, bytes: 3, reserved: 0, unread: Buffer.from('xyz') });
    assert.deepEqual(objects.symlink, { fd: 13, reserved: 0, target: 'all.fifo' });
    assert.ok(decoded.files.every((f) => fileRestorable(decoded, f) || f.fd <= 2 || f.path.startsWith('pipe:') && f.fd > 13),
      'every descriptor the fixture made is restorable');
    assert.ok(encodeImage(decoded, src).equals(fs.readFileSync(image)), 're-encoded, the image is the same bytes');
  });
});
