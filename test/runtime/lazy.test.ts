// Lazy restarts (CKPT_LAZY=1, runtime/ckpt/lazy.c, docs/restart.md): a program with 1 GiB of
// written memory (test/runtime/lazy-probe.c) is checkpointed while it waits in a read(); the
// restart returns to it before its memory is read in (its resident memory when it prints BACK is
// a small part of the GiB); its first act, that read(), puts input into pages nobody has touched
// since the restart; then it finds every word of its memory right, and a growing mremap and
// MADV_DONTNEED still give zeros. The same from an image on the shadow. A corrupt image under CKPT_LAZY=1 stops the program
// with one line; the default restart refuses it. A checkpoint of a lazily restarted program stores
// the memory still in the image, so that its own image restarts with the old one gone.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, scratch, waitFor } from '../helpers.js';
import { startShadow, type Shadow } from '../shadow/shadow-process.js';

const PROBE_SRC = path.join(ROOT, 'test/runtime/lazy-probe.c');
const INPUT_LEN = 3 * 4096 + 50;	// lazy-probe.c's INPUT
const INPUT = Buffer.from(Array.from({ length: INPUT_LEN }, (_, i) => (i * 7 + 3) & 0xff));
const GiB_KiB = 1024 * 1024;

/** Whether the process is blocked in read(0, ...): /proc/PID/syscall starts "0 0x0" */
function inReadOfStdin(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('0 0x0 ');
  } catch {
    return false;
  }
}

interface Run { child: ChildProcess; out: () => string; err: () => string; done: Promise<{ code: number | null; signal: string | null }> }

