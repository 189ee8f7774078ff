// ckpt-inspect on a real image: the summary and the JSON show what the program had (its pid, its
// memory as /proc/PID/maps showed it, an output file at the offset the test left it, a socket and a
// FIFO marked not restorable), exit 0 for a sound image, 2 with the problem listed for a corrupt
// copy, and 1 when the file cannot be read.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import * as C from '../../src/contract.generated.js';
import { INSPECT, QUIET, checkpointRun, parseMaps, relinkedSteps, type Checkpointed, type MapLine } from '../image/real-image.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const OFFSET = 12345;

/** This process's limit, as /proc/self/limits shows it ("unlimited" for infinity) */
function ownLimit(name: string): string[] {
  const line = fs.readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith(name))!;
  return line.slice(name.length).trim().split(/\s+/).slice(0, 2).map((v) => (v === 'unlimited' ? '18446744073709551615' : v));
}

describe('ckpt-inspect', function () {
  this.timeout(60_000);
  let dir: string, bin: string, run: Checkpointed, maps: MapLine[];

  before(async () => {
    ({ dir, bin } = await relinkedSteps());
    // stdout: a file the test has written OFFSET bytes to, so the program's descriptor sits there;
    // stderr: a socket (Node's 'pipe'); descriptor 3: a FIFO
    const out = fs.openSync(path.join(dir, 'out.txt'), 'w+');
    fs.writeSync(out, Buffer.alloc(OFFSET, 'x'));
    await execa('mkfifo', [path.join(dir, 'fifo')]);
    const fifo = fs.openSync(path.join(dir, 'fifo'), 'r+');
    try {
      run = await checkpointRun(bin, QUIET, dir, 'run.img', ['ignore', out, 'pipe', fifo]);
    } finally {
      fs.closeSync(out);
      fs.closeSync(fifo);
    }
    maps = parseMaps(run.maps);
  });

  const inspect = (args: string[]) => execa(...nodeCommand(INSPECT, args), { cwd: dir, reject: false });

  it('summarizes the process, its registers, regions and files, and says every checksum is right', async () => {
    const r = await inspect(['run.img']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = r.stdout;
    assert.match(out, new RegExp(`^binary +${bin}$`, 'm'));
    assert.match(out, new RegExp(`^process +pid ${run.pid}, tid ${run.pid}, ppid ${process.pid}; checkpointed by signal 12 \\(SIGUSR2\\)`, 'm'));
    assert.match(out, new RegExp(`^regions +${maps.length} regions, `, 'm'));
    for (const m of maps) assert.match(out, new RegExp(`^ +0x${m.start.toString(16)} +0x${m.end.toString(16)} +\\S+ \\S+ +${m.perms} `, 'm'), `region ${m.start.toString(16)}`);
    const rip = BigInt(/^registers +rip (0x[0-9a-f]+), rsp (0x[0-9a-f]+)/m.exec(out)![1]);
    assert.ok(maps.some((m) => m.path === bin && m.perms.includes('x') && m.start <= rip && rip < m.end), `rip ${rip.toString(16)} in the program text`);
    assert.match(out, new RegExp(`^ +1 +regular +${OFFSET} +O_RDWR.* +${dir}/out\\.txt$`, 'm'));
    assert.match(out, /^ +2 +socket +0 +O_RDWR +socket:\[\d+\] +\(not restorable\)$/m);
    assert.match(out, new RegExp(`^ +3 +pipe +0 +O_RDWR.* +${dir}/fifo +\\(not restorable\\)$`, 'm'));
    assert.match(out, new RegExp(`^cwd +${dir}$`, 'm'));
    assert.match(out, /^itimers +none armed$/m);
    assert.match(out, /^checks +all checksums ok$/m);
  });

  it('prints the same facts as JSON', async () => {
    const r = await inspect(['run.img', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.ok, true);
    assert.equal(j.dataChecked, true);
    assert.deepEqual(j.problems, []);
    assert.equal(j.header.version, C.CKPT_IMAGE_VERSION);
    assert.equal(j.process.pid, run.pid);
    assert.equal(j.process.signal, 12);
    assert.equal(j.exe, bin);
    assert.equal(j.cwd, dir);
    assert.deepEqual(j.regions.map((g: Record<string, string>) => ({ start: BigInt(g.start), end: BigInt(g.end), perms: g.perms, path: g.path })), maps);
    assert.equal(BigInt(j.totals.mapped), maps.reduce((n, m) => n + m.end - m.start, 0n));
    assert.equal(BigInt(j.totals.saved), j.regions.reduce((n: bigint, g: Record<string, string>) => n + BigInt(g.dataSize), 0n));
    const rip = BigInt(j.registers.gregs.rip);
    assert.ok(maps.some((m) => m.path === bin && m.start <= rip && rip < m.end));
    const files = j.files.map((f: Record<string, unknown>) => [f.fd, f.typeName, f.restorable, f.offset, f.path]);
    assert.deepEqual(files.slice(0, 2), [[0, 'char device', true, '0', '/dev/null'], [1, 'regular', true, String(OFFSET), path.join(dir, 'out.txt')]]);
    assert.deepEqual(files[2].slice(0, 3), [2, 'socket', false]);
    assert.deepEqual(files[3], [3, 'pipe', false, '0', path.join(dir, 'fifo')]);
    assert.equal(j.files[1].size, String(OFFSET));
    assert.equal(j.files[1].flags & 3, 2, 'O_RDWR');
    assert.equal(j.files[1].sameAs, null);
    const nofile = j.rlimits.find((l: Record<string, string>) => l.resource === 'NOFILE');
    assert.deepEqual([nofile.soft, nofile.hard], ownLimit('Max open files'));
    assert.notEqual(j.sigactions[11].handler, '0', 'the runtime handles SIGUSR2');
  });

  describe('a corrupt copy', () => {
    let bad: string;
    before(() => {
      const bytes = fs.readFileSync(run.image);
      bytes[bytes.length - 100] ^= 1;
      bad = path.join(dir, 'bad.img');
      fs.writeFileSync(bad, bytes);
    });

    it('exits 2 and lists the problem', async () => {
      const r = await inspect([bad]);
      assert.equal(r.exitCode, 2);
      assert.match(r.stdout, /^checks +1 problem:\n +record \d+ \(region\) at offset \d+: memory contents are corrupt \(checksum 0x[0-9a-f]+, computed 0x[0-9a-f]+\)$/m);
      const j = JSON.parse((await inspect([bad, '--json'])).stdout);
      assert.equal(j.ok, false);
      assert.equal(j.problems.length, 1);
    });

    it('passes with --no-data-check, which reads no memory contents', async () => {
      const r = await inspect([bad, '--no-data-check']);
      assert.equal(r.exitCode, 0);
      assert.match(r.stdout, /^checks +headers and records ok \(memory contents not checked\)$/m);
    });
  });

  it('exits 2 for a truncated copy and a file that is not an image', async () => {
    fs.writeFileSync(path.join(dir, 'short.img'), fs.readFileSync(run.image).subarray(0, 5000));
    fs.writeFileSync(path.join(dir, 'text.img'), 'hello\n'.repeat(100));
    const short = await inspect(['short.img']);
    assert.equal(short.exitCode, 2);
    assert.match(short.stdout, /truncated or extended/);
    const text = await inspect(['text.img']);
    assert.equal(text.exitCode, 2);
    assert.match(text.stdout, /^checks +1 problem:\n +not a checkpoint image \(bad magic 0x[0-9a-f]+\)$/m);
  });

  it('exits 1 with one line for a missing file, a directory, and a usage error', async () => {
    for (const [args, pattern] of [
      [['missing.img'], /^ckpt-inspect: cannot read missing\.img: no such file$/],
      [['.'], /^ckpt-inspect: cannot read \.: not a regular file$/],
      [[], /^ckpt-inspect: usage: /],
      [['run.img', '--bogus'], /^ckpt-inspect: unknown option --bogus; usage: /],
    ] as const) {
      const r = await inspect([...args]);
      assert.equal(r.exitCode, 1, args.join(' '));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.split('\n').length, 1);
    }
  });
});
