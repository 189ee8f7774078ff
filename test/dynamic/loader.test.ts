// Dynamically linked programs relinked with their interpreter and libraries carried in the output
// (docs/dynamic.md): they behave as the originals, ld.so and the libraries are patched and mapped
// from the relinked file, code that was not carried is watched by the SUD net, and a process with
// more than one thread comes back whole from a checkpoint.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, relinkFile, runProgram, scratch, textOf, waitFor } from '../helpers.js';
import { INSPECT } from '../image/real-image.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

interface Program { binary: string; args: string[]; input?: string }

/** A short run of each: the same bytes out from the original and the relinked copy */
const PROGRAMS: Program[] = [
  { binary: '/usr/bin/python3.11', args: ['-c', 'import json, re, os\nprint(json.dumps({"m": re.findall(r"\\d+", "a1b22c333")}), sorted(os.listdir(".")))'] },
  { binary: '/usr/bin/sqlite3', args: [], input: 'create table t(a); insert into t values (1), (2), (3); select sum(a), group_concat(a) from t;\n' },
  { binary: '/usr/bin/perl', args: ['-MPOSIX', '-e', 'printf("%s %d\\n", join(",", map { $_ * 2 } 1..5), floor(7.9))'] },
  { binary: '/usr/bin/lua5.4', args: ['-e', 'local t = {} for i = 1, 5 do t[#t + 1] = i * i end print(table.concat(t, " "), string.format("%q", "x\\n"))'] },
  { binary: '/usr/bin/gawk', args: ['BEGIN { n = split("a:b:c", p, ":"); printf "%d %s %s\\n", n, toupper(p[3]), sprintf("%05.1f", 3.14159) }'] },
];

const relinked = new Map<string, Promise<string>>();
/** Each program relinked once per run, in a directory of its own */
function relinkedCopy(binary: string, extra: string[] = []): Promise<string> {
  const key = [binary, ...extra].join(' ');
  if (!relinked.has(key)) {
    const out = path.join(scratch('ckpt-dyn-'), `${path.basename(binary)}.ckpt`);
    relinked.set(key, relinkFile(binary, out, extra).then(() => out));
  }
  return relinked.get(key)!;
}

async function cc(out: string, ...args: string[]): Promise<string> {
  await execa('gcc', ['-O2', '-Wall', '-o', out, ...args]);
  return out;
}

