#!/usr/bin/env -S node --single-threaded
// ckpt-run [options] -- PROGRAM ARGS...
// The batch job wrapper (src/run/job.ts does the work): starts the relinked PROGRAM, or resumes it
// from the newest good image in --image-dir; the scheduler's warning signal or TERM makes it
// checkpoint and exit 85 ("requeue me"); otherwise the job ends with the program's status. One line
// per event on stderr, each starting "ckpt-run: ", which the job's output file collects.
//
// Exit status: the program's (128+N when signal N killed it); 85 after a vacate; 2 when the program
// is not run (a usage error, PROGRAM not relinked, no good image under --on-bad-image fail); 70 an
// internal error.
import fs from 'node:fs';
import os from 'node:os';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { BAD_IMAGE_POLICIES, type BadImagePolicy } from '../run/choose.js';
import type { RunEvent } from '../run/events.js';
import { JobRefused, ProgramError, SHADOW_PREFIX, runJob, type JobOptions } from '../run/job.js';
import { INFO_OPTIONS_HELP, answerInfoOption } from './usage.js';

/** The program was not run: as a usage error, and as a refused image is for ckpt-restart */
const EXIT_NOT_RUN = 2;

const USAGE = 'usage: ckpt-run --image-dir DIR [options] -- PROGRAM ARGS...';

const HELP = `${USAGE}

Runs the relinked PROGRAM as a batch job that survives preemption: it starts PROGRAM ARGS, or,
when DIR holds a good image, resumes the program from the newest one (ARGS are then ignored: the
image has the program's own). The scheduler's warning signal, and TERM, make the program write a
checkpoint and exit; ckpt-run then exits 85, for Slurm's RequeueExit=85 or HTCondor's
checkpoint_exit_code = 85 to requeue the job. When the program ends on its own, so does the job,
with its status. Give it as the batch script's last command, with exec.

Options:
  --image-dir DIR       where the images live (made if missing); required. Images are named
                        ckpt-NNNNNN.img, the highest number the newest; ones set aside get
                        .bad (failed its checks, or another binary's), .unused or .stale
  --image-dir shadow:NAME
                        the images live on the job's shadow (CKPT_SHADOW, CKPT_SHADOW_TOKEN_FILE
                        set as for the program), in /.ckpt of its root, named NAME.ckpt-NNNNNN.img;
                        one is copied to $TMPDIR to be checked and resumed from
  --signal SIG          the scheduler's warning signal, turned into a vacate checkpoint (name
                        or number: USR1, SIGUSR1, 10; default USR1); TERM always vacates too
  --interval SECONDS    also checkpoint every SECONDS while the program runs on
  --keep N              keep the newest N images (default 2)
  --on-bad-image fallback|fresh|fail
                        when the newest image fails its checks or is another binary's:
                        fallback (default) resumes from the newest older one that is good,
                        else starts afresh; fresh starts afresh at once; fail exits 2
  --                    ends the options: PROGRAM and its ARGS follow (PROGRAM may also
                        come first among the operands without it)
${INFO_OPTIONS_HELP}

Log lines on stderr, one per event:
  ckpt-run: started PROGRAM (pid N)
  ckpt-run: resumed from IMAGE (pid N)
  ckpt-run: checkpointed IMAGE
  ckpt-run: bad image IMAGE: REASON
  ckpt-run: falling back to IMAGE
  ckpt-run: starting afresh
  ckpt-run: vacated (exit 85)
  ckpt-run: finished (status N)      or  finished (killed by SIGNAME, status 128+N)

Exit status: the program's, 128+N when signal N ended it; 85 after a vacate; 2 when the program
is not run (a usage error, PROGRAM is not relinked, or no good image under --on-bad-image fail);
70 internal error.

Environment: passed on to the program, with CKPT_IMAGE, CKPT_SIGNAL and CKPT_VACATE_SIGNAL set
by ckpt-run, CKPT_RESTART set on a resume, CKPT_INTERVAL removed (see ckpt-restart --help for
what the program reads).`;

/** Signals Node lets this process catch, as ckpt-restart passes them on */
const WARNING_SIGNALS: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGTERM', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF'];

function parseSignal(value: string): NodeJS.Signals {
  const upper = value.toUpperCase();
  const name = WARNING_SIGNALS.find((s) => /^\d+$/.test(value) ? os.constants.signals[s] === Number(value) : s === upper || s === `SIG${upper}`);
  if (!name) throw new UsageError(`--signal must be one of ${WARNING_SIGNALS.map((s) => s.slice(3)).join(', ')} (a name or its number), not ${value}`);
  return name;
}

