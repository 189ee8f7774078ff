// Relinked programs as Slurm jobs through ckpt-run (issue 10), against the real Slurm of
// slurm().ts: a job interrupted by preemption, by `scontrol requeue`, by its time-limit warning or
// by SIGKILL is requeued and resumed from its image, and ends with what an uninterrupted run
// prints; the same when it moves to the other node, and for 16 array tasks preempted at once.
//
// The workload is the steps fixture relinked: it writes a line per chunk and runs until the test
// writes `finish` into the job's directory, so it cannot end before the test has interrupted and
// resumed it, whatever the machine's speed. Every wait is for a job state or a line in the job's
// output, never for a length of time.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { clusterForSuite, type JobInfo } from './cluster.js';
import { ROOT, relinkFile, textOf } from '../helpers.js';
import { CHUNK, stepsProgram, tellToFinish } from '../steps.js';
import { nodeCommand } from '../../src/cli/node-flags.js';

const CKPT_RUN = path.join(ROOT, 'dist/src/cli/run.js');

/**
 * What a job's output holds besides the program's lines: ckpt-run's events, the job script's line,
 * the runtime's warnings (the output file grew since the image: the wrapper's own lines), and
 * slurmstepd's notice of a cancel or requeue
 */
const NOT_PROGRAM_LINE = /^(ckpt-run|job|ckpt|slurmstepd(-\w+)?): /;

/** The events of a job that was interrupted once and resumed, on `first` then `second` */
const VACATED_AND_RESUMED = (first: string, second = first) => [
  `job: run 0 on ${first}`, 'ckpt-run: started', 'ckpt-run: vacated (exit 85)',
  `job: run 1 on ${second}`, 'ckpt-run: resumed', 'ckpt-run: finished (status 0)',
];

interface SubmittedJob {
  id: string;
  dir: string;
  /** the output file of the job (of task `task` for an array) */
  out: (task?: number) => string;
}

