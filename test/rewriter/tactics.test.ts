// docs/tactics.md and the Tactic enum name the same tactics, in the same order.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Tactic, TACTIC_DESCRIPTIONS } from '../../src/rewriter/patch/tactics.js';
import { ROOT } from '../helpers.js';

describe('tactics documentation', () => {
  it('has one section per Tactic, in the enum order', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/tactics.md'), 'utf8');
    const headings = [...doc.matchAll(/^## (\S+)$/gm)].map((m) => m[1]);
    assert.deepEqual(headings, Object.values(Tactic));
  });

  it('gives each tactic a one-line description in the code', () => {
    for (const t of Object.values(Tactic)) assert.ok(TACTIC_DESCRIPTIONS[t] && !TACTIC_DESCRIPTIONS[t].includes('\n'), t);
  });
});
