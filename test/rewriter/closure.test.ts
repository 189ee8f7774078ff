// The library closure against the one authority on it: Debian's own ld.so. Each case builds real
// executables and libraries with gcc (test/fixtures/closure), asks ld.so what it loads for them
// (LD_TRACE_LOADED_OBJECTS=1, the program exec'd by the kernel as in a real run, so $ORIGIN comes
// from /proc/self/exe), and requires resolveClosure to name the same files in the same order.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { RelinkError } from '../../src/errors.js';
import { offsetOf } from '../../src/lib/struct.js';
import { DT_NULL, DT_STRTAB, EI_CLASS, ELFCLASS32, EM_AARCH64, PT_DYNAMIC } from '../../src/rewriter/elf/constants.js';
import { DYN_SIZE, EHDR, PHDR, PHDR_SIZE, decodeElf } from '../../src/rewriter/elf/structs.js';
import { resolveClosure, type Closure, type ClosureOptions } from '../../src/rewriter/closure/index.js';
import { readLdCache } from '../../src/rewriter/closure/ld-cache.js';
import { ROOT, scratch } from '../helpers.js';

const FIXTURES = path.join(ROOT, 'test/fixtures/closure');
const LD_SO = '/lib64/ld-linux-x86-64.so.2';

async function gcc(args: string[]): Promise<void> {
  await execa('gcc', ['-O2', '-Wall', ...args]);
}

/** lib.c as a shared object at `file` (soname: its file name unless given) defining `fn`, calling `calls` if given */
async function buildLibrary(file: string, fn: string, opts: { calls?: string; link?: string[]; soname?: string } = {}): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const calls = opts.calls ? [`-DCALLS=${opts.calls}`] : [];
  const soname = opts.soname ?? path.basename(file);
  await gcc(['-shared', '-fPIC', `-DNAME=${fn}`, ...calls, '-o', file, path.join(FIXTURES, 'lib.c'), `-Wl,-soname,${soname}`, ...(opts.link ?? [])]);
  return file;
}

/** main.c as an executable at `file` calling `calls`; `link` names its libraries and search paths */
async function buildExecutable(file: string, calls: string, link: string[]): Promise<string> {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  await gcc([`-DCALLS=${calls}`, '-o', file, path.join(FIXTURES, 'main.c'), ...link]);
  return file;
}

/** Linker options that record `dirs` as DT_RPATH (old tags) or DT_RUNPATH (new tags) */
const rpath = (...dirs: string[]) => [`-Wl,--disable-new-dtags,-rpath,${dirs.join(':')}`];
const runpath = (...dirs: string[]) => [`-Wl,--enable-new-dtags,-rpath,${dirs.join(':')}`];
/** Where the link-time linker finds the libraries' own dependencies (it checks them) */
const rpathLink = (...dirs: string[]) => [`-Wl,-rpath-link,${dirs.join(':')}`];

/** What ld.so loads for `exe`, as "name => path" lines in its order, without the vDSO */
async function ldsoTrace(exe: string, env: Record<string, string> = {}): Promise<string[]> {
  const r = await execa(exe, [], { env: { LD_TRACE_LOADED_OBJECTS: '1', ...env }, extendEnv: false, reject: false });
  return r.stdout.split('\n').flatMap((line) => {
    const m = /^\t(\S+)(?: => (not found|\S+))?(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (!m || m[1] === 'linux-vdso.so.1') return [];
    return [`${m[1]} => ${m[2] ?? m[1]}`];
  });
}

const line = (o: { name: string; path: string }) => `${o.name} => ${o.path}`;

function resolve(exe: string, opts?: ClosureOptions): Closure {
  return resolveClosure(exe, fs.readFileSync(exe), opts);
}

/** The closure equals ld.so's: the same objects in the same order (the interpreter wherever ld.so puts it) */
async function assertAsLdso(exe: string, opts: ClosureOptions = {}, env: Record<string, string> = {}): Promise<Closure> {
  const traced = await ldsoTrace(exe, env);
  const closure = resolve(exe, opts);
  assert.ok(traced.includes(line(closure.interp)), `ld.so loads ${line(closure.interp)}: ${traced.join('; ')}`);
  assert.deepEqual(closure.objects.map(line), traced.filter((l) => l !== line(closure.interp)));
  return closure;
}

function assertNotFound(run: () => unknown, name: string, neededBy: string): RelinkError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof RelinkError, `expected a RelinkError, got ${String(caught)}`);
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  assert.match(caught.message, new RegExp(`^${escape(name)} \\(needed by ${escape(neededBy)}\\) not found; searched: [^\\n]+ \\(add --library-path DIR\\)$`));
  return caught;
}

