// The CLI on input it cannot take: each case must end in its exit code (1 for the input, 2 for
// usage) with one stderr line naming the fault, leave no output or temporary file behind, and
// leave the input as it was.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PROJECT_ROOT } from '../../src/paths.js';
import { offsetOf } from '../../src/lib/struct.js';
import { EI_CLASS, EI_DATA, ELFCLASS32, ELFDATA2MSB, EM_AARCH64 } from '../../src/rewriter/elf/constants.js';
import { EHDR } from '../../src/rewriter/elf/structs.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const CLI = path.join(PROJECT_ROOT, 'dist/src/cli/relink.js');
const HELLO = path.join(PROJECT_ROOT, 'build/samples/musl/hello');
const HELLO_C = path.join(PROJECT_ROOT, 'samples/hello.c');

interface CliResult { exitCode?: number; signal?: string; stdout: string; stderr: string }

async function relinkCli(args: string[]): Promise<CliResult> {
  const r = await execa(...nodeCommand(CLI, args), { reject: false, timeout: 60_000, stripFinalNewline: false });
  return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

const digest = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const isFile = (file: string) => fs.statSync(file, { throwIfNoEntry: false })?.isFile() ?? false;

/** Exit code, then the single 'ckpt-relink: ' line of stderr matching `message` */
function assertRefused(r: CliResult, exit: 1 | 2, message: RegExp): void {
  assert.equal(r.exitCode, exit, `exit ${r.exitCode} signal ${r.signal}, stderr ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, /^ckpt-relink: [^\n]+\n$/, 'stderr is not exactly one ckpt-relink line');
  assert.doesNotMatch(r.stderr, /internal error/);
  assert.match(r.stderr, message);
  assert.equal(r.stdout, '');
}

function temporaryFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.includes('.ckpt-tmp')) : [];
}

describe('ckpt-relink on input it cannot take', function () {
  this.timeout(60_000);
  let work: string;
  let outputs = 0;

  /** A fresh, empty directory and an output path in it, so leftovers can be counted */
  const freshOutput = () => {
    const dir = path.join(work, `out-${outputs++}`);
    fs.mkdirSync(dir);
    return path.join(dir, 'relinked');
  };

  /** A copy of the musl hello with `edit` applied */
  const helloWith = (name: string, edit: (b: Buffer) => void) => {
    const bytes = fs.readFileSync(HELLO);
    edit(bytes);
    const file = path.join(work, name);
    fs.writeFileSync(file, bytes);
    return file;
  };

  const gcc = async (name: string, args: string[]) => {
    const file = path.join(work, name);
    await execa('gcc', [...args, '-o', file]);
    return file;
  };

  /** Relinks `input` to a fresh output and checks the refusal, the absent output and the input */
  async function expectRefusal(input: string, exit: 1 | 2, message: RegExp, output = freshOutput()): Promise<CliResult> {
    const before = isFile(input) ? digest(input) : undefined;
    const r = await relinkCli([input, '-o', output]);
    assertRefused(r, exit, message);
    if (path.resolve(output) !== path.resolve(input)) assert.equal(fs.existsSync(output), false, 'an output was left after a refusal');
    assert.deepEqual(temporaryFiles(path.dirname(output)), []);
    if (before !== undefined) assert.equal(digest(input), before, 'the input changed');
    return r;
  }

  before(function () {
    assert.ok(isFile(HELLO), `${HELLO} missing: run \`make -C samples\``);
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-bad-input-'));
  });

  after(function () {
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  describe('files that are not an x86-64 executable', function () {
    it('refuses a text file as not an ELF file', async function () {
      const file = path.join(work, 'script.sh');
      fs.writeFileSync(file, '#!/bin/sh\necho hello\n');
      await expectRefusal(file, 1, /not an ELF file/);
    });

    it('refuses an empty file as not an ELF file', async function () {
      const file = path.join(work, 'empty');
      fs.writeFileSync(file, '');
      await expectRefusal(file, 1, /not an ELF file/);
    });

    it('refuses a file shorter than the ELF header, naming its size', async function () {
      const file = path.join(work, 'short');
      fs.writeFileSync(file, fs.readFileSync(HELLO).subarray(0, 40));
      await expectRefusal(file, 1, /malformed ELF: file is 40 bytes, shorter than an ELF header/);
    });

    it('refuses a 32-bit ELF file', async function () {
      const source = path.join(work, 'start32.c');
      fs.writeFileSync(source, 'void _start(void) { for (;;); }\n');
      // A real i386 executable when the compiler can make one, else hello with EI_CLASS = ELFCLASS32
      const file = await gcc('elf32', ['-m32', '-static', '-nostdlib', source]).catch(() => helloWith('elf32', (b) => { b[EI_CLASS] = ELFCLASS32; }));
      assert.equal(fs.readFileSync(file)[EI_CLASS], ELFCLASS32);
      await expectRefusal(file, 1, /32-bit ELF files are not supported/);
    });

    it('refuses a big-endian ELF file', async function () {
      await expectRefusal(helloWith('big-endian', (b) => { b[EI_DATA] = ELFDATA2MSB; }), 1, /big-endian ELF files are not supported/);
    });

    it('refuses an ELF file for another machine (aarch64), naming the machine', async function () {
      await expectRefusal(helloWith('aarch64', (b) => b.writeUInt16LE(EM_AARCH64, offsetOf(EHDR, 'machine'))), 1, /ELF machine 183 is not x86-64/);
    });

    it('refuses a relocatable object', async function () {
      const file = await gcc('hello.o', ['-c', HELLO_C]);
      await expectRefusal(file, 1, /relocatable object/);
    });

    it('refuses a shared library', async function () {
      const file = await gcc('libhello.so', ['-shared', '-fPIC', HELLO_C]);
      await expectRefusal(file, 1, /shared library, not an executable/);
    });

    it('refuses a dynamically linked executable whose library is nowhere to be found, naming it', async function () {
      const lib = await gcc('libnowhere.so.1', ['-shared', '-fPIC', '-Wl,-soname,libnowhere.so.1', HELLO_C]);
      // Debian's gcc links --as-needed: a library nothing calls would not be recorded at all
      const file = await gcc('needs-nowhere', [HELLO_C, '-Wl,--no-as-needed', lib]);
      fs.rmSync(lib);
      await expectRefusal(file, 1, /libnowhere\.so\.1 \(needed by .*needs-nowhere\) not found/);
    });
  });

  describe('files relinked already', function () {
    let relinked: string;

    before(async function () {
      relinked = path.join(work, 'hello.relinked');
      const r = await relinkCli([HELLO, '-o', relinked, '-q']);
      assert.equal(r.exitCode, 0, r.stderr);
    });

    it('refuses to relink its own output', async function () {
      await expectRefusal(relinked, 1, /already relinked/);
    });

    it('refuses its own output after strip', async function () {
      const stripped = path.join(work, 'hello.relinked.stripped');
      await execa('strip', ['-o', stripped, relinked]);
      await expectRefusal(stripped, 1, /already relinked/);
    });

    it('refuses its own output after strip removed the .ckpt.config section header', async function () {
      const stripped = path.join(work, 'hello.relinked.noconfig');
      await execa('strip', ['-R', '.ckpt.config', '-o', stripped, relinked]);
      assert.doesNotMatch((await execa('readelf', ['-S', '-W', stripped])).stdout, /\.ckpt\.config/);
      await expectRefusal(stripped, 1, /already relinked/);
    });
  });

  describe('paths and arguments', function () {
    it('refuses an input that does not exist', async function () {
      await expectRefusal(path.join(work, 'no-such-input'), 1, /no-such-input: no such file/);
    });

    it('refuses a directory as input', async function () {
      const dir = path.join(work, 'a-directory');
      fs.mkdirSync(dir);
      await expectRefusal(dir, 1, /a-directory: not a regular file/);
    });

    it('refuses an output path equal to the input as a usage error, leaving the input alone', async function () {
      const input = helloWith('same-path', () => {});
      await expectRefusal(input, 2, /output must differ from input/, input);
      await expectRefusal(input, 2, /output must differ from input/, `${work}/./same-path`);
    });

    it('refuses a missing -o as a usage error', async function () {
      assertRefused(await relinkCli([HELLO]), 2, /usage: ckpt-relink INPUT -o OUTPUT/);
    });

    it('refuses -o without a value as a usage error', async function () {
      assertRefused(await relinkCli([HELLO, '-o']), 2, /-o needs a value/);
    });

    it('refuses an unknown option as a usage error, naming it', async function () {
      const output = freshOutput();
      assertRefused(await relinkCli([HELLO, '-o', output, '--frobnicate']), 2, /unknown option --frobnicate/);
      assert.equal(fs.existsSync(output), false);
    });

    it('refuses an output in a directory that does not exist, leaving the input alone', async function () {
      const input = helloWith('to-missing-dir', () => {});
      const output = path.join(work, 'no-such-dir', 'relinked');
      await expectRefusal(input, 1, /cannot write .*no-such-dir\/relinked: .*no such file or directory/i, output);
      assert.equal(fs.existsSync(path.dirname(output)), false);
    });
    it('refuses an output path that is a directory, removing its temporary file', async function () {
      const output = freshOutput();
      fs.mkdirSync(output);
      const before = digest(HELLO);
      assertRefused(await relinkCli([HELLO, '-o', output]), 1, /cannot write .*relinked: .*directory/i);
      assert.deepEqual(fs.readdirSync(output), []);
      assert.deepEqual(temporaryFiles(path.dirname(output)), []);
      assert.equal(digest(HELLO), before);
    });
  });

  describe('inputs it takes', function () {
    it('relinks a read-only input and leaves it unchanged, mode included', async function () {
      const input = helloWith('read-only', () => {});
      fs.chmodSync(input, 0o444);
      const before = digest(input);
      const output = freshOutput();
      const r = await relinkCli([input, '-o', output, '-q']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stderr, '');
      assert.equal(digest(input), before);
      assert.equal(fs.statSync(input).mode & 0o777, 0o444);
      assert.ok(isFile(output));
    });

    it('writes an executable output that runs like the original', async function () {
      const output = freshOutput();
      const r = await relinkCli([HELLO, '-o', output, '-q']);
      assert.equal(r.exitCode, 0, r.stderr);
      const mode = fs.statSync(output).mode;
      assert.notEqual(mode & 0o111, 0, `output mode ${mode.toString(8)} is not executable`);
      assert.deepEqual(temporaryFiles(path.dirname(output)), []);
      const run = await execa(output, [], { reject: false, stdin: 'ignore', timeout: 10_000 });
      assert.deepEqual([run.exitCode, run.stdout, run.stderr], [3, 'hello from stdout', 'hello from stderr']);
    });
  });
});
