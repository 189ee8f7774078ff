// The image directory's bookkeeping alone, on plain files: numbering, pruning, setting aside, and
// what a killed run leaves (test/run/run.test.ts runs it with a real program).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { FILE_HEADER } from '../../src/image/format.js';
import { writeStruct } from '../../src/lib/struct.js';
import { ImageDir } from '../../src/run/image-dir.js';
import { scratch } from '../helpers.js';

function dirWith(names: string[]): ImageDir {
  const images = ImageDir.local(path.join(scratch('ckpt-run-dir-'), 'images'));
  fs.mkdirSync(images.where);
  for (const n of names) fs.writeFileSync(path.join(images.where, n), n);
  return images;
}

/** An image of the directory as ImageDir names it */
const at = (images: ImageDir, name: string) => ({ name, location: path.join(images.where, name) });

const listing = (images: ImageDir) => fs.readdirSync(images.where).sort();

/** A file whose header is an image's of one job at `generation` (the rest does not matter here) */
function writeHeader(file: string, generation: bigint): void {
  const b = Buffer.alloc(C.CKPT_IH_SIZE);
  writeStruct(b, 0, FILE_HEADER, {
    magic: C.CKPT_IMAGE_MAGIC, version: C.CKPT_IMAGE_VERSION, records: 0, fileSize: BigInt(b.length), binaryId: 0n,
    jobStart: 1_700_000_000_000_000_000n, jobNonce: 42n, generation, reserved: 0, crc: 0,
  });
  fs.writeFileSync(file, b);
}

describe('ckpt-run image directory', () => {
  it('names each landed image with the next number, above the set-aside ones too', async () => {
    const images = dirWith(['ckpt-000001.img', 'ckpt-000007.img.bad', 'notes.txt']);
    fs.writeFileSync(images.staging, 'new');
    assert.deepEqual(await images.collect(), { image: at(images, 'ckpt-000008.img'), stale: false });
    assert.equal(fs.readFileSync(path.join(images.where, 'ckpt-000008.img'), 'utf8'), 'new');
    assert.equal(await images.collect(), undefined, 'nothing left to name');
  });

  it('lists the resumable images newest first, by number and not by name', async () => {
    const images = dirWith(['ckpt-999998.img', 'ckpt-1000000.img', 'ckpt-999999.img', 'ckpt-1000001.img.unused']);
    assert.deepEqual((await images.images()).map((f) => path.basename(f.location)), ['ckpt-1000000.img', 'ckpt-999999.img', 'ckpt-999998.img']);
  });

  it('prunes to the newest N, leaving set-aside images and other files alone', async () => {
    const images = dirWith(['ckpt-000001.img', 'ckpt-000002.img', 'ckpt-000003.img', 'ckpt-000004.img.bad', 'out.txt']);
    await images.prune(2);
    assert.deepEqual(listing(images), ['ckpt-000002.img', 'ckpt-000003.img', 'ckpt-000004.img.bad', 'out.txt']);
  });

  it('prepares a directory a killed run left: the partial file removed, the landed image named', async () => {
    const tmp = `incoming.img.${'0'.repeat(15)}1-${'0'.repeat(15)}2-${'0'.repeat(15)}3.tmp`;
    const images = dirWith(['ckpt-000003.img', 'incoming.img', tmp, 'incoming.img.notes']);
    await images.prepare();
    assert.deepEqual(listing(images), ['ckpt-000003.img', 'ckpt-000004.img', 'incoming.img.notes']);
  });

  it('sets aside an image that lands after a newer state of its job was named (a killed run\'s late writer), and names a newer one', async () => {
    const images = dirWith([]);
    const restart = 1n << BigInt(C.CKPT_GEN_RESTART_SHIFT);
    writeHeader(path.join(images.where, 'ckpt-000001.img'), restart | 2n);
    writeHeader(images.staging, 2n);
    assert.deepEqual(await images.collect(), { image: at(images, 'ckpt-000002.img.stale'), stale: true });
    assert.deepEqual(await images.images(), [at(images, 'ckpt-000001.img')], 'the stale image is not resumed from');
    writeHeader(images.staging, restart | 3n);
    assert.deepEqual(await images.collect(), { image: at(images, 'ckpt-000003.img'), stale: false });
  });

  it('makes a missing directory, parents included', async () => {
    const images = ImageDir.local(path.join(scratch('ckpt-run-dir-'), 'a', 'b'));
    await images.prepare();
    assert.deepEqual(listing(images), []);
  });
});
