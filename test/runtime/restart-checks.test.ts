// What a restart checks about the machine and the files around it: a CPU without the xsave
// features the image uses refuses it; a file that changed since the checkpoint is reported, or
// refuses the image with CKPT_FILES_CHANGED=refuse, before anything is torn down.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { bufferSource, readImage } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import { checkpointRun, relinkedSteps } from '../image/real-image.js';
import { CHUNK, tellToFinish } from '../steps.js';

describe('restart checks', function () {
  this.timeout(120_000);
  let dir = '', bin = '', image = '', out = '', appendImage = '', log = '';

  before(async () => {
    ({ dir, bin } = await relinkedSteps());
    out = path.join(dir, 'out.txt');
    const fd = fs.openSync(out, 'w');
    fs.writeSync(fd, 'before the run\n');
    ({ image } = await checkpointRun(bin, [CHUNK], dir, 'run.img', ['ignore', fd, 'ignore']));
    fs.closeSync(fd);
    log = path.join(dir, 'job.log');
    fs.writeFileSync(log, 'an earlier run\n');
    const appending = fs.openSync(log, 'a');	// O_WRONLY|O_APPEND, as Slurm's --open-mode=append
    ({ image: appendImage } = await checkpointRun(bin, [CHUNK], dir, 'append.img', ['ignore', appending, 'ignore']));
    fs.closeSync(appending);
    tellToFinish(dir);	// restarted, it ends after its chunk
  });

  const restart = (file: string, env: Record<string, string> = {}) =>
    execa(bin, [], { cwd: dir, reject: false, env: { PATH: '/usr/bin:/bin', CKPT_RESTART: file, ...env }, timeout: 60_000 });

  it('refuses an image that uses xsave features this CPU lacks, with one line and exit 2', async () => {
    const decoded = readImage(bufferSource(fs.readFileSync(image)));
    decoded.process!.xfeatures |= 1n << 62n;	// a feature no CPU has yet
    const other = path.join(dir, 'future-cpu.img');
    fs.writeFileSync(other, encodeImage(decoded, bufferSource(fs.readFileSync(image)), { seal: true }));
    const r = await restart(other);
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr, `ckpt: cannot restart from ${other}: this CPU lacks xsave features (AVX, AVX-512...) the image uses`);
    assert.equal(r.stdout, '');
  });

  it('reports a file that changed since the checkpoint, or refuses the image when asked to', async () => {
    fs.appendFileSync(out, 'written after the checkpoint\n');
    const refused = await restart(image, { CKPT_FILES_CHANGED: 'refuse' });
    assert.equal(refused.exitCode, 2);
    assert.equal(refused.stderr, `ckpt: cannot restart from ${image}: a file changed since the checkpoint (CKPT_FILES_CHANGED=refuse): ${out}`);
    const warned = await restart(image);
    assert.equal(warned.exitCode, 0, warned.stderr);
    assert.equal(warned.stderr, `ckpt: warning: file changed since the checkpoint: ${out} (size or mtime differ)`);
    assert.match(fs.readFileSync(out, 'utf8'), /^before the run\nchunk 1 /);
  });

  it('says nothing of a write-only O_APPEND file that only grew, and reports one that shrank', async () => {
    fs.appendFileSync(log, 'written after the checkpoint\n');
    const grown = await restart(appendImage, { CKPT_FILES_CHANGED: 'refuse' });
    assert.equal(grown.exitCode, 0, grown.stderr);
    assert.equal(grown.stderr, '');
    assert.match(fs.readFileSync(log, 'utf8'), /^an earlier run\n(chunk .*\n)*written after the checkpoint\n(chunk .*\n)+chunks=\d+ checksum=[0-9a-f]+\n$/);
    fs.truncateSync(log, 0);
    const shrunk = await restart(appendImage);
    assert.equal(shrunk.exitCode, 0, shrunk.stderr);
    assert.equal(shrunk.stderr, `ckpt: warning: file changed since the checkpoint: ${log} (size or mtime differ)`);
  });
});
