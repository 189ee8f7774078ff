#!/usr/bin/env -S node --single-threaded
// ckpt-restart IMAGE [--binary PATH]
// Restarts a program from its checkpoint image: finds the relinked binary that made it (the image's
// executable record, or --binary), checks that it is that binary still (the binary id in the image
// header), and runs it with CKPT_RESTART=IMAGE in its environment, which makes its runtime restore
// the image (the runtime checks every checksum; this command reads only headers and payloads).
// Signals sent to ckpt-restart are passed on to the program, and ckpt-restart ends as the program
// does: with its exit status, or killed by the same signal.
//
// Exit status: the program's; 2 when the program is not run: the image is refused (one line:
// "ckpt-restart: cannot restart from IMAGE: REASON", as the runtime's own refusal), or a usage error.
//
// SIGINT and SIGQUIT are not passed on while stdin is a terminal: the terminal sends the keys to the
// whole foreground process group, the program included, and passing them on would deliver them twice.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tty from 'node:tty';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { BinaryIdError, binaryId } from '../image/binary-id.js';
import { ImageReadError, fileSource, readImage } from '../image/read.js';
import { INFO_OPTIONS_HELP, RUNTIME_ENVIRONMENT_HELP, answerInfoOption } from './usage.js';

const USAGE = 'usage: ckpt-restart IMAGE [--binary PATH]';

const HELP = `${USAGE}

Restarts a program from its checkpoint image IMAGE: runs the relinked binary that made it with
CKPT_RESTART=IMAGE, and the program goes on where it was checkpointed (its pids, files at their
offsets, memory, registers, signals). The binary is the one the image names, which must still be
the very file that made it (same binary id). Signals sent to ckpt-restart (TERM, INT, HUP, QUIT,
USR1, USR2, ALRM, XCPU, VTALRM, PROF) are passed on to the program, INT and QUIT only when stdin
is not a terminal (the terminal sends them to the program itself), and ckpt-restart ends as the
program ends: with its exit status, or killed by the same signal.

Options:
  --binary PATH         run this relinked binary instead of the one the image names (the
                        program moved, or the image came from another machine); it must be
                        identical to the one that made the image
${INFO_OPTIONS_HELP}

Exit status: the program's; 2 when the program is not run: the image is refused (one line on
stderr: "ckpt-restart: cannot restart from IMAGE: REASON") or a usage error; 70 internal error.

Environment: passed on to the program, with CKPT_RESTART set to IMAGE.
${RUNTIME_ENVIRONMENT_HELP}`;

const FORWARDED = ['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGXCPU', 'SIGVTALRM', 'SIGPROF'] as const;
const KEYBOARD = new Set<string>(['SIGINT', 'SIGQUIT']);

class Refusal extends Error {}

interface Args { image: string; binary?: string }

function parseArgs(argv: string[]): Args {
  let image: string | undefined, binary: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--binary') {
      if (i + 1 >= argv.length) throw new UsageError(`--binary needs a value; ${USAGE}`);
      binary = argv[++i];
    } else if (a.startsWith('-')) {
      answerInfoOption(a, 'ckpt-restart', HELP);
      throw new UsageError(`unknown option ${a}; ${USAGE}`);
    }
    else if (image === undefined) image = a;
    else throw new UsageError(`more than one image given; ${USAGE}`);
  }
  if (!image) throw new UsageError(USAGE);
  return { image, binary };
}

/** The binary to run, after checking the image's headers and that the binary is the one that made it */
function binaryFor(args: Args): string {
  let image;
  try {
    const src = fileSource(args.image);
    try { image = readImage(src); } finally { src.close(); }
  } catch (e) {
    if (e instanceof ImageReadError) throw new Refusal(e.message);
    throw e;
  }
  if (image.problems.length > 0) throw new Refusal(image.problems[0]);
  const binary = args.binary ?? image.exe;
  if (!binary) throw new Refusal('it does not name its binary (no executable record); give --binary');
  let id: bigint;
  try {
    const src = fileSource(binary);
    try { id = binaryId(src); } finally { src.close(); }
  } catch (e) {
    if (e instanceof ImageReadError || e instanceof BinaryIdError) throw new Refusal(`its binary ${binary}: ${e.message}`);
    throw e;
  }
  const want = image.header!.binaryId;
  if (id !== want) throw new Refusal(`its binary ${binary} has changed since the checkpoint (binary id 0x${id.toString(16)}, the image's 0x${want.toString(16)})`);
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    throw new Refusal(`its binary ${binary} is not executable`);
  }
  return binary;
}

/** Ends this process as the child ended: same status, or the same signal raised on itself */
function endLike(code: number | null, signal: NodeJS.Signals | null): never {
  if (signal) {
    for (const s of FORWARDED) process.removeAllListeners(s);
    process.kill(process.pid, signal);
    // still alive: Node itself handles or ignores this signal (SIGPIPE, SIGUSR1's inspector)
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  }
  process.exit(code ?? 1);
}

function run(binary: string, image: string): void {
  const child = spawn(binary, [], { stdio: 'inherit', env: { ...process.env, CKPT_RESTART: path.resolve(image) } });
  const onTerminal = tty.isatty(0);
  for (const s of FORWARDED) {
    process.on(s, () => {
      if (!(onTerminal && KEYBOARD.has(s)) && child.exitCode === null && child.signalCode === null) child.kill(s);
    });
  }
  child.once('error', (e) => {
    fs.writeSync(2, `ckpt-restart: cannot restart from ${image}: cannot run ${binary}: ${e.message}\n`);
    process.exit(2);
  });
  child.once('exit', endLike);
}

function main(): void {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    run(binaryFor(args), args.image);
  } catch (e) {
    if (e instanceof UsageError) {
      fs.writeSync(2, `ckpt-restart: ${e.message}\n`);
      process.exit(EXIT_USAGE);
    }
    if (e instanceof Refusal) {
      fs.writeSync(2, `ckpt-restart: cannot restart from ${args!.image}: ${e.message}\n`);
      process.exit(2);
    }
    fs.writeSync(2, `ckpt-restart: internal error: ${(e as Error).message?.split('\n')[0]}\n`);
    process.exit(70);
  }
}

main();
