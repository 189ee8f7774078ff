// What ckpt-shadow refuses: paths that leave the root (`..` above it, absolute and relative symlinks
// leading out, symlinks swapped by another process while the job opens through them), a client
// without the token, a replayed AUTH, and broken frames, which close only their own connection
// while a well-behaved session next to them gets every reply right and the server goes on.
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { WIRE_O, authMac, decodeDirents, decodeStat, encodeFrame, encodeMessage, encodeRequest, type Request } from '../../src/shadow/protocol.js';
import { ShadowClient, connectRaw, type FrameReader } from './client.js';
import { startShadow, type Shadow } from './shadow-process.js';
import { waitFor } from '../helpers.js';

const E = os.constants.errno;
const { WRONLY, RDWR, CREAT, EXCL, TRUNC, DIRECTORY } = WIRE_O;
const SECRET = 'OUTSIDE-SECRET', INSIDE = 'INSIDE';
const p2 = (text: string) => Buffer.from(text);

/** Everything below `dir`, as relative path → content ('' for directories) */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath ?? e.path, e.name);
    out.set(path.relative(dir, full), e.isFile() ? fs.readFileSync(full, 'utf8') : '');
  }
  return out;
}

for (const lookups of ['event-loop', 'workers'] as const) {
  describe(`ckpt-shadow confinement and authentication (stat lookups: ${lookups})`, function () {
    this.timeout(60_000);
    let shadow: Shadow, job: ShadowClient, outsideBefore: Map<string, string>;

    before(async () => {
      shadow = await startShadow({ args: ['--lookups', lookups] });
      await shadow.waitForLog(lookups === 'workers' ? /^ckpt-shadow: lookups in worker threads/ : /^ckpt-shadow: lookups on the event loop/);
      const { root, outside } = shadow;
      fs.writeFileSync(path.join(outside, 'secret.txt'), SECRET);
      fs.mkdirSync(path.join(root, 'sub'));
      fs.writeFileSync(path.join(root, 'inside.txt'), INSIDE);
      fs.writeFileSync(path.join(root, 'sub/secret.txt'), INSIDE);
      fs.symlinkSync(path.join(outside, 'secret.txt'), path.join(root, 'abs-out'));
      fs.symlinkSync('../outside/secret.txt', path.join(root, 'rel-out'));
      fs.symlinkSync(outside, path.join(root, 'dir-out'));
      fs.symlinkSync('sub/../../outside', path.join(root, 'rel-dir-out'));
      fs.symlinkSync(path.join(outside, 'created'), path.join(root, 'dangling-out'));
      fs.symlinkSync('inside-new', path.join(root, 'dangling-in'));
      fs.symlinkSync('inside.txt', path.join(root, 'rel-in'));
      fs.symlinkSync(path.join(root, 'inside.txt'), path.join(root, 'abs-in'));
      outsideBefore = snapshot(outside);
      job = await ShadowClient.connect(shadow.port, shadow.token);
    });
    after(async () => {
      job?.end();
      await shadow?.stop();
    });
    afterEach(() => assert.deepEqual(snapshot(shadow.outside), outsideBefore, 'nothing outside the root changed'));

    async function openResult(p: string, flags = 0): Promise<number> {
      const r = await job.tryOpen(p, flags);
      if (r > 0) await job.call({ op: 'close', handle: r });
      return r;
    }

    it('refuses `..` above the root with EACCES, for every kind of request', async () => {
      for (const p of ['/..', '/../outside/secret.txt', '/../../../../etc/passwd', '/sub/../../outside/secret.txt', '/./sub/../..']) {
        assert.equal(await openResult(p), -E.EACCES, `open ${p}`);
        assert.equal((await job.call({ op: 'stat', path: Buffer.from(p), nofollow: true })).result, -E.EACCES, `stat ${p}`);
        assert.equal((await job.path('chdir', p)).result, -E.EACCES, `chdir ${p}`);
      }
      assert.equal((await job.call({ op: 'mkdir', path: Buffer.from('/../outside/new'), mode: 0o755 })).result, -E.EACCES);
      assert.equal((await job.path('unlink', '/../outside/secret.txt')).result, -E.EACCES);
      assert.equal((await job.call({ op: 'rename', from: Buffer.from('/inside.txt'), to: Buffer.from('/../outside/x') })).result, -E.EACCES);
      // `..` that stays inside is fine
      const h = await job.open('/sub/../inside.txt', 0);
      assert.equal((await job.pread(h, 100, 0)).toString(), INSIDE);
      await job.call({ op: 'close', handle: h });
    });

    it('confines the metadata calls: symlinks of any text that never lead out, no hard link to an outside file, no device node or socket', async () => {
      const secret = path.join(shadow.outside, 'secret.txt');
      const meta = () => { const st = fs.statSync(secret, { bigint: true }); return [st.mode, st.uid, st.gid, st.mtimeNs, st.atimeNs, st.nlink].join(' '); };
      const before = meta();
      const times = [{ sec: 978307200n, nsec: 0n }, { sec: 978307200n, nsec: 0n }] as [{ sec: bigint; nsec: bigint }, { sec: bigint; nsec: bigint }];
      // a symlink may hold any text: made, read back, but following it is refused like any lookup
      assert.equal((await job.call({ op: 'symlink', target: Buffer.from(secret), path: Buffer.from('/made-out') })).result, 0);
      assert.equal((await job.call({ op: 'symlink', target: Buffer.from('../../../../../etc/passwd'), path: Buffer.from('/made-rel-out') })).result, 0);
      assert.equal((await job.path('readlink', '/made-out')).data.toString(), secret);
      for (const p of ['/made-out', '/made-rel-out', '/abs-out', '/rel-out', '/dir-out/secret.txt']) {
        assert.equal(await openResult(p), -E.EACCES, `open ${p}`);
        assert.equal((await job.call({ op: 'chmod', path: Buffer.from(p), nofollow: false, mode: 0o777 })).result, -E.EACCES, `chmod ${p}`);
        assert.equal((await job.call({ op: 'chown', path: Buffer.from(p), nofollow: false, uid: 1, gid: 1 })).result, -E.EACCES, `chown ${p}`);
        assert.equal((await job.call({ op: 'utimens', path: Buffer.from(p), nofollow: false, times })).result, -E.EACCES, `utimens ${p}`);
        assert.equal((await job.call({ op: 'statfs', path: Buffer.from(p) })).result, -E.EACCES, `statfs ${p}`);
        assert.equal((await job.call({ op: 'link', from: Buffer.from(p), to: Buffer.from('/stolen'), follow: true })).result, -E.EACCES, `link -L ${p}`);
      }
      assert.equal((await job.call({ op: 'symlink', target: p2('x'), path: Buffer.from('/dir-out/new-link') })).result, -E.EACCES, 'no symlink made outside');
      assert.equal((await job.call({ op: 'link', from: Buffer.from('/inside.txt'), to: Buffer.from('/dir-out/new-hard'), follow: false })).result, -E.EACCES);
      assert.equal((await job.call({ op: 'link', from: Buffer.from('/../outside/secret.txt'), to: Buffer.from('/stolen'), follow: false })).result, -E.EACCES);
      assert.equal((await job.call({ op: 'mknod', path: Buffer.from('/dir-out/fifo'), mode: 0o10644, dev: 0n })).result, -E.EACCES);
      // link(2) without AT_SYMLINK_FOLLOW links the symlink itself, which is inside: still a symlink that leads nowhere
      assert.equal((await job.call({ op: 'link', from: Buffer.from('/abs-out'), to: Buffer.from('/abs-out-2'), follow: false })).result, 0);
      assert.ok(fs.lstatSync(path.join(shadow.root, 'abs-out-2')).isSymbolicLink());
      assert.equal(await openResult('/abs-out-2'), -E.EACCES);
      assert.ok(!fs.existsSync(path.join(shadow.root, 'stolen')));
      // lchown and lutimes act on the link, never on what it names
      assert.equal((await job.call({ op: 'chown', path: Buffer.from('/abs-out'), nofollow: true, uid: 0, gid: 0 })).result, 0);
      assert.equal((await job.call({ op: 'utimens', path: Buffer.from('/abs-out'), nofollow: true, times })).result, 0);
      assert.equal((await job.call({ op: 'chmod', path: Buffer.from('/abs-out'), nofollow: true, mode: 0o600 })).result, -E.EOPNOTSUPP);
      // device nodes and sockets, whatever the server's privileges (this one may run as root)
      for (const [mode, what] of [[0o20666, 'character device'], [0o60666, 'block device'], [0o140666, 'socket']] as const) {
        assert.equal((await job.call({ op: 'mknod', path: Buffer.from(`/node-${mode}`), mode, dev: 0x0103n })).result, -E.EPERM, what);
        assert.ok(!fs.existsSync(path.join(shadow.root, `node-${mode}`)), what);
      }
      assert.equal(meta(), before, 'the outside file\'s mode, owner, times and links are as they were');
    });

    it('refuses absolute and relative symlinks that lead out, whatever the request', async () => {
      for (const p of ['/abs-out', '/rel-out', '/dir-out/secret.txt', '/rel-dir-out/secret.txt']) {
        assert.equal(await openResult(p), -E.EACCES, `open ${p}`);
        assert.equal(await openResult(p, WRONLY | TRUNC), -E.EACCES, `open ${p} O_TRUNC`);
        assert.equal((await job.call({ op: 'stat', path: Buffer.from(p), nofollow: false })).result, -E.EACCES, `stat ${p}`);
        assert.equal((await job.call({ op: 'access', path: Buffer.from(p), mode: 0 })).result, -E.EACCES, `access ${p}`);
      }
      for (const p of ['/dir-out', '/rel-dir-out']) {
        assert.equal((await job.path('chdir', p)).result, -E.EACCES, `chdir ${p}`);
        assert.equal(await openResult(p, DIRECTORY), -E.EACCES, `opendir ${p}`);
        assert.equal((await job.call({ op: 'mkdir', path: Buffer.from(`${p}/new`), mode: 0o755 })).result, -E.EACCES);
        assert.equal((await job.path('unlink', `${p}/secret.txt`)).result, -E.EACCES);
        assert.equal((await job.path('readlink', `${p}/secret.txt`)).result, -E.EACCES);
        assert.equal(await openResult(`${p}/new-file`, WRONLY | CREAT), -E.EACCES);
        assert.equal((await job.call({ op: 'rename', from: Buffer.from('/inside.txt'), to: Buffer.from(`${p}/stolen`) })).result, -E.EACCES);
        assert.equal((await job.call({ op: 'rename', from: Buffer.from(`${p}/secret.txt`), to: Buffer.from('/got') })).result, -E.EACCES);
      }
      // the links themselves are inside: they can be looked at, read and removed
      assert.equal((await job.stat('/abs-out', true)).mode & 0o170000, 0o120000);
      assert.equal((await job.path('readlink', '/rel-out')).data.toString(), '../outside/secret.txt');
      // a file is never created through a symlink, even one that would land inside
      assert.equal(await openResult('/dangling-out', WRONLY | CREAT), -E.EACCES);
      assert.equal(await openResult('/dangling-in', WRONLY | CREAT), -E.EACCES);
      assert.ok(!fs.existsSync(path.join(shadow.root, 'inside-new')));
      // symlinks that stay inside are followed
      for (const p of ['/rel-in', '/abs-in']) {
        const h = await job.open(p, 0);
        assert.equal((await job.pread(h, 100, 0)).toString(), INSIDE, p);
        await job.call({ op: 'close', handle: h });
      }
    });

    it('never reads, truncates or creates outside while another process swaps symlinks in a tight loop', async function () {
      const { root, outside } = shadow;
      fs.writeFileSync(path.join(root, 'victim.txt'), INSIDE);
      const links: Array<[string, string, string]> = [
        [path.join(root, 'swap'), path.join(root, 'inside.txt'), path.join(outside, 'secret.txt')],
        [path.join(root, 'swapdir'), path.join(root, 'sub'), outside],
        [path.join(root, 'swaptrunc'), path.join(root, 'victim.txt'), path.join(outside, 'secret.txt')],
      ];
      const swapper = spawnSwapper(links);
      const clients = await Promise.all([0, 1, 2].map(() => ShadowClient.connect(shadow.port, shadow.token)));
      const outcomes = { inside: 0, refused: 0, other: 0 };
      const tally = (r: number) => {
        if (r === -E.EACCES) outcomes.refused++;
        else if (r > 0) outcomes.inside++;
        else outcomes.other++;
      };
      try {
        await waitFor(() => links.every(([name]) => fs.existsSync(name)), 'the swapper to make its links');
        const ATTEMPTS = Number(process.env.ATTEMPTS ?? 700);
        await Promise.all(clients.map(async (c, k) => {
          for (let i = 0; i < ATTEMPTS; i++) {
            const p = ['/swap', '/swapdir/secret.txt'][i % 2];
            const h = await c.tryOpen(p, 0);
            tally(h);
            if (h > 0) {
              assert.equal((await c.pread(h, 100, 0)).toString(), INSIDE, `read through ${p}`);
              await c.call({ op: 'close', handle: h });
            }
            const st = await c.call({ op: 'stat', path: Buffer.from(p), nofollow: false });
            if (st.result === 0) assert.notEqual(decodeStat(st.data).size, BigInt(SECRET.length), `stat through ${p}`);
            const created = await c.tryOpen(`/swapdir/new-${k}-${i}`, WRONLY | CREAT | EXCL);
            tally(created);
            if (created > 0) await c.call({ op: 'close', handle: created });
            const trunc = await c.tryOpen('/swaptrunc', WRONLY | TRUNC);
            tally(trunc);
            if (trunc > 0) await c.call({ op: 'close', handle: trunc });
          }
        }));
      } finally {
        swapper.kill('SIGKILL');
        for (const c of clients) c.end();
      }
      assert.equal(fs.readFileSync(path.join(outside, 'secret.txt'), 'utf8'), SECRET);
      // the race was really run both ways, and nothing else came of it
      assert.ok(outcomes.inside > 100 && outcomes.refused > 100 && outcomes.other === 0, JSON.stringify(outcomes));
      this.test!.title += ` (${JSON.stringify(outcomes)})`;
    });

    it('never changes a mode, owner, time or link count outside, nor makes a link or FIFO there, while symlinks are swapped', async function () {
      const { root, outside } = shadow;
      const secret = path.join(outside, 'secret.txt');
      const meta = () => { const st = fs.lstatSync(secret, { bigint: true }); return [st.mode, st.uid, st.gid, st.mtimeNs, st.nlink].join(' '); };
      const before = meta();
      const links: Array<[string, string, string]> = [
        [path.join(root, 'mswap'), path.join(root, 'inside.txt'), secret],
        [path.join(root, 'mswapdir'), path.join(root, 'sub'), outside],
      ];
      const swapper = spawnSwapper(links);
      const clients = await Promise.all([0, 1].map(() => ShadowClient.connect(shadow.port, shadow.token)));
      const outcomes = { done: 0, refused: 0, other: 0 };
      const tally = (r: number) => {
        if (r === -E.EACCES) outcomes.refused++;
        else if (r === 0) outcomes.done++;
        else outcomes.other++;
      };
      const times = [{ sec: 978307200n, nsec: 0n }, { sec: 978307200n, nsec: 0n }] as [{ sec: bigint; nsec: bigint }, { sec: bigint; nsec: bigint }];
      try {
        await waitFor(() => links.every(([name]) => fs.existsSync(name)), 'the swapper to make its links');
        const ATTEMPTS = Number(process.env.ATTEMPTS ?? 200);
        await Promise.all(clients.map(async (c, k) => {
          for (let i = 0; i < ATTEMPTS; i++) {
            const p = Buffer.from(['/mswap', '/mswapdir/secret.txt'][i % 2]);
            tally((await c.call({ op: 'chmod', path: p, nofollow: false, mode: 0o600 + (i % 2) })).result);
            tally((await c.call({ op: 'chown', path: p, nofollow: false, uid: 4321, gid: 4321 })).result);
            tally((await c.call({ op: 'utimens', path: p, nofollow: false, times })).result);
            const linked = (await c.call({ op: 'link', from: p, to: Buffer.from(`/hl-${k}-${i}`), follow: true })).result;
            tally(linked);
            if (linked === 0) fs.unlinkSync(path.join(root, `hl-${k}-${i}`));
            const made = (await c.call({ op: 'mknod', path: Buffer.from(`/mswapdir/ff-${k}-${i}`), mode: 0o10600, dev: 0n })).result;
            tally(made);
            if (made === 0) fs.unlinkSync(path.join(root, 'sub', `ff-${k}-${i}`));
            const sym = (await c.call({ op: 'symlink', target: Buffer.from('x'), path: Buffer.from(`/mswapdir/sl-${k}-${i}`) })).result;
            tally(sym);
            if (sym === 0) fs.unlinkSync(path.join(root, 'sub', `sl-${k}-${i}`));
          }
        }));
      } finally {
        swapper.kill('SIGKILL');
        for (const c of clients) c.end();
      }
      assert.equal(meta(), before, 'the outside file\'s mode, owner, mtime and links are as they were');
      assert.ok(outcomes.done > 100 && outcomes.refused > 100 && outcomes.other === 0, JSON.stringify(outcomes));
      this.test!.title += ` (${JSON.stringify(outcomes)})`;
    });

    it('is not held up by FIFOs below the root, more of them than libuv has threads', async () => {
      for (let i = 0; i < 6; i++) execFileSync('mkfifo', [path.join(shadow.root, `fifo${i}`)]);
      for (let i = 0; i < 6; i++) {
        const h = await job.open(`/fifo${i}`, 0);
        assert.equal((await job.call({ op: 'pread', handle: h, count: 10, offset: 0n })).result, -E.ESPIPE);
        await job.call({ op: 'close', handle: h });
        assert.equal(await job.tryOpen(`/fifo${i}`, WRONLY), -E.ENXIO, 'no reader');
      }
      assert.equal((await job.stat('/inside.txt')).size, BigInt(INSIDE.length));
    });

    it('denies a client with a wrong token and logs why', async () => {
      const before = shadow.log.length;
      await assert.rejects(ShadowClient.connect(shadow.port, Buffer.from('not-the-token'), { pid: 31337 }), /DENIED: bad MAC/);
      await shadow.waitForLog(/authentication failed \(pid 31337, CHILD\): bad MAC$/);
      assert.ok(shadow.log.slice(before).some((l) => /session \d+: closed: denied: bad MAC$/.test(l)));
    });

    it('denies an AUTH replayed from a recorded handshake', async () => {
      const first = await connectRaw(shadow.port);
      const nonce = Buffer.alloc(32, 7);
      const recorded = encodeMessage({ type: 'auth', nonce, mac: authMac(shadow.token, first.hello.nonce, nonce, 999), pid: 999, kind: C.CKPT_SH_KIND_JOB });
      first.socket.write(recorded);
      assert.equal((await first.reader.next())!.type, C.CKPT_SH_WELCOME, 'the recorded handshake itself succeeded');
      first.socket.destroy();
      const replay = await connectRaw(shadow.port);
      assert.ok(!replay.hello.nonce.equals(first.hello.nonce), 'a fresh server nonce');
      replay.socket.write(recorded);
      const f = await replay.reader.next();
      assert.equal(f!.type, C.CKPT_SH_DENIED);
      assert.equal(f!.payload.toString(), 'bad MAC');
      assert.equal(await replay.reader.next(), null, 'and the connection is closed');
    });

    it('closes only the connection of each broken frame, with the reason logged, while a steady session is served right', async function () {
      const rng = mulberry32(0x5eed);
      const frames = Array.from({ length: 1000 }, () => brokenFrame(rng));
      const steady = steadyClient(await ShadowClient.connect(shadow.port, shadow.token));
      const results: FuzzResult[] = [];
      const queue = frames.flatMap((bytes) => [{ bytes, phase: 'auth' as const }, { bytes, phase: 'serving' as const }]);
      try {
        await Promise.all(Array.from({ length: 12 }, async () => {
          for (let item; (item = queue.shift());) results.push(await sendBroken(shadow, item.bytes, item.phase));
        }));
      } finally {
        steady.stop();
      }
      const rounds = await steady.done;
      assert.equal(shadow.proc.exitCode, null, 'the server is still running');
      assert.ok(rounds > 50, `the steady session ran ${rounds} rounds`);
      const closedByServer = results.filter((r) => r.expect === 'closed');
      assert.ok(closedByServer.length > 900, `${closedByServer.length} frames broke the header`);
      // every connection ended; a header violation ended it without our help, its reason logged
      const closedLine = new Map<number, string>();
      await shadow.waitForLog(new RegExp(`^ckpt-shadow: session ${results[results.length - 1].session}: closed`));
      for (const l of shadow.log) {
        const m = /^ckpt-shadow: session (\d+): closed: (.*)$/.exec(l);
        if (m) closedLine.set(Number(m[1]), m[2]);
      }
      for (const r of results) {
        const reason = closedLine.get(r.session);
        assert.ok(reason !== undefined, `session ${r.session} has no closing line`);
        if (r.expect === "closed") assert.match(reason, /^(bad magic|unsupported version|unexpected|.* is over|.* shorter than)/, `session ${r.session}: ${reason}`);
      }
      // a session still works
      const after = await ShadowClient.connect(shadow.port, shadow.token);
      assert.equal((await after.path('chdir', '/')).result, 0);
      after.end();
      this.test!.title += ` (${results.length} connections, ${closedByServer.length} closed by the server at once, ${rounds} steady rounds)`;
    });
  });
}

