// The runtime's HMAC-SHA256 (the job's half of the shadow handshake) equals node:crypto's (the
// server's half), for keys shorter and longer than a block and messages across block boundaries.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, scratch } from '../helpers.js';

describe('HMAC-SHA256: runtime and server agree', () => {
  let probe = '';
  before(async () => {
    probe = path.join(scratch(), 'hmac-probe');
    await execa('gcc', ['-O2', '-I', path.join(ROOT, 'runtime'), '-o', probe, path.join(ROOT, 'test/shadow/hmac-probe.c')]);
  });

  const cases: [string, string[]][] = [
    ['key', ['The quick brown fox jumps over the lazy dog']],
    ['', ['']],
    ['k'.repeat(64), ['a'.repeat(55)]],
    ['a much longer token than one sixty-four byte block of sha-256 would hold, so it is hashed first', ['ckpt-shadow-auth-v1', 'x'.repeat(64), 'y'.repeat(65)]],
    ['token', ['a'.repeat(119), 'b']],
  ];
  for (const [key, parts] of cases) {
    it(`key of ${key.length} bytes, message of ${parts.join('').length} bytes`, async () => {
      const want = crypto.createHmac('sha256', key).update(parts.join('')).digest('hex');
      assert.equal((await execa(probe, [key, ...parts])).stdout, want);
    });
  }
  it('matches the published HMAC-SHA256 value of RFC 4231 test case 2', async () => {
    assert.equal((await execa(probe, ['Jefe', 'what do ya want ', 'for nothing?'])).stdout,
      '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
  });
});
