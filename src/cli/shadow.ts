#!/usr/bin/env -S node --single-threaded
// ckpt-shadow --listen HOST:PORT --root DIR --token-file FILE [--policy FILE.json] [--scratch DIR]...
//             [--stdin PATH] [--stdout PATH] [--stderr PATH] [--lookups auto|event-loop|workers]
// The shadow server (docs/shadow-protocol.md). One line on stderr per event, `ckpt-shadow: ...`,
// starting with `listening on HOST:PORT` (the real port when 0 was asked); `job SESSION exited
// STATUS` on stdout when a job's first process exits. Exit status: 2 for a usage error; 1 for an
// unreadable token or policy, a missing root or an address that cannot be had; 0 after SIGTERM
// or SIGINT, once every session's files are closed.
import fs from 'node:fs';
import { EXIT_USAGE, UsageError } from '../errors.js';
import { ConfinedRoot } from '../shadow/confine.js';
import { LOOKUP_MODES, type LookupMode } from '../shadow/lookup-pool.js';
import { tokenFromFile } from '../shadow/protocol.js';
import { PolicyError, ShadowServer, jobPath, parsePolicyFile, policyText, type PolicyOptions } from '../shadow/server.js';
import { INFO_OPTIONS_HELP, answerInfoOption } from './usage.js';

const USAGE = 'usage: ckpt-shadow --listen HOST:PORT --root DIR --token-file FILE [--policy FILE.json] [--scratch DIR]... [--stdin PATH] [--stdout PATH] [--stderr PATH] [--lookups auto|event-loop|workers]';

const HELP = `${USAGE}

The shadow server, on the submit machine: relinked jobs started with CKPT_SHADOW=HOST:PORT (and
CKPT_SHADOW_TOKEN_FILE) anywhere make their file system calls here, inside DIR, which is their
\`/\`; memory, process and signal calls stay on the machine where the job runs. Protocol, security
and failure behaviour: docs/shadow-protocol.md. Logs one line per event on stderr, the first
"ckpt-shadow: listening on HOST:PORT"; prints "job SESSION exited STATUS" on stdout when a job's
first process exits. Runs until SIGTERM or SIGINT, then closes every session's files.

Options:
  --listen HOST:PORT    the address to listen on ([ADDR]:PORT for IPv6; port 0 picks a free one,
                        which the first log line gives) (required)
  --root DIR            the directory the jobs see as /; nothing outside it is ever read,
                        written, created or removed on their behalf (required)
  --token-file FILE     the secret jobs authenticate with (the file's bytes, without the CR
                        and LF bytes at its end); readable by its owner only (required)
  --policy FILE.json    which job paths are remote and which stay on the execute machine, and
                        the job's stdio: {"remote": [...], "local": [...], "stdin": PATH,
                        "stdout": PATH, "stderr": PATH}; replaces the default policy (remote /;
                        local /proc, /dev, /sys)
  --scratch DIR         keep the job path DIR local to the execute machine (repeatable)
  --stdin PATH, --stdout PATH, --stderr PATH
                        the job's descriptor 0, 1 or 2 is this remote file (a job path, opened
                        when the job starts; stdout and stderr created, truncated, appended to);
                        overrides the policy file's
  --lookups auto|event-loop|workers
                        where path lookups for stat are made: auto (the default) on the event
                        loop while every mounted file system is local, else in worker threads;
                        event-loop or workers always
${INFO_OPTIONS_HELP}

Exit status: 0 after SIGTERM or SIGINT; 1 an unreadable token or policy, a missing root, or an
address that cannot be had; 2 a usage error; 70 internal error.

Environment: none read (the jobs' variables are in ckpt-relink --help).`;

interface Args {
  host: string; port: number; root: string; tokenFile: string; policyFile?: string; scratch: string[];
  stdio: NonNullable<PolicyOptions['stdio']>; lookups: LookupMode;
}

/** Why the server cannot start, other than its command line: files, the root, the address */
class CannotStart extends Error {}

function parseListen(v: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`--listen must be HOST:PORT (PORT 0 to 65535), not '${v}'`);
  return { host: m[1] ?? m[2], port };
}

