// The shadow protocol's codec (src/shadow/protocol.ts) against the spec: bytes laid out by hand at
// the offsets docs/shadow-protocol.md gives, every message and request decoded back to itself, the
// frame parser's refusals (with their reasons), the struct stat and dirent layouts, and the MACs
// against values computed apart from the code under test (node:crypto by hand, and openssl).
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import * as C from '../../src/contract.generated.js';
import {
  FrameParser, ProtocolError, authMac, decodeDirents, decodeMessage, decodeRequest, decodeStat, encodeDirent,
  encodeFrame, encodeMessage, encodeRequest, encodeStat, macEqual, tokenFromFile, welcomeMac, type Message, type Request,
} from '../../src/shadow/protocol.js';

const ALL = [C.CKPT_SH_HELLO, C.CKPT_SH_AUTH, C.CKPT_SH_WELCOME, C.CKPT_SH_DENIED, C.CKPT_SH_REQUEST, C.CKPT_SH_REPLY];
const p = (s: string) => Buffer.from(s);

/** The one frame in `bytes`, through the parser */
function parseOne(bytes: Buffer, expected = ALL) {
  const parser = new FrameParser();
  parser.push(bytes);
  const f = parser.next(expected);
  assert.ok(f);
  assert.equal(parser.buffered, 0);
  return f;
}

function refused(bytes: Buffer, reason: RegExp, expected = ALL): void {
  const parser = new FrameParser();
  parser.push(bytes);
  assert.throws(() => parser.next(expected), (e: Error) => e instanceof ProtocolError && reason.test(e.message));
}

function header(type: number, seq: number, length: number, magic = C.CKPT_SH_MAGIC, version = C.CKPT_SH_VERSION): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt32LE(magic, 0);
  h.writeUInt16LE(version, 4);
  h.writeUInt16LE(type, 6);
  h.writeUInt32LE(seq, 8);
  h.writeUInt32LE(length, 12);
  return h;
}

const REQUESTS: Request[] = [
  { op: 'open', path: p('/dir/file'), flags: 0o1102, mode: 0o640 },
  { op: 'close', handle: 7 },
  { op: 'pread', handle: 3, count: 65536, offset: 1n << 40n },
  { op: 'pwrite', handle: 3, append: true, offset: 12n, data: p('some bytes\0with a NUL') },
  { op: 'pwrite', handle: 3, append: false, offset: 0n, data: Buffer.alloc(0) },
  { op: 'fstat', handle: 9 },
  { op: 'stat', path: p('/a'), nofollow: true },
  { op: 'access', path: p('/a'), mode: 6 },
  { op: 'getdents', handle: 4, count: 32768, index: 17n },
  { op: 'mkdir', path: p('/new'), mode: 0o755 },
  { op: 'rmdir', path: p('/new') },
  { op: 'unlink', path: Buffer.from([0x2f, 0xff, 0xfe]) },
  { op: 'rename', from: p('/.ckpt/x.tmp'), to: p('/.ckpt/x'), noReplace: false, exchange: false },
  { op: 'rename', from: p('/a'), to: p('/b'), noReplace: true, exchange: false },
  { op: 'symlink', target: p('any ../../text'), path: p('/l') },
  { op: 'link', from: p('/a'), to: p('/b'), follow: true },
  { op: 'chmod', path: p('/a'), nofollow: true, mode: 0o4755 },
  { op: 'fchmod', handle: 5, mode: 0o600 },
  { op: 'chown', path: p('/a'), nofollow: false, uid: 1000, gid: 0xffffffff },
  { op: 'fchown', handle: 5, uid: 0xffffffff, gid: 7 },
  { op: 'utimens', path: p('/a'), nofollow: true, times: [{ sec: -5n, nsec: BigInt(C.CKPT_SH_UTIME_OMIT) }, { sec: 1700000000n, nsec: 999999999n }] },
  { op: 'futimens', handle: 5, times: [{ sec: 0n, nsec: BigInt(C.CKPT_SH_UTIME_NOW) }, { sec: 1n, nsec: 2n }] },
  { op: 'mknod', path: p('/fifo'), mode: 0o10640, dev: 0n },
  { op: 'statfs', path: p('/') },
  { op: 'fstatfs', handle: 5 },
  { op: 'fallocate', handle: 5, mode: 1, offset: 4096n, length: 1n << 33n },
  { op: 'copy', handle: 5, count: 1 << 20, offset: 7n, to: 6, toOffset: 1n << 40n },
  { op: 'readlink', path: p('/link') },
  { op: 'ftruncate', handle: 2, length: 4096n },
  { op: 'fsync', handle: 2 },
  { op: 'chdir', path: p('/') },
  { op: 'exit', status: 0x0900 },
  { op: 'unknown', code: 4711 },
];

