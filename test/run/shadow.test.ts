// ckpt-run with its images on the shadow (--image-dir shadow:NAME): a remote-syscall job (it
// starts in the shadow's root; its stdout is the job's local output file), its images written by the runtime into the shadow's
// /.ckpt, named there by ckpt-run, and resumed from a copy in $TMPDIR that is gone when the job ends.
// A corrupt newest image on the shadow is set aside there and the job falls back to the previous one.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { scratch } from '../helpers.js';
import { startShadow, type Shadow } from '../shadow/shadow-process.js';
import { caughtUp, offsetInImage, tellToFinish, uninterrupted, withoutReplays } from '../steps.js';
import { StepsDir, relinkedSteps, vacateCycle } from './jobs.js';

describe('ckpt-run with images on the shadow', function () {
  this.timeout(180_000);
  let exe: string, bin: string;
  const shadows: Shadow[] = [];
  before(async () => { [exe, bin] = await relinkedSteps(); });
  after(async () => { for (const s of shadows) await s.stop(); });

  /** A job whose images are on a shadow of its own; its TMPDIR, to see it emptied */
  async function shadowJob(): Promise<{ steps: StepsDir; shadow: Shadow; tmp: string; onShadow: (name: string) => string }> {
    const steps = StepsDir.make(exe, bin);
    const shadow = await startShadow({ args: ['--scratch', path.dirname(bin)] });
    shadows.push(shadow);
    const tmp = scratch('ckpt-run-tmp-');
    steps.imageDir = 'shadow:job1';
    steps.env = { CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, TMPDIR: tmp };
    return { steps, shadow, tmp, onShadow: (name) => path.join(shadow.root, '.ckpt', `job1.${name}`) };
  }

  const shadowListing = (shadow: Shadow) => fs.readdirSync(path.join(shadow.root, '.ckpt')).sort();

  it('vacates into the shadow, and the next run resumes from there and ends like an uninterrupted run', async () => {
    const { steps, shadow, tmp, onShadow } = await shadowJob();
    const image = await vacateCycle(steps, 'SIGTERM');
    assert.equal(image, 'shadow:/.ckpt/job1.ckpt-000001.img');
    assert.deepEqual(shadowListing(shadow), ['job1.ckpt-000001.img']);
    assert.ok(!fs.existsSync(steps.images), 'nothing written to the execute side\'s image directory');
    const before = steps.chunks();

    const job = steps.start();
    await job.event(/^resumed from shadow:\/\.ckpt\/job1\.ckpt-000001\.img \(pid \d+\)$/);
    assert.equal(fs.readdirSync(tmp).length, 1, 'the image is resumed from a copy in TMPDIR');
    await steps.runsOn();
    tellToFinish(shadow.root);	// the job starts in the shadow's root, its files there
    await job.endsWith(0);
    const text = fs.readFileSync(steps.out, 'utf8');
    assert.ok(steps.chunks() > before, 'the resumed run went on computing');
    assert.equal(text, await uninterrupted(exe, text));
    assert.deepEqual(fs.readdirSync(tmp), [], 'the copy is removed when the job ends');
  });

  it('sets a corrupt newest image aside on the shadow and falls back to the previous one', async () => {
    const { steps, shadow, onShadow } = await shadowJob();
    const first = await vacateCycle(steps);
    const second = await vacateCycle(steps);
    assert.deepEqual([first, second], ['shadow:/.ckpt/job1.ckpt-000001.img', 'shadow:/.ckpt/job1.ckpt-000002.img']);
    const secondRun = { from: offsetInImage(onShadow('ckpt-000001.img'), 1), to: fs.statSync(steps.out).size };
    const bytes = fs.readFileSync(onShadow('ckpt-000002.img'));
    bytes[200] ^= 0x01;
    fs.writeFileSync(onShadow('ckpt-000002.img'), bytes);

    const job = steps.start();
    await job.event(/^resumed from /);
    assert.ok(job.events[0].startsWith(`bad image ${second}: `), job.events[0]);
    assert.equal(job.events[1], `falling back to ${first}`);
    assert.ok(job.events[2].startsWith(`resumed from ${first} `), job.events[2]);
    assert.deepEqual(shadowListing(shadow), ['job1.ckpt-000001.img', 'job1.ckpt-000002.img.bad']);
    await caughtUp(steps.out, secondRun);
    tellToFinish(shadow.root);	// the job starts in the shadow's root, its files there
    await job.endsWith(0);
    const text = fs.readFileSync(steps.out, 'utf8');
    assert.equal(withoutReplays(text, [secondRun]), await uninterrupted(exe, text));
  });

  it('is not run when the shadow cannot be reached: exit 2 and one line', async () => {
    const steps = StepsDir.make(exe, bin);
    const shadow = await startShadow();
    const port = shadow.port;
    await shadow.stop();
    steps.imageDir = 'shadow:job1';
    steps.env = { CKPT_SHADOW: `127.0.0.1:${port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile };
    const job = steps.start();
    await job.endsWith(2);
    assert.deepEqual(job.events, [`not run: cannot use the images on the shadow: cannot reach the shadow at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`]);
  });
});
