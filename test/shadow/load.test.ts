// Load: 32 relinked jobs at once against one shadow, each doing more than 10,000 small file
// operations; the shadow is killed in the middle of their run and started again on the same
// port. Every job reconnects, opens its files again, and ends with the local run's checksums.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, sample, scratch, textOf, waitFor } from '../helpers.js';
import { signalRunning } from '../process.js';
import { startShadow } from './shadow-process.js';

const JOBS = 32, ROUNDS = '1000';

describe('32 jobs against one shadow, which dies and comes back', function () {
  this.timeout(300_000);

  it('every job finishes with the right result', async () => {
    const base = scratch('ckpt-load-');
    const bin = path.join(base, 'fileops.ckpt');
    await relinkFile(sample('glibc', 'fileops'), bin);
    const want = (await execa(sample('glibc', 'fileops'), [ROUNDS, 'ops.d'], { cwd: scratch() })).stdout;
    assert.match(want, /ops=1[0-9]{4} /, 'each job makes more than 10,000 operations');
    const root = path.join(base, 'root');
    let shadow = await startShadow({ root });
    const port = shadow.port;
    const jobs = Array.from({ length: JOBS }, (_, i) => execa(bin, [ROUNDS, `ops-${i}`], {
      cwd: scratch(), reject: false,
      env: { PATH: '/usr/bin:/bin', CKPT_SHADOW: `127.0.0.1:${port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, CKPT_SHADOW_RETRY: '60' },
    }));
    // Kill the shadow once every job is well into its work (twenty rounds logged on the shadow),
    // with the jobs stopped, so that none can finish first however fast it runs; they go on, and
    // find the shadow gone, before it is started again.
    await waitFor(() => shadow.log.filter((l) => /connected from/.test(l)).length >= JOBS, `${JOBS} jobs to connect`);
    const roundsLogged = (i: number) => (textOf(path.join(root, `ops-${i}`, 'log')).match(/\n/g) ?? []).length;
    await waitFor(() => jobs.every((j, i) => j.exitCode !== null || roundsLogged(i) >= 20), 'every job to be well into its work');
    for (const j of jobs) signalRunning(j, 'SIGSTOP');
    await shadow.stop('SIGKILL');
    for (const j of jobs) process.kill(j.pid!, 'SIGCONT');
    shadow = await startShadow({ root, tokenFile: shadow.tokenFile, listen: `127.0.0.1:${port}` });
    const results = await Promise.all(jobs);
    await shadow.stop();
    // the jobs were in the middle of their work: the second shadow took up their sessions again
    const resumed = shadow.log.filter((l) => /authenticated: pid \d+, \S*AGAIN/.test(l)).length;
    assert.ok(resumed >= JOBS / 2, `${resumed} sessions were taken up again by the second shadow:\n${shadow.log.join('\n')}`);
    for (const [i, r] of results.entries()) {
      assert.equal(r.exitCode, 0, `job ${i}: ${r.stderr}`);
      assert.equal(r.stdout, want, `job ${i}`);
    }
    assert.deepEqual(fs.readdirSync(root).filter((f) => f !== '.ckpt'), [], 'every job cleaned up on the shadow');
  });
});
