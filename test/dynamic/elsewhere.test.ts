// A relinked dynamic program does not depend on the machine's libraries: in a mount namespace whose
// /usr/lib/x86_64-linux-gnu and /usr/lib64 (where /lib and /lib64 lead on Debian) are empty, so
// that no libc and no ld.so are there, the relinked python3 runs, and an image made outside
// restarts and finishes as an uninterrupted run of the original does.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { execa } from 'execa';
import { relinkFile, scratch, textOf, waitFor } from '../helpers.js';

const PYTHON = '/usr/bin/python3.11';
// pure Python, with a pause the test ends by creating `finish` (never a race with the checkpoint)
const SCRIPT = `import os, sys, time, json, zlib
total = 0
for i in range(1, 41):
    total += sum(j * j % 7 for j in range(20000))
    if i == 10:
        open(sys.argv[1] + '/started', 'w').close()
        while not os.path.exists(sys.argv[1] + '/finish'):
            time.sleep(0.01)
print(json.dumps({'total': total, 'crc': zlib.crc32(str(total).encode())}))
`;

/** Runs argv in a new mount namespace without the system's libraries (busybox is static) */
function withoutLibraries(argv: string[], env: Record<string, string> = {}) {
  const hide = 'mount -t tmpfs none /usr/lib/x86_64-linux-gnu && mount -t tmpfs none /usr/lib64 && exec "$@"';
  return execa('unshare', ['--mount', '--', '/bin/busybox', 'sh', '-c', hide, 'sh', ...argv], {
    reject: false, extendEnv: false, env: { PATH: '/usr/bin:/bin', LANG: 'C', ...env }, timeout: 120_000,
  });
}

describe('a relinked dynamic program where the system has no libraries', function () {
  this.timeout(300_000);
  let dir: string, copy: string;

  before(async () => {
    dir = scratch();
    copy = path.join(dir, 'python3.ckpt');
    await relinkFile(PYTHON, copy);
    fs.writeFileSync(path.join(dir, 'work.py'), SCRIPT);
  });

  it('runs, where the original cannot start', async () => {
    const code = 'import json, re; print(json.dumps(re.findall("[a-z]+", "ab 12 cd")))';
    const original = await withoutLibraries([PYTHON, '-c', code]);
    assert.notEqual(original.exitCode, 0, 'the original needs the system ld.so and libc');
    const ours = await withoutLibraries([copy, '-c', code]);
    assert.equal(ours.stderr, '');
    assert.equal(ours.stdout, '["ab", "cd"]');
    assert.equal(ours.exitCode, 0);
  });

  it('restarts an image made outside and finishes as the original does', async () => {
    const run = path.join(dir, 'run'), ref = path.join(dir, 'ref');
    fs.mkdirSync(run);
    fs.mkdirSync(ref);
    fs.writeFileSync(path.join(ref, 'finish'), '');
    const expected = await execa(PYTHON, [path.join(dir, 'work.py'), ref]);
    const image = path.join(dir, 'py.img'), out = path.join(run, 'out');
    // stdout a file of its own, which the restart reopens by path (a pipe to the test would not be)
    const fd = fs.openSync(out, 'w');
    const child = spawn(copy, [path.join(dir, 'work.py'), run], { stdio: ['ignore', fd, 'inherit'], env: { ...process.env, CKPT_IMAGE: image } });
    fs.closeSync(fd);
    const ended = new Promise((resolve) => child.on('exit', resolve));
    await waitFor(() => fs.existsSync(path.join(run, 'started')), 'the program to reach its pause');
    child.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image), 'the image');
    await waitFor(() => !fs.existsSync(`${image}.tmp`), 'the writer to finish');
    child.kill('SIGKILL');
    await ended;
    fs.writeFileSync(path.join(run, 'finish'), '');
    const restarted = await withoutLibraries([copy], { CKPT_RESTART: image });
    assert.equal(restarted.stderr, '');
    assert.equal(restarted.exitCode, 0);
    assert.equal(textOf(out), `${expected.stdout}\n`);
  });
});
