// ckpt-shadow as a job sees it, through the real CLI on 127.0.0.1: files opened, written, read,
// stat'ed, listed, renamed and removed behave as the same calls on local files would, and land in
// the root; handles belong to their session; EXIT of the job's first process prints the job line;
// a checkpoint renamed into /.ckpt is logged; the policy text follows the options; bad arguments get
// one line and exit status 1.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import * as C from '../../src/contract.generated.js';
import { ConfinedRoot } from '../../src/shadow/confine.js';
import { WIRE_O, decodeDirents, decodeStat, type Dirent } from '../../src/shadow/protocol.js';
import { ShadowServer } from '../../src/shadow/server.js';
import { scratch } from '../helpers.js';
import { ShadowClient, connectRaw } from './client.js';
import { SHADOW_CLI, startShadow, type Shadow } from './shadow-process.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const E = os.constants.errno;
const RDONLY = 0, { WRONLY, RDWR, CREAT, EXCL, TRUNC, APPEND, DIRECTORY } = WIRE_O;

for (const lookups of ['event-loop', 'workers'] as const) {
  describe(`ckpt-shadow serving a job (stat lookups: ${lookups})`, function () {
    this.timeout(30_000);
    let shadow: Shadow, job: ShadowClient;

    before(async () => {
      shadow = await startShadow({ args: ['--lookups', lookups] });
      await shadow.waitForLog(lookups === 'workers' ? /^ckpt-shadow: lookups in worker threads/ : /^ckpt-shadow: lookups on the event loop/);
      job = await ShadowClient.connect(shadow.port, shadow.token);
    });
    after(async () => {
      job?.end();
      assert.equal(await shadow?.stop(), 0, 'exit status after SIGTERM');
    });

    const inRoot = (p: string) => path.join(shadow.root, p);

    async function getdents(handle: number, count: number, index: number): Promise<{ result: number; entries: Dirent[] }> {
      const r = await job.call({ op: 'getdents', handle, count, index: BigInt(index) });
      return { result: r.result, entries: r.result > 0 ? decodeDirents(r.data) : [] };
    }

    it('sends the default policy in HELLO and a session number in WELCOME', () => {
      assert.equal(job.hello.policy, 'remote /\nlocal /proc\nlocal /dev\nlocal /sys\n');
      assert.ok(job.session > 0n);
    });

    it('creates a file in the root, writes at offsets (leaving a hole) and reads it back', async () => {
      const h = await job.open('/data.txt', RDWR | CREAT | TRUNC, 0o640);
      assert.deepEqual(await job.pwrite(h, 'hello world', 0), { written: 11, end: 11 });
      assert.deepEqual(await job.pwrite(h, 'X', 100), { written: 1, end: 101 });
      assert.equal((await job.pread(h, 11, 0)).toString(), 'hello world');
      assert.deepEqual(await job.pread(h, 10, 95), Buffer.from('\0\0\0\0\0X'));
      assert.equal((await job.pread(h, 10, 500)).length, 0, 'past the end');
      const local = fs.readFileSync(inRoot('data.txt'));
      assert.equal(local.length, 101);
      assert.equal(local.subarray(0, 11).toString(), 'hello world');
      assert.equal(fs.statSync(inRoot('data.txt')).mode & 0o777, 0o640);
      assert.equal((await job.call({ op: 'close', handle: h })).result, 0);
    });

    it('moves a whole MiB each way and cuts a longer read to CKPT_SH_MAX_DATA', async () => {
      const data = Buffer.alloc(C.CKPT_SH_MAX_DATA, 'abcdefg');
      const h = await job.open('/big', RDWR | CREAT | TRUNC);
      assert.deepEqual(await job.pwrite(h, data, 0), { written: data.length, end: data.length });
      await job.pwrite(h, 'tail', data.length);
      const back = await job.pread(h, C.CKPT_SH_MAX_DATA + 4096, 0);
      assert.equal(back.length, C.CKPT_SH_MAX_DATA);
      assert.ok(back.equals(data));
      await job.call({ op: 'close', handle: h });
    });

    it('answers FSTAT and STAT with the kernel struct stat of the file', async () => {
      const h = await job.open('/data.txt', RDONLY);
      const r = await job.call({ op: 'fstat', handle: h });
      assert.equal(r.result, 0);
      assert.equal(r.data.length, C.CKPT_SH_STAT_SIZE);
      const wire = decodeStat(r.data), local = fs.statSync(inRoot('data.txt'), { bigint: true });
      assert.deepEqual(
        [wire.dev, wire.ino, wire.nlink, BigInt(wire.mode), BigInt(wire.uid), BigInt(wire.gid), wire.size, wire.blksize, wire.blocks],
        [local.dev, local.ino, local.nlink, local.mode, local.uid, local.gid, local.size, local.blksize, local.blocks]);
      assert.equal(wire.mtime * 1_000_000_000n + wire.mtimeNsec, local.mtimeNs);
      assert.equal(wire.ctime * 1_000_000_000n + wire.ctimeNsec, local.ctimeNs);
      assert.deepEqual(await job.stat('/data.txt'), wire);
      assert.equal((await job.call({ op: 'stat', path: Buffer.from('/nothing'), nofollow: false })).result, -E.ENOENT);
      await job.call({ op: 'close', handle: h });
    });

    it('STAT with NOFOLLOW describes a symlink itself; READLINK gives its target', async () => {
      fs.symlinkSync('data.txt', inRoot('link'));
      const own = await job.stat('/link', true), target = await job.stat('/link');
      assert.equal(own.mode & 0o170000, 0o120000);
      assert.equal(own.ino, fs.lstatSync(inRoot('link'), { bigint: true }).ino);
      assert.equal(target.ino, fs.statSync(inRoot('data.txt'), { bigint: true }).ino);
      const r = await job.path('readlink', '/link');
      assert.deepEqual([r.result, r.data.toString()], [8, 'data.txt']);
      assert.equal((await job.path('readlink', '/data.txt')).result, -E.EINVAL);
    });

    it('lists a directory with GETDENTS: . and .., every entry with its inode and type, d_off the next index', async () => {
      assert.equal((await job.call({ op: 'mkdir', path: Buffer.from('/d'), mode: 0o755 })).result, 0);
      for (const n of ['a', 'bb', 'a-much-longer-name-than-the-others']) fs.writeFileSync(inRoot(`d/${n}`), n);
      fs.mkdirSync(inRoot('d/sub'));
      fs.symlinkSync('a', inRoot('d/ln'));
      const h = await job.open('/d', RDONLY | DIRECTORY);
      const all = await getdents(h, 4096, 0);
      const names = all.entries.map((e) => e.name.toString());
      assert.deepEqual([...names].sort(), ['.', '..', 'a', 'a-much-longer-name-than-the-others', 'bb', 'ln', 'sub'].sort());
      assert.equal(all.result, all.entries.reduce((n, e) => n + ((19 + e.name.length + 1 + 7) & ~7), 0));
      all.entries.forEach((e, i) => assert.equal(e.off, BigInt(i + 1)));
      const byName = new Map(all.entries.map((e) => [e.name.toString(), e]));
      assert.equal(byName.get('.')!.ino, fs.statSync(inRoot('d'), { bigint: true }).ino);
      assert.equal(byName.get('..')!.ino, fs.statSync(shadow.root, { bigint: true }).ino);
      for (const n of ['a', 'sub', 'ln']) assert.equal(byName.get(n)!.ino, fs.lstatSync(inRoot(`d/${n}`), { bigint: true }).ino, n);
      assert.deepEqual(['a', 'sub', 'ln'].map((n) => byName.get(n)!.type), [8, 4, 10], 'DT_REG, DT_DIR, DT_LNK');
      // a buffer that holds one or two entries, following d_off from call to call, gives the same list
      const one: string[] = [];
      for (let index = 0; ;) {
        const r = await getdents(h, 64, index);
        if (r.result === 0) break;
        one.push(...r.entries.map((e) => e.name.toString()));
        index = Number(r.entries[r.entries.length - 1].off);
      }
      assert.deepEqual(one, names);
      assert.equal((await getdents(h, 8, 0)).result, -E.EINVAL, 'a buffer too small for one entry');
      const f = await job.open('/data.txt', RDONLY);
      assert.equal((await getdents(f, 4096, 0)).result, -E.ENOTDIR);
      const root = await job.open('/', RDONLY | DIRECTORY);
      const rootList = (await getdents(root, 4096, 0)).entries;
      assert.equal(rootList.find((e) => e.name.toString() === '..')!.ino, fs.statSync(shadow.root, { bigint: true }).ino, "the root's .. is itself");
      assert.ok(rootList.some((e) => e.name.toString() === '.ckpt'), '/.ckpt was created at start');
      for (const handle of [h, f, root]) await job.call({ op: 'close', handle });
    });

    it('answers OPEN, STAT and READLINK as the same local calls do, for trailing slashes, `.` and `..`, symlinks, loops and missing names', async () => {
      const t = inRoot('t');
      fs.mkdirSync(path.join(t, 'd'), { recursive: true });
      fs.writeFileSync(path.join(t, 'f'), 'f');
      for (const [name, target] of [['ld', 'd'], ['lf', 'f'], ['dang', 'nowhere'], ['loop1', 'loop2'], ['loop2', 'loop1'], ['abs-in', path.join(t, 'f')]]) {
        fs.symlinkSync(target, path.join(t, name));
      }
      const paths = ['/', '/.', '/t/..', '/t/f', '/t/f/', '/t/d', '/t/d/', '/t/ld', '/t/ld/', '/t/lf', '/t/lf/', '/t/dang', '/t/loop1',
        '/t/dang/', '/t/loop1/', '/t/d/.', '/t/d/..', '/t/d/../f', '/t/./f', '//t//f', '/t/nothing', '/t/nothing/x', '/t/f/x',
        '/t/abs-in', '/t/ld/../f'];
      const O_PATH = WIRE_O.PATH, { NOFOLLOW } = WIRE_O;
      const local = (f: () => unknown) => {
        try {
          const v = f();
          if (typeof v === 'number') fs.closeSync(v);
          return 'ok';
        } catch (e) {
          return (e as NodeJS.ErrnoException).code!;
        }
      };
      const remote = (r: number) => (r >= 0 ? 'ok' : Object.entries(E).find(([, n]) => n === -r)![0]);
      for (const p of paths) {
        const here = shadow.root + p;
        for (const flags of [RDONLY, RDONLY | DIRECTORY, RDONLY | NOFOLLOW, O_PATH, O_PATH | NOFOLLOW, O_PATH | DIRECTORY, WRONLY, WRONLY | NOFOLLOW]) {
          const r = await job.tryOpen(p, flags);
          if (r > 0) await job.call({ op: 'close', handle: r });
          assert.equal(remote(r), local(() => fs.openSync(here, flags)), `open ${p} 0o${flags.toString(8)}`);
        }
        for (const nofollow of [false, true]) {
          const r = await job.call({ op: 'stat', path: Buffer.from(p), nofollow });
          assert.equal(remote(r.result), local(() => (nofollow ? fs.lstatSync(here) : fs.statSync(here))), `stat ${p} ${nofollow ? 'NOFOLLOW' : ''}`);
        }
        assert.equal(remote((await job.path('readlink', p)).result), local(() => fs.readlinkSync(here)), `readlink ${p}`);
      }
    });

    it('creates files with O_CREAT and O_EXCL as Linux does, and answers as it would where it cannot', async () => {
      const create = async (p: string, extra = 0) => {
        const r = await job.tryOpen(p, WRONLY | CREAT | extra);
        if (r > 0) await job.call({ op: 'close', handle: r });
        return r > 0 ? 0 : r;
      };
      assert.equal(await create('/t/new'), 0);
      assert.ok(fs.statSync(inRoot('t/new')).isFile());
      assert.equal(await create('/t/new', EXCL), -E.EEXIST);
      assert.equal(await create('/t/lf', EXCL), -E.EEXIST, 'a symlink exists');
      assert.equal(await create('/t/dang', EXCL), -E.EEXIST, 'a dangling symlink exists too');
      assert.equal(await create('/t/other/'), -E.EISDIR);
      assert.equal(await create('/t/d'), -E.EISDIR);
      assert.equal(await create('/t/nothing/x'), -E.ENOENT);
      assert.equal(await create('/t/f/x'), -E.ENOTDIR);
      assert.equal(await create('/t/lf'), 0, 'O_CREAT without O_EXCL opens what an existing symlink leads to');
    });

    it('makes, renames and removes directories and files as local calls would', async () => {
      const call = (op: 'mkdir' | 'rmdir' | 'unlink', p: string) => job.call(op === 'mkdir' ? { op, path: Buffer.from(p), mode: 0o750 } : { op, path: Buffer.from(p) }).then((r) => r.result);
      assert.equal(await call('mkdir', '/m'), 0);
      assert.equal(fs.statSync(inRoot('m')).mode & 0o777, 0o750);
      assert.equal(await call('mkdir', '/m'), -E.EEXIST);
      assert.equal(await call('mkdir', '/no/such/m'), -E.ENOENT);
      assert.equal((await job.call({ op: 'rename', from: Buffer.from('/m'), to: Buffer.from('/n') })).result, 0);
      assert.ok(fs.statSync(inRoot('n')).isDirectory() && !fs.existsSync(inRoot('m')));
      fs.writeFileSync(inRoot('n/f'), 'x');
      assert.equal(await call('rmdir', '/n'), -E.ENOTEMPTY);
      assert.equal(await call('unlink', '/n'), -E.EISDIR);
      assert.equal(await call('unlink', '/n/f'), 0);
      assert.equal(await call('unlink', '/n/f'), -E.ENOENT);
      assert.equal(await call('rmdir', '/n'), 0);
      assert.ok(!fs.existsSync(inRoot('n')));
      assert.equal(await call('rmdir', '/data.txt'), -E.ENOTDIR);
    });

    it('truncates and syncs through a handle', async () => {
      const h = await job.open('/data.txt', RDWR);
      assert.equal((await job.call({ op: 'ftruncate', handle: h, length: 5n })).result, 0);
      assert.equal(fs.readFileSync(inRoot('data.txt'), 'utf8'), 'hello');
      assert.equal((await job.call({ op: 'ftruncate', handle: h, length: 1n << 63n })).result, -E.EINVAL);
      assert.equal((await job.call({ op: 'fsync', handle: h })).result, 0);
      await job.call({ op: 'close', handle: h });
      const ro = await job.open('/data.txt', RDONLY);
      assert.equal((await job.call({ op: 'pwrite', handle: ro, append: false, offset: 0n, data: Buffer.from('x') })).result, -E.EBADF);
      await job.call({ op: 'close', handle: ro });
    });

    it('CHDIR accepts a directory and refuses a file or a missing path; ACCESS checks existence', async () => {
      assert.equal((await job.path('chdir', '/d')).result, 0);
      assert.equal((await job.path('chdir', '/')).result, 0);
      assert.equal((await job.path('chdir', '/data.txt')).result, -E.ENOTDIR);
      assert.equal((await job.path('chdir', '/none')).result, -E.ENOENT);
      assert.equal((await job.call({ op: 'access', path: Buffer.from('/data.txt'), mode: 4 })).result, 0);
      assert.equal((await job.call({ op: 'access', path: Buffer.from('/none'), mode: 0 })).result, -E.ENOENT);
    });

    it('APPEND writes at the end, after another session wrote too, and replies the new end', async () => {
      const other = await ShadowClient.connect(shadow.port, shadow.token);
      try {
        const a = await job.open('/log', WRONLY | CREAT | TRUNC | APPEND);
        const b = await other.open('/log', WRONLY | APPEND);
        assert.deepEqual(await job.pwrite(a, 'abc', 0, true), { written: 3, end: 3 });
        assert.deepEqual(await other.pwrite(b, 'de', 0, true), { written: 2, end: 5 });
        assert.deepEqual(await job.pwrite(a, 'f', 0, true), { written: 1, end: 6 });
        assert.equal(fs.readFileSync(inRoot('log'), 'utf8'), 'abcdef');
        // APPEND on a file opened without O_APPEND writes at the end all the same
        const c = await job.open('/log', WRONLY);
        assert.deepEqual(await job.pwrite(c, 'g', 0, true), { written: 1, end: 7 });
        assert.equal(fs.readFileSync(inRoot('log'), 'utf8'), 'abcdefg');
        // a write at an offset to a file opened O_APPEND (an append made again after a lost
        // connection) lands at that offset, though Linux's pwrite would append
        assert.deepEqual(await job.pwrite(a, 'G', 6), { written: 1, end: 7 });
        assert.equal(fs.readFileSync(inRoot('log'), 'utf8'), 'abcdefG');
      } finally {
        other.end();
      }
    });

    it('replies to each of many concurrent appends the end of its own data', async () => {
      const writers = await Promise.all([0, 1, 2].map(() => ShadowClient.connect(shadow.port, shadow.token)));
      try {
        const landed = await Promise.all(writers.map(async (w, k) => {
          const h = await w.open('/shared.log', WRONLY | CREAT | APPEND);
          const out: Array<{ data: string; end: number }> = [];
          for (let i = 0; i < 60; i++) {
            const data = `<${k}:${i}:${'x'.repeat((i * 7 + k) % 50)}>`;
            const { written, end } = await w.pwrite(h, data, 0, true);
            assert.equal(written, data.length);
            out.push({ data, end });
          }
          return out;
        }));
        const content = fs.readFileSync(inRoot('shared.log'), 'utf8');
        const all = landed.flat();
        assert.equal(content.length, all.reduce((n, w) => n + w.data.length, 0));
        for (const w of all) assert.equal(content.slice(w.end - w.data.length, w.end), w.data);
      } finally {
        for (const w of writers) w.end();
      }
    });

    it('keeps handles to their session and refuses a closed one', async () => {
      const other = await ShadowClient.connect(shadow.port, shadow.token);
      try {
        const h = await job.open('/data.txt', RDONLY);
        assert.equal((await other.call({ op: 'fstat', handle: h })).result, -E.EBADF);
        await job.call({ op: 'close', handle: h });
        assert.equal((await job.call({ op: 'fstat', handle: h })).result, -E.EBADF);
        assert.equal((await job.call({ op: 'close', handle: h })).result, -E.EBADF);
      } finally {
        other.end();
      }
    });

    it('answers an op it does not know with ENOSYS and goes on', async () => {
      assert.equal((await job.call({ op: 'unknown', code: 99 })).result, -E.ENOSYS);
      assert.equal((await job.path('chdir', '/')).result, 0);
    });

    it('logs a checkpoint image renamed into /.ckpt', async () => {
      const h = await job.open('/.ckpt/run.img.tmp', WRONLY | CREAT | TRUNC, 0o600);
      await job.pwrite(h, 'image bytes', 0);
      assert.equal((await job.call({ op: 'fsync', handle: h })).result, 0);
      await job.call({ op: 'close', handle: h });
      assert.equal((await job.call({ op: 'rename', from: Buffer.from('/.ckpt/run.img.tmp'), to: Buffer.from('/.ckpt/run.img') })).result, 0);
      await shadow.waitForLog(/^ckpt-shadow: session \d+: checkpoint stored run\.img$/);
      assert.equal(fs.readFileSync(inRoot('.ckpt/run.img'), 'utf8'), 'image bytes');
    });

    it("prints the job line on stdout when a JOB session exits or is killed, and only logs a CHILD's exit", async () => {
      // the CHILD first: a line it wrongly printed would come before the JOB lines on the same pipe
      const exits: Array<[number, number, string | null]> = [
        [C.CKPT_SH_KIND_CHILD, 0, null], [C.CKPT_SH_KIND_JOB, 3 << 8, 'exited 3'],
        [C.CKPT_SH_KIND_JOB | C.CKPT_SH_KIND_AGAIN, 9, 'killed by SIGKILL'],
      ];
      const sessions: bigint[] = [];
      for (const [kind, status, line] of exits) {
        const c = await ShadowClient.connect(shadow.port, shadow.token, { kind, pid: 4242 });
        sessions.push(c.session);
        assert.equal((await c.call({ op: 'exit', status })).result, 0);
        c.end();
        await shadow.waitForLog(new RegExp(`^ckpt-shadow: session ${c.session}: pid 4242 ${line ?? 'exited 0'}$`));
        if (line) await shadow.waitForStdout(new RegExp(`^job ${c.session} ${line}$`));
      }
      assert.ok(!shadow.stdout.some((l) => l.startsWith(`job ${sessions[0]} `)), 'no job line for a CHILD');
    });
  });
}