/** Runs a node process that swaps each link between its two targets, atomically (rename), forever */
function spawnSwapper(links: Array<[string, string, string]>): ChildProcess {
  const script = `
    const fs = require('fs');
    const links = JSON.parse(process.argv[1]);
    for (let i = 0; ; i++) for (const [name, a, b] of links) {
      const tmp = name + '.tmp';
      try { fs.unlinkSync(tmp); } catch {}
      fs.symlinkSync(i & 1 ? a : b, tmp);
      fs.renameSync(tmp, name);
    }`;
  return spawn('node', ['-e', script, JSON.stringify(links)], { stdio: 'ignore' });
}

// ---- broken frames ----

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FUZZ_PATHS = ['/fuzz/a', '/fuzz', '/', '/fuzz/../..', '/fuzz/sub/b', '/abs-out', '/dir-out/x', ''];

function randomRequest(rng: () => number): Request {
  const int = (n: number) => Math.floor(rng() * n);
  const pathOf = () => Buffer.from(FUZZ_PATHS[int(FUZZ_PATHS.length)]);
  const handle = int(4), offset = BigInt(int(1 << 20));
  const choices: Request[] = [
    { op: 'open', path: pathOf(), flags: [0, WRONLY | CREAT, RDWR | CREAT | TRUNC, DIRECTORY, int(1 << 24)][int(5)], mode: 0o644 },
    { op: 'close', handle }, { op: 'pread', handle, count: int(1 << 21), offset },
    { op: 'pwrite', handle, append: rng() < 0.5, offset, data: Buffer.alloc(int(300), 'w') },
    { op: 'fstat', handle }, { op: 'stat', path: pathOf(), nofollow: rng() < 0.5 }, { op: 'access', path: pathOf(), mode: int(9) },
    { op: 'getdents', handle, count: int(5000), index: BigInt(int(5)) }, { op: 'mkdir', path: pathOf(), mode: 0o755 },
    { op: 'rmdir', path: pathOf() }, { op: 'unlink', path: pathOf() }, { op: 'rename', from: pathOf(), to: pathOf() },
    { op: 'readlink', path: pathOf() }, { op: 'ftruncate', handle, length: offset }, { op: 'fsync', handle },
    { op: 'chdir', path: pathOf() }, { op: 'exit', status: int(1 << 16) }, { op: 'unknown', code: int(1 << 16) },
  ];
  return choices[int(choices.length)];
}

