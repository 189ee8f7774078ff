/**
 * Checks the interpreters' batteries themselves, with no relinker involved: two runs of the same
 * original interpreter must agree (so a difference after relinking means something), no script
 * may time out or test nothing, and the scripts whose system calls are counted must give the same
 * strace counts twice (so a count that differs after relinking means something too).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { scratch } from '../helpers.js';
import { compareBatteries } from '../realbin/battery.js';
import type { Result } from '../realbin/battery.js';
import { countDifferences, straceCounts } from '../strace.js';
import { defaultLangRoot, LANG_NAMES, LANGS, listScripts, runLangBattery } from './battery.js';
import type { Lang } from './battery.js';

const MIN_SCRIPTS = 30;

/** Messages of scripts that did not run as meant; only a script named `NN-error-...` may print them. */
const BROKEN_SCRIPT_PATTERNS = [
  /command not found/,
  /: not found/,
  /No module named/,
  /Can't locate /,
  /module '.*' not found/,
  /syntax error/i,
  /SyntaxError/,
];

interface SelfCheck { scripts: number; first: Result[]; differences: string[] }

async function runTwice(lang: Lang): Promise<SelfCheck> {
  const scripts = await listScripts(lang);
  const binary = LANGS[lang].program;
  const first = await runLangBattery({ lang, binary, scripts });
  const second = await runLangBattery({ lang, binary, scripts });
  return { scripts: scripts.length, first, differences: compareBatteries(first, second) };
}

function brokenScripts(lang: Lang, results: Result[]): string[] {
  const broken: string[] = [];
  for (const result of results) {
    // stdout must hold no absolute path of the scratch tree (stderr may: a traceback's file names)
    if (result.stdout.includes(defaultLangRoot(lang))) broken.push(`${result.name}: stdout names the battery's root`);
    if (result.timedOut) broken.push(`${result.name}: timed out`);
    const meantToFail = /^\d\d-error-/.test(result.name);
    if (result.signal !== null && !meantToFail) broken.push(`${result.name}: killed by ${result.signal}`);
    const pattern = BROKEN_SCRIPT_PATTERNS.find((p) => p.test(result.stderr));
    if (pattern !== undefined && !meantToFail) broken.push(`${result.name}: stderr matches ${pattern}`);
    if (meantToFail && result.exitCode === 0) broken.push(`${result.name}: meant to fail, but exit 0`);
    if (result.stdout === '') broken.push(`${result.name}: printed nothing on stdout`);
    if (result.exitCode !== 0 && result.signal === null && !meantToFail) broken.push(`${result.name}: exit ${result.exitCode}: ${result.stderr.slice(0, 200)}`);
  }
  return broken;
}

async function straceTwice(lang: Lang, name: string): Promise<string[]> {
  const script = (await listScripts(lang)).find((s) => s.name === name);
  assert.ok(script, `no script ${name}`);
  const outs = [0, 1].map((i) => path.join(scratch(`ckpt-langs-strace-${lang}-`), `${i}.strace`));
  for (const out of outs) {
    const [traced] = await runLangBattery({
      lang, binary: LANGS[lang].program, scripts: [script], wrapper: ['/usr/bin/strace', '-f', '-c', '-o', out],
    });
    assert.equal(traced.exitCode, 0, `${name} under strace: ${traced.stderr}`);
  }
  return countDifferences(straceCounts(outs[0]), straceCounts(outs[1]));
}

describe('Interpreter batteries on the original interpreters', function () {
  this.timeout(10 * 60_000);
  const checks = new Map<Lang, Promise<SelfCheck>>();

  before(function () {
    for (const lang of LANG_NAMES) {
      const check = runTwice(lang);
      check.catch(() => undefined);
      checks.set(lang, check);
    }
  });

  for (const lang of LANG_NAMES) {
    describe(`the ${LANGS[lang].name} battery`, function () {
      it(`has at least ${MIN_SCRIPTS} scripts`, async function () {
        const { scripts } = await checks.get(lang)!;
        assert.ok(scripts >= MIN_SCRIPTS, `only ${scripts} scripts`);
      });

      it('gives the same results on two runs of the original interpreter', async function () {
        const { differences } = await checks.get(lang)!;
        assert.deepStrictEqual(differences, []);
      });

      it('has no script that times out, prints nothing or fails unless it is meant to', async function () {
        const { first } = await checks.get(lang)!;
        assert.deepStrictEqual(brokenScripts(lang, first), []);
      });

      for (const name of LANGS[lang].counted) {
        it(`gives the same strace counts on two runs of ${name}`, async function () {
          await checks.get(lang)!.catch(() => undefined);
          assert.deepStrictEqual(await straceTwice(lang, name), []);
        });
      }
    });
  }
});
