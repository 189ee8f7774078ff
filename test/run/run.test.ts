// ckpt-run without a scheduler: the signals a scheduler sends, sent by hand. A relinked computation
// (the steps fixture) is vacated by the warning signal or TERM (exit 85, an image), resumed by the
// next run, and ends with the same output as an uninterrupted run; periodic checkpoints survive a
// SIGKILL of the whole job; --keep prunes; the program's own status is the job's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { nodeCommand } from '../../src/cli/node-flags.js';
import { relinkFile, scratch, waitFor } from '../helpers.js';
import { execa } from 'execa';
import { caughtUp, offsetInImage, tellToFinish, uninterrupted, withoutReplays } from '../steps.js';
import { Job, RUN_CLI, StepsDir, relinkedSteps, vacateCycle } from './jobs.js';

describe('ckpt-run', function () {
  this.timeout(180_000);
  let exe: string, bin: string;
  before(async () => { [exe, bin] = await relinkedSteps(); });

  const warnings: [string, NodeJS.Signals, string[]][] = [
    ['the warning signal (USR1 by default)', 'SIGUSR1', []],
    ['TERM (a plain scancel)', 'SIGTERM', []],
    ['the warning signal given by --signal', 'SIGALRM', ['--signal', 'ALRM']],
  ];
  for (const [what, signal, options] of warnings) {
    it(`vacates at ${what}: exit 85 and an image; the next run resumes and ends like an uninterrupted run`, async () => {
      const steps = StepsDir.make(exe, bin);
      const image = await vacateCycle(steps, signal, options);
      assert.equal(path.basename(image), 'ckpt-000001.img');
      assert.deepEqual(steps.listing(), ['ckpt-000001.img']);
      const before = steps.chunks();

      const job = steps.start(options);
      await job.event(new RegExp(`^resumed from ${image} \\(pid \\d+\\)$`));
      await steps.runsOn();
      tellToFinish(steps.dir);
      await job.endsWith(0);
      assert.match(job.events.at(-1)!, /^finished \(status 0\)$/);
      const text = fs.readFileSync(steps.out, 'utf8');
      assert.ok(steps.chunks() > before, 'the resumed run went on computing');
      assert.equal(text, await uninterrupted(exe, text));
    });
  }

  it('--interval checkpoints while the program runs on; after a SIGKILL of the whole job the next run resumes from the newest', async () => {
    const steps = StepsDir.make(exe, bin);
    const job = steps.start(['--interval', '0.2', '--keep', '3']);
    await waitFor(() => job.checkpointed.length >= 2, 'two periodic checkpoints');
    assert.ok(job.events.every((e) => !e.startsWith('vacated')), 'periodic checkpoints let the program go on');
    await steps.runsOn();
    // the group: ckpt-run, the program and any image writer of its, all at once, wherever they are
    process.kill(-job.child.pid!, 'SIGKILL');
    await job.ended;
    const killedAt = fs.statSync(steps.out).size;

    const next = steps.start();
    const resumed = (await next.event(/^resumed from (.*) \(pid \d+\)$/))[1];
    // an image the killed run had no time to name is named by this run: the newest is the highest number
    const newest = steps.listing().filter((n) => n.endsWith('.img')).pop()!;
    assert.equal(resumed, steps.image(newest));
    assert.ok(resumed >= job.checkpointed.at(-1)!, `${newest} is the last image logged (${job.checkpointed.at(-1)}) or a later one`);
    const replayed = { from: offsetInImage(resumed, 1), to: killedAt };
    await caughtUp(steps.out, replayed);
    tellToFinish(steps.dir);
    await next.endsWith(0);
    const text = fs.readFileSync(steps.out, 'utf8');
    assert.equal(withoutReplays(text, [replayed]), await uninterrupted(exe, text));
  });

  it('--keep keeps the newest images and removes the older ones', async () => {
    const steps = StepsDir.make(exe, bin);
    for (let i = 0; i < 3; i++) await vacateCycle(steps, 'SIGUSR1', ['--keep', '2']);
    assert.deepEqual(steps.listing(), ['ckpt-000002.img', 'ckpt-000003.img']);
    await vacateCycle(steps, 'SIGUSR1', ['--keep', '1']);
    assert.deepEqual(steps.listing(), ['ckpt-000004.img']);
  });

  it('asks its programs for full images whatever CKPT_INCREMENTAL says: no chain links beside the numbered images', async () => {
    const steps = StepsDir.make(exe, bin);
    steps.env = { CKPT_INCREMENTAL: '1' };
    for (let i = 0; i < 2; i++) await vacateCycle(steps, 'SIGUSR1', ['--keep', '2']);
    assert.deepEqual(steps.listing(), ['ckpt-000001.img', 'ckpt-000002.img']);
  });

  it('leaves no staging file behind and names a leftover one first: a killed writer\'s partial file is removed', async () => {
    const steps = StepsDir.make(exe, bin);
    const image = await vacateCycle(steps);
    // as a job killed mid-checkpoint leaves them: a whole image not yet named, a partial one
    fs.renameSync(image, steps.image('incoming.img'));
    fs.writeFileSync(steps.image(`incoming.img.${'0'.repeat(15)}1-${'0'.repeat(15)}2-${'0'.repeat(15)}3.tmp`), 'partial');
    const job = steps.start();
    await job.event(new RegExp(`^resumed from ${steps.image('ckpt-000001.img')} `));
    assert.deepEqual(steps.listing(), ['ckpt-000001.img']);
    tellToFinish(steps.dir);
    await job.endsWith(0);
  });

  it("exits with the program's status, and 128+N when signal N killed it", async () => {
    const dir = scratch('ckpt-run-');
    const sh = path.join(dir, 'busybox.ckpt');
    await relinkFile('/bin/busybox', sh);
    const job = new Job(dir, ['--image-dir', path.join(dir, 'images')], [sh, 'sh', '-c', 'exit 7'], path.join(dir, 'out.txt'));
    await job.endsWith(7);
    assert.match(job.events.at(-1)!, /^finished \(status 7\)$/);

    const steps = StepsDir.make(exe, bin);
    const killed = steps.start();
    const pid = Number((await killed.event(/^started .* \(pid (\d+)\)$/))[1]);
    process.kill(pid, 'SIGKILL');
    await killed.endsWith(137);
    assert.match(killed.events.at(-1)!, /^finished \(killed by SIGKILL, status 137\)$/);
  });

  describe('refuses to start', () => {
    const run = (args: string[]) => execa(...nodeCommand(RUN_CLI, args), { reject: false, extendEnv: false, env: { PATH: process.env.PATH } });

    it('a program that is not relinked, with exit 2 and one line', async () => {
      const dir = scratch('ckpt-run-');
      const r = await run(['--image-dir', dir, '--', exe, '1']);
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr, /^ckpt-run: cannot run .*: not relinked by ckpt-relink/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });

    it('an image directory it cannot make, with exit 2 and one line', async () => {
      const dir = scratch('ckpt-run-');
      fs.writeFileSync(path.join(dir, 'file'), '');
      const r = await run(['--image-dir', path.join(dir, 'file', 'images'), '--', bin, '1']);
      assert.equal(r.exitCode, 2);
      assert.match(r.stderr, /^ckpt-run: not run: cannot use the image directory .*file\/images: ENOTDIR/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });

    for (const [args, message] of [
      [['--', '/bin/true'], /--image-dir is required/],
      [['--image-dir', 'shadow:a/b', '--', '/bin/true'], /--image-dir shadow:NAME needs a NAME of 1 to 200 characters without '\/', not "a\/b"/],
      [['--image-dir', 'shadow:job1', '--', '/bin/true'], /--image-dir shadow:NAME needs CKPT_SHADOW/],
      [['--image-dir', 'd', '--keep', '0', '--', '/bin/true'], /--keep must be a positive integer/],
      [['--image-dir', 'd', '--interval', 'soon', '--', '/bin/true'], /--interval must be a positive number/],
      [['--image-dir', 'd', '--signal', 'KILL', '--', '/bin/true'], /--signal must be one of/],
      [['--image-dir', 'd', '--on-bad-image', 'retry', '--', '/bin/true'], /--on-bad-image must be fallback, fresh, fail/],
      [['--image-dir', 'd'], /no PROGRAM given/],
    ] as [string[], RegExp][]) {
      it(`${args.join(' ')}: a usage error`, async () => {
        const r = await run(args);
        assert.equal(r.exitCode, 2);
        assert.match(r.stderr, message);
        assert.equal(r.stderr.trim().split('\n').length, 1);
      });
    }
  });
});
