// docs/tactics.md and src/rewriter/patch/tactics.ts name the same tactics, in the same order, and
// describe each in the same words: the doc's first paragraph under a tactic's heading is its
// TACTIC_DESCRIPTIONS entry, with code spans added.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Tactic, TACTIC_DESCRIPTIONS } from '../../src/rewriter/patch/tactics.js';
import { ROOT } from '../helpers.js';

/** Each `## name` heading of the doc, with the first paragraph after it unwrapped and without backticks */
function documentedTactics(doc: string): Array<{ name: string; description: string }> {
  return [...doc.matchAll(/^## (\S+)\n\n((?:.+\n)+)/gm)].map((m) => ({
    name: m[1],
    description: m[2].trim().split('\n').join(' ').replaceAll('`', ''),
  }));
}

describe('tactics documentation', () => {
  const doc = () => fs.readFileSync(path.join(ROOT, 'docs/tactics.md'), 'utf8');

  it('has one section per Tactic, in the enum order', () => {
    assert.deepEqual(documentedTactics(doc()).map((t) => t.name), Object.values(Tactic));
  });

  it('gives each tactic a one-line description in the code', () => {
    for (const t of Object.values(Tactic)) assert.ok(TACTIC_DESCRIPTIONS[t] && !TACTIC_DESCRIPTIONS[t].includes('\n'), t);
  });

  it("opens each tactic's section with its description from the code, word for word", () => {
    for (const { name, description } of documentedTactics(doc())) {
      assert.equal(description, TACTIC_DESCRIPTIONS[name as Tactic], `docs/tactics.md, ## ${name}`);
    }
  });
});
