// A static Go program (Debian's golang-go, CGO_ENABLED=0), relinked: Go's runtime is a scheduler
// nobody here wrote, with threads of its own (sysmon, one per P, idle ones), its own signal stack
// per thread, SIGURG preemption of goroutines, raw system calls from many sites of its assembly, an
// epoll instance and a wake-up pipe for its timers and network poller. test/fixtures/go/rounds.go
// computes in rounds with eight goroutines, a ticker and a file. Checkpointed while it runs and
// SIGKILLed, or vacated (checkpoint and exit 85), then restarted: its stdout and its file end as an
// uninterrupted run's of as many rounds.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { nodeCommand } from '../../src/cli/node-flags.js';
import { stopAfterTest } from '../hooks.js';
import { ROOT, relinkFile, runProgram, scratch, textOf, waitFor } from '../helpers.js';
import { signalRunning } from '../process.js';

const SOURCE = path.join(ROOT, 'test/fixtures/go/rounds.go');
const RESTART = path.join(ROOT, 'dist/src/cli/restart.js');
const ENV = { PATH: '/usr/bin:/bin' };

const roundLines = (dir: string) => (textOf(path.join(dir, 'out.txt')).match(/^round \d+ /gm) ?? []).length;

describe('a static Go program, relinked, checkpointed and restarted', function () {
  this.timeout(180_000);
  let exe = '', bin = '';

  before(async function () {
    this.timeout(300_000);
    const dir = scratch('ckpt-go-bin-');
    exe = path.join(dir, 'rounds');
    const built = await execa('go', ['build', '-o', exe, SOURCE], {
      cwd: dir, reject: false, env: { CGO_ENABLED: '0', GOCACHE: path.join(dir, 'cache'), GOPATH: path.join(dir, 'gopath') },
    });
    assert.equal(built.exitCode, 0, `go build failed: ${built.stderr}`);
    bin = path.join(dir, 'rounds.ckpt');
    await relinkFile(exe, bin);
  });

  for (const [how, vacate] of [['checkpointed and SIGKILLed', false], ['vacated (checkpoint, exit 85)', true]] as const) {
    it(`${how}, then restarted: the same stdout and file as an uninterrupted run`, async () => {
      const dir = scratch('ckpt-go-');
      const image = path.join(dir, 'run.img');
      const out = fs.openSync(path.join(dir, 'out.txt'), 'w');
      const env = { ...ENV, CKPT_IMAGE: image, ...(vacate ? { CKPT_VACATE_SIGNAL: 'TERM' } : {}) };
      const run = spawn(bin, [], { cwd: dir, stdio: ['ignore', out, 'pipe'], env });
      fs.closeSync(out);
      let stderr = '';
      run.stderr!.on('data', (d) => { stderr += d; });
      const ended = new Promise<[number | null, string | null]>((r) => run.once('exit', (c, s) => r([c, s])));
      const forget = stopAfterTest(async () => { run.kill('SIGKILL'); await ended; });
      // some rounds in: goroutines, the ticker and the poller all in use
      await waitFor(() => roundLines(dir) >= 20 || run.exitCode !== null, 'the Go program to run 20 rounds');
      signalRunning(run, vacate ? 'SIGTERM' : 'SIGUSR2');
      if (vacate) {
        assert.deepEqual(await ended, [85, null], `the vacate did not exit 85: ${stderr}`);
      } else {
        await waitFor(() => fs.existsSync(image) || run.exitCode !== null, 'the image');
        await waitFor(() => roundLines(dir) >= 40 || run.exitCode !== null, 'the program to go on after its checkpoint');
        run.kill('SIGKILL');
        await ended;
      }
      forget();
      assert.equal(stderr, '', 'the checkpoint said nothing: no thread or kernel object it could not save');

      // the restarted run goes past every round the killed one wrote after the checkpoint (those
      // are written again, byte for byte, at the offsets they had), then it is told to finish
      const beyond = roundLines(dir) + 5;
      const restart = execa(...nodeCommand(RESTART, [image]), { cwd: dir, reject: false, env: ENV, timeout: 120_000 });
      await waitFor(() => roundLines(dir) >= beyond || restart.exitCode !== null, `the restarted run to reach round ${beyond}`);
      fs.writeFileSync(path.join(dir, 'finish'), '');
      const restarted = await restart;
      assert.equal(restarted.exitCode, 0, restarted.stderr);
      const text = textOf(path.join(dir, 'out.txt'));
      const rounds = /^rounds=(\d+) /m.exec(text)?.[1];
      assert.ok(rounds, `the restarted run did not finish: ${JSON.stringify(text.slice(-200))}`);

      const refDir = scratch('ckpt-go-ref-');
      const reference = await runProgram(exe, [rounds], { cwd: refDir, timeout: 120_000 });
      assert.equal(reference.exitCode, 0);
      assert.equal(text, reference.stdout);
      assert.equal(textOf(path.join(dir, 'rounds.txt')), textOf(path.join(refDir, 'rounds.txt')));
    });
  }
});
