// Incremental checkpoints (docs/image-format.md, "Incremental images"). The sample incr_memory maps
// 1 GiB and writes 1% of its pages each round, from a pool of 8,192 pages spread over the whole
// mapping (so that the tracking covers 1 GiB while a restart reads tens of MiB), with munmap, mmap
// again, mremap, madvise(DONTNEED), brk up and down, mprotect and a fork between some rounds. It is
// checkpointed after each of 51 rounds: one full image and 50 incremental ones, each the size of
// what the round wrote. A restart from every link finds every byte the rounds left (the sample
// replays its schedule to know what that is); a damaged link and a missing one are refused with a
// message naming them, before anything changes; ckpt-inspect lists the chain. A restarted process
// goes on with a full image, which removes the old links; a chain stops at CKPT_CHAIN_MAX links.
// Incremental images are opt-in (CKPT_INCREMENTAL=1): without it, and to a pipe, images are full.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { fileSource, readImage, type Image } from '../../src/image/read.js';
import { nodeCommand } from '../../src/cli/node-flags.js';
import { SAMPLES_DIR, fixture, relinkFile, runProgram, scratch, waitFor } from '../helpers.js';
import { INSPECT, exited } from '../image/real-image.js';

const MiB = 1 << 20;
const ROUNDS = 50;
const PAGES_PER_ROUND = (1024 * 256) / 100 | 0;	// 1% of 1 GiB, as the sample counts it
const RESTART_GEN = 1n << 32n;	// the generation's restart count (CKPT_GEN_RESTART_SHIFT)

const linkName = (image: string, generation: bigint) => `${image}.g${generation.toString(16).padStart(16, '0')}`;

function headerOf(file: string): Image {
  const src = fileSource(file);
  try {
    return readImage(src);
  } finally {
    src.close();
  }
}

