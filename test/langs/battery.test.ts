/**
 * Relinks Debian's dynamically linked interpreters and requires each to behave exactly as its
 * original on its battery of scripts (same stdout, stderr and exit status), and to count, for a
 * representative script, the same system calls by name in CKPT_STATS as strace counts for the
 * original (test/strace.ts has the conventions).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { relinkFile, scratch } from '../helpers.js';
import { compareBatteries } from '../realbin/battery.js';
import { asStrace, countDifferences, mapsReads, readStats, straceCounts, withoutReads } from '../strace.js';
import { LANG_NAMES, LANGS, listScripts, runLangBattery } from './battery.js';
import type { Lang, Script } from './battery.js';

const MIN_SCRIPTS = 30;

interface Relinked { file: string; dir: string }

/** Relinked once per language; a relink that fails fails that language's tests with its message. */
const relinked = new Map<Lang, Promise<Relinked>>();
function relinkedOf(lang: Lang): Promise<Relinked> {
  if (!relinked.has(lang)) {
    const dir = scratch(`ckpt-langs-${lang}-`);
    const file = path.join(dir, `${LANGS[lang].name}.ckpt`);
    relinked.set(lang, relinkFile(LANGS[lang].program, file, LANGS[lang].relinkArgs).then(() => ({ file, dir })));
  }
  return relinked.get(lang)!;
}

/** Differences between the original and the relinked interpreter on every script */
async function compareOnBattery(lang: Lang): Promise<{ scripts: number; differences: string[] }> {
  const { file } = await relinkedOf(lang);
  const scripts = await listScripts(lang);
  const original = await runLangBattery({ lang, binary: LANGS[lang].program, scripts });
  const rewritten = await runLangBattery({ lang, binary: file, scripts });
  return { scripts: scripts.length, differences: compareBatteries(original, rewritten) };
}

/**
 * strace's per-name counts for the original against the relinked run's CKPT_STATS, both at the
 * same path with the same environment (CKPT_STATS is set for the original too, which ignores it).
 * Reads of /proc/PID/maps are left out on both sides (test/strace.ts says why), counted by a
 * second run of each binary under strace -y.
 */
async function countCalls(lang: Lang, script: Script): Promise<string[]> {
  const { file, dir } = await relinkedOf(lang);
  const stats = path.join(dir, `${script.name}.stats`);
  const env = { CKPT_STATS: stats };
  const straceOut = path.join(dir, `${script.name}.strace`);
  await runCounted(lang, LANGS[lang].program, script, env, ['/usr/bin/strace', '-f', '-c', '-o', straceOut]);
  await runCounted(lang, file, script, env);
  const original = withoutReads(straceCounts(straceOut), await mapsReadsOf(lang, LANGS[lang].program, script, dir));
  const relinkedCounts = withoutReads(asStrace(readStats(stats)), await mapsReadsOf(lang, file, script, dir));
  return countDifferences(original, relinkedCounts);
}

async function runCounted(lang: Lang, binary: string, script: Script, env: Record<string, string>, wrapper?: string[]): Promise<void> {
  const [result] = await runLangBattery({ lang, binary, scripts: [script], env, wrapper });
  assert.equal(result.exitCode, 0, `${script.name} with ${binary}${wrapper ? ' under strace' : ''}: ${result.stderr}`);
}

async function mapsReadsOf(lang: Lang, binary: string, script: Script, dir: string): Promise<number> {
  const log = path.join(dir, `${script.name}.reads`);
  await runCounted(lang, binary, script, {}, ['/usr/bin/strace', '-f', '-y', '-e', 'trace=read', '-o', log]);
  return mapsReads(log);
}

describe('Relinked interpreters on their batteries of scripts', function () {
  this.timeout(30 * 60_000);
  const comparisons = new Map<Lang, Promise<{ scripts: number; differences: string[] }>>();

  // Each language has its own root, so the five run at once; each test awaits its own
  before(function () {
    for (const lang of LANG_NAMES) {
      const comparison = compareOnBattery(lang);
      comparison.catch(() => undefined);
      comparisons.set(lang, comparison);
    }
  });

  for (const lang of LANG_NAMES) {
    describe(LANGS[lang].name, function () {
      it(`gives the same stdout, stderr and exit status on every script as ${LANGS[lang].program}`, async function () {
        const { scripts, differences } = await comparisons.get(lang)!;
        assert.ok(scripts >= MIN_SCRIPTS, `the ${lang} battery has only ${scripts} scripts`);
        assert.deepStrictEqual(differences, []);
      });

      for (const name of LANGS[lang].counted) {
        it(`counts the system calls of ${name} as strace counts the original's`, async function () {
          await comparisons.get(lang)!.catch(() => undefined);
          const script = (await listScripts(lang)).find((s) => s.name === name);
          assert.ok(script, `no script ${name}`);
          assert.deepStrictEqual(await countCalls(lang, script), []);
        });
      }
    });
  }
});
