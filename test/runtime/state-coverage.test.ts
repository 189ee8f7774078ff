// docs/state-coverage.md is the map of what state ckpt keeps, test by test of CRIU's zdtm suite:
// every sample it names must exist (and a refused sample must be one state-refusals.test.ts
// runs), each one-process row must say what ckpt does, and its counts, and the README's, must be
// the table's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers.js';

interface Row { test: string; scope: string; does: string; shownBy: string }

const SCOPES = ['one process', 'process tree', 'privilege or namespaces', 'other architecture', 'not a test'];

function rows(doc: string): Row[] {
  const table = doc.slice(doc.indexOf('| CRIU test |'));
  return table.split('\n').slice(2).filter((l) => l.startsWith('| ')).map((line) => {
    const cells = line.split(' | ').map((c) => c.trim());
    return { test: cells[0].slice(2), scope: cells[2], does: cells[3], shownBy: cells[4].replace(/ ?\|$/, '').replace(/`/g, '') };
  });
}

/** PASS: restored and shown by a sample; refused: refused and shown; other: the rest */
function outcome(r: Row): 'PASS' | 'refused' | 'other' {
  if (r.does.startsWith('restores') && r.shownBy) return 'PASS';
  if (r.does.startsWith('refused') && r.shownBy) return 'refused';
  return 'other';
}

describe('docs/state-coverage.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/state-coverage.md'), 'utf8');
  const table = rows(doc);
  const one = table.filter((r) => r.scope === 'one process');
  const count = (what: string) => (what in { PASS: 1, refused: 1, other: 1 } ? one.filter((r) => outcome(r) === what).length : table.filter((r) => r.scope === what).length);

  it('has one row per test, each with one of the scopes', () => {
    assert.ok(table.length > 400, `only ${table.length} rows`);
    assert.equal(new Set(table.map((r) => r.test)).size, table.length, 'a test is listed twice');
    for (const r of table) assert.ok(SCOPES.includes(r.scope), `${r.test}: scope "${r.scope}"`);
  });

  it('says for every one-process test what ckpt does', () => {
    for (const r of one) assert.match(r.does, /^(restores|refused|not yet)/, `${r.test}: "${r.does}"`);
  });

  it('names only samples and tests that exist', () => {
    for (const r of table.filter((x) => x.shownBy)) {
      assert.ok(fs.existsSync(path.join(ROOT, r.shownBy)), `${r.test}: ${r.shownBy} does not exist`);
    }
  });

  it('names refused samples that test/runtime/state-refusals.test.ts runs, and zdtm samples the harness runs', () => {
    const refusals = fs.readFileSync(path.join(ROOT, 'test/runtime/state-refusals.test.ts'), 'utf8');
    for (const r of table) {
      const refused = /^samples\/zdtm\/refused\/(\w+)\.c$/.exec(r.shownBy);
      if (refused) assert.ok(refusals.includes(`name: '${refused[1]}'`), `${r.test}: ${refused[1]} is not run by state-refusals.test.ts`);
      if (outcome(r) === 'PASS' && r.shownBy.startsWith('samples/zdtm/')) assert.match(r.shownBy, /^samples\/zdtm\/\w+\.c$/, r.test);
    }
  });

  it('gives the counts the table has, in its own Counts and in the README', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').replace(/\s+/g, ' ');
    for (const scope of SCOPES) {
      assert.match(doc, new RegExp(`^\\| ${scope} \\| ${count(scope)} \\|$`, 'm'), `the Counts table's ${scope}`);
    }
    for (const what of ['PASS', 'refused', 'other']) {
      assert.match(doc.replace(/\s+/g, ' '), new RegExp(`\\*\\*${count(what)} ${what}\\*\\*`), `the doc's ${what} count`);
      assert.match(readme, new RegExp(`\\*\\*${count(what)} ${what}\\*\\*`), `the README's ${what} count (${count(what)})`);
    }
    const m = /CRIU's (\d+) zdtm test programs one by one: (\d+) are about the state of one process, (\d+) need process trees \(a later issue\), (\d+) need privilege or namespaces \(out of scope by design\), (\d+) are for another architecture and (\d+) are helpers/.exec(readme);
    assert.ok(m, 'the README paragraph on docs/state-coverage.md');
    assert.deepEqual(m.slice(1).map(Number), [table.length, ...SCOPES.map(count)]);
  });
});