/** A copy of `file` at `to` with one header byte (or u16) changed */
function patchedCopy(file: string, to: string, patch: (bytes: Buffer) => void): void {
  const bytes = fs.readFileSync(file);
  patch(bytes);
  fs.mkdirSync(path.dirname(to), { recursive: true });
  fs.writeFileSync(to, bytes);
}

/** Points DT_STRTAB of a shared object at an address no segment holds */
function breakStringTable(bytes: Buffer): void {
  const { phoff, phnum } = decodeElf(bytes, 0, EHDR);
  const phs = Array.from({ length: phnum }, (_, i) => decodeElf(bytes, phoff + i * PHDR_SIZE, PHDR));
  const dynamic = phs.find((p) => p.type === PT_DYNAMIC)!;
  for (let off = dynamic.offset; bytes.readBigUInt64LE(off) !== BigInt(DT_NULL); off += DYN_SIZE) {
    if (bytes.readBigUInt64LE(off) === BigInt(DT_STRTAB)) bytes.writeBigUInt64LE(0x7fff0000n, off + 8);
  }
}

/** A cache in the 1.1 layout holding `entries` (flags, key, value, hwcap) in the order given */
function writeCache(file: string, entries: [number, string, string, bigint][], magic = 'glibc-ld.so.cache1.1'): void {
  const header = Buffer.alloc(48);
  header.write(magic, 0, 'latin1');
  header.writeUInt32LE(entries.length, 20);
  header[28] = 2; // little-endian
  const stringsAt = 48 + entries.length * 24;
  const strings: Buffer[] = [];
  let at = stringsAt;
  const put = (s: string) => { strings.push(Buffer.from(`${s}\0`, 'latin1')); at += s.length + 1; return at - s.length - 1; };
  const table = Buffer.alloc(entries.length * 24);
  entries.forEach(([flags, key, value, hwcap], i) => {
    table.writeUInt32LE(flags, i * 24);
    table.writeUInt32LE(put(key), i * 24 + 4);
    table.writeUInt32LE(put(value), i * 24 + 8);
    table.writeBigUInt64LE(hwcap, i * 24 + 16);
  });
  header.writeUInt32LE(at - stringsAt, 24);
  fs.writeFileSync(file, Buffer.concat([header, table, ...strings]));
}

