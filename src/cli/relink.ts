#!/usr/bin/env -S node --single-threaded
// ckpt-relink INPUT -o OUTPUT [--report FILE.json] [--sud-sites all|ADDR,...] [--quiet]
// The only place that touches files and decides exit codes for relinking.
import fs from 'node:fs';
import path from 'node:path';
import { EXIT_USAGE, RelinkError, UsageError } from '../errors.js';
import { relink, type CarriedInput, type RelinkOptions } from '../rewriter/relink.js';
import { resolveClosure } from '../rewriter/closure/index.js';
import { readElf } from '../rewriter/elf/read.js';
import { formatSummary } from '../rewriter/report.js';
import { INFO_OPTIONS_HELP, RUNTIME_ENVIRONMENT_HELP, answerInfoOption } from './usage.js';

const USAGE = 'usage: ckpt-relink INPUT -o OUTPUT [--with PATH]... [--library-path DIR]... [--report FILE.json] [--sud-sites all|ADDR[,ADDR...]] [--sud-net auto|always|never] [--quiet]';

const HELP = `${USAGE}

Rewrites the executable INPUT (static, static-pie or dynamically linked; glibc or musl; no source
needed) so that every system call enters the ckpt runtime, which is linked into OUTPUT: the
relinked program behaves as INPUT did, and can checkpoint, restart and forward its file calls to a
shadow server. A dynamically linked INPUT's interpreter and libraries, found as ld.so would find
them, are patched and carried inside OUTPUT, which then needs no library of the machine it runs on
(docs/dynamic.md). INPUT is never modified, and no partial OUTPUT is ever left. A summary goes to
stdout.

Options:
  -o, --output OUTPUT   where to write the relinked program (required; not INPUT itself)
  --report FILE.json    also write the per-site report: address, system call number when the
                        code shows it, tactic, window, moved instructions, trampoline, and why a
                        site was left to the SUD net
  --sud-sites all|ADDR[,ADDR...]
                        leave these syscall sites (addresses, decimal or 0x hex), or all of them,
                        to the Syscall User Dispatch net instead of patching them (testing)
  --sud-net auto|always|never
                        when the runtime arms the SUD net: auto (the default) when some site was
                        left to it; always, to also catch code made at run time (JIT); never
  --with PATH           also carry this shared object, or every shared object under this
                        directory, with the libraries they need (modules a program dlopens:
                        python's lib-dynload, perl's XS modules); repeatable
  -L, --library-path DIR
                        search DIR for libraries, as LD_LIBRARY_PATH would at run time; repeatable
  -q, --quiet           print no summary
${INFO_OPTIONS_HELP}

Exit status: 0 relinked; 1 INPUT cannot be relinked or OUTPUT cannot be written (one line on
stderr says why); 2 usage error; 70 internal error.

Environment: ckpt-relink reads none.
${RUNTIME_ENVIRONMENT_HELP}`;

interface Args { input: string; output: string; report?: string; quiet: boolean; options: RelinkOptions; libraryPath: string[]; with: string[] }

function parseSudSites(v: string): RelinkOptions['sudSites'] {
  if (v === 'all') return 'all';
  return v.split(',').map((x) => {
    const n = Number(x);
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(x) || !Number.isSafeInteger(n)) throw new UsageError(`--sud-sites: '${x}' is not an address`);
    return n;
  });
}

function parseArgs(argv: string[]): Args {
  let input: string | undefined, output: string | undefined, report: string | undefined, quiet = false;
  const libraryPath: string[] = [], withPaths: string[] = [];
  const options: RelinkOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new UsageError(`${a} needs a value; ${USAGE}`);
      return argv[++i];
    };
    if (a === '-o' || a === '--output') output = value();
    else if (a === '--report') report = value();
    else if (a === '--sud-sites') options.sudSites = parseSudSites(value());
    else if (a === '--sud-net') {
      const v = value();
      if (v !== 'auto' && v !== 'always' && v !== 'never') throw new UsageError(`--sud-net must be auto, always or never, not '${v}'`);
      options.sudNet = v;
    }
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '--library-path' || a === '-L') libraryPath.push(value());
    else if (a === '--with') withPaths.push(value());
    else if (a.startsWith('-')) {
      answerInfoOption(a, 'ckpt-relink', HELP);
      throw new UsageError(`unknown option ${a}; ${USAGE}`);
    }
    else if (input === undefined) input = a;
    else throw new UsageError(`more than one input given; ${USAGE}`);
  }
  if (!input || !output) throw new UsageError(USAGE);
  return { input, output, report, quiet, options, libraryPath, with: withPaths };
}

function readInput(file: string): Buffer {
  try {
    const st = fs.statSync(file);
    if (!st.isFile()) throw new RelinkError('EIO', `${file}: not a regular file`);
    return fs.readFileSync(file);
  } catch (e) {
    if (e instanceof RelinkError) throw e;
    throw new RelinkError('EIO', `${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
}

/** Writes to a temporary file beside the target, then renames: no partial output is ever left. */
function writeAtomically(file: string, data: Buffer | string, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.ckpt-tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, data, { mode });
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new RelinkError('EIO', `cannot write ${file}: ${(e as Error).message}`);
  }
}

/** A dynamic program's interpreter and library closure, resolved on this machine as ld.so would */
function carriedClosure(args: Args, input: Buffer): CarriedInput[] {
  const closure = resolveClosure(path.resolve(args.input), input, { libraryPath: args.libraryPath, with: args.with });
  return [closure.interp, ...closure.objects].map((o) => ({ name: o.name, path: o.path, role: o.role, bytes: o.bytes }));
}

async function main(): Promise<number> {
  try {
    const args = parseArgs(process.argv.slice(2));
    const input = readInput(args.input);
    if (path.resolve(args.input) === path.resolve(args.output)) throw new UsageError('output must differ from input (the input is never modified)');
    if (readElf(input).kind === 'dynamic') args.options.carried = carriedClosure(args, input);
    const { output, report } = await relink(input, args.options);
    writeAtomically(args.output, output, 0o755);
    if (args.report) writeAtomically(args.report, JSON.stringify(report, null, 2) + '\n', 0o644);
    if (!args.quiet) fs.writeSync(1, formatSummary(report, args.output));
    return 0;
  } catch (e) {
    if (e instanceof UsageError || e instanceof RelinkError) {
      fs.writeSync(2, `ckpt-relink: ${e.message}\n`);
      return e instanceof UsageError ? EXIT_USAGE : 1;
    }
    fs.writeSync(2, `ckpt-relink: internal error: ${(e as Error).message?.split('\n')[0]}\n`);
    return 70;
  }
}

// Output is written synchronously, so exiting at once loses nothing, and the process does not
// wait on background work of the wasm engines (see src/lib/wasm-flags.ts).
main().then((code) => process.exit(code));
