// The image directory's bookkeeping alone, on plain files: numbering, pruning, setting aside, and
// what a killed run leaves (test/run/run.test.ts runs it with a real program).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ImageDir } from '../../src/run/image-dir.js';
import { scratch } from '../helpers.js';

function dirWith(names: string[]): ImageDir {
  const images = new ImageDir(path.join(scratch('ckpt-run-dir-'), 'images'));
  fs.mkdirSync(images.dir);
  for (const n of names) fs.writeFileSync(path.join(images.dir, n), n);
  return images;
}

const listing = (images: ImageDir) => fs.readdirSync(images.dir).sort();

describe('ckpt-run image directory', () => {
  it('names each landed image with the next number, above the set-aside ones too', () => {
    const images = dirWith(['ckpt-000001.img', 'ckpt-000007.img.bad', 'notes.txt']);
    fs.writeFileSync(images.staging, 'new');
    assert.equal(images.collect(), path.join(images.dir, 'ckpt-000008.img'));
    assert.equal(fs.readFileSync(path.join(images.dir, 'ckpt-000008.img'), 'utf8'), 'new');
    assert.equal(images.collect(), undefined, 'nothing left to name');
  });

  it('lists the resumable images newest first, by number and not by name', () => {
    const images = dirWith(['ckpt-999998.img', 'ckpt-1000000.img', 'ckpt-999999.img', 'ckpt-1000001.img.unused']);
    assert.deepEqual(images.images().map((f) => path.basename(f)), ['ckpt-1000000.img', 'ckpt-999999.img', 'ckpt-999998.img']);
  });

  it('prunes to the newest N, leaving set-aside images and other files alone', () => {
    const images = dirWith(['ckpt-000001.img', 'ckpt-000002.img', 'ckpt-000003.img', 'ckpt-000004.img.bad', 'out.txt']);
    images.prune(2);
    assert.deepEqual(listing(images), ['ckpt-000002.img', 'ckpt-000003.img', 'ckpt-000004.img.bad', 'out.txt']);
  });

  it('prepares a directory a killed run left: the partial file removed, the landed image named', () => {
    const images = dirWith(['ckpt-000003.img', 'incoming.img', 'incoming.img.tmp']);
    images.prepare();
    assert.deepEqual(listing(images), ['ckpt-000003.img', 'ckpt-000004.img']);
  });

  it('makes a missing directory, parents included', () => {
    const images = new ImageDir(path.join(scratch('ckpt-run-dir-'), 'a', 'b'));
    images.prepare();
    assert.deepEqual(listing(images), []);
  });
});
