// Golden tests of the rewriter: the per-site plan for every sample build, diffed against
// test/golden/FLAVOUR/NAME.sites. After an intended change, regenerate with
// CKPT_UPDATE_GOLDEN=1 npm test, and review the diff like any other change.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { relink } from '../../src/rewriter/relink.js';
import { formatSites } from '../../src/rewriter/report.js';
import { ROOT, SAMPLE_FLAVOURS, sample, sampleNames } from '../helpers.js';

const GOLDEN = path.join(ROOT, 'test/golden');

describe('rewriter golden site reports', function () {
  this.timeout(60_000);
  for (const flavour of SAMPLE_FLAVOURS) {
    for (const name of sampleNames()) {
      it(`plans ${flavour}/${name} as recorded`, async () => {
        const { report } = await relink(fs.readFileSync(sample(flavour, name)));
        const text = formatSites(report);
        const file = path.join(GOLDEN, flavour, `${name}.sites`);
        if (process.env.CKPT_UPDATE_GOLDEN) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, text);
        }
        assert.equal(text, fs.readFileSync(file, 'utf8'));
      });
    }
  }
});