describe('dynamically linked programs', function () {
  this.timeout(300_000);

  for (const p of PROGRAMS) {
    it(`${path.basename(p.binary)} relinked behaves as the original`, async () => {
      const copy = await relinkedCopy(p.binary);
      const cwd = scratch();
      fs.writeFileSync(path.join(cwd, 'a-file'), 'x');
      const original = await runProgram(p.binary, p.args, { cwd, input: p.input });
      const ours = await runProgram(copy, p.args, { cwd, input: p.input });
      assert.equal(original.exitCode, 0, original.stderr);
      assert.deepEqual(ours, original);
    });
  }

  it('the report lists ld.so and every library with its sites, all patched', async () => {
    const dir = scratch();
    await relinkFile('/usr/bin/sqlite3', path.join(dir, 'sqlite3.ckpt'), ['--report', path.join(dir, 'r.json')]);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    const objects: Array<{ name: string; role: string; sites: number; patched: number; sud: number }> = report.objects;
    assert.equal(objects[0].role, 'interp');
    assert.equal(objects[0].name, '/lib64/ld-linux-x86-64.so.2');
    const libc = objects.find((o) => o.name === 'libc.so.6');
    assert.ok(libc && libc.sites > 100, 'libc.so.6 is carried with its syscall sites');
    for (const o of objects) assert.equal(o.patched + o.sud, o.sites, o.name);
    assert.ok(objects.every((o) => o.sud === 0), 'every site of ld.so and the libraries has a window');
    const needed = ['libsqlite3.so.0', 'libreadline.so.8', 'libz.so.1', 'libm.so.6', 'libtinfo.so.6'];
    for (const n of needed) assert.ok(objects.some((o) => o.name === n), `${n} is carried`);
  });

  it('ld.so and the libraries are mapped from the relinked file, not from the system', async () => {
    const copy = await relinkedCopy('/usr/bin/python3.11');
    const r = await runProgram(copy, ['-c', 'import sys; sys.stdout.write(open("/proc/self/maps").read())'], { cwd: scratch() });
    const maps = r.stdout.split('\n').filter(Boolean);
    assert.ok(!maps.some((l) => /\/(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2)$/.test(l)), 'no system library mapped');
    const fromCopy = maps.filter((l) => l.endsWith(copy));
    assert.ok(fromCopy.some((l) => / r-xp /.test(l) && parseInt(l.split(/\s+/)[2], 16) > fs.statSync('/usr/bin/python3.11').size),
      'carried code is mapped from the relinked file, past the program itself');
  });

  it('a library that was not carried, dlopened, has its raw system calls trapped by the SUD net', async () => {
    const dir = scratch();
    const lib = await cc(path.join(dir, 'libraw.so'), '-shared', '-fPIC', path.join(ROOT, 'test/fixtures/dynamic/raw.c'));
    const prog = await cc(path.join(dir, 'dlopen-raw'), path.join(ROOT, 'test/fixtures/dynamic/dlopen-raw.c'));
    const copy = path.join(dir, 'dlopen-raw.ckpt');
    await relinkFile(prog, copy);
    const stats = path.join(dir, 'stats.jsonl');
    const original = await runProgram(prog, [lib], { cwd: dir });
    const ours = await runProgram(copy, [lib], { cwd: dir, env: { CKPT_STATS: stats } });
    assert.equal(original.stdout, 'written by a raw syscall\nwrite returned 25\nraw getppid equals getppid\n');
    assert.deepEqual(ours, original);
    const line = JSON.parse(textOf(stats).trim().split('\n')[0]);
    assert.equal(line.trapped, 2, 'the raw write and getppid came through the net');
    assert.ok(line.by_number['110'] >= 2, 'both getppid calls were seen');
  });

  it('after a restart, the raw system calls of a library dlopened before the checkpoint are still trapped', async () => {
    const dir = scratch();
    const lib = await cc(path.join(dir, 'libraw.so'), '-shared', '-fPIC', path.join(ROOT, 'test/fixtures/dynamic/raw.c'));
    const prog = await cc(path.join(dir, 'dlopen-raw'), path.join(ROOT, 'test/fixtures/dynamic/dlopen-raw.c'));
    const copy = path.join(dir, 'dlopen-raw.ckpt');
    await relinkFile(prog, copy);
    const image = path.join(dir, 'img'), finish = path.join(dir, 'finish'), out = path.join(dir, 'out'), trace = path.join(dir, 'trace');
    const fd = fs.openSync(out, 'w');
    const child = spawn(copy, [lib, finish], { cwd: dir, stdio: ['ignore', fd, 'inherit'], env: { ...process.env, CKPT_IMAGE: image } });
    fs.closeSync(fd);
    const ended = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => textOf(out) === 'loaded\n', 'the library to be loaded');
    child.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image) && !fs.existsSync(`${image}.tmp`), 'the image');
    child.kill('SIGKILL');
    await ended;
    fs.writeFileSync(finish, '');
    // strace is the witness: the net raises SIGSYS for each call it traps
    const r = await execa('strace', ['-f', '-e', 'trace=none', '-o', trace, copy], { cwd: dir, reject: false, env: { CKPT_RESTART: image } });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(textOf(out), 'loaded\nwritten by a raw syscall\nwrite returned 25\nraw getppid equals getppid\n');
    const trapped = textOf(trace).split('\n').filter((l) => /SIGSYS \{si_signo=SIGSYS, si_code=SYS_USER_DISPATCH/.test(l));
    assert.equal(trapped.length, 2, `both raw calls after the restart came through the net:\n${textOf(trace)}`);
  });

  it('a process with two threads is checkpointed, killed and restarted: the second thread comes back in its pause', async () => {
    const dir = scratch();
    const prog = await cc(path.join(dir, 'threads'), '-pthread', path.join(ROOT, 'test/fixtures/dynamic/threads.c'));
    const copy = path.join(dir, 'threads.ckpt');
    await relinkFile(prog, copy);
    const image = path.join(dir, 'img'), finish = path.join(dir, 'finish'), out = path.join(dir, 'out.txt');
    const fd = fs.openSync(out, 'w');
    const child = spawn(copy, [finish], { cwd: dir, env: { CKPT_IMAGE: image }, stdio: ['ignore', fd, 'pipe'] });
    fs.closeSync(fd);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => { err += b; });
    const ended = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => textOf(out) === 'two threads\n', 'the second thread');
    child.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image), 'the image');
    child.kill('SIGKILL');
    await ended;
    assert.equal(err, '', 'the checkpoint said nothing');
    const inspected = JSON.parse((await execa(...nodeCommand(INSPECT, [image, '--json']))).stdout);
    assert.equal(inspected.threads.length, 2, 'both threads are in the image');
    fs.writeFileSync(finish, '');
    const r = await execa(copy, [], { cwd: dir, reject: false, env: { CKPT_RESTART: image }, timeout: 60_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(textOf(out), 'two threads\nfinished\n');
  });
});