/** A valid frame of some kind, then one or more mutations */
function brokenFrame(rng: () => number): Buffer {
  const int = (n: number) => Math.floor(rng() * n);
  const types = [C.CKPT_SH_HELLO, C.CKPT_SH_AUTH, C.CKPT_SH_WELCOME, C.CKPT_SH_DENIED, C.CKPT_SH_REPLY];
  let f = rng() < 0.7
    ? encodeFrame(C.CKPT_SH_REQUEST, 1 + int(5), encodeRequest(randomRequest(rng)))
    : encodeFrame(types[int(types.length)], 0, Buffer.from(Array.from({ length: int(120) }, () => int(256))));
  const mutations = 1 + int(3);
  for (let m = 0; m < mutations; m++) {
    f = Buffer.from(f);
    const kind = int(9);
    if (kind < 4 && f.length < 16) continue; // no header left to change
    switch (kind) {
      case 0: f.writeUInt32LE([0, 0xffffffff, C.CKPT_SH_MAX_PAYLOAD + 1, f.length - 16 + 1 + int(64), int(24)][int(5)], 12); break;
      case 1: f.writeUInt32LE((f.readUInt32LE(0) ^ (1 << int(32))) >>> 0, 0); break;
      case 2: f.writeUInt16LE([0, 2, 0xffff, int(1 << 16)][int(4)], 4); break;
      case 3: f.writeUInt16LE([0, 7, 0xffff, int(1 << 16), ...types][int(9)], 6); break;
      case 4: f = f.subarray(0, int(f.length)); break;
      case 5: for (let i = 0; i < 1 + int(4); i++) if (f.length) f[int(f.length)] = int(256); break;
      case 6: f = Buffer.concat([f, Buffer.from(Array.from({ length: 1 + int(40) }, () => int(256)))]); break;
      case 7: f = Buffer.from(Array.from({ length: int(200) }, () => int(256))); break;
      case 8: if (f.length > 16 + 24) f = Buffer.concat([f.subarray(0, 40), Buffer.from(f.subarray(40)).fill(0x41)]); break;
    }
  }
  return f;
}

