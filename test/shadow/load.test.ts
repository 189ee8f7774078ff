// Load: 32 relinked jobs at once against one shadow, each doing more than 10,000 small file
// operations; the shadow is killed in the middle of their run and started again on the same
// port. Every job reconnects, opens its files again, and ends with the local run's checksums.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, sample, scratch } from '../helpers.js';
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
    // kill the shadow once the jobs are well into their work
    for (const t0 = Date.now(); shadow.log.filter((l) => /connected from/.test(l)).length < JOBS && Date.now() - t0 < 60_000;) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    await shadow.stop('SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
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
