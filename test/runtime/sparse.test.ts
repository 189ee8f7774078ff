// Sparse images (docs/image-format.md, "Which pages are stored"): the zdtm sample mem_sparse maps
// 256 MiB anonymous with 10 pages written and a 64 MiB file MAP_PRIVATE with 3 pages written, and
// is checkpointed once while it waits in its read. The image stores those pages and no other of
// the two mappings, none of the relinked binary's pages that were never written, and is no larger
// than the process's private written memory allows; a restart gives back the writes, zeros and
// the file's contents, from the binary wherever it has been moved to; an image whose file is gone
// or changed, or whose extents disagree with its data, is refused before anything changes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { bufferSource, readImage } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import { SAMPLES_DIR, relinkFile, scratch, waitFor } from '../helpers.js';
import { INSPECT, exited } from '../image/real-image.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const PAGE = 4096n;
const MiB = 1n << 20n;

interface JsonRegion { start: string; end: string; size: string; perms: string; path: string; source: string; stored: string }

/** Whether the process is blocked in read(0, ...): /proc/PID/syscall starts "0 0x0" */
function inReadOfStdin(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/syscall`, 'utf8').startsWith('0 0x0 ');
  } catch {
    return false;
  }
}

function privateDirty(pid: number): bigint {
  const kb = /^Private_Dirty:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1];
  return BigInt(kb) * 1024n;
}

/** Runs the relinked sample until READY, checkpoints it, and kills it once it is back in its read */
async function checkpointSample(bin: string, dir: string, image: string): Promise<{ dirty: bigint }> {
  const child = spawn(bin, [], { cwd: dir, stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image } });
  const done = exited(child);
  let out = '';
  child.stdout!.on('data', (d) => { out += d; });
  await waitFor(() => (out.includes('READY\n') && inReadOfStdin(child.pid!)) || child.exitCode !== null, 'the sample to be READY in its read');
  assert.equal(out, 'READY\n');
  const dirty = privateDirty(child.pid!);
  process.kill(child.pid!, 'SIGUSR2');
  await waitFor(() => fs.existsSync(image) && inReadOfStdin(child.pid!), 'the image, and the sample back in its read');
  child.kill('SIGKILL');
  await done;
  return { dirty };
}

async function restart(bin: string, dir: string, image: string) {
  return execa(bin, [], { cwd: dir, input: 'go\n', reject: false, timeout: 60_000, extendEnv: false, env: { PATH: '/usr/bin:/bin', CKPT_RESTART: image } });
}

describe('sparse images', function () {
  this.timeout(120_000);
  let dir: string, bin: string, image: string, dirty: bigint, regions: JsonRegion[];
  const regionOf = (p: string) => regions.find((r) => r.path === p);
  const anonymous256 = () => regions.find((r) => r.path === '' && BigInt(r.size) === 256n * MiB);

  before(async () => {
    dir = scratch('ckpt-sparse-');
    bin = path.join(dir, 'mem_sparse.ckpt');
    image = path.join(dir, 'sparse.img');
    await relinkFile(path.join(SAMPLES_DIR, 'zdtm/glibc/mem_sparse'), bin);
    ({ dirty } = await checkpointSample(bin, dir, image));
    const inspected = await execa(...nodeCommand(INSPECT, [image, '--json']));
    regions = JSON.parse(inspected.stdout).regions;
  });

  it('stores the 10 pages written of a 256 MiB anonymous mapping, and only them', () => {
    const r = anonymous256();
    assert.ok(r, 'the 256 MiB mapping is in the image');
    assert.equal(r.source, 'anonymous');
    assert.equal(BigInt(r.stored), 10n * PAGE);
  });

  it('stores the 3 pages written of a 64 MiB private file mapping, not the file\'s own pages it read', () => {
    const r = regionOf(path.join(dir, 'sparse.dat'));
    assert.ok(r, 'the file mapping is in the image');
    assert.equal(r.source, 'file');
    assert.equal(BigInt(r.size), 64n * MiB);
    assert.equal(BigInt(r.stored), 3n * PAGE);
  });

  it('marks the relinked binary\'s regions as its, storing no page of its text', () => {
    const own = regions.filter((r) => r.path === bin);
    assert.ok(own.length >= 3);
    assert.deepEqual(own.filter((r) => r.source !== 'relinked binary'), []);
    const text = own.filter((r) => r.perms.includes('x'));
    assert.ok(text.length > 0);
    assert.deepEqual(text.filter((r) => r.stored !== '0'), []);
  });

  it('is under 2 MiB plus the executable\'s written pages, and within 5% + 1 MiB of the private written memory', () => {
    const size = BigInt(fs.statSync(image).size);
    const executable = regions.filter((r) => r.path === bin).reduce((n, r) => n + BigInt(r.stored), 0n);
    assert.ok(size < 2n * MiB + executable, `the image is ${size} bytes`);
    assert.ok(size <= (dirty * 105n) / 100n + MiB, `the image is ${size} bytes, Private_Dirty was ${dirty}`);
  });

  it('refuses, before it changes anything, an image whose file mapping\'s file is gone', async () => {
    const data = path.join(dir, 'sparse.dat'), away = path.join(dir, 'sparse.dat.away');
    fs.renameSync(data, away);
    try {
      const r = await restart(bin, dir, image);
      assert.equal(r.exitCode, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ckpt: cannot restart from ${image}: a file whose pages a memory region holds is gone or shorter: ${data}`);
    } finally {
      fs.renameSync(away, data);
    }
  });

  it('refuses an image whose file mapping\'s file changed since the checkpoint', async () => {
    const data = path.join(dir, 'sparse.dat'), away = path.join(dir, 'sparse.dat.away');
    fs.renameSync(data, away);
    fs.copyFileSync(away, data);	// the same bytes, written again: another mtime
    try {
      const r = await restart(bin, dir, image);
      assert.equal(r.exitCode, 2);
      assert.equal(r.stderr, `ckpt: cannot restart from ${image}: a file whose pages a memory region holds changed since the checkpoint: ${data}`);
    } finally {
      fs.renameSync(away, data);
    }
  });

  it('refuses an image whose extents list more pages than its data holds, checksums made right', async () => {
    const bytes = fs.readFileSync(image);
    const bad = readImage(bufferSource(bytes));
    const stored = bad.regions.find(({ region: g }) => g.extents.length > 0)!.region;
    stored.extents.push({ first: (stored.end - stored.start) / PAGE - 1n, count: 1n });
    stored.extents.sort((a, b) => (a.first < b.first ? -1 : 1));
    const copy = path.join(dir, 'bad-extents.img');
    fs.writeFileSync(copy, encodeImage(bad, bufferSource(bytes), { seal: true }));
    const r = await restart(bin, dir, copy);
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr, `ckpt: cannot restart from ${copy}: a memory region record is inconsistent`);
  });

  it('restarts with the writes, the zeros and the file\'s contents back, from the binary moved elsewhere', async () => {
    const moved = path.join(scratch('ckpt-sparse-moved-'), 'elsewhere.ckpt');
    fs.copyFileSync(bin, moved);
    fs.chmodSync(moved, 0o755);
    fs.rmSync(bin);
    const r = await restart(moved, dir, image);
    assert.equal(r.stderr, '');
    assert.equal(r.stdout, 'PASS');
    assert.equal(r.exitCode, 0);
  });

  describe('pages that hold only zeros', () => {
    // zdtm/mem_zero_pages: 1 GiB anonymous, 10% written with a pattern, 25% with zeros (with
    // transparent huge pages, every page of it may exist); a private file mapping with a page zeroed
    let zdir: string, zbin: string, zimage: string, zregions: JsonRegion[];
    before(async () => {
      zdir = scratch('ckpt-zeros-');
      zbin = path.join(zdir, 'mem_zero_pages.ckpt');
      zimage = path.join(zdir, 'zeros.img');
      await relinkFile(path.join(SAMPLES_DIR, 'zdtm/glibc/mem_zero_pages'), zbin);
      await checkpointSample(zbin, zdir, zimage);
      zregions = JSON.parse((await execa(...nodeCommand(INSPECT, [zimage, '--json']))).stdout).regions;
    });

    it('stores the pattern pages of the anonymous GiB and none of its zero pages: the image is under 12% of 1 GiB', () => {
      const r = zregions.find((x) => x.path === '' && BigInt(x.size) === 1024n * MiB);
      assert.ok(r, 'the 1 GiB mapping is in the image');
      const patternPages = BigInt(Array.from({ length: 262144 }, (_, p) => p % 20).filter((k) => k === 0 || k === 10).length);
      assert.equal(BigInt(r.stored), patternPages * PAGE, 'two pages in every twenty');
      assert.ok(BigInt(fs.statSync(zimage).size) < (1024n * MiB * 12n) / 100n, `image of ${fs.statSync(zimage).size} bytes`);
    });

    it('stores the zeroed page of the file mapping, whose hole would be the file\'s', () => {
      const r = zregions.find((x) => x.path === path.join(zdir, 'zero-pages.dat'));
      assert.ok(r, 'the file mapping is in the image');
      assert.equal(BigInt(r.stored), PAGE);
    });

    it('restarts with every byte right', async () => {
      const r = await restart(zbin, zdir, zimage);
      assert.equal(r.stdout, 'PASS');
      assert.equal(r.exitCode, 0);
    });
  });
});