interface FuzzResult { session: number; expect: 'closed' | 'ended' }

/** What the server must do with these bytes, from their header alone: close the connection at once
 *  when the header breaks a rule, or wait for more */
function expectation(bytes: Buffer, expectedType: number): FuzzResult['expect'] {
  if (bytes.length < 16) return 'ended';
  const minimum = expectedType === C.CKPT_SH_AUTH ? 72 : 24;
  const length = bytes.readUInt32LE(12);
  const broken = bytes.readUInt32LE(0) !== 0x48534b43 || bytes.readUInt16LE(4) !== 1 || bytes.readUInt16LE(6) !== expectedType ||
    length > C.CKPT_SH_MAX_PAYLOAD || length < minimum;
  return broken ? 'closed' : 'ended';
}

/** One connection: before AUTH, or after AUTH and one good request; then the broken bytes. When the
 *  header breaks a rule the server must close by itself; otherwise the test ends its side and the
 *  server must close too. Whatever the server sends must be whole frames. */
async function sendBroken(shadow: Shadow, bytes: Buffer, phase: 'auth' | 'serving'): Promise<FuzzResult> {
  let socket, reader: FrameReader;
  const since = shadow.log.length;
  if (phase === 'auth') {
    ({ socket, reader } = await connectRaw(shadow.port));
  } else {
    const c = await ShadowClient.connect(shadow.port, shadow.token);
    assert.equal((await c.path('chdir', '/')).result, 0);
    ({ socket } = c);
    reader = c.reader;
  }
  const session = await sessionOf(shadow, socket.localPort!, since);
  const expect = expectation(bytes, phase === 'auth' ? C.CKPT_SH_AUTH : C.CKPT_SH_REQUEST);
  socket.write(bytes);
  if (expect === 'ended') socket.end();
  const timer = setTimeout(() => socket.destroy(new Error('timeout')), 5_000);
  try {
    while (await reader.next());
  } finally {
    clearTimeout(timer);
  }
  assert.ok(!socket.errored, `session ${session}: the server did not close the connection (${bytes.subarray(0, 32).toString('hex')})`);
  return { session, expect };
}