describe('slurm: ckpt-run jobs', function () {
  this.timeout(240_000);
  const slurm = clusterForSuite({ nodes: 2 });
  let native: string;
  let relinked: string;

  before(async function () {
    this.timeout(300_000);
    native = await stepsProgram();
    relinked = path.join(slurm().dir, 'steps.ckpt');
    await relinkFile(native, relinked);
  });

  /**
   * Submits the relinked steps program under ckpt-run, each job (or array task) with its own image
   * directory, its output appended to across restarts as a cluster user would set it.
   */
  async function submitSteps(name: string, sbatchArgs: string[], runArgs: string[] = []): Promise<SubmittedJob> {
    const dir = slurm().jobDir(name);
    const script = path.join(dir, 'job.sh');
    const [node, ckptRun] = nodeCommand(CKPT_RUN, []);
    // exec: the batch shell's warning signal (--signal=B:...) reaches ckpt-run itself
    writeScript(script, [
      'echo "job: run ${SLURM_RESTART_COUNT:-0} on $SLURMD_NODENAME" >&2',
      `exec ${words([node, ...ckptRun])} --image-dir "$PWD/images/$SLURM_JOB_ID" ${words([...runArgs, '--', relinked, CHUNK])}`,
    ]);
    const array = sbatchArgs.some((a) => a.startsWith('--array'));
    const id = await slurm().submit(script, ['--chdir', dir, '-o', array ? 'out-%a.txt' : 'out.txt', '--requeue', '--open-mode=append', ...sbatchArgs]);
    return { id, dir, out: (task?: number) => path.join(dir, task === undefined ? 'out.txt' : `out-${task}.txt`) };
  }

  /** The high-partition job that takes node `node` whole, preempting every low job there */
  async function preemptNode(node: string, dir: string): Promise<string> {
    const script = path.join(dir, 'high.sh');
    writeScript(script, ['echo "high job on $SLURMD_NODENAME"']);
    return slurm().submit(script, ['--chdir', dir, '-o', 'high.txt', '-p', 'high', '-w', node, '--exclusive']);
  }

  const waitForChunks = (out: string, n: number) => slurm().waitUntil(() => chunkLines(textOf(out)).length >= n, `${n} chunk lines in ${out}`);

  /** Waits until the job has resumed from an image and computed on: a chunk line after the resume */
  async function waitForResumedWork(out: string): Promise<void> {
    await slurm().waitUntil(() => resumedAndWorking(textOf(out)), `a resume and a chunk line after it in ${out}`)
      .catch((e: Error) => { throw new Error(`${e.message}; it holds:\n${textOf(out).slice(-2000)}`); });
  }

  /** Lets the computation end, waits for the job to complete, and checks what Slurm says of it */
  async function finishJob(job: SubmittedJob): Promise<JobInfo> {
    tellToFinish(job.dir);
    const info = await slurm().waitForState(job.id, 'COMPLETED');
    assert.ok(info.restarts >= 1, `scontrol show job reports the restart: Restarts=${info.restarts}`);
    assert.equal(info.exitCode, '0:0');
    return info;
  }

  /** The program's lines equal an uninterrupted run's of as many chunks: nothing lost, nothing twice */
  async function assertAsUninterrupted(out: string): Promise<void> {
    const lines = programLines(textOf(out));
    assert.deepEqual(lines, await uninterruptedLines(lines), `output of ${out}:\n${textOf(out)}`);
  }

  async function uninterruptedLines(lines: string[]): Promise<string[]> {
    const chunks = /^chunks=(\d+) /.exec(lines.at(-1) ?? '')?.[1];
    assert.ok(chunks, `the program wrote its final line: ${JSON.stringify(lines.slice(-3))}`);
    return reference(Number(chunks));
  }

  /** An uninterrupted native run of `chunks` chunks, its lines; one run serves every shorter one */
  let longest: string[] = [];
  async function reference(chunks: number): Promise<string[]> {
    if (longest.length < chunks) {
      const { stdout } = await execa(native, [CHUNK, String(chunks)], { cwd: path.dirname(native) });
      longest = chunkLines(stdout);
    }
    const kept = longest.slice(0, chunks);
    const checksum = /checksum=(\w+)$/.exec(kept.at(-1)!)![1];
    return [...kept, `chunks=${chunks} checksum=${checksum}`];
  }

  it('a job preempted by a high-partition job checkpoints, is requeued, resumes and ends as an uninterrupted run', async function () {
    const job = await submitSteps('preempt', ['-p', 'low', '-w', 'n1', '--signal=B:USR1@30']);
    await waitForChunks(job.out(), 1);
    const high = await preemptNode('n1', job.dir);
    await waitForResumedWork(job.out());
    await finishJob(job);
    assert.equal((await slurm().jobInfo(high)).state, 'COMPLETED');
    assert.deepEqual(events(textOf(job.out())), VACATED_AND_RESUMED('n1'));
    assert.equal(resumedFrom(textOf(job.out())), checkpointedImages(textOf(job.out())).at(-1), 'resumed from the vacate image');
    await assertAsUninterrupted(job.out());
  });

  it('a job requeued by scontrol requeue (TERM) vacates and resumes', async function () {
    const job = await submitSteps('requeue', ['-p', 'low', '-w', 'n1']);
    await waitForChunks(job.out(), 1);
    await slurm().command('scontrol', ['requeue', job.id]);
    await waitForResumedWork(job.out());
    await finishJob(job);
    assert.deepEqual(events(textOf(job.out())), VACATED_AND_RESUMED('n1'));
    await assertAsUninterrupted(job.out());
  });

  it('a job warned of its time limit (--time with --signal) vacates, is requeued (exit 85) and resumes', async function () {
    // Slurm checks time limits every 30 s or so, and warnings come late (seen 8-25 s here): the
    // warning is due 15 s in, and may come up to 105 s late before the job would time out.
    const job = await submitSteps('timelimit', ['-p', 'low', '-w', 'n1', '--time=2', '--signal=B:USR1@105']);
    await waitForChunks(job.out(), 1);
    await waitForResumedWork(job.out());
    await finishJob(job);
    assert.deepEqual(events(textOf(job.out())), VACATED_AND_RESUMED('n1'));
    await assertAsUninterrupted(job.out());
  });

  it('a job SIGKILLed without warning and requeued resumes from its last periodic checkpoint', async function () {
    const job = await submitSteps('killed', ['-p', 'low', '-w', 'n1'], ['--interval', '1']);
    await slurm().waitUntil(() => checkpointedImages(textOf(job.out())).length >= 2, 'two periodic checkpoints');
    await slurm().command('scancel', ['--full', '--signal=KILL', job.id]);
    const killed = await slurm().waitForState(job.id, ['FAILED', 'CANCELLED']);
    assert.notEqual(killed.exitCode, '0:0');
    const lastLogged = checkpointedImages(textOf(job.out())).at(-1)!;
    await slurm().command('scontrol', ['requeue', job.id]);
    await waitForResumedWork(job.out());
    const resumed = resumedFrom(textOf(job.out()))!;
    // An image the runtime had renamed into place just before the kill, not yet numbered by
    // ckpt-run, is numbered by the next run as the newest: it may be one newer than the last logged.
    assert.ok(imageNumber(resumed) >= imageNumber(lastLogged), `resumed from ${resumed}, the last logged was ${lastLogged}`);
    assert.doesNotMatch(firstProgramLineAfterResume(textOf(job.out())) ?? '', /^chunk 1 /, 'the run went on from the image, not from the start');
    await finishJob(job);
    // The killed run wrote chunk lines after its last image; the resumed one writes them again.
    const lines = distinct(programLines(textOf(job.out())));
    assert.deepEqual(lines, await uninterruptedLines(lines));
  });

  it('a job requeued off a drained node resumes on the other node from the shared image directory', async function () {
    const job = await submitSteps('twonodes', ['-p', 'low']);
    await waitForChunks(job.out(), 1);
    const first = (await slurm().jobInfo(job.id)).nodes;
    const other = slurm().nodeNames.find((n) => n !== first)!;
    await slurm().command('scontrol', ['update', `nodename=${first}`, 'state=drain', 'reason=ckpt-test']);
    try {
      await slurm().command('scontrol', ['requeue', job.id]);
      await waitForResumedWork(job.out());
      const info = await finishJob(job);
      assert.equal(info.nodes, other);
    } finally {
      await slurm().command('scontrol', ['update', `nodename=${first}`, 'state=resume']);
    }
    assert.deepEqual(events(textOf(job.out())), VACATED_AND_RESUMED(first, other));
    await assertAsUninterrupted(job.out());
  });

  it('16 array tasks on one 2-core node, preempted at once, are all requeued and each ends with its right result', async function () {
    const TASKS = 16;
    const tasks = [...Array(TASKS).keys()];
    const job = await submitSteps('array', ['-p', 'low', '-w', 'n1', `--array=0-${TASKS - 1}`, '--signal=B:USR1@30']);
    await slurm().waitForJobs(job.id, (infos) => infos.filter((i) => i.state === 'RUNNING').length === TASKS, `all ${TASKS} tasks running at once`);
    for (const t of tasks) await waitForChunks(job.out(t), 1);
    await preemptNode('n1', job.dir);
    for (const t of tasks) await waitForResumedWork(job.out(t));
    tellToFinish(job.dir);
    const infos = await slurm().waitForJobs(job.id, (all) => all.length === TASKS && all.every((i) => i.state === 'COMPLETED'), 'every task completed');
    for (const info of infos) {
      assert.ok(info.restarts >= 1, `${info.jobId}: Restarts=${info.restarts}`);
      assert.equal(info.exitCode, '0:0', info.jobId);
    }
    for (const t of tasks) {
      assert.deepEqual(events(textOf(job.out(t))), VACATED_AND_RESUMED('n1'), `task ${t}`);
      await assertAsUninterrupted(job.out(t));
    }
  });
});

