// The image decoder, encoder and checker (src/image): CRC-32C against known values and the runtime's
// bitwise definition; a real image decoded into what the program had; decode -> encode giving the
// same bytes; payloads longer than this version knows and records of unknown kinds kept; and the
// checker naming a flipped byte in every area of the file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { binaryId } from '../../src/image/binary-id.js';
import { crc32c } from '../../src/image/crc32c.js';
import { perms } from '../../src/image/json.js';
import { bufferSource, checkImage, fileSource, readImage, type Image } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import { Prng } from '../rewriter/mutate.js';
import { QUIET, checkpointRun, parseMaps, relinkedSteps } from './real-image.js';

/** runtime/lib/crc32c.c's rt_crc_soft, bit by bit: the definition the table-driven code must meet */
function bitwiseCrc(data: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of data) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0x82f63b78 & -(c & 1));
  }
  return ~c >>> 0;
}

function randomBytes(rng: Prng, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => rng.int(0, 256)));
}

describe('CRC-32C', () => {
  it('gives the check value of "123456789" and the RFC 3720 test vectors', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
  });

  it('equals the bitwise definition at every length up to 300 and every alignment', () => {
    const data = randomBytes(new Prng(1), 308);
    for (let off = 0; off < 8; off++) {
      for (let len = 0; len <= 300; len++) {
        const part = data.subarray(off, off + len);
        assert.equal(crc32c(part), bitwiseCrc(part), `offset ${off}, length ${len}`);
      }
    }
  });

  it('continues from an earlier result, so an area can be checksummed in chunks', () => {
    const data = randomBytes(new Prng(2), 5000);
    const whole = crc32c(data);
    for (const cut of [0, 1, 7, 16, 17, 4096, 4999, 5000]) assert.equal(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut))), whole, `cut at ${cut}`);
  });
});

