// Jobs under ckpt-run, as the tests of test/run/ start them: the relinked steps fixture
// (test/steps.ts) in a directory of its own, stdout appended to out.txt (as Slurm's
// --open-mode=append does), ckpt-run's log lines read from its stderr. Each job leads its own
// process group, which is SIGKILLed after the test if the test has not seen it end.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { nodeCommand } from '../../src/cli/node-flags.js';
import { stopAfterTest } from '../hooks.js';
import { ROOT, relinkFile, scratch, waitFor } from '../helpers.js';
import { CHUNK, afterChunks, chunkLines, stepsProgram } from '../steps.js';

export const RUN_CLI = path.join(ROOT, 'dist/src/cli/run.js');

export interface Ended { code: number | null; signal: NodeJS.Signals | null }

export class Job {
  readonly child: ChildProcess;
  /** 'close', not 'exit': its stderr has been read to the end, the last log line included */
  readonly ended: Promise<Ended>;
  private log = '';
  private exited = false;

  constructor(readonly cwd: string, options: string[], command: string[], out: string, env: Record<string, string> = {}) {
    const fd = fs.openSync(out, 'a');
    this.child = spawn(...nodeCommand(RUN_CLI, [...options, '--', ...command]), {
      cwd, detached: true, stdio: ['ignore', fd, 'pipe'], env: { PATH: '/usr/bin:/bin', ...env },
    });
    fs.closeSync(fd);
    this.child.stderr!.on('data', (d) => { this.log += d; });
    const group = this.child.pid!;
    const dontStop = stopAfterTest(async () => { try { process.kill(-group, 'SIGKILL'); } catch { /* gone */ } });
    this.ended = new Promise((resolve) => this.child.once('close', (code, signal) => { this.exited = true; dontStop(); resolve({ code, signal }); }));
  }

  /** ckpt-run's stderr so far (the program's own stderr goes there too) */
  get stderr(): string { return this.log; }

  /** ckpt-run's lines so far, without its "ckpt-run: " prefix */
  get events(): string[] {
    return [...this.log.matchAll(/^ckpt-run: (.*)$/gm)].map((m) => m[1]);
  }

  /** Waits for an event line matching `pattern`; returns its match */
  async event(pattern: RegExp): Promise<RegExpMatchArray> {
    const found = () => this.events.map((e) => pattern.exec(e)).find((m) => m);
    try {
      await waitFor(() => found() || this.exited, `ckpt-run to log ${pattern}`);
    } catch (e) {
      throw new Error(`${(e as Error).message}; its stderr: ${JSON.stringify(this.log)}`);
    }
    const match = found();
    if (!match) throw new Error(`ckpt-run ended without logging ${pattern}; its stderr: ${JSON.stringify(this.log)}`);
    return match;
  }

  /** The images it logged as checkpointed, in order */
  get checkpointed(): string[] {
    return this.events.flatMap((e) => /^checkpointed (.*)$/.exec(e)?.[1] ?? []);
  }

  signal(signal: NodeJS.Signals): void {
    process.kill(this.child.pid!, signal);
  }

  /** Whether the job ended with `code`, with its log to say why not */
  async endsWith(code: number): Promise<void> {
    const { code: got, signal } = await this.ended;
    if (got !== code) throw new Error(`ckpt-run ended with ${got ?? signal}, not ${code}; its stderr: ${this.log}`);
  }
}

/** A directory with the relinked steps fixture and where its job writes */
export class StepsDir {
  readonly out: string;
  readonly images: string;
  /** ckpt-run's --image-dir: `images` unless a test keeps them elsewhere (shadow:NAME) */
  imageDir: string;
  /** added to the job's environment */
  env: Record<string, string> = {};

  private constructor(readonly dir: string, readonly exe: string, readonly bin: string) {
    this.out = path.join(dir, 'out.txt');
    this.images = path.join(dir, 'images');
    this.imageDir = this.images;
  }

  /** `bin` is shared between the tests of a file: relinking takes a second or two */
  static make(exe: string, bin: string): StepsDir {
    return new StepsDir(scratch('ckpt-run-'), exe, bin);
  }

  /** ckpt-run --image-dir images OPTIONS -- steps.ckpt CHUNK */
  start(options: string[] = [], args: string[] = [CHUNK]): Job {
    return new Job(this.dir, ['--image-dir', this.imageDir, ...options], [this.bin, ...args], this.out, this.env);
  }

  /** The numbered images in the directory now, and those set aside, by name */
  listing(): string[] {
    return fs.existsSync(this.images) ? fs.readdirSync(this.images).sort() : [];
  }

  image(name: string): string {
    return path.join(this.images, name);
  }

  chunks(): number {
    return chunkLines(this.out);
  }

  /** Waits until the program has written `more` chunk lines beyond those it had written so far */
  async runsOn(more = 1): Promise<void> {
    await afterChunks(this.out, this.chunks() + more);
  }
}

/** The steps fixture relinked once for the file's tests: [original, relinked] */
export async function relinkedSteps(extra: string[] = []): Promise<[string, string]> {
  const exe = await stepsProgram();
  const bin = path.join(scratch('ckpt-run-bin-'), 'steps.ckpt');
  await relinkFile(exe, bin, extra);
  return [exe, bin];
}

/** Starts a job, lets it run, vacates it with `signal`; the image it was vacated into */
export async function vacateCycle(steps: StepsDir, signal: NodeJS.Signals = 'SIGUSR1', options: string[] = []): Promise<string> {
  const job = steps.start(options);
  await job.event(/^(started|resumed from) /);
  await steps.runsOn();
  job.signal(signal);
  await job.event(/^vacated /);
  await job.endsWith(85);
  const vacated = job.checkpointed.at(-1);
  if (!vacated || !job.events.includes('vacated (exit 85)')) throw new Error(`no vacate image logged: ${job.stderr}`);
  return vacated;
}
