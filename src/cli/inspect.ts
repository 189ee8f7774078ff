#!/usr/bin/env -S node --single-threaded
// ckpt-inspect IMAGE [--json] [--no-data-check]
// Decodes a checkpoint image and checks every checksum: a summary for people, or JSON whose keys are
// documented in src/image/json.ts. Exit status: 0 when the image checks out, 2 when it is corrupt
// (the problems are listed, one line each), 1 when it cannot be read or for a usage error.
import fs from 'node:fs';
import { UsageError } from '../errors.js';
import { readChain } from '../image/chain.js';
import { imageToJson } from '../image/json.js';
import { ImageReadError, checkImage, fileSource } from '../image/read.js';
import { formatSummary } from '../image/summary.js';
import { INFO_OPTIONS_HELP, answerInfoOption } from './usage.js';

const USAGE = 'usage: ckpt-inspect IMAGE [--json] [--no-data-check]';

const HELP = `${USAGE}

Decodes the checkpoint image IMAGE (docs/image-format.md) and checks every record's checksum.
Prints the process (pids, the signal that checkpointed it), registers, memory regions (bytes
saved, and where a restart takes the pages not saved from: the relinked binary, another file, or
zeros for anonymous memory), open descriptors (with the state of each kernel object: a pipe's
unread bytes, an eventfd's counter, an epoll instance's registrations...; those a restart cannot
make again marked not restorable), cwd, limits, timers and queued signals. An incremental image's
chain is listed and checked link by link, down to its full image (a missing or damaged link is a
problem, as it would refuse a restart).

Options:
  --json                print the same facts as one JSON document (keys: src/image/json.ts)
  --no-data-check       do not read the memory contents to check their checksums (faster for
                        large images; headers and other records are still checked)
${INFO_OPTIONS_HELP}

Exit status: 0 the image checks out; 2 it is corrupt (each problem on a line); 1 it cannot be
read, or a usage error.

Environment: none read.`;

interface Args { image: string; json: boolean; dataCheck: boolean }

function parseArgs(argv: string[]): Args {
  let image: string | undefined, json = false, dataCheck = true;
  for (const a of argv) {
    if (a === '--json') json = true;
    else if (a === '--no-data-check') dataCheck = false;
    else if (a.startsWith('-')) {
      answerInfoOption(a, 'ckpt-inspect', HELP);
      throw new UsageError(`unknown option ${a}; ${USAGE}`);
    }
    else if (image === undefined) image = a;
    else throw new UsageError(`more than one image given; ${USAGE}`);
  }
  if (!image) throw new UsageError(USAGE);
  return { image, json, dataCheck };
}

function main(): number {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    fs.writeSync(2, `ckpt-inspect: ${e.message}\n`);
    return 1;
  }
  let src;
  try {
    src = fileSource(args.image);
  } catch (e) {
    if (!(e instanceof ImageReadError)) throw e;
    fs.writeSync(2, `ckpt-inspect: cannot read ${args.image}: ${e.message}\n`);
    return 1;
  }
  try {
    const { image, problems } = checkImage(src, { data: args.dataCheck });
    const chain = readChain(args.image, image, { data: args.dataCheck });
    problems.push(...chain.filter((l) => l.problem).map((l) => `chain link ${l.file}: ${l.problem}`));
    const out = args.json
      ? JSON.stringify(imageToJson(args.image, image, problems, args.dataCheck, chain), null, 2) + '\n'
      : formatSummary(args.image, image, problems, args.dataCheck, chain);
    fs.writeSync(1, out);
    return problems.length === 0 ? 0 : 2;
  } finally {
    src.close();
  }
}

process.exit(main());