/** The sample, driven line by line through its stdin */
class Driven {
  out = '';
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (d) => { this.out += d; });
    this.done = exited(child);
  }

  static start(bin: string, dir: string, env: Record<string, string>, args: string[] = []): Driven {
    return new Driven(spawn(bin, args, { cwd: dir, stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin', ...env } }));
  }

  async ready(round: number): Promise<void> {
    await waitFor(() => this.out.includes(`READY ${round}\n`) || this.child.exitCode !== null, `READY ${round}`);
    assert.ok(this.out.endsWith(`READY ${round}\n`), `the sample said ${JSON.stringify(this.out.slice(-200))}`);
  }

  async round(round: number): Promise<void> {
    this.child.stdin!.write('r\n');
    await this.ready(round);
  }

  /** Checkpoints it and waits for the image's chain link to land */
  async checkpoint(link: string): Promise<void> {
    process.kill(this.child.pid!, 'SIGUSR2');
    await waitFor(() => fs.existsSync(link), `the image ${link}`);
  }

  async kill(): Promise<void> {
    this.child.kill('SIGKILL');
    await this.done;
  }
}

async function restartCheck(bin: string, dir: string, image: string) {
  return runProgram(bin, [], { cwd: dir, env: { CKPT_RESTART: image }, input: 'check\n', timeout: 120_000 });
}

describe('incremental checkpoints', function () {
  this.timeout(600_000);
  let dir: string, bin: string, image: string;
  const links: string[] = [];	// links[r]: the image after round r (generation r + 1)
  let copy: string;	// the first six links, copied before the restart test replaces the chain
  const copied = (r: number) => path.join(copy, path.basename(links[r]));

  before(async () => {
    dir = scratch('ckpt-incr-');
    bin = path.join(dir, 'incr_memory.ckpt');
    image = path.join(dir, 'img');
    await relinkFile(path.join(SAMPLES_DIR, 'incr/incr_memory'), bin);
    const p = Driven.start(bin, dir, { CKPT_IMAGE: image, CKPT_INCREMENTAL: '1', CKPT_CHAIN_MAX: '64', CKPT_CHAIN_PERCENT: '0' }, ['1024']);
    try {
      await p.ready(0);
      for (let r = 0; r <= ROUNDS; r++) {
        if (r) await p.round(r);
        links[r] = linkName(image, BigInt(r + 1));
        await p.checkpoint(links[r]);
      }
    } finally {
      await p.kill();
    }
    copy = scratch('ckpt-incr-copy-');
    for (let r = 0; r <= 5; r++) fs.copyFileSync(links[r], copied(r));
  });

  it('makes one full image, then 50 incremental ones, each naming the one before', () => {
    assert.equal(headerOf(links[0]).parent, undefined);
    for (let r = 1; r <= ROUNDS; r++) {
      const im = headerOf(links[r]);
      assert.ok(im.parent, `the image after round ${r} names a parent`);
      assert.equal(im.parent.name, path.basename(links[r - 1]));
      assert.equal(im.parent.generation, BigInt(r));
      assert.equal(im.parent.depth, r);
      assert.equal(im.parent.headerCrc, headerOf(links[r - 1]).header!.crc);
    }
    assert.equal(fs.statSync(image).ino, fs.statSync(links[ROUNDS]).ino, 'the image in place is the newest link');
  });

  it('stores in each incremental image what its round wrote, about 1% of the memory', () => {
    const full = fs.statSync(links[0]).size;
    const written = PAGES_PER_ROUND * 4096;
    assert.ok(full > 32 * MiB, `the full image is ${full} bytes: the pool`);
    for (let r = 1; r <= ROUNDS; r++) {
      const size = fs.statSync(links[r]).size;
      // rounds 9 (a new mapping), 12 (a moved one: stored whole) and 18 (the heap grows by 1 MiB) store more
      const extra = r === 12 ? 9 * MiB : r === 9 || r === 18 ? 2 * MiB : MiB;
      assert.ok(size >= written * 0.9, `round ${r}: ${size} bytes, less than the ${written} it wrote`);
      assert.ok(size < written + extra, `round ${r}: ${size} bytes for ${written} written`);
    }
  });

  it('restarts from every link with every byte as the rounds left it', async () => {
    const failures: string[] = [];
    const next = { r: 0 };
    const worker = async () => {
      for (let r = next.r++; r <= ROUNDS; r = next.r++) {
        const out = await restartCheck(bin, dir, links[r]);
        if (out.exitCode !== 0 || out.stdout !== `PASS ${r}\n`) failures.push(`link ${r}: exit ${out.exitCode}, ${out.stdout}${out.stderr}`);
      }
    };
    await Promise.all([worker(), worker()]);
    assert.deepEqual(failures, []);
  });

  it('lists the chain in ckpt-inspect', async () => {
    const r = await execa(...nodeCommand(INSPECT, [links[3], '--json']), { reject: false });
    assert.equal(r.exitCode, 0, r.stdout);
    const json = JSON.parse(r.stdout);
    assert.deepEqual(json.chain.map((l: { file: string; incremental: boolean; problem: null }) => [l.file, l.incremental, l.problem]),
      [[links[2], true, null], [links[1], true, null], [links[0], false, null]]);
    assert.equal(json.parent.name, path.basename(links[2]));
  });

  describe('a chain with a link damaged or missing', () => {
    it('refuses a damaged link by name, before the restart changes anything', async () => {
      const fd = fs.openSync(copied(3), 'r+');
      const size = fs.fstatSync(fd).size;
      fs.writeSync(fd, Buffer.from([0x55]), 0, 1, size - 100);	// inside the memory contents
      fs.closeSync(fd);
      const r = await restartCheck(bin, copy, copied(5));
      assert.equal(r.exitCode, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ckpt: cannot restart from ${copied(5)}: chain link ${copied(3)}: memory contents are corrupt (checksum)\n`);
      const inspected = await execa(...nodeCommand(INSPECT, [copied(5)]), { reject: false });
      assert.equal(inspected.exitCode, 2);
      assert.match(inspected.stdout, new RegExp(`chain link ${copied(3)}: damaged: .*checksum`));
      // the links above it still restart
      assert.equal((await restartCheck(bin, copy, copied(2))).stdout, 'PASS 2\n');
    });

    it('refuses a missing link by name', async () => {
      fs.rmSync(copied(1));
      const r = await restartCheck(bin, copy, copied(2));
      assert.equal(r.exitCode, 2);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr, `ckpt: cannot restart from ${copied(2)}: chain link ${copied(1)}: cannot open it\n`);
      const inspected = await execa(...nodeCommand(INSPECT, [copied(2), '--json']), { reject: false });
      assert.equal(inspected.exitCode, 2);
      assert.deepEqual(JSON.parse(inspected.stdout).chain.map((l: { problem: string }) => l.problem), ['missing']);
    });
  });

  describe('after a restart', () => {
    it('goes on after a restart with a full image, which removes the old links, then incremental ones', async () => {
      const p = new Driven(spawn(bin, [], { cwd: dir, stdio: ['pipe', 'pipe', 'ignore'], env: { PATH: '/usr/bin:/bin', CKPT_RESTART: links[26] } }));
      try {
        await p.round(27);
        const first = linkName(image, RESTART_GEN | 28n), second = linkName(image, RESTART_GEN | 29n);
        await p.checkpoint(first);
        assert.equal(headerOf(first).parent, undefined, 'the first image after a restart is full');
        const names = () => fs.readdirSync(dir).filter((n) => n.startsWith('img')).sort().join(' ');
        await waitFor(() => names() === `img ${path.basename(first)}`, 'the old links removed once the full image is in place');
        await p.round(28);
        await p.checkpoint(second);
        assert.equal(headerOf(second).parent?.name, path.basename(first));
      } finally {
        await p.kill();
      }
      assert.equal((await restartCheck(bin, dir, image)).stdout, 'PASS 28\n');
    });
  });
});

describe('incremental checkpoints: when images are full', function () {
  this.timeout(300_000);
  let dir: string, bin: string;
  before(async () => {
    dir = scratch('ckpt-incr-bound-');
    bin = path.join(dir, 'incr_memory.ckpt');
    await relinkFile(path.join(SAMPLES_DIR, 'incr/incr_memory'), bin);
  });

  /** Rounds 0..rounds of a 64 MiB run, checkpointed after each; the images' parents' generations (0: full) */
  async function chainOf(env: Record<string, string>, rounds: number, landed: (r: number) => string): Promise<void> {
    const p = Driven.start(bin, dir, env, ['64']);
    try {
      await p.ready(0);
      for (let r = 0; r <= rounds; r++) {
        if (r) await p.round(r);
        await p.checkpoint(landed(r));
      }
    } finally {
      await p.kill();
    }
  }

  it('makes a full image after CKPT_CHAIN_MAX incremental ones, and removes the links it no longer needs', async () => {
    const image = path.join(dir, 'bound');
    const parents: (bigint | undefined)[] = [];
    await chainOf({ CKPT_IMAGE: image, CKPT_INCREMENTAL: '1', CKPT_CHAIN_MAX: '3', CKPT_CHAIN_PERCENT: '0' }, 5, (r) => linkName(image, BigInt(r + 1)));
    for (let g = 5n; g <= 6n; g++) parents.push(headerOf(linkName(image, g)).parent?.generation);
    assert.deepEqual(parents, [undefined, 5n], 'generation 5 is full (after 1 full and 3 incremental), 6 builds on it');
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('bound')).sort(),
      ['bound', path.basename(linkName(image, 5n)), path.basename(linkName(image, 6n))]);
  });

  it('makes full images only without CKPT_INCREMENTAL=1 (the default), and keeps no links', async () => {
    const image = path.join(dir, 'off');
    let before = 0;
    const p = Driven.start(bin, dir, { CKPT_IMAGE: image }, ['64']);
    try {
      await p.ready(0);
      for (let r = 0; r <= 2; r++) {
        if (r) await p.round(r);
        process.kill(p.child.pid!, 'SIGUSR2');
        await waitFor(() => fs.existsSync(image) && headerOf(image).header!.generation > BigInt(before), 'the image');
        before = r + 1;
        assert.equal(headerOf(image).parent, undefined);
      }
    } finally {
      await p.kill();
    }
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('off')), ['off']);
  });

  it('makes full images, saying so once, where the kernel cannot track writes', async () => {
    const image = path.join(dir, 'untracked');
    const wrapper = await fixture('no-userfaultfd');
    const child = spawn(wrapper, [bin, '64'], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: image, CKPT_INCREMENTAL: '1' } });
    const p = new Driven(child);
    let err = '';
    child.stderr!.on('data', (d) => { err += d; });
    try {
      await p.ready(0);
      for (let r = 0; r <= 2; r++) {
        if (r) await p.round(r);
        process.kill(child.pid!, 'SIGUSR2');
        await waitFor(() => fs.existsSync(image) && headerOf(image).header!.generation === BigInt(r + 1), `image ${r + 1}`);
        assert.equal(headerOf(image).parent, undefined);
      }
    } finally {
      await p.kill();
    }
    // (the filter itself is warned about at each checkpoint: a restart cannot install it again)
    assert.deepEqual(err.split('\n').filter((l) => !l.includes('seccomp filter')),
      ['ckpt: incremental checkpoints unavailable (userfaultfd refused): every image is full', '']);
    assert.deepEqual(fs.readdirSync(dir).filter((n) => n.startsWith('untracked')), ['untracked']);
  });

  it('gives a pipe destination full images', async () => {
    const piped = scratch('ckpt-incr-piped-');
    const whole = () => fs.readdirSync(piped).map((n) => path.join(piped, n))
      .filter((f) => { const h = headerOf(f).header; return h && h.fileSize === BigInt(fs.statSync(f).size); });
    const p = Driven.start(bin, dir, { CKPT_IMAGE: `|cat > $(mktemp -p ${piped})`, CKPT_INCREMENTAL: '1' }, ['64']);
    try {
      await p.ready(0);
      for (let r = 0; r <= 2; r++) {
        if (r) await p.round(r);
        process.kill(p.child.pid!, 'SIGUSR2');
        await waitFor(() => whole().length === r + 1, `image ${r + 1} through the pipe`);
      }
    } finally {
      await p.kill();
    }
    assert.deepEqual(whole().map((f) => headerOf(f).parent), [undefined, undefined, undefined]);
  });
});
