/**
 * Relinks real Debian static binaries and requires each to behave exactly as its original on its
 * battery. A relinker that fails on one of them fails that binary's test.
 */
import assert from 'node:assert/strict';
import { execa } from 'execa';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  BATTERY_BINARIES,
  BATTERY_KINDS,
  batteryFixture,
  compareBatteries,
  readBatteryFile,
  repositoryRoot,
  runBattery,
} from './battery.js';
import type { BinaryKind } from './battery.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const MIN_ENTRIES = 40;
const RELINK_TIMEOUT_MS = 10 * 60_000;

type Comparison =
  | { outcome: 'not-relinked'; reason: string }
  | { outcome: 'compared'; entries: number; differences: string[] };

/** Resolves to the relinked file, or to the reason there is none. */
async function relink(kind: BinaryKind, outDir: string): Promise<{ file: string } | { reason: string }> {
  const cli = path.join(repositoryRoot(), 'dist', 'src', 'cli', 'relink.js');
  try {
    await fs.access(cli);
  } catch {
    return { reason: `${path.relative(repositoryRoot(), cli)} is not built` };
  }
  const file = path.join(outDir, `${BATTERY_BINARIES[kind].name}.ckpt`);
  const result = await execa(...nodeCommand(cli, [BATTERY_BINARIES[kind].path, '-o', file]), {
    reject: false,
    timeout: RELINK_TIMEOUT_MS,
    all: true,
  });
  if (result.exitCode !== 0) {
    const lastLine = String(result.all ?? '').trim().split('\n').pop() ?? '';
    return { reason: `the relinker failed (${result.exitCode ?? result.signal}): ${lastLine}` };
  }
  return { file };
}

/** The two runs share one battery root, so they run one after the other. */
async function compareWithRelinked(kind: BinaryKind): Promise<Comparison> {
  const outDir = await fs.mkdtemp(path.join(os.tmpdir(), `ckpt-relinked-${kind}-`));
  try {
    const relinked = await relink(kind, outDir);
    if ('reason' in relinked) return { outcome: 'not-relinked', reason: relinked.reason };
    const entries = await readBatteryFile(batteryFixture(kind));
    const original = await runBattery({ kind, binary: BATTERY_BINARIES[kind].path, entries });
    const rewritten = await runBattery({ kind, binary: relinked.file, entries });
    return { outcome: 'compared', entries: entries.length, differences: compareBatteries(original, rewritten) };
  } finally {
    await fs.rm(outDir, { recursive: true, force: true });
  }
}

describe('Relinked real binaries', function () {
  this.timeout(30 * 60_000);
  const comparisons = new Map<BinaryKind, Promise<Comparison>>();

  // The four batteries use separate roots, so they all run at once; each test awaits its own.
  before(function () {
    for (const kind of BATTERY_KINDS) {
      const comparison = compareWithRelinked(kind);
      comparison.catch(() => undefined);
      comparisons.set(kind, comparison);
    }
  });

  for (const kind of BATTERY_KINDS) {
    it(`${kind} gives the same results on its battery after relinking as before`, async function () {
      const comparison = await comparisons.get(kind)!;
      if (comparison.outcome === 'not-relinked') assert.fail(`${kind} could not be relinked: ${comparison.reason}`);
      assert.ok(comparison.entries >= MIN_ENTRIES, `the ${kind} battery has only ${comparison.entries} entries`);
      assert.deepStrictEqual(comparison.differences, []);
    });
  }
});
