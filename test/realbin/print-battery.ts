/**
 * Prints what each battery entry produced, for reviewing a battery by eye:
 *   node dist/test/realbin/print-battery.js KIND [--binary PATH] [--only SUBSTRING]
 */
import { parseArgs } from 'node:util';
import { BATTERY_BINARIES, BATTERY_KINDS, batteryFixture, readBatteryFile, runBattery } from './battery.js';
import type { BinaryKind, Result } from './battery.js';

function formatResult(result: Result): string {
  const status = result.timedOut
    ? 'timed out'
    : result.signal !== null
      ? `killed by ${result.signal}`
      : `exit ${result.exitCode}`;
  const parts = [`=== ${result.name} (${status}, ${result.durationMs} ms)`];
  if (result.stdout !== '') parts.push(`--- stdout\n${result.stdout.trimEnd()}`);
  if (result.stderr !== '') parts.push(`--- stderr\n${result.stderr.trimEnd()}`);
  return parts.join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { binary: { type: 'string' }, only: { type: 'string' } },
  });
  const kind = positionals[0] as BinaryKind;
  if (!BATTERY_KINDS.includes(kind)) {
    throw new Error(`usage: print-battery KIND [--binary PATH] [--only SUBSTRING]; KIND is one of ${BATTERY_KINDS.join(', ')}`);
  }
  const entries = (await readBatteryFile(batteryFixture(kind))).filter(
    (entry) => values.only === undefined || entry.name.includes(values.only),
  );
  const started = Date.now();
  const results = await runBattery({ kind, binary: values.binary ?? BATTERY_BINARIES[kind].path, entries });
  for (const result of results) console.log(formatResult(result));
  console.log(`=== ${results.length} entries in ${Date.now() - started} ms`);
}

await main();
