/**
 * Checks the batteries themselves, with no relinker involved: two runs of the same original binary
 * must agree (so a difference after relinking means something), and no entry may fail for a reason
 * that makes it test nothing (a missing command or option, a timeout).
 * It runs on every test run: a battery entry that turns flaky shows up here first.
 */
import assert from 'node:assert/strict';
import {
  BATTERY_BINARIES,
  BATTERY_KINDS,
  batteryFixture,
  compareBatteries,
  readBatteryFile,
  runBattery,
} from './battery.js';
import type { BinaryKind, Result } from './battery.js';

const MIN_ENTRIES = 45;

/** Messages of commands that did not run as the entry meant; none is expected from any entry. */
const BROKEN_ENTRY_PATTERNS = [
  /command not found/,
  /: not found/,
  /applet not found/,
  /invalid (option|argument|number)/,
  /unrecognized option/,
  /unknown option/,
  /[Uu]sage:/,
  /not compiled in/,
  /failed to load module/,
  /not available/,
  /syntax error/,
  /parse error/,
  /bad substitution/,
];

interface SelfCheck {
  entries: number;
  first: Result[];
  differences: string[];
}

async function runTwice(kind: BinaryKind): Promise<SelfCheck> {
  const entries = await readBatteryFile(batteryFixture(kind));
  const binary = BATTERY_BINARIES[kind].path;
  const first = await runBattery({ kind, binary, entries });
  const second = await runBattery({ kind, binary, entries });
  return { entries: entries.length, first, differences: compareBatteries(first, second) };
}

function brokenEntries(results: Result[]): string[] {
  const broken: string[] = [];
  for (const result of results) {
    if (result.timedOut) broken.push(`${result.name}: timed out`);
    const pattern = BROKEN_ENTRY_PATTERNS.find((p) => p.test(result.stderr));
    if (pattern !== undefined) broken.push(`${result.name}: stderr matches ${pattern}`);
    if (result.stdout === '' && result.stderr === '' && result.exitCode === 0) {
      broken.push(`${result.name}: succeeded without printing anything`);
    }
  }
  return broken;
}

describe('Battery self-check on the original binaries', function () {
  this.timeout(10 * 60_000);
  const checks = new Map<BinaryKind, Promise<SelfCheck>>();

  before(function () {
    for (const kind of BATTERY_KINDS) {
      const check = runTwice(kind);
      check.catch(() => undefined);
      checks.set(kind, check);
    }
  });

  for (const kind of BATTERY_KINDS) {
    describe(`the ${kind} battery`, function () {
      it(`has at least ${MIN_ENTRIES} entries`, async function () {
        const { entries } = await checks.get(kind)!;
        assert.ok(entries >= MIN_ENTRIES, `only ${entries} entries`);
      });

      it('gives the same results on two runs of the original binary', async function () {
        const { differences } = await checks.get(kind)!;
        assert.deepStrictEqual(differences, []);
      });

      it('has no entry that times out or fails for want of a command or option', async function () {
        const { first } = await checks.get(kind)!;
        assert.deepStrictEqual(brokenEntries(first), []);
      });
    });
  }
});
