// Images through commands: CKPT_IMAGE='|CMD' gives each checkpoint's image to a shell command's stdin
// (here gzip, writing a file it renames into place), and CKPT_RESTART='CMD|' restarts from what a
// command writes to its stdout. The restarted run ends as an uninterrupted one; the stream holds
// exactly the image a file would (ckpt-inspect accepts it); a command that fails fails the
// checkpoint (a vacate then does not exit 85) or refuses the restart, as does a truncated stream.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { execa } from 'execa';
import { nodeCommand } from '../../src/cli/node-flags.js';
import { fixture, relinkFile, scratch, waitFor } from '../helpers.js';
import { INSPECT, QUIET, exited, relinkedSteps } from '../image/real-image.js';
import { signalRunning } from '../process.js';
import { tellToFinish, uninterrupted } from '../steps.js';

describe('images through commands (|CMD and CMD|)', function () {
  this.timeout(120_000);
  let dir = '', bin = '', exe = '';
  before(async () => { ({ dir, bin, exe } = await relinkedSteps()); });

  /** Starts the quiet steps run with `env`; resolves once it computes */
  async function startSteps(env: Record<string, string>) {
    fs.rmSync(path.join(dir, 'started'), { force: true });
    fs.rmSync(path.join(dir, 'finish'), { force: true });
    const out = path.join(dir, 'out.txt');
    const fd = fs.openSync(out, 'w');
    const child = spawn(bin, QUIET, { cwd: dir, stdio: ['ignore', fd, 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
    fs.closeSync(fd);
    let stderr = '';
    child.stderr!.on('data', (d) => { stderr += d; });
    const done = exited(child);
    await waitFor(() => fs.existsSync(path.join(dir, 'started')) || child.exitCode !== null, 'the steps program to start');
    return { child, done, out, stderr: () => stderr };
  }

  const restart = (spec: string) => execa(bin, [], { cwd: dir, reject: false, env: { PATH: '/usr/bin:/bin', CKPT_RESTART: spec }, timeout: 60_000 });

  /** A run checkpointed into `|gzip > GZ` (renamed into place once whole), then killed */
  async function checkpointIntoGzip(gz: string) {
    const run = await startSteps({ CKPT_IMAGE: `|gzip -1 > ${gz}.part && mv ${gz}.part ${gz}` });
    signalRunning(run.child, 'SIGUSR2');
    await waitFor(() => fs.existsSync(gz), 'the compressed image');
    run.child.kill('SIGKILL');
    await run.done;
    return run;
  }

  it('checkpoints into a compressing command and restarts from a decompressing one', async () => {
    const gz = path.join(dir, 'run.img.gz');
    const run = await checkpointIntoGzip(gz);
    assert.equal(run.stderr(), '');

    const image = path.join(dir, 'from-stream.img');
    fs.writeFileSync(image, zlib.gunzipSync(fs.readFileSync(gz)));
    const inspected = await execa(...nodeCommand(INSPECT, [image]), { reject: false });
    assert.equal(inspected.exitCode, 0, inspected.stderr);

    tellToFinish(dir);
    const r = await restart(`gzip -dc ${gz}|`);
    assert.equal(r.exitCode, 0, r.stderr);
    const text = fs.readFileSync(run.out, 'utf8');
    assert.equal(text, await uninterrupted(exe, text, QUIET));
  });

  it('fails the checkpoint when the command fails: the vacate signal then kills, without exit 85', async () => {
    const run = await startSteps({ CKPT_IMAGE: '|cat > /dev/null; exit 3', CKPT_VACATE_SIGNAL: 'TERM' });
    signalRunning(run.child, 'SIGTERM');
    const { code, signal } = await run.done;
    assert.deepEqual({ code, signal }, { code: null, signal: 'SIGTERM' });
    assert.equal(run.stderr(), 'ckpt: checkpoint failed: the image command failed: cat > /dev/null; exit 3\n');
  });

  it('refuses to restart from a command that fails, or whose stream is cut short: exit 2, one line', async () => {
    const gz = path.join(dir, 'cut.img.gz');
    await checkpointIntoGzip(gz);

    const failed = await restart('gzip -dc /nonexistent.gz 2>/dev/null|');
    assert.equal(failed.exitCode, 2);
    assert.equal(failed.stderr, 'ckpt: cannot restart from gzip -dc /nonexistent.gz 2>/dev/null|: the command failed');

    const size = zlib.gunzipSync(fs.readFileSync(gz)).length;
    const cut = await restart(`gzip -dc ${gz} | head -c ${size - 4096}|`);
    assert.equal(cut.exitCode, 2);
    assert.match(cut.stderr, /^ckpt: cannot restart from gzip -dc .*\|: [^\n]+$/);
    assert.equal(cut.stdout, '');
  });

  for (const [how, destination] of [['a file', (img: string) => img], ['a stream', (img: string) => `|cat > ${img}.part && mv ${img}.part ${img}`]] as const) {
    it(`shared memory the program goes on writing is saved as it was at the checkpoint, into ${how}`, async () => {
      // the writer's snapshot of shared memory is not copy-on-write: unless it is copied while the
      // program is stopped, the image holds pages from later sweeps than the registers (or, for a
      // stream, whose two passes read it twice, pages that fail their checksum)
      const work = scratch('ckpt-shared-sweep-');
      const bin = path.join(work, 'shared-sweep.ckpt');
      await relinkFile(await fixture('shared-sweep'), bin);
      const image = path.join(work, 'sweep.img'), out = path.join(work, 'out.txt');
      const fd = fs.openSync(out, 'w');
      const child = spawn(bin, ['64'], { cwd: work, stdio: ['ignore', fd, 'ignore'], env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: destination(image) } });
      fs.closeSync(fd);
      const done = exited(child);
      try {
        await waitFor(() => fs.existsSync(path.join(work, 'started')), 'the first sweep');
        signalRunning(child, 'SIGUSR2');
        await waitFor(() => fs.existsSync(image), 'the image');
      } finally {
        child.kill('SIGKILL');
        await done;
      }
      fs.writeFileSync(path.join(work, 'stop'), '');
      const r = await execa(bin, [], { cwd: work, reject: false, env: { PATH: '/usr/bin:/bin', CKPT_RESTART: image }, timeout: 60_000 });
      assert.deepEqual([r.exitCode, r.stderr, fs.readFileSync(out, 'utf8')], [0, '', 'PASS\n']);
    });
  }

  it('a writer that dies part way through a stream takes the command\'s shell along: no half image is renamed into place', async () => {
    const work = scratch('ckpt-stream-dead-');
    const image = path.join(work, 'run.img');
    const at = (f: string) => path.join(work, f);
    // the command takes a little, says so, then waits for the test before it reads on and renames
    const cmd = `echo $PPID > ${at('writer')}; echo $$ > ${at('shell')}; head -c 4096 > ${image}.part; touch ${at('begun')}; ` +
      `while [ ! -e ${at('go')} ]; do sleep 0.05; done; cat >> ${image}.part && mv ${image}.part ${image}`;
    const run = await startSteps({ CKPT_IMAGE: `|${cmd}` });
    try {
      signalRunning(run.child, 'SIGUSR2');
      await waitFor(() => fs.existsSync(at('begun')), 'the command to begin reading');
      const shell = Number(fs.readFileSync(at('shell'), 'utf8'));
      process.kill(Number(fs.readFileSync(at('writer'), 'utf8')), 'SIGKILL');
      fs.writeFileSync(at('go'), '');
      await waitFor(() => !isAlive(shell), 'the command\'s shell to end');
      assert.ok(!fs.existsSync(image), 'half an image was renamed into place');
    } finally {
      fs.writeFileSync(at('go'), '');
      run.child.kill('SIGKILL');
      await run.done;
    }
  });

  it('the writer holds none of the program\'s descriptors but stdio: its socket at 3 is not kept open by the writer', async () => {
    fs.rmSync(path.join(dir, 'started'), { force: true });
    fs.rmSync(path.join(dir, 'go'), { force: true });
    // the image command waits for the test: the writer, waiting for it, is alive while it is looked at
    const held = path.join(dir, 'command-running');
    const child = spawn(bin, QUIET, {
      cwd: dir, stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
      env: { PATH: '/usr/bin:/bin', CKPT_IMAGE: `|touch ${held}; while [ ! -e go ]; do sleep 0.05; done; cat > /dev/null` },
    });
    const done = exited(child);
    try {
      await waitFor(() => fs.existsSync(path.join(dir, 'started')), 'the steps program to start');
      const pipe = fs.readlinkSync(`/proc/${child.pid}/fd/3`);
      assert.match(pipe, /^(pipe|socket):\[\d+\]$/);
      signalRunning(child, 'SIGUSR2');
      await waitFor(() => fs.existsSync(held), 'the image command to run');
      const writer = childrenOf(child.pid!);
      assert.equal(writer.length, 1, `one writer: ${writer}`);
      const targets = fs.readdirSync(`/proc/${writer[0]}/fd`).map((fd) => fs.readlinkSync(`/proc/${writer[0]}/fd/${fd}`));
      assert.ok(!targets.includes(pipe), `the writer holds ${pipe}: ${targets.join(', ')}`);
    } finally {
      fs.writeFileSync(path.join(dir, 'go'), '');
      child.kill('SIGKILL');
      await done;
    }
  });
});

/** The pids whose parent is pid (/proc/PID/stat's fourth field) */
function childrenOf(pid: number): number[] {
  return fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).flatMap((n) => {
    try {
      const stat = fs.readFileSync(`/proc/${n}/stat`, 'utf8');
      return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid ? [Number(n)] : [];
    } catch {
      return [];
    }
  });
}

/** Whether pid runs (a zombie does not) */
function isAlive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
