// 200 damaged copies of a real image, made by a seeded PRNG so every run tries the same ones: byte
// flips in the file header, record headers, payloads and memory contents, truncations, extensions
// and changed record counts. Each must be refused by the runtime before it touches anything (exit
// 2, one stderr line "ckpt: cannot restart from ...", nothing on stdout) and flagged by ckpt-inspect's
// checker. The ckpt-inspect command itself (exit 2) runs on every CLI_EVERY-th copy, at least once per
// kind of damage: each run costs 0.2 s of CPU in Node's start-up alone, 40 s for all 200.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import * as C from '../../src/contract.generated.js';
import { crc32c } from '../../src/image/crc32c.js';
import { bufferSource, checkImage, readImage, type ImageRecord } from '../../src/image/read.js';
import { Prng } from '../rewriter/mutate.js';
import { INSPECT, QUIET, checkpointRun, relinkedSteps } from './real-image.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const SEED = 20261122;
const LANES = 4;
const CLI_EVERY = 10;

interface Mutation { label: string; bytes: Buffer }

/** How many copies of each kind, 200 in all */
const PLAN = { header: 30, recordHeader: 30, payload: 35, data: 35, padding: 10, truncate: 25, extend: 15, count: 20 } as const;

function flip(image: Buffer, at: number, rng: Prng, label: string): Mutation {
  const bytes = Buffer.from(image);
  const mask = rng.int(1, 256);
  bytes[at] ^= mask;
  return { label: `${label}: byte ${at} ^= 0x${mask.toString(16)}`, bytes };
}

/** The record count changed; some copies with the header checksum made right again, so the reader walks on into what follows the records */
function recount(image: Buffer, rng: Prng): Mutation {
  const bytes = Buffer.from(image);
  const delta = rng.pick([-3, -2, -1, 1, 2, 3, 50]);
  const reseal = rng.next() < 0.5;
  bytes.writeUInt32LE(bytes.readUInt32LE(C.CKPT_IH_RECORDS) + delta, C.CKPT_IH_RECORDS);
  if (reseal) bytes.writeUInt32LE(crc32c(bytes.subarray(0, C.CKPT_IH_CRC)), C.CKPT_IH_CRC);
  return { label: `record count ${delta > 0 ? '+' : ''}${delta}${reseal ? ', header checksum made right' : ''}`, bytes };
}

function mutations(image: Buffer, records: ImageRecord[], rng: Prng): Mutation[] {
  const withPayload = records.filter((r) => r.header.payloadSize > 0);
  const withData = records.filter((r) => r.header.dataSize > 0n);
  const out: Mutation[] = [];
  const times = (n: number, make: () => Mutation) => { for (let i = 0; i < n; i++) out.push(make()); };
  times(PLAN.header, () => flip(image, rng.int(0, C.CKPT_IH_SIZE), rng, 'file header'));
  times(PLAN.recordHeader, () => {
    const r = rng.pick(records);
    return flip(image, r.at + rng.int(0, C.CKPT_RH_SIZE), rng, `record ${r.index} header`);
  });
  times(PLAN.payload, () => {
    const r = rng.pick(withPayload);
    return flip(image, r.at + C.CKPT_RH_SIZE + rng.int(0, r.header.payloadSize), rng, `record ${r.index} payload`);
  });
  times(PLAN.data, () => {
    const r = rng.pick(withData);
    return flip(image, Number(r.header.dataOffset) + rng.int(0, Number(r.header.dataSize)), rng, `record ${r.index} data`);
  });
  // the zeros between the last record and the first page of contents: no checksum covers them
  const last = records[records.length - 1];
  const recordsEnd = last.at + C.CKPT_RH_SIZE + last.header.payloadSize;
  const dataStart = Math.ceil(recordsEnd / C.CKPT_IMAGE_PAGE) * C.CKPT_IMAGE_PAGE;
  assert.ok(dataStart > recordsEnd, 'the sample image has padding to damage');
  times(PLAN.padding, () => flip(image, rng.int(recordsEnd, dataStart), rng, 'padding after the records'));
  times(PLAN.truncate, () => {
    const n = rng.int(0, image.length);
    return { label: `truncated to ${n} bytes`, bytes: image.subarray(0, n) };
  });
  times(PLAN.extend, () => {
    const n = rng.int(1, 8193);
    return { label: `extended by ${n} bytes`, bytes: Buffer.concat([image, Buffer.from(Array.from({ length: n }, () => rng.int(0, 256)))]) };
  });
  times(PLAN.count, () => recount(image, rng));
  return out;
}

/** Runs `work` over `items`, `lanes` at a time */
async function inLanes<T>(items: T[], lanes: number, work: (item: T, lane: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: lanes }, async (_, lane) => {
    while (next < items.length) await work(items[next++], lane);
  }));
}

describe('damaged images', function () {
  this.timeout(120_000);

  it('refuses each of 200 damaged copies of a real image, and ckpt-inspect flags every one', async () => {
    const { dir, bin } = await relinkedSteps();
    const { image: file } = await checkpointRun(bin, QUIET, dir, 'run.img', 'ignore');
    const image = fs.readFileSync(file);
    const { records, problems } = readImage(bufferSource(image));
    assert.deepEqual(problems, []);
    const cases = mutations(image, records, new Prng(SEED));
    assert.equal(cases.length, 200);
    const failures: string[] = [];
    await inLanes(cases.map((c, i) => ({ ...c, i })), LANES, async (c, lane) => {
      const copy = path.join(dir, `lane${lane}.img`);
      fs.writeFileSync(copy, c.bytes);
      const r = await execa(bin, [], { cwd: dir, reject: false, timeout: 20_000, env: { CKPT_RESTART: copy }, extendEnv: false });
      const lines = r.stderr.split('\n');
      if (r.exitCode !== 2 || r.stdout !== '' || lines.length !== 1 || !lines[0].startsWith(`ckpt: cannot restart from ${copy}: `)) {
        failures.push(`case ${c.i} (${c.label}): runtime exit ${r.exitCode ?? r.signal}, stdout ${JSON.stringify(r.stdout.slice(0, 80))}, stderr ${JSON.stringify(r.stderr.slice(0, 200))}`);
      }
      if (checkImage(bufferSource(c.bytes)).problems.length === 0) failures.push(`case ${c.i} (${c.label}): the checker found no problem`);
      if (c.i % CLI_EVERY === 0) {
        const inspected = await execa(...nodeCommand(INSPECT, [copy]), { reject: false });
        if (inspected.exitCode !== 2) failures.push(`case ${c.i} (${c.label}): ckpt-inspect exit ${inspected.exitCode}`);
      }
    });
    assert.deepEqual(failures, []);
  });
});
