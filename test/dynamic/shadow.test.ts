// A relinked dynamic program as a remote job: Debian's python3.11, relinked without --with, runs
// against a real ckpt-shadow whose policy sends every path but /usr (--scratch) to the shadow's
// root. ld.so's own opens then meet the remote policy too: the carried libraries must still come
// from the relinked file (the job's /proc/self/maps shows it; ld.so's search would otherwise find
// the system's copies in the local /usr), a library that was not carried (lib-dynload's _bz2) from
// the local /usr, and the job's files from the shadow.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, scratch } from '../helpers.js';
import { startShadow, type Shadow } from '../shadow/shadow-process.js';

const PYTHON = '/usr/bin/python3.11';
const INPUT = ['pear', 'apple', 'fig', 'apple', 'kiwi'].join('\n') + '\n';
const SCRIPT = `
import bz2, json, os, sys
words = open('in.txt').read().split()
os.mkdir('d')
with open('d/words.json', 'w') as f:
    json.dump(sorted(set(words)), f)
raw = open('in.txt', 'rb').read()
print(len(words), bz2.decompress(bz2.compress(raw)) == raw, 'bz2' in sys.modules)
print(sorted(os.listdir('d')), open('d/words.json').read())
open('maps.txt', 'w').write(open('/proc/self/maps').read())
`;

describe('a relinked python3 as a job of the shadow', function () {
  this.timeout(180_000);
  const base = scratch('ckpt-dyn-shadow-');
  const bin = path.join(base, 'python3.ckpt');
  let shadow: Shadow;

  before(async () => {
    await relinkFile(PYTHON, bin);
    shadow = await startShadow({ args: ['--scratch', '/usr', '--stdout', '/job.out', '--stderr', '/job.err'] });
  });
  after(async () => shadow?.stop());

  it('reads and writes its files on the shadow, with its libraries from the relinked file, and prints what the original prints', async () => {
    const local = path.join(base, 'local');
    fs.mkdirSync(local);
    fs.writeFileSync(path.join(local, 'in.txt'), INPUT);
    fs.writeFileSync(path.join(local, 'job.py'), SCRIPT);
    const want = await execa(PYTHON, ['-B', 'job.py'], { cwd: local, env: { PATH: '/usr/bin:/bin' }, extendEnv: false });

    fs.writeFileSync(path.join(shadow.root, 'in.txt'), INPUT);
    fs.writeFileSync(path.join(shadow.root, 'job.py'), SCRIPT);
    const exec = path.join(base, 'exec');
    fs.mkdirSync(exec);
    const env = { PATH: '/usr/bin:/bin', CKPT_SHADOW: `127.0.0.1:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile };
    const got = await execa(bin, ['-B', 'job.py'], { cwd: exec, env, extendEnv: false, reject: false });
    assert.equal(got.exitCode, 0, `${got.stderr}\n${fs.readFileSync(path.join(shadow.root, 'job.err'), 'utf8')}`);
    assert.equal(fs.readFileSync(path.join(shadow.root, 'job.err'), 'utf8'), '');
    assert.equal(fs.readFileSync(path.join(shadow.root, 'job.out'), 'utf8'), want.stdout + '\n');
    assert.equal(fs.readFileSync(path.join(shadow.root, 'd/words.json'), 'utf8'), fs.readFileSync(path.join(local, 'd/words.json'), 'utf8'));
    assert.deepEqual(fs.readdirSync(exec), [], 'nothing was created on the execute side');
    const maps = fs.readFileSync(path.join(shadow.root, 'maps.txt'), 'utf8');
    assert.deepEqual(maps.split('\n').filter((l) => /\/libc\.so\.6$/.test(l)), [], 'libc is not mapped from the system');
    assert.ok(maps.split('\n').filter((l) => l.endsWith(bin)).length > 4, 'ld.so and the libraries are mapped from the relinked file');
    await shadow.waitForStdout(/^job \d+ exited 0$/);
  });
});