function start(bin: string, dir: string, env: Record<string, string>, args: string[] = []): Run {
  const child = spawn(bin, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
  let out = '', err = '';
  child.stdout!.on('data', (d) => { out += d; });
  child.stderr!.on('data', (d) => { err += d; });
  const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  return { child, out: () => out, err: () => err, done };
}

/** The probe at 1 GiB until READY and in its read, checkpointed (SIGUSR2) to image, then killed */
async function checkpointProbe(bin: string, dir: string, env: Record<string, string>, stored: () => boolean): Promise<void> {
  const run = start(bin, dir, env, ['1024']);
  await waitFor(() => (run.out() === 'READY\n' && inReadOfStdin(run.child.pid!)) || run.child.exitCode !== null, 'the probe READY in its read', 120_000);
  assert.equal(run.out(), 'READY\n', run.err());
  process.kill(run.child.pid!, 'SIGUSR2');
  await waitFor(() => stored() && inReadOfStdin(run.child.pid!), 'the image, and the probe back in its read', 120_000);
  run.child.kill('SIGKILL');
  await run.done;
}

/** Its resident KiB when it printed BACK (the restart gave it its input) */
async function back(run: Run): Promise<number> {
  run.child.stdin!.write(INPUT);
  await waitFor(() => /BACK rss_kib=\d+\n/.test(run.out()) || run.child.exitCode !== null || run.child.signalCode !== null, 'BACK', 120_000);
  const m = /^BACK rss_kib=(\d+)\n$/.exec(run.out());
  assert.ok(m, `the restarted probe printed ${JSON.stringify(run.out())}, stderr ${JSON.stringify(run.err())}`);
  return Number(m[1]);
}

async function checkAndEnd(run: Run): Promise<void> {
  run.child.stdin!.end('check\n');
  const end = await run.done;
  assert.equal(run.err(), '');
  assert.match(run.out(), /(^|\n)PASS\n$/);
  assert.deepEqual(end, { code: 0, signal: null });
}

describe('lazy restarts (CKPT_LAZY=1)', function () {
  this.timeout(600_000);
  let dir: string, bin: string, image: string;

  before(async () => {
    dir = scratch('ckpt-lazy-');
    const exe = path.join(dir, 'lazy-probe');
    bin = `${exe}.ckpt`;
    image = path.join(dir, 'probe.img');
    await execa('gcc', ['-O2', '-static', '-o', exe, PROBE_SRC]);
    await relinkFile(exe, bin);
    await checkpointProbe(bin, dir, { CKPT_IMAGE: image }, () => fs.existsSync(image));
    // a copy with one byte of the GiB's contents changed near its end (the checkpoint test below
    // replaces the image, before the nested suites run)
    const bytes = fs.readFileSync(image);
    bytes[bytes.length - 4096 * 40 - 17] ^= 0x40;
    fs.writeFileSync(path.join(dir, 'bad.img'), bytes);
  });

  it('returns to a program with 1 GiB before reading it in; its read() into untouched pages gets the input; then all its memory is right', async () => {
    const run = start(bin, dir, { CKPT_RESTART: image, CKPT_LAZY: '1' });
    const rss = await back(run);
    assert.ok(rss < GiB_KiB / 16, `resident ${rss} KiB when it was back: its memory was read in first`);
    await checkAndEnd(run);
  });

  it('the default restart (checked, then mapped from the image) gives the same', async () => {
    const run = start(bin, dir, { CKPT_RESTART: image });
    await back(run);
    await checkAndEnd(run);
  });

  it('CKPT_LAZY=0 reads every page in before the program runs', async () => {
    const run = start(bin, dir, { CKPT_RESTART: image, CKPT_LAZY: '0' });
    const rss = await back(run);
    assert.ok(rss > GiB_KiB, `resident ${rss} KiB when it was back`);
    await checkAndEnd(run);
  });

  describe('a corrupt image (one byte of the GiB\'s contents changed near its end)', () => {
    const bad = () => path.join(dir, 'bad.img');

    it('under CKPT_LAZY=1 stops the program with one line, before it can check its memory', async () => {
      const run = start(bin, dir, { CKPT_RESTART: bad(), CKPT_LAZY: '1' });
      run.child.stdin!.write(INPUT);	// no "check": only the verifier can end it
      const end = await run.done;
      assert.deepEqual(end, { code: null, signal: 'SIGKILL' }, `stdout ${JSON.stringify(run.out())}, stderr ${JSON.stringify(run.err())}`);
      assert.equal(run.err(), `ckpt: restarted from ${bad()}: memory contents are corrupt (checksum): the program was stopped (CKPT_LAZY=1)\n`);
      assert.doesNotMatch(run.out(), /PASS/);
    });

    it('is refused by the default restart before anything runs', async () => {
      const run = start(bin, dir, { CKPT_RESTART: bad() });
      run.child.stdin!.end();
      const end = await run.done;
      assert.deepEqual(end, { code: 2, signal: null });
      assert.equal(run.out(), '');
      assert.equal(run.err(), `ckpt: cannot restart from ${bad()}: memory contents are corrupt (checksum)\n`);
    });
  });

  it('a checkpoint of a lazily restarted program stores the memory still in the image: it restarts with that image replaced', async () => {
    const run = start(bin, dir, { CKPT_RESTART: image, CKPT_LAZY: '1' });
    await back(run);
    await waitFor(() => inReadOfStdin(run.child.pid!), 'the probe in its read of "check"');
    const before = fs.statSync(image).ino;
    process.kill(run.child.pid!, 'SIGUSR2');	// it checkpoints to the path it restarted from
    await waitFor(() => fs.statSync(image).ino !== before && inReadOfStdin(run.child.pid!), 'the new image in place', 120_000);
    run.child.kill('SIGKILL');
    await run.done;
    const again = start(bin, dir, { CKPT_RESTART: image, CKPT_LAZY: '1' });
    await checkAndEnd(again);
    assert.equal(again.out(), 'PASS\n');
  });

  describe('from an image on the shadow (CKPT_RESTART=shadow:NAME)', () => {
    let shadow: Shadow;
    before(async () => {
      shadow = await startShadow();
      const env = { CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, CKPT_IMAGE: 'shadow:lazy.img' };
      await checkpointProbe(bin, dir, env, () => fs.existsSync(path.join(shadow.root, '.ckpt/lazy.img')));
    });
    after(async () => shadow?.stop());

    it('restarts with CKPT_LAZY=1: the read() into untouched pages gets the input, and all memory is right', async () => {
      const env = { CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, CKPT_RESTART: 'shadow:lazy.img', CKPT_LAZY: '1' };
      const run = start(bin, dir, env);
      const rss = await back(run);
      assert.ok(rss < GiB_KiB / 16, `resident ${rss} KiB when it was back`);
      await checkAndEnd(run);
    });
  });
});
