#!/usr/bin/env node
// ckpt-relink INPUT -o OUTPUT [--report FILE.json] [--sud-sites all|ADDR,...] [--quiet]
// The only place that touches files and decides exit codes for relinking.
import fs from 'node:fs';
import path from 'node:path';
import { RelinkError } from '../errors.js';
import { relink, type RelinkOptions } from '../rewriter/relink.js';
import { formatSummary } from '../rewriter/report.js';

const USAGE = 'usage: ckpt-relink INPUT -o OUTPUT [--report FILE.json] [--sud-sites all|ADDR[,ADDR...]] [--sud-net auto|always|never] [--quiet]';

interface Args { input: string; output: string; report?: string; quiet: boolean; options: RelinkOptions }

function parseSudSites(v: string): RelinkOptions['sudSites'] {
  if (v === 'all') return 'all';
  return v.split(',').map((x) => {
    const n = Number(x);
    if (!/^(0x[0-9a-f]+|\d+)$/i.test(x) || !Number.isSafeInteger(n)) throw new RelinkError('EUSAGE', `--sud-sites: '${x}' is not an address`);
    return n;
  });
}

function parseArgs(argv: string[]): Args {
  let input: string | undefined, output: string | undefined, report: string | undefined, quiet = false;
  const options: RelinkOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new RelinkError('EUSAGE', `${a} needs a value; ${USAGE}`);
      return argv[++i];
    };
    if (a === '-o' || a === '--output') output = value();
    else if (a === '--report') report = value();
    else if (a === '--sud-sites') options.sudSites = parseSudSites(value());
    else if (a === '--sud-net') {
      const v = value();
      if (v !== 'auto' && v !== 'always' && v !== 'never') throw new RelinkError('EUSAGE', `--sud-net must be auto, always or never, not '${v}'`);
      options.sudNet = v;
    }
    else if (a === '--quiet' || a === '-q') quiet = true;
    else if (a === '-h' || a === '--help') { fs.writeSync(1, USAGE + '\n'); process.exit(0); }
    else if (a.startsWith('-')) throw new RelinkError('EUSAGE', `unknown option ${a}; ${USAGE}`);
    else if (input === undefined) input = a;
    else throw new RelinkError('EUSAGE', `more than one input given; ${USAGE}`);
  }
  if (!input || !output) throw new RelinkError('EUSAGE', USAGE);
  return { input, output, report, quiet, options };
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

async function main(): Promise<number> {
  try {
    const args = parseArgs(process.argv.slice(2));
    const input = readInput(args.input);
    if (path.resolve(args.input) === path.resolve(args.output)) throw new RelinkError('EUSAGE', 'output must differ from input (the input is never modified)');
    const { output, report } = await relink(input, args.options);
    writeAtomically(args.output, output, 0o755);
    if (args.report) writeAtomically(args.report, JSON.stringify(report, null, 2) + '\n', 0o644);
    if (!args.quiet) fs.writeSync(1, formatSummary(report, args.output));
    return 0;
  } catch (e) {
    if (e instanceof RelinkError) {
      fs.writeSync(2, `ckpt-relink: ${e.message}\n`);
      return e.code === 'EUSAGE' ? 2 : 1;
    }
    fs.writeSync(2, `ckpt-relink: internal error: ${(e as Error).message?.split('\n')[0]}\n`);
    return 70;
  }
}

// Output is written synchronously, so exiting at once loses nothing, and the process does not
// wait on background work of the wasm engines (see src/rewriter/wasm-flags.ts).
main().then((code) => process.exit(code));