describe('ckpt-shadow options', function () {
  this.timeout(30_000);

  /** The policy text a server started with `args` sends in HELLO */
  async function helloPolicy(args: string[]): Promise<string> {
    const s = await startShadow({ args });
    try {
      const c = await ShadowClient.connect(s.port, s.token);
      c.end();
      return c.hello.policy;
    } finally {
      await s.stop();
    }
  }

  it('adds --scratch as local rules, and --stdin/--stdout/--stderr lines', async () => {
    assert.equal(await helloPolicy(['--scratch', '/scratch', '--scratch', '/tmp/job', '--stdout', '/out.txt', '--stderr', '/err.txt']),
      'remote /\nlocal /proc\nlocal /dev\nlocal /sys\nlocal /scratch\nlocal /tmp/job\nstdout /out.txt\nstderr /err.txt\n');
  });

  it('replaces the default policy with --policy FILE.json; command-line stdio wins', async () => {
    const file = path.join(scratch(), 'policy.json');
    fs.writeFileSync(file, JSON.stringify({ remote: ['/', '/data'], local: ['/tmp'], stdin: '/in', stdout: '/o' }));
    assert.equal(await helloPolicy(['--policy', file, '--stdout', '/o2']), 'remote /\nremote /data\nlocal /tmp\nstdin /in\nstdout /o2\n');
  });

  it('refuses bad arguments (exit 2), a missing root, an unreadable or empty token and a bad policy (exit 1) with one line', async () => {
    const dir = scratch();
    const token = path.join(dir, 'token'), empty = path.join(dir, 'empty'), bad = path.join(dir, 'bad.json'), unknown = path.join(dir, 'unknown.json');
    fs.writeFileSync(token, 'tok\n');
    fs.writeFileSync(empty, '\n');
    fs.writeFileSync(bad, '{ remote: [');
    fs.writeFileSync(unknown, '{"remote": ["/"], "locals": []}');
    const base = ['--listen', '127.0.0.1:0', '--root', dir, '--token-file', token];
    // [arguments, what stderr says, exit status]: 2 for the command line itself, 1 for what it names
    const cases: Array<[string[], RegExp, number]> = [
      [[], /--listen, --root and --token-file are required/, 2],
      [['--listen', '127.0.0.1', '--root', dir, '--token-file', token], /--listen must be HOST:PORT/, 2],
      [['--listen', '127.0.0.1:99999', '--root', dir, '--token-file', token], /--listen must be HOST:PORT/, 2],
      [[...base, '--bogus'], /unknown argument --bogus/, 2],
      [['--listen', '127.0.0.1:0', '--root', path.join(dir, 'none'), '--token-file', token], /--root .*none: no such file/, 1],
      [['--listen', '127.0.0.1:0', '--root', token, '--token-file', token], /--root .*token: not a directory/, 1],
      [['--listen', '127.0.0.1:0', '--root', dir, '--token-file', path.join(dir, 'none')], /--token-file .*none: no such file/, 1],
      [['--listen', '127.0.0.1:0', '--root', dir, '--token-file', empty], /--token-file .*empty: empty/, 1],
      [[...base, '--policy', bad], /--policy .*bad\.json: not JSON/, 1],
      [[...base, '--policy', unknown], /--policy .*unknown\.json: unknown key "locals"/, 1],
      [[...base, '--stdout', 'relative.txt'], /--stdout: "relative.txt" is not an absolute path/, 2],
      [[...base, '--scratch'], /--scratch needs a value/, 2],
    ];
    // One at a time: a dozen Node processes started at once on a busy 2-core machine took longer
    // than any per-call limit one could pick; the test's own timeout bounds a hang.
    for (const [args, message, status] of cases) {
      const r = await execa(...nodeCommand(SHADOW_CLI, args), { reject: false });
      assert.equal(r.exitCode, status, `${args.join(' ')}: ${r.stderr}`);
      assert.equal(r.stderr.split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^ckpt-shadow: ${message.source}`));
    }
  });

  it('closes a connection that does not authenticate in time, with the reason logged', async () => {
    const log: string[] = [];
    const root = await ConfinedRoot.open(scratch());
    const server = await ShadowServer.start({
      host: '127.0.0.1', port: 0, root, token: Buffer.from('t'), policy: '', authTimeoutMs: 300,
      log: (l) => log.push(l), print: () => {},
    });
    try {
      const { reader } = await connectRaw(server.address.port);
      const started = Date.now();
      assert.equal(await reader.next(), null, 'the server closes the connection');
      assert.ok(Date.now() - started >= 250, `closed after ${Date.now() - started} ms`);
      assert.ok(log.some((l) => /session 1: closed: no AUTH within 0.3 s/.test(l)), log.join('\n'));
    } finally {
      await server.close();
    }
  });
});