/** The session number the server gave the connection from local `port`, logged after index `since` */
async function sessionOf(shadow: Shadow, port: number, since: number): Promise<number> {
  const line = await shadow.waitForLog(new RegExp(`^ckpt-shadow: session \\d+: connected from 127\\.0\\.0\\.1:${port}$`), 10_000, since);
  return Number(/session (\d+)/.exec(line)![1]);
}

/** A session that writes, reads back and checks, again and again, until stopped */
function steadyClient(c: ShadowClient): { stop(): void; done: Promise<number> } {
  let running = true;
  const done = (async () => {
    assert.equal((await c.call({ op: 'mkdir', path: Buffer.from('/steady'), mode: 0o755 })).result, 0);
    const h = await c.open('/steady/file', RDWR | CREAT | TRUNC);
    const dir = await c.open('/steady', DIRECTORY);
    let round = 0;
    for (; running; round++) {
      const data = Buffer.alloc(1 + (round * 997) % 8192, `round ${round};`);
      const offset = (round % 32) * 8192;
      assert.deepEqual(await c.pwrite(h, data, offset), { written: data.length, end: offset + data.length });
      assert.ok((await c.pread(h, data.length, offset)).equals(data), `round ${round}: read back`);
      const fst = await c.call({ op: 'fstat', handle: h });
      assert.equal(fst.result, 0);
      assert.equal((await c.stat('/steady/file')).ino, decodeStat(fst.data).ino);
      const list = await c.call({ op: 'getdents', handle: dir, count: 4096, index: 0n });
      assert.deepEqual(decodeDirents(list.data).map((e) => e.name.toString()).sort(), ['.', '..', 'file']);
    }
    c.end();
    return round;
  })();
  return { stop: () => (running = false), done };
}