function parsePositive(option: string, value: string, integer: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new UsageError(`${option} must be a positive ${integer ? 'integer' : 'number'}, not ${value}`);
  }
  return n;
}

function parsePolicy(value: string): BadImagePolicy {
  const policy = BAD_IMAGE_POLICIES.find((p) => p === value);
  if (!policy) throw new UsageError(`--on-bad-image must be ${BAD_IMAGE_POLICIES.join(', ')}, not ${value}`);
  return policy;
}

/** The longest NAME in shadow:NAME: the runtime's image path on the shadow, /.ckpt/NAME.ckpt-NNNNNN.img.tmp, stays well within its bound */
const SHADOW_NAME_MAX = 200;

function parseImageDir(value: string): string {
  if (!value.startsWith(SHADOW_PREFIX)) return value;
  const name = value.slice(SHADOW_PREFIX.length);
  if (!/^[^/\0]+$/.test(name) || name === '.' || name === '..' || name.length > SHADOW_NAME_MAX) {
    throw new UsageError(`--image-dir shadow:NAME needs a NAME of 1 to ${SHADOW_NAME_MAX} characters without '/', not ${JSON.stringify(name)}`);
  }
  if (!process.env.CKPT_SHADOW) throw new UsageError('--image-dir shadow:NAME needs CKPT_SHADOW (and CKPT_SHADOW_TOKEN_FILE) set, as for a shadow job');
  return value;
}

function parseArgs(argv: string[]): JobOptions {
  let imageDir: string | undefined, interval: number | undefined;
  let warningSignal: NodeJS.Signals = 'SIGUSR1', keep = 2, onBadImage: BadImagePolicy = 'fallback';
  let i = 0;
  const value = (option: string) => {
    if (i + 1 >= argv.length) throw new UsageError(`${option} needs a value; ${USAGE}`);
    return argv[++i];
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { i++; break; }
    if (!a.startsWith('-')) break;
    if (a === '--image-dir') imageDir = parseImageDir(value(a));
    else if (a === '--signal') warningSignal = parseSignal(value(a));
    else if (a === '--interval') interval = parsePositive(a, value(a), false);
    else if (a === '--keep') keep = parsePositive(a, value(a), true);
    else if (a === '--on-bad-image') onBadImage = parsePolicy(value(a));
    else {
      answerInfoOption(a, 'ckpt-run', HELP);
      throw new UsageError(`unknown option ${a}; ${USAGE}`);
    }
  }
  const [program, ...args] = argv.slice(i);
  if (!imageDir) throw new UsageError(`--image-dir is required; ${USAGE}`);
  if (!program) throw new UsageError(`no PROGRAM given; ${USAGE}`);
  return { program, args, imageDir, warningSignal, interval, keep, onBadImage };
}

function logLine(e: RunEvent): string {
  switch (e.kind) {
    case 'started': return `started ${e.program} (pid ${e.pid})`;
    case 'resumed': return `resumed from ${e.image} (pid ${e.pid})`;
    case 'checkpointed': return `checkpointed ${e.image}`;
    case 'bad-image': return `bad image ${e.image}: ${e.reason}`;
    case 'stale-image': return `set aside ${e.image}: an older state than the newest image (a late writer of a killed run)`;
    case 'falling-back': return `falling back to ${e.image}`;
    case 'starting-afresh': return 'starting afresh';
    case 'vacated': return `vacated (exit ${e.status})`;
    case 'finished': return e.signal ? `finished (killed by ${e.signal}, status ${e.status})` : `finished (status ${e.status})`;
  }
}

const say = (line: string) => fs.writeSync(2, `ckpt-run: ${line}\n`);

async function main(): Promise<number> {
  let opts: JobOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    say(e.message);
    return EXIT_USAGE;
  }
  try {
    return await runJob(opts, (e) => say(logLine(e)));
  } catch (e) {
    if (e instanceof ProgramError) say(`cannot run ${opts.program}: ${e.message}`);
    else if (e instanceof JobRefused) say(`not run: ${e.message}`);
    else {
      say(`internal error: ${(e as Error).message?.split('\n')[0]}`);
      return 70;
    }
    return EXIT_NOT_RUN;
  }
}

process.exit(await main());