describe('the library closure, resolved as ld.so resolves it', function () {
  this.timeout(120_000);

  describe("Debian's own programs", () => {
    for (const program of ['/usr/bin/python3.11', '/usr/bin/sqlite3', '/usr/bin/perl']) {
      it(`resolves ${program} to the files ld.so loads for it`, async () => {
        const closure = await assertAsLdso(program);
        assert.equal(closure.interp.name, LD_SO);
        assert.equal(closure.interp.role, 'interp');
        assert.equal(closure.interp.soname, 'ld-linux-x86-64.so.2');
        const libc = closure.objects.find((o) => o.name === 'libc.so.6');
        assert.ok(libc && libc.role === 'needed' && libc.neededBy.includes(program));
        for (const o of closure.objects) assert.deepEqual(o.bytes, fs.readFileSync(o.path), o.path);
      });
    }

    it('looks in the cache before the default dirs, and skips a missing or old-format cache', async () => {
      const expected = resolve('/usr/bin/sqlite3').objects.map(line);
      const dir = scratch('ckpt-closure-cache-');
      // a cache that sends libz.so.1 to another library: used when its format is known, else not
      const misleading: [number, string, string, bigint][] = [[0x0303, 'libz.so.1', '/lib/x86_64-linux-gnu/libm.so.6', 0n]];
      writeCache(path.join(dir, 'new.cache'), misleading);
      writeCache(path.join(dir, 'old.cache'), misleading, 'ld.so-1.7.0');
      const libz = (cacheFile: string) => resolve('/usr/bin/sqlite3', { cacheFile }).objects.find((o) => o.name === 'libz.so.1')?.path;
      assert.equal(libz(path.join(dir, 'new.cache')), '/lib/x86_64-linux-gnu/libm.so.6');
      assert.deepEqual(resolve('/usr/bin/sqlite3', { cacheFile: path.join(dir, 'old.cache') }).objects.map(line), expected);
      assert.deepEqual(resolve('/usr/bin/sqlite3', { cacheFile: path.join(dir, 'none') }).objects.map(line), expected);
    });

    it('refuses an executable without PT_INTERP in one line', async () => {
      const busybox = '/usr/bin/busybox';
      assert.throws(() => resolve(busybox), (e: unknown) => e instanceof RelinkError && /^\/usr\/bin\/busybox has no PT_INTERP[^\n]*$/.test(e.message));
    });
  });

  describe('search order, on fixtures', () => {
    let root: string;
    /** a libz.so.1 of our own, and a program that needs libz.so.1 (several cases search for it) */
    let fake: string;
    let needsZ: string;
    before(async () => {
      root = scratch('ckpt-closure-');
      fake = await buildLibrary(path.join(root, 'fakez/libz.so.1'), 'fake_z_fn');
      needsZ = await buildExecutable(path.join(root, 'lp/prog'), 'fake_z_fn', [fake]);
    });

    it('follows DT_RUNPATH $ORIGIN/../lib of the executable and ${ORIGIN} of a library, also through a symlink to the executable', async () => {
      const lib = path.join(root, 'app/lib');
      await buildLibrary(path.join(lib, 'deps/libdeep.so'), 'deep_fn');
      await buildLibrary(path.join(lib, 'liba.so'), 'a_fn', { calls: 'deep_fn', link: [path.join(lib, 'deps/libdeep.so'), ...runpath('${ORIGIN}/deps')] });
      const prog = await buildExecutable(path.join(root, 'app/bin/prog'), 'a_fn', [path.join(lib, 'liba.so'), ...runpath('$ORIGIN/../lib'), ...rpathLink(path.join(lib, 'deps'))]);
      const closure = await assertAsLdso(prog);
      const deep = closure.objects.find((o) => o.name === 'libdeep.so');
      assert.equal(closure.objects[0].path, `${root}/app/bin/../lib/liba.so`);
      assert.equal(deep?.path, `${root}/app/bin/../lib/deps/libdeep.so`);
      assert.deepEqual(deep?.neededBy, [`${root}/app/bin/../lib/liba.so`]);
      fs.mkdirSync(path.join(root, 'elsewhere'));
      const link = path.join(root, 'elsewhere/prog');
      fs.symlinkSync('../app/bin/prog', link);
      await assertAsLdso(link);
    });

    it('expands $ORIGIN in a DT_NEEDED path before it opens it', async () => {
      // a library whose soname is a path: programs linked with it need it by that path
      const lib = await buildLibrary(path.join(root, 'tok/libtok.so'), 'tok_fn', { soname: '$ORIGIN/libtok.so' });
      const prog = await buildExecutable(path.join(root, 'tok/prog'), 'tok_fn', [lib]);
      const closure = await assertAsLdso(prog);
      assert.equal(closure.objects[0].path, `${root}/tok/libtok.so`);
    });

    it('searches the DT_RPATH of the loading objects, up the chain, for a library without its own', async () => {
      const [x, y] = [path.join(root, 'rp/x'), path.join(root, 'rp/y')];
      await buildLibrary(path.join(y, 'libn2.so'), 'n2_fn');
      await buildLibrary(path.join(y, 'libm2.so'), 'm2_fn', { calls: 'n2_fn', link: [path.join(y, 'libn2.so')] });
      await buildLibrary(path.join(x, 'libb.so'), 'b_fn', { calls: 'm2_fn', link: [path.join(y, 'libm2.so'), ...rpath(y)] });
      const prog = await buildExecutable(path.join(root, 'rp/prog'), 'b_fn', [path.join(x, 'libb.so'), ...rpath(x), ...rpathLink(y)]);
      const closure = await assertAsLdso(prog);
      assert.deepEqual(closure.objects.filter((o) => o.name !== 'libc.so.6').map((o) => o.path), [`${x}/libb.so`, `${y}/libm2.so`, `${y}/libn2.so`]);
    });

    it('stops the DT_RPATH chain at a library with DT_RUNPATH, as ld.so does', async () => {
      const [x, y] = [path.join(root, 'rs/x'), path.join(root, 'rs/y')];
      await buildLibrary(path.join(y, 'libn3.so'), 'n3_fn');
      await buildLibrary(path.join(y, 'libm3.so'), 'm3_fn', { calls: 'n3_fn', link: [path.join(y, 'libn3.so'), ...runpath(path.join(root, 'rs/nowhere'))] });
      await buildLibrary(path.join(x, 'libb3.so'), 'b3_fn', { calls: 'm3_fn', link: [path.join(y, 'libm3.so'), ...rpath(y)] });
      const prog = await buildExecutable(path.join(root, 'rs/prog'), 'b3_fn', [path.join(x, 'libb3.so'), ...rpath(x), ...rpathLink(y)]);
      assert.ok((await ldsoTrace(prog)).includes('libn3.so => not found'));
      const e = assertNotFound(() => resolve(prog), 'libn3.so', `${y}/libm3.so`);
      assert.match(e.message, new RegExp(`searched: ${root}/rs/nowhere, /etc/ld.so.cache, /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib `));
    });

    it('takes a library from --library-path before the system one of the same name, and the system one without it', async () => {
      const dir = path.dirname(fake);
      const withPath = await assertAsLdso(needsZ, { libraryPath: [dir] }, { LD_LIBRARY_PATH: dir });
      assert.equal(withPath.objects[0].path, fake);
      assert.equal(withPath.objects[0].soname, 'libz.so.1');
      const system = await assertAsLdso(needsZ);
      assert.equal(system.objects[0].path, '/lib/x86_64-linux-gnu/libz.so.1');
    });

    it('passes over a candidate of another machine or ELF class and searches on', async () => {
      const [arm, elf32] = [path.join(root, 'arm'), path.join(root, 'elf32')];
      patchedCopy(fake, path.join(arm, 'libz.so.1'), (b) => b.writeUInt16LE(EM_AARCH64, offsetOf(EHDR, 'machine')));
      patchedCopy(fake, path.join(elf32, 'libz.so.1'), (b) => { b[EI_CLASS] = ELFCLASS32; });
      const dirs = [arm, elf32, path.dirname(fake)];
      const closure = await assertAsLdso(needsZ, { libraryPath: dirs }, { LD_LIBRARY_PATH: dirs.join(':') });
      assert.equal(closure.objects[0].path, fake);
    });

    it('uses neither the cache nor the default dirs for an object with DF_1_NODEFLIB', async () => {
      const prog = await buildExecutable(path.join(root, 'nodeflib/prog'), 'fake_z_fn', [fake, '-Wl,-z,nodefaultlib']);
      assert.ok((await ldsoTrace(prog)).includes('libz.so.1 => not found'));
      const e = assertNotFound(() => resolve(prog), 'libz.so.1', prog);
      assert.doesNotMatch(e.message, /\/lib\/x86_64-linux-gnu/);
      // libc too must then come from a directory named explicitly, for ld.so as here
      const dirs = [path.dirname(fake), '/lib/x86_64-linux-gnu'];
      await assertAsLdso(prog, { libraryPath: dirs }, { LD_LIBRARY_PATH: dirs.join(':') });
    });

    it('refuses a library whose dynamic strings lie outside it, naming the file, in one line', async () => {
      const broken = path.join(root, 'broken/libz.so.1');
      patchedCopy(fake, broken, breakStringTable);
      assert.throws(() => resolve(needsZ, { libraryPath: [path.dirname(broken)] }), (e: unknown) => e instanceof RelinkError
        && e.code === 'EMALFORMED' && /^malformed ELF: \S+\/broken\/libz\.so\.1: DT_STRTAB 0x7fff0000 is in no loadable segment[^\n]*$/.test(e.message));
    });

    it('names the missing library and who needed it in one line', async () => {
      const gone = await buildLibrary(path.join(root, 'gone/lib/libgone.so'), 'gone_fn');
      const prog = await buildExecutable(path.join(root, 'gone/prog'), 'gone_fn', [gone]);
      fs.rmSync(gone);
      assert.ok((await ldsoTrace(prog)).includes('libgone.so => not found'));
      const e = assertNotFound(() => resolve(prog, { libraryPath: [path.join(root, 'gone/lib')] }), 'libgone.so', prog);
      assert.match(e.message, new RegExp(`searched: ${root}/gone/lib, /etc/ld.so.cache, /lib/x86_64-linux-gnu`));
    });
  });

  describe('--with', () => {
    let root: string;
    let prog: string;
    before(async () => {
      root = scratch('ckpt-closure-with-');
      const helper = await buildLibrary(path.join(root, 'helpers/libhelper.so'), 'helper_fn');
      const plugins = path.join(root, 'plugins');
      const plugin = await buildLibrary(path.join(plugins, 'a/plugin.so'), 'plugin_fn', { calls: 'helper_fn', link: [helper, ...runpath('$ORIGIN/../../helpers')] });
      await buildLibrary(path.join(plugins, 'b/other.so.1'), 'other_fn');
      fs.symlinkSync('plugin.so', path.join(plugins, 'a/alias.so'));
      fs.writeFileSync(path.join(plugins, 'junk.so'), 'not an ELF file\n');
      fs.writeFileSync(path.join(plugins, 'README.txt'), 'not a library\n');
      patchedCopy(plugin, path.join(plugins, 'arm.so'), (b) => b.writeUInt16LE(EM_AARCH64, offsetOf(EHDR, 'machine')));
      const fake = await buildLibrary(path.join(root, 'base/libbase.so'), 'base_fn');
      prog = await buildExecutable(path.join(root, 'prog'), 'base_fn', [fake, ...runpath(path.dirname(fake))]);
    });

    it("carries every shared object under a directory, then what they need, once per file", () => {
      const plugins = path.join(root, 'plugins');
      const closure = resolve(prog, { with: [plugins] });
      const summary = closure.objects.map((o) => `${o.role} ${line(o)} [${o.neededBy.join(', ')}]`);
      assert.deepEqual(summary, [
        `needed libbase.so => ${root}/base/libbase.so [${prog}]`,
        `needed libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 [${prog}]`,
        `with ${plugins}/a/plugin.so => ${plugins}/a/plugin.so []`,
        `needed libhelper.so => ${plugins}/a/../../helpers/libhelper.so [${plugins}/a/plugin.so]`,
        `with ${plugins}/b/other.so.1 => ${plugins}/b/other.so.1 []`,
      ]);
    });

    it('carries a single shared object named by --with', () => {
      const other = path.join(root, 'plugins/b/other.so.1');
      assert.deepEqual(resolve(prog, { with: [other] }).objects.filter((o) => o.role === 'with').map((o) => o.path), [other]);
    });

    it('refuses a --with path that does not exist or holds no shared object, in one line', () => {
      const refused = (p: string, message: RegExp) => assert.throws(() => resolve(prog, { with: [p] }), (e: unknown) => e instanceof RelinkError && message.test(e.message) && !e.message.includes('\n'));
      refused(path.join(root, 'absent'), /^--with \S+\/absent: no such file or directory$/);
      const empty = path.join(root, 'empty');
      fs.mkdirSync(empty);
      fs.copyFileSync(path.join(root, 'plugins/junk.so'), path.join(empty, 'junk.so'));
      refused(empty, /^--with \S+\/empty: the directory holds no x86-64 shared object/);
      refused(path.join(root, 'plugins/arm.so'), /^--with \S+\/arm\.so: not an x86-64 shared object$/);
    });
  });
});

