// The Slurm the tests start (slurm().ts) behaves as the ckpt-run tests need, shown with plain shell
// jobs and no checkpointing: two slurmd on this machine each run jobs, a job that exits 85 is
// requeued, and a job in the low partition is preempted by one in the high partition and gets its
// warning signal first. Each job waits for a file the test writes, never for a length of time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { clusterForSuite } from './cluster.js';
import { textOf } from '../helpers.js';

/** A job that says which run it is, then (first run only) does what `firstRun` says */
function shellJob(dir: string, name: string, firstRun: string): string {
  const file = path.join(dir, `${name}.sh`);
  fs.writeFileSync(file, [
    '#!/bin/bash',
    'echo "run ${SLURM_RESTART_COUNT:-0} on $SLURMD_NODENAME"',
    '[ -n "$SLURM_RESTART_COUNT" ] && exit 0',
    firstRun,
    '',
  ].join('\n'), { mode: 0o755 });
  return file;
}

/** Bash runs a trap only between commands: the wait is a background sleep the trap interrupts */
const WAIT_FOR_STOP_FILE = 'while [ ! -e stop ]; do sleep 0.1 & wait $!; done';

describe('slurm: the test cluster', function () {
  this.timeout(180_000);
  const slurm = clusterForSuite({ nodes: 2 });

  it('runs two slurmd on this machine (multiple-slurmd mode), and a job on each node', async function () {
    const dir = slurm().jobDir('nodes');
    const script = shellJob(dir, 'node', 'exit 0');
    for (const node of slurm().nodeNames) {
      const job = await slurm().submit(script, ['--chdir', dir, '-o', `${node}.out`, '-w', node]);
      const info = await slurm().waitForState(job, 'COMPLETED');
      assert.equal(info.nodes, node);
      assert.equal(textOf(path.join(dir, `${node}.out`)), `run 0 on ${node}\n`);
    }
  });

  it('requeues a job that exits 85 (RequeueExit), and scontrol show job counts the restart', async function () {
    const dir = slurm().jobDir('exit85');
    const job = await slurm().submit(shellJob(dir, 'exit85', 'exit 85'), ['--chdir', dir, '-o', 'out.txt', '--requeue', '--open-mode=append']);
    const info = await slurm().waitForState(job, 'COMPLETED');
    assert.equal(info.restarts, 1);
    assert.equal(info.exitCode, '0:0');
    assert.match(textOf(path.join(dir, 'out.txt')), /^run 0 on n\d\nrun 1 on n\d\n$/);
  });

  it('preempts a low-partition job for a high-partition one, sending it its --signal first', async function () {
    const dir = slurm().jobDir('preempt');
    const out = path.join(dir, 'out.txt');
    const script = shellJob(dir, 'preempted', `trap 'echo got USR1; exit 85' USR1\necho waiting\n${WAIT_FOR_STOP_FILE}`);
    const job = await slurm().submit(script, ['--chdir', dir, '-o', out, '--requeue', '--open-mode=append', '-p', 'low', '-w', 'n1', '--signal=B:USR1@30']);
    await slurm().waitUntil(() => textOf(out).includes('waiting'), 'the low job to run');
    const high = await slurm().submit(shellJob(dir, 'high', 'exit 0'), ['--chdir', dir, '-o', 'high.txt', '-p', 'high', '-w', 'n1', '--exclusive']);
    const info = await slurm().waitForState(job, 'COMPLETED');
    assert.equal((await slurm().jobInfo(high)).state, 'COMPLETED');
    assert.equal(info.restarts, 1);
    // slurmstepd may add an error line of its own (a SIGCONT to a process that had just ended)
    const lines = textOf(out).split('\n').filter((l) => !/^slurmstepd(-\w+)?: /.test(l)).join('\n');
    assert.equal(lines, 'run 0 on n1\nwaiting\ngot USR1\nrun 1 on n1\n');
  });
});
