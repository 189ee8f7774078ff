// A real shell checkpointed mid-script: Debian's bash-static, relinked, runs a script of pure
// arithmetic that is longer than bash reads at once (it reads 8 KiB at a time, as it goes), is
// checkpointed after a random number of its phases, killed, and restarted from its image. It
// does not end until the test writes a file named "finish", so a fast machine cannot run it to its
// end before the checkpoint. Its stdout and the log it
// opened itself (`exec 3>>log`) end exactly as an uninterrupted run of the original leaves them,
// which takes the script's own descriptor back at the offset bash had read it to. A try in which the
// script wrote between the signal and the kill is made again: the restart would repeat that output,
// as any program restarted from an earlier state does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { relinkFile, runProgram, scratch, waitFor } from '../helpers.js';
import { signalRunning } from '../process.js';

const BASH = '/bin/bash-static';
const PHASES = 12;
const STEPS_PER_PHASE = 35_000;
const ENV = { PATH: '/usr/bin:/bin', LANG: 'C', TZ: 'UTC' };

/** About 40 KiB: one top-level command per phase, comments between them */
function loopScript(): string {
  const lines = [
    'exec 3>>log',
    'sum=1',
    'phase() { local i; for ((i = 1; i <= $2; i++)); do sum=$(( (sum * 31 + i + $1) % 1000000007 )); done; echo "phase $1 sum=$sum" >&3; }',
    'echo start',
  ];
  for (let p = 1; p <= PHASES; p++) {
    lines.push(`phase ${p} ${STEPS_PER_PHASE}`);
    for (let k = 0; k < 40; k++) lines.push(`# padding ${p}.${k}: longer than bash reads at once, so it reads the script as it goes`);
  }
  lines.push('until [ -e finish ]; do :; done');  lines.push('echo "result=$sum"');
  return lines.join('\n') + '\n';
}

const OUTPUTS = ['out.txt', 'err.txt', 'log'];

/** The outcome of the script in `dir`: its stdout, stderr and log, and its exit status */
interface ScriptRun { stdout: string; stderr: string; log: string; exitCode: number | null }

function readRun(dir: string, exitCode: number | null): ScriptRun {
  const [stdout, stderr, log] = OUTPUTS.map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  return { stdout, stderr, log, exitCode };
}

const outputSizes = (dir: string) => OUTPUTS.map((f) => fs.statSync(path.join(dir, f), { throwIfNoEntry: false })?.size ?? -1).join();

const phasesLogged = (dir: string) => (fs.readFileSync(path.join(dir, 'log'), 'utf8').match(/\n/g) ?? []).length;

/**
 * Runs the script relinked, checkpoints it after a random number of phases and kills it once the
 * image is in place. Resolves false when the script wrote between the signal and the kill: a restart writes that
 * output again, as any program restarted from an older state does, so the try proves nothing.
 */
async function checkpointAndKill(bin: string, dir: string): Promise<boolean> {
  for (const f of [...OUTPUTS, 'bash.img', 'finish']) fs.rmSync(path.join(dir, f), { force: true });
  const [out, err] = ['out.txt', 'err.txt'].map((f) => fs.openSync(path.join(dir, f), 'w'));
  const run = spawn(bin, ['loop.sh'], { cwd: dir, stdio: ['ignore', out, err], env: { ...ENV, CKPT_IMAGE: 'bash.img' } });
  [out, err].forEach((fd) => fs.closeSync(fd));
  const killed = new Promise((r) => run.once('exit', r));
  const phases = 1 + Math.floor(Math.random() * (PHASES - 1));
  await waitFor(() => fs.existsSync(path.join(dir, 'log')) && phasesLogged(dir) >= phases, `phase ${phases} of the script`);
  const atSignal = outputSizes(dir);
  signalRunning(run, 'SIGUSR2');
  const image = path.join(dir, 'bash.img');
  await waitFor(() => fs.existsSync(image), 'the image after the checkpoint signal');
  run.kill('SIGKILL');
  await killed;
  assert.ok(fs.existsSync(image), 'the checkpoint signal made an image');
  const cut = readRun(dir, null);
  assert.ok(!cut.stdout.includes('result='), 'killed before the script ended');
  return outputSizes(dir) === atSignal;
}

describe('bash-static relinked, checkpointed mid-script', function () {
  this.timeout(120_000);

  it('restarted after SIGKILL ends with the stdout and log of an uninterrupted run of the original', async () => {
    const wantDir = scratch(), dir = scratch();
    for (const d of [wantDir, dir]) fs.writeFileSync(path.join(d, 'loop.sh'), loopScript());
    const bin = path.join(dir, 'bash.ckpt');
    await relinkFile(BASH, bin);

    fs.writeFileSync(path.join(wantDir, 'finish'), '');
    const original = await runProgram(BASH, ['loop.sh'], { cwd: wantDir, env: ENV });
    fs.writeFileSync(path.join(wantDir, 'out.txt'), original.stdout);
    fs.writeFileSync(path.join(wantDir, 'err.txt'), original.stderr);
    const want = readRun(wantDir, original.exitCode ?? null);
    assert.equal(want.log.split('\n').length, PHASES + 1, 'the original ran every phase');

    let tries = 1;
    while (!(await checkpointAndKill(bin, dir))) assert.ok(++tries <= 5, 'five tries in a row wrote output between the signal and the kill');
    fs.writeFileSync(path.join(dir, 'finish'), '');
    const restarted = spawn(bin, [], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: '/usr/bin:/bin', CKPT_RESTART: 'bash.img' } });
    let runtimeSays = '';
    restarted.stderr!.on('data', (d) => { runtimeSays += d; });
    const code = await new Promise<number | null>((r) => restarted.once('close', (c) => r(c)));
    assert.equal(runtimeSays, '', 'the restart printed nothing of its own');
    assert.deepEqual(readRun(dir, code), want);
  });
});