describe('/etc/ld.so.cache', () => {
  it("reads this machine's cache: libc.so.6 is Debian's", () => {
    assert.equal(readLdCache('/etc/ld.so.cache').get('libc.so.6'), '/lib/x86_64-linux-gnu/libc.so.6');
  });

  it('takes the baseline x86-64 entry over a glibc-hwcaps one, and no other architecture', () => {
    const file = path.join(scratch('ckpt-closure-ldcache-'), 'ld.so.cache');
    const hwcaps = (1n << 62n) | 1n;
    writeCache(file, [
      [0x0303, 'libfake.so.1', '/x/glibc-hwcaps/x86-64-v3/libfake.so.1', hwcaps],
      [0x0303, 'libfake.so.1', '/x/libfake.so.1', 0n],
      [0x0003, 'libi386.so', '/x/i386/libi386.so', 0n],
      [0x0303, 'libonly.so', '/x/glibc-hwcaps/x86-64-v2/libonly.so', hwcaps],
    ]);
    const cache = readLdCache(file);
    assert.equal(cache.get('libfake.so.1'), '/x/libfake.so.1');
    assert.equal(cache.get('libi386.so'), undefined);
    assert.equal(cache.get('libonly.so'), '/x/glibc-hwcaps/x86-64-v2/libonly.so');
  });
});