describe('shadow protocol codec', () => {
  it('lays out an OPEN request frame as the spec says', () => {
    const frame = encodeMessage({ type: 'request', seq: 7, request: { op: 'open', path: p('/a'), flags: 0o101, mode: 0o644 } });
    const fields = Buffer.alloc(24);
    fields.writeUInt32LE(1, 0); // op OPEN
    fields.writeUInt32LE(0o101, 8);
    fields.writeUInt32LE(0o644, 12);
    const want = Buffer.concat([header(5, 7, 27), fields, p('/a\0')]);
    assert.deepEqual(frame, want);
    assert.equal(frame.subarray(0, 4).toString(), 'CKSH');
  });

  it('lays out AUTH, WELCOME and REPLY as the spec says', () => {
    const nonce = Buffer.alloc(32, 1), mac = Buffer.alloc(32, 2);
    const auth = encodeMessage({ type: 'auth', nonce, mac, pid: 0x01020304, kind: 0x101 });
    assert.deepEqual(auth.subarray(16), Buffer.concat([nonce, mac, Buffer.from([4, 3, 2, 1, 1, 1, 0, 0])]));
    const welcome = encodeMessage({ type: 'welcome', mac, session: 0x1122334455n });
    assert.deepEqual(welcome.subarray(16), Buffer.concat([mac, Buffer.from([0x55, 0x44, 0x33, 0x22, 0x11, 0, 0, 0])]));
    const reply = encodeMessage({ type: 'reply', seq: 3, result: -2n, data: p('ab') });
    assert.deepEqual(reply, Buffer.concat([header(6, 3, 10), Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), p('ab')]));
  });

  it('decodes every message back to what was encoded', () => {
    const messages: Message[] = [
      { type: 'hello', nonce: crypto.randomBytes(32), policy: 'remote /\nlocal /proc\n' },
      { type: 'auth', nonce: crypto.randomBytes(32), mac: crypto.randomBytes(32), pid: 4242, kind: C.CKPT_SH_KIND_JOB | C.CKPT_SH_KIND_AGAIN },
      { type: 'welcome', mac: crypto.randomBytes(32), session: (1n << 64n) - 1n },
      { type: 'denied', reason: 'bad MAC' },
      { type: 'reply', seq: 0xffffffff, result: -(1n << 63n), data: crypto.randomBytes(100) },
      ...REQUESTS.map((request, i): Message => ({ type: 'request', seq: i + 1, request })),
    ];
    for (const m of messages) assert.deepEqual(decodeMessage(parseOne(encodeMessage(m))), m, m.type);
  });

  it('parses frames that arrive a byte at a time, or many in one chunk', () => {
    const frames = REQUESTS.map((request, i) => encodeMessage({ type: 'request', seq: i + 1, request }));
    const all = Buffer.concat(frames);
    const bytewise = new FrameParser(), got: number[] = [];
    for (const b of all) {
      bytewise.push(Buffer.from([b]));
      for (let f; (f = bytewise.next([C.CKPT_SH_REQUEST]));) got.push(f.seq);
    }
    assert.deepEqual(got, REQUESTS.map((_, i) => i + 1));
    const whole = new FrameParser();
    whole.push(all);
    for (const [i, bytes] of frames.entries()) assert.deepEqual(whole.next([C.CKPT_SH_REQUEST])!.payload, bytes.subarray(16), `frame ${i}`);
    assert.equal(whole.next([C.CKPT_SH_REQUEST]), undefined);
  });

  it('refuses another magic or version, an unexpected type, an oversized or too short payload, with the reason', () => {
    const request = encodeMessage({ type: 'request', seq: 1, request: { op: 'fsync', handle: 1 } });
    refused(Buffer.concat([header(5, 1, 24, 0x48534b44), Buffer.alloc(24)]), /^bad magic 0x48534b44$/);
    refused(Buffer.concat([header(5, 1, 24, C.CKPT_SH_MAGIC, 2), Buffer.alloc(24)]), /^unsupported version 2$/);
    refused(request, /^unexpected REQUEST frame \(expected AUTH\)$/, [C.CKPT_SH_AUTH]);
    refused(header(99, 1, 0), /^unexpected type 99 frame/);
    // refused from the header alone: the oversized payload never has to arrive
    refused(header(5, 1, C.CKPT_SH_MAX_PAYLOAD + 1), /^REQUEST payload of 1056769 bytes is over 1056768$/);
    refused(Buffer.concat([header(2, 0, 71), Buffer.alloc(71)]), /^AUTH payload of 71 bytes is shorter than its 72 bytes of fields$/);
    refused(Buffer.concat([header(5, 1, 23), Buffer.alloc(23)]), /^REQUEST payload of 23 bytes is shorter/);
    refused(Buffer.concat([header(6, 1, 7), Buffer.alloc(7)]), /^REPLY payload of 7 bytes is shorter/);
    // a frame at the bound is accepted
    const max = new FrameParser();
    max.push(header(6, 1, C.CKPT_SH_MAX_PAYLOAD));
    assert.equal(max.next([C.CKPT_SH_REPLY]), undefined, 'waits for the payload');
    max.push(Buffer.alloc(C.CKPT_SH_MAX_PAYLOAD));
    assert.equal(max.next([C.CKPT_SH_REPLY])!.payload.length, C.CKPT_SH_MAX_PAYLOAD);
  });

  it('refuses request tails that break the rules: no NUL, a path over CKPT_SH_MAX_PATH, bytes after it, one path for RENAME or SYMLINK, data over CKPT_SH_MAX_DATA, fixed fields of the wrong size', () => {
    const fields = (op: number) => {
      const b = Buffer.alloc(24);
      b.writeUInt32LE(op, 0);
      return b;
    };
    const bad = (op: number, tail: Buffer, reason: RegExp) =>
      assert.throws(() => decodeRequest(Buffer.concat([fields(op), tail])), (e: Error) => e instanceof ProtocolError && reason.test(e.message), reason.source);
    bad(C.CKPT_SH_OP_OPEN, p('/no-nul'), /^OPEN path 1 is not NUL-terminated$/);
    bad(C.CKPT_SH_OP_STAT, Buffer.concat([p('/'), Buffer.alloc(C.CKPT_SH_MAX_PATH, 'a'), Buffer.alloc(1)]), /^STAT path of 4098 bytes is over 4096$/);
    bad(C.CKPT_SH_OP_UNLINK, p('/a\0junk'), /^UNLINK has 4 bytes after its path$/);
    bad(C.CKPT_SH_OP_RENAME, p('/only-one\0'), /^RENAME path 2 is not NUL-terminated$/);
    bad(C.CKPT_SH_OP_PWRITE, Buffer.alloc(C.CKPT_SH_MAX_DATA + 1), /^PWRITE of 1048577 bytes is over 1048576$/);
    bad(C.CKPT_SH_OP_SYMLINK, p('target only\0'), /^SYMLINK path 2 is not NUL-terminated$/);
    bad(C.CKPT_SH_OP_UTIMENS, Buffer.alloc(31), /^UTIMENS tail of 31 bytes is shorter than its 32 bytes of fields$/);
    bad(C.CKPT_SH_OP_UTIMENS, Buffer.concat([Buffer.alloc(32), p('/a')]), /^UTIMENS path 1 is not NUL-terminated$/);
    bad(C.CKPT_SH_OP_FUTIMENS, Buffer.alloc(33), /^FUTIMENS tail of 33 bytes is not 32$/);
    bad(C.CKPT_SH_OP_FALLOCATE, Buffer.alloc(4), /^FALLOCATE tail of 4 bytes is not 8$/);
    bad(C.CKPT_SH_OP_COPY, Buffer.alloc(8), /^COPY tail of 8 bytes is not 16$/);
    // the longest path allowed, and an empty one, pass
    const longest = Buffer.concat([p('/'), Buffer.alloc(C.CKPT_SH_MAX_PATH - 2, 'a')]);
    assert.deepEqual(decodeRequest(encodeRequest({ op: 'chdir', path: longest })), { op: 'chdir', path: longest });
    assert.deepEqual(decodeRequest(Buffer.concat([fields(C.CKPT_SH_OP_RMDIR), Buffer.alloc(1)])), { op: 'rmdir', path: Buffer.alloc(0) });
  });

  it('lays out struct stat as the x86-64 kernel does, times before 1970 included', () => {
    const st = {
      dev: 0x803n, ino: 123456789n, nlink: 2n, mode: 0o100644n, uid: 1000n, gid: 100n, rdev: 0n, size: 5000n,
      blksize: 4096n, blocks: 16n, atimeNs: 1_700_000_000_123_456_789n, mtimeNs: -1_500_000_000n, ctimeNs: 0n,
    };
    const bytes = encodeStat(st);
    assert.equal(bytes.length, 144);
    assert.equal(bytes.readBigUInt64LE(8), 123456789n, 'st_ino at 8');
    assert.equal(bytes.readUInt32LE(24), 0o100644, 'st_mode at 24');
    assert.equal(bytes.readUInt32LE(28), 1000, 'st_uid at 28');
    assert.equal(bytes.readBigInt64LE(48), 5000n, 'st_size at 48');
    assert.equal(bytes.readBigInt64LE(72), 1_700_000_000n, 'st_atime at 72');
    assert.equal(bytes.readBigInt64LE(80), 123_456_789n, 'st_atime_nsec at 80');
    assert.deepEqual([bytes.readBigInt64LE(88), bytes.readBigInt64LE(96)], [-2n, 500_000_000n], 'mtime -1.5 s is -2 s + 0.5 s');
    assert.ok(bytes.subarray(120).equals(Buffer.alloc(24)), 'reserved');
    const back = decodeStat(bytes);
    assert.deepEqual([back.ino, back.mode, back.size, back.mtime, back.mtimeNsec], [123456789n, 0o100644, 5000n, -2n, 500_000_000n]);
  });

  it('lays out linux_dirent64 records 8-byte aligned, NUL after the name', () => {
    const rec = encodeDirent({ ino: 42n, off: 3n, type: 8, name: p('hello') });
    assert.equal(rec.length, 32); // 19 + 5 + NUL = 25, aligned to 32
    assert.deepEqual([rec.readBigUInt64LE(0), rec.readBigInt64LE(8), rec.readUInt16LE(16), rec[18]], [42n, 3n, 32, 8]);
    assert.equal(rec.subarray(19, 25).toString(), 'hello\0');
    const two = Buffer.concat([rec, encodeDirent({ ino: 1n, off: 4n, type: 4, name: p('abcde') })]);
    assert.deepEqual(decodeDirents(two).map((d) => d.name.toString()), ['hello', 'abcde']);
  });

  it('computes the MACs as the spec defines them', () => {
    const token = tokenFromFile(p('s3cret\n'));
    assert.deepEqual(token, p('s3cret'));
    assert.deepEqual(tokenFromFile(p('two\n\n')), p('two'), 'every final line end goes');
    assert.deepEqual(tokenFromFile(p('crlf\r\n')), p('crlf'), 'a CRLF line end goes');
    assert.deepEqual(tokenFromFile(p('in\r\nside\n')), p('in\r\nside'), 'line ends inside stay');
    assert.deepEqual(tokenFromFile(p('\r\n')), p(''), 'nothing but line ends: empty');
    const serverNonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    const clientNonce = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 33));
    // computed with `openssl dgst -sha256 -hmac s3cret` over the message bytes
    assert.equal(authMac(token, serverNonce, clientNonce, 4242).toString('hex'), '93f12433fa55aae8c739f29b7865e86994e1a03473e282d269a49e8b17530d10');
    assert.equal(welcomeMac(token, clientNonce, serverNonce).toString('hex'), '8d784785c92097adf1f68270e63eb5cbc0d16d6465b60d0e76ec7379213afdc5');
    // and with node:crypto from the spec's words, for random inputs
    for (let i = 0; i < 20; i++) {
      const key = crypto.randomBytes(1 + i), sn = crypto.randomBytes(32), cn = crypto.randomBytes(32), pid = crypto.randomInt(2 ** 31);
      const pidLE = Buffer.alloc(4);
      pidLE.writeUInt32LE(pid);
      const message = Buffer.concat([Buffer.from('ckpt-shadow-auth-v1', 'ascii'), sn, cn, pidLE]);
      assert.deepEqual(authMac(key, sn, cn, pid), crypto.createHmac('sha256', key).update(message).digest());
      assert.deepEqual(welcomeMac(key, cn, sn), crypto.createHmac('sha256', key).update(Buffer.concat([Buffer.from('ckpt-shadow-welcome-v1'), cn, sn])).digest());
    }
    const mac = authMac(token, serverNonce, clientNonce, 4242);
    assert.ok(macEqual(mac, Buffer.from(mac)));
    assert.ok(!macEqual(mac, authMac(token, serverNonce, clientNonce, 4243)), 'the pid is covered');
    assert.ok(!macEqual(mac, mac.subarray(0, 31)));
  });

  it('refuses to build a frame over the bound', () => {
    assert.throws(() => encodeFrame(C.CKPT_SH_REPLY, 1, Buffer.alloc(C.CKPT_SH_MAX_PAYLOAD + 1)), RangeError);
  });
});
