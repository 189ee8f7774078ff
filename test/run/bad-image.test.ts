// ckpt-run never resumes from an image that fails its checks: the newest made corrupt (one flipped
// byte), or made by another relinked binary, is set aside with a line saying why, and the job
// resumes from the previous good image (--on-bad-image fallback, the default), starts afresh
// (fresh, or fallback with no good image left), or is not run at all (fail, exit 2).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { caughtUp, offsetInImage, tellToFinish, uninterrupted, withoutReplays } from '../steps.js';
import { StepsDir, relinkedSteps, vacateCycle } from './jobs.js';

/** Flips one bit of a record's payload (byte 200, as test/runtime/checkpoint's refusals do) */
function corrupt(image: string): void {
  const bytes = fs.readFileSync(image);
  bytes[200] ^= 0x01;
  fs.writeFileSync(image, bytes);
}

describe('ckpt-run and bad images', function () {
  this.timeout(180_000);
  let exe: string, bin: string, otherBin: string;
  before(async () => {
    [exe, bin] = await relinkedSteps();
    // the same program relinked another way: another config block, so another binary id
    [, otherBin] = await relinkedSteps(['--sud-sites', 'all']);
  });

  /** Two vacate cycles: the images of both, and what the second run wrote after the first image */
  async function twoImages(steps: StepsDir) {
    const first = await vacateCycle(steps);
    const second = await vacateCycle(steps);
    return { first, second, secondRun: { from: offsetInImage(first, 1), to: fs.statSync(steps.out).size } };
  }

  /** Resumes the job, which must go on from `image`, and checks its output against an uninterrupted run */
  async function endsLikeUninterrupted(steps: StepsDir, options: string[], image: string, replays: { from: number; to: number }[]) {
    const job = steps.start(options);
    await job.event(new RegExp(`^resumed from ${image} `));
    for (const r of replays) await caughtUp(steps.out, r);
    tellToFinish(steps.dir);
    await job.endsWith(0);
    const text = fs.readFileSync(steps.out, 'utf8');
    assert.equal(withoutReplays(text, replays), await uninterrupted(exe, text));
    return job;
  }

  it('falls back from a corrupt newest image to the previous one, and says so', async () => {
    const steps = StepsDir.make(exe, bin);
    const { first, second, secondRun } = await twoImages(steps);
    corrupt(second);
    const job = await endsLikeUninterrupted(steps, [], first, [secondRun]);
    assert.ok(job.events[0].startsWith(`bad image ${second}: `), job.events[0]);
    assert.match(job.events[0], /checksum|corrupt/);
    assert.equal(job.events[1], `falling back to ${first}`);
    assert.ok(job.events[2].startsWith(`resumed from ${first} `), job.events[2]);
    assert.ok(steps.listing().includes('ckpt-000002.img.bad'), `set aside: ${steps.listing()}`);
  });

  it('falls back from a newest image made by another binary', async () => {
    const steps = StepsDir.make(exe, bin);
    const first = await vacateCycle(steps);
    const elsewhere = StepsDir.make(exe, otherBin);
    const foreign = steps.image('ckpt-000002.img');
    fs.copyFileSync(await vacateCycle(elsewhere), foreign);
    const job = await endsLikeUninterrupted(steps, [], first, []);
    assert.match(job.events[0], new RegExp(`^bad image ${foreign}: made by another binary \\(binary id 0x[0-9a-f]+, the program's 0x[0-9a-f]+\\)$`));
    assert.equal(job.events[1], `falling back to ${first}`);
  });

  it('starts afresh when no image is good (fallback)', async () => {
    const steps = StepsDir.make(exe, bin);
    corrupt(await vacateCycle(steps));
    fs.rmSync(steps.out);
    const job = steps.start();
    await job.event(/^started /);
    assert.match(job.events[0], /^bad image .*ckpt-000001\.img: /);
    assert.equal(job.events[1], 'starting afresh');
    await steps.runsOn();
    tellToFinish(steps.dir);
    await job.endsWith(0);
    const text = fs.readFileSync(steps.out, 'utf8');
    assert.equal(text, await uninterrupted(exe, text));
    assert.deepEqual(steps.listing(), ['ckpt-000001.img.bad']);
  });

  it('starts afresh at once under --on-bad-image fresh, and sets the older good images aside', async () => {
    const steps = StepsDir.make(exe, bin);
    const { second } = await twoImages(steps);
    corrupt(second);
    fs.rmSync(steps.out);
    const job = steps.start(['--on-bad-image', 'fresh']);
    await job.event(/^started /);
    assert.match(job.events[0], /^bad image .*ckpt-000002\.img: /);
    assert.equal(job.events[1], 'starting afresh');
    assert.deepEqual(steps.listing(), ['ckpt-000001.img.unused', 'ckpt-000002.img.bad']);
    // the fresh computation's images carry on the numbering
    job.signal('SIGUSR1');
    await job.endsWith(85);
    assert.deepEqual(job.checkpointed, [steps.image('ckpt-000003.img')]);
  });

  it('does not run the program under --on-bad-image fail: exit 2, the images untouched', async () => {
    const steps = StepsDir.make(exe, bin);
    const { second } = await twoImages(steps);
    corrupt(second);
    fs.rmSync(`${steps.dir}/started`);
    const job = steps.start(['--on-bad-image', 'fail']);
    assert.equal((await job.event(/^(not run|started|resumed from)\b/))[1], 'not run');
    await job.endsWith(2);
    assert.match(job.events[0], /^bad image .*ckpt-000002\.img: /);
    assert.match(job.events[1], /^not run: .*ckpt-000002\.img is bad and --on-bad-image is fail$/);
    assert.equal(job.events.length, 2);
    assert.ok(!fs.existsSync(`${steps.dir}/started`), 'the program did not run');
    assert.deepEqual(steps.listing(), ['ckpt-000001.img', 'ckpt-000002.img']);
  });
});