describe('image decoder, encoder and checker', function () {
  this.timeout(60_000);
  let dir: string, bin: string, bytes: Buffer, image: Image, pid: number, maps: string;

  before(async () => {
    ({ dir, bin } = await relinkedSteps());
    const run = await checkpointRun(bin, QUIET, dir, 'run.img', 'ignore');
    ({ pid, maps } = run);
    bytes = fs.readFileSync(run.image);
    image = readImage(bufferSource(bytes));
  });

  const problemsOf = (b: Buffer) => checkImage(bufferSource(b)).problems;
  const regionAt = (addr: bigint) => image.regions.find(({ region: g }) => g.start <= addr && addr < g.end)?.region;

  it('decodes a real version-2 image without a problem', () => {
    assert.equal(image.header!.magic, C.CKPT_IMAGE_MAGIC);
    assert.equal(image.header!.version, C.CKPT_IMAGE_VERSION);
    assert.equal(image.header!.records, image.records.length);
    assert.equal(image.header!.fileSize, BigInt(bytes.length));
    assert.deepEqual(problemsOf(bytes), []);
    assert.deepEqual(image.unknown, []);
  });

  it('decodes what the program had: pid, signal, binary, directory, registers and memory', () => {
    const p = image.process!;
    assert.equal(p.pid, pid);
    assert.equal(p.tid, pid);
    assert.equal(p.ppid, process.pid);
    assert.equal(p.signal, 12);
    assert.ok(Math.abs(Number(p.time) - Date.now() / 1000) < 120, `checkpoint time ${p.time}`);
    assert.equal(image.exe, bin);
    assert.equal(image.cwd, dir);
    assert.equal(image.header!.binaryId, binaryId(fileSource(bin)));
    const rip = regionAt(image.registers!.gregs.rip), rsp = regionAt(image.registers!.gregs.rsp);
    assert.equal(rip?.path, bin, 'rip lies in the program text');
    assert.equal(rip!.prot & 4, 4);
    assert.equal(rsp?.path, '[stack]', 'rsp lies in the stack');
    assert.ok(image.registers!.xsave.length === image.registers!.xsaveSize && image.registers!.xsaveSize >= 512);
    assert.equal(image.sigactions!.length, 64);
    assert.equal(image.rlimits!.length, C.CKPT_RLIMITS_COUNT);
    assert.equal(image.itimers!.length, 3);
  });

  it('holds the regions /proc/PID/maps showed, each with the pages its extents list', () => {
    const got = image.regions.map(({ region: g }) => ({ start: g.start, end: g.end, perms: perms(g.prot, g.shared), path: g.path }));
    assert.deepEqual(got, parseMaps(maps));
    for (const { region: g, record } of image.regions) {
      const pages = g.extents.reduce((n, e) => n + e.count, 0n);
      assert.equal(record.header.dataSize, pages * 4096n, g.path);
      assert.equal(g.hasData, pages > 0n, g.path);
      if (g.hasData) assert.ok(g.role === C.CKPT_ROLE_MEMORY && (g.prot & 1) === 1, g.path);
    }
  });

  it('marks the relinked binary\'s regions as its, and stores none of the pages never written', () => {
    const own = image.regions.filter(({ region: g }) => g.path === bin).map(({ region: g }) => g);
    assert.ok(own.length >= 3, 'the binary maps headers, text and data');
    for (const g of own) assert.ok(g.fromBinary && g.fromFile, `${g.path} at 0x${g.start.toString(16)} is marked as the binary's`);
    const text = own.filter((g) => g.prot & 4);
    assert.ok(text.length > 0 && text.every((g) => !g.hasData), 'no page of the text is stored');
    assert.ok(image.regions.every(({ region: g }) => !g.fromBinary || g.path === bin));
  });

  it('reads the same from a file as from a buffer', () => {
    const src = fileSource(path.join(dir, 'run.img'));
    try {
      const fromFile = checkImage(src);
      assert.deepEqual(fromFile.problems, []);
      assert.deepEqual(fromFile.image, image);
    } finally {
      src.close();
    }
  });

  it('encodes a decoded image back to the same bytes, as found and laid out afresh', () => {
    assert.ok(encodeImage(image, bufferSource(bytes)).equals(bytes), 'decode -> encode');
    assert.ok(encodeImage(image, bufferSource(bytes), { seal: true }).equals(bytes), 'layout and checksums computed as the runtime does');
  });

  it('decodes the known prefix of a longer payload and skips a record of an unknown kind, keeping both', () => {
    const src = bufferSource(bytes);
    const proc = image.records.find((r) => r.decoded?.kind === 'process')!;
    const later = readImage(src);
    const extra = Buffer.from('fields added by a later version');
    later.records[proc.index].rest = extra;
    const unknown = { ...later.records[0], index: later.records.length, decoded: undefined, payload: Buffer.from('kind 42'), rest: Buffer.alloc(0) };
    unknown.header = { ...unknown.header, kind: 42, flags: 0 };
    later.records.push(unknown);
    const grown = encodeImage(later, src, { seal: true });
    const again = readImage(bufferSource(grown));
    assert.deepEqual(checkImage(bufferSource(grown)).problems, []);
    assert.deepEqual(again.process, image.process);
    assert.ok(again.records[proc.index].rest.equals(extra));
    assert.deepEqual(again.unknown.map((r) => [r.header.kind, r.payload.toString()]), [[42, 'kind 42']]);
    assert.deepEqual(again.regions.map((r) => r.region), image.regions.map((r) => r.region));
    assert.ok(encodeImage(again, bufferSource(grown)).equals(grown));
  });

  describe('checker', () => {
    const flipped = (at: number) => {
      const b = Buffer.from(bytes);
      b[at] ^= 0x10;
      return b;
    };
    const only = (b: Buffer, pattern: RegExp) => {
      const problems = problemsOf(b);
      assert.equal(problems.length, 1, problems.join('\n'));
      assert.match(problems[0], pattern);
    };
    const firstWith = (pred: (r: Image['records'][number]) => boolean) => image.records.find(pred)!;

    it('names a flipped byte in the file header', () => only(flipped(C.CKPT_IH_RECORDS), /file header is corrupt \(checksum/));
    it('names a flipped byte in a record header, and stops there', () => {
      const rec = image.records[3];
      only(flipped(rec.at + C.CKPT_RH_PAYLOAD_SIZE), new RegExp(`^record 3 at offset ${rec.at}: record header is corrupt .*cannot be located$`));
    });
    it('names a flipped byte in a payload', () => {
      const rec = firstWith((r) => r.decoded?.kind === 'file');
      only(flipped(rec.at + C.CKPT_RH_SIZE + 5), new RegExp(`^record ${rec.index} \\(file\\) at offset ${rec.at}: payload is corrupt`));
    });
    it('names a flipped byte in the memory contents, unless told not to read them', () => {
      const rec = firstWith((r) => r.header.dataSize > 0n);
      const bad = flipped(Number(rec.header.dataOffset + rec.header.dataSize) - 1);
      only(bad, new RegExp(`^record ${rec.index} \\(region\\) at offset ${rec.at}: memory contents are corrupt`));
      assert.deepEqual(checkImage(bufferSource(bad), { data: false }).problems, []);
    });
    it('names a truncated and an extended file', () => {
      assert.match(problemsOf(bytes.subarray(0, bytes.length - 1)).join('\n'), /header says \d+: truncated or extended\n.*data at offset \d+ run past the end of the file$/);
      assert.match(problemsOf(Buffer.concat([bytes, Buffer.alloc(1)])).join('\n'), /truncated or extended/);
      only(bytes.subarray(0, C.CKPT_IH_SIZE - 1), new RegExp(`^truncated: ${C.CKPT_IH_SIZE - 1} bytes, shorter than the ${C.CKPT_IH_SIZE}-byte file header$`));
    });
    it('names a file that is not an image, and an image of another version', () => {
      only(Buffer.alloc(4096, 1), /^not a checkpoint image \(bad magic 0x101010101010101\)$/);
      const v1 = readImage(bufferSource(bytes));
      v1.header!.version = 1;
      assert.match(problemsOf(encodeImage(v1, bufferSource(bytes), { seal: true })).join('\n'), /^format version 1 is not supported/);
    });
    it('names a region record that is inconsistent although its checksums are right', () => {
      const lastStored = (img: Image) => img.regions.filter(({ region: g }) => g.hasData).at(-1)!.region;
      const fewerThanData = readImage(bufferSource(bytes));
      fewerThanData.regions.flatMap(({ region: g }) => g.extents).find((e) => e.count > 1n)!.count -= 1n;
      assert.match(problemsOf(encodeImage(fewerThanData, bufferSource(bytes), { seal: true })).join('\n'), /region 0x[0-9a-f]+-0x[0-9a-f]+ has \d+ bytes of data for \d+ pages stored$/m);
      const outside = readImage(bufferSource(bytes));
      const top = lastStored(outside);
      top.end = top.start + 4096n * top.extents.at(-1)!.first;
      assert.match(problemsOf(encodeImage(outside, bufferSource(bytes), { seal: true })).join('\n'), /region 0x[0-9a-f]+-0x[0-9a-f]+ has an extent of \d+ pages at page \d+ out of order, empty or outside its \d+ pages$/m);
    });
    it('names a file record that shares its open file with itself, as the runtime refuses it', () => {
      const bad = readImage(bufferSource(bytes));
      const f = bad.files[1];
      f.sameAs = f.fd;
      only(encodeImage(bad, bufferSource(bytes), { seal: true }), new RegExp(`\\(file\\) at offset \\d+: fd ${f.fd} shares its open file with fd ${f.fd}, not a lower one$`));
    });
  });
});