/** The program's own lines (chunk lines and the final one), in order */
function programLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !NOT_PROGRAM_LINE.test(l));
}

/** The job script's runs and ckpt-run's events but its checkpoints, without paths and pids */
function events(text: string): string[] {
  return text.split('\n')
    .filter((l) => /^(job|ckpt-run): /.test(l) && !l.startsWith('ckpt-run: checkpointed '))
    .map((l) => l.replace(/^(ckpt-run: (started|resumed)) .*/, '$1'));
}

function resumedFrom(text: string): string | undefined {
  return /^ckpt-run: resumed from (\S+)/m.exec(text)?.[1];
}

function chunkLines(text: string): string[] {
  return text.split('\n').filter((l) => /^chunk \d+ /.test(l));
}

function checkpointedImages(text: string): string[] {
  return [...text.matchAll(/^ckpt-run: checkpointed (\S+)$/gm)].map((m) => m[1]);
}

const imageNumber = (image: string) => Number(/ckpt-(\d+)\.img$/.exec(image)![1]);

/**
 * After a resume, whether the program has written a line since: it computes on from its image. A
 * program that ended instead (only `finish` may end it, and the test has not written that yet)
 * fails the wait at once.
 */
function resumedAndWorking(text: string): boolean {
  if (/^ckpt-run: finished /m.test(text)) throw new Error('the program ended before the test told it to finish');
  const resumed = text.lastIndexOf('\nckpt-run: resumed from ');
  return resumed >= 0 && chunkLines(text.slice(resumed)).length > 0;
}

function firstProgramLineAfterResume(text: string): string | undefined {
  const resumed = text.indexOf('\nckpt-run: resumed from ');
  return programLines(text.slice(resumed))[0];
}

/** Lines in the order they first appear, each once */
const distinct = (lines: string[]) => [...new Set(lines)];

/** Words for bash, each single-quoted */
const words = (list: string[]) => list.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');

function writeScript(file: string, lines: string[]): void {
  fs.writeFileSync(file, ['#!/bin/bash', ...lines, ''].join('\n'), { mode: 0o755 });
}