function parseArgs(argv: string[]): Args {
  let listen: { host: string; port: number } | undefined, root: string | undefined, tokenFile: string | undefined, policyFile: string | undefined;
  const scratch: string[] = [];
  const stdio: Args['stdio'] = {};
  let lookups: LookupMode = 'auto';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value; ${USAGE}`);
      return argv[++i];
    };
    if (a === '--listen') listen = parseListen(value());
    else if (a === '--root') root = value();
    else if (a === '--token-file') tokenFile = value();
    else if (a === '--policy') policyFile = value();
    else if (a === '--scratch') scratch.push(value());
    else if (a === '--stdin' || a === '--stdout' || a === '--stderr') stdio[a.slice(2) as keyof Args['stdio']] = value();
    else if (a === '--lookups') {
      const v = value();
      if (!(LOOKUP_MODES as readonly string[]).includes(v)) throw new UsageError(`--lookups must be auto, event-loop or workers, not '${v}'`);
      lookups = v as LookupMode;
    } else {
      answerInfoOption(a, 'ckpt-shadow', HELP);
      throw new UsageError(`unknown argument ${a}; ${USAGE}`);
    }
  }
  if (!listen || !root || !tokenFile) throw new UsageError(`--listen, --root and --token-file are required; ${USAGE}`);
  return { ...listen, root, tokenFile, policyFile, scratch, stdio, lookups };
}

function fileError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
}

function readToken(file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    throw new CannotStart(`--token-file ${file}: ${fileError(e)}`);
  }
  const token = tokenFromFile(bytes);
  if (token.length === 0) throw new CannotStart(`--token-file ${file}: empty`);
  return token;
}

function readPolicy(args: Args): string {
  let file;
  if (args.policyFile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(args.policyFile, 'utf8');
    } catch (e) {
      throw new CannotStart(`--policy ${args.policyFile}: ${fileError(e)}`);
    }
    try {
      file = parsePolicyFile(text);
    } catch (e) {
      throw new CannotStart(`--policy ${args.policyFile}: ${(e as Error).message}`);
    }
  }
  try {
    for (const [key, p] of Object.entries(args.stdio)) jobPath(p, `--${key}`);
    return policyText({ file, scratch: args.scratch, stdio: args.stdio });
  } catch (e) {
    if (e instanceof PolicyError) throw new UsageError(e.message);
    throw e;
  }
}

async function openRoot(dir: string, lookups: LookupMode): Promise<ConfinedRoot> {
  try {
    return await ConfinedRoot.open(dir, log, lookups);
  } catch (e) {
    throw new CannotStart(`--root ${dir}: ${(e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'not a directory' : fileError(e)}`);
  }
}

function log(line: string): void {
  process.stderr.write(`ckpt-shadow: ${line}\n`);
}

async function main(): Promise<number> {
  let server: ShadowServer, args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
    const token = readToken(args.tokenFile);
    const policy = readPolicy(args);
    const root = await openRoot(args.root, args.lookups);
    try {
      server = await ShadowServer.start({ host: args.host, port: args.port, root, token, policy, log, print: (line) => process.stdout.write(line + '\n') });
    } catch (e) {
      throw new CannotStart(`cannot listen on ${args.host}:${args.port}: ${(e as Error).message}`);
    }
  } catch (e) {
    if (!(e instanceof UsageError || e instanceof CannotStart)) throw e;
    log(e.message);
    return e instanceof UsageError ? EXIT_USAGE : 1;
  }
  const { host, port } = server.address;
  log(`listening on ${host.includes(':') ? `[${host}]` : host}:${port}`);
  if (fs.statSync(args.tokenFile).mode & 0o077) log(`warning: ${args.tokenFile} can be read by others than its owner`);
  // Sessions catch their own faults; this is the last net, so that one job's fault never ends the others
  process.on('uncaughtException', (e) => log(`internal error: ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => log(`internal error: ${(e as Error)?.stack ?? String(e)}`));
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      log(`stopping (${signal})`);
      server.close().then(() => resolve(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

main().then((code) => process.exit(code), (e) => {
  log(`internal error: ${(e as Error).message}`);
  process.exit(70);
});
