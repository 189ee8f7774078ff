/**
 * Batteries of scripts for Debian's dynamically linked interpreters (python3, sqlite3, perl, lua5.4,
 * gawk), so that an original interpreter and its relinked copy run the same scripts and their
 * results can be compared. The scripts live in test/fixtures/langs/<lang>/NN-name.<ext>; the README
 * there says what a script may rely on.
 *
 * Both runs of a language must see the same strings wherever a script could print them: the binary
 * is copied to `<root>/bin/<name>`, and each script runs in `<root>/runs/<script>/work` with its own
 * HOME and TMPDIR beside it, `root` being fixed per language. One root therefore serves one run at
 * a time; a lock file next to it enforces that, and a run waits while another test process holds
 * it. Since every script has its own directory, scripts of one run go CONCURRENCY at a time.
 *
 * stdin is a fixed regular file and stdout and stderr are regular files (not pipes), for the reason
 * test/realbin/battery.ts gives: a child may splice a file into a pipe, and what the reader then
 * gets would depend on when it read.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { groupEnding, lockRoot, repositoryRoot } from '../realbin/battery.js';
import type { Result } from '../realbin/battery.js';

export type Lang = 'python' | 'sqlite' | 'perl' | 'lua' | 'gawk';

export interface LangSpec {
  /** The installed interpreter. */
  program: string;
  /** What it is called inside the battery (`<root>/bin/<name>`, first on PATH). */
  name: string;
  /** Of the scripts in its fixture directory. */
  ext: string;
  /** Extra ckpt-relink arguments: the directories of modules the interpreter dlopens. */
  relinkArgs: string[];
  /** The interpreter's arguments to run `script`, a path relative to the work directory. */
  args: (script: string) => string[];
  /** Fixed so that hash orders do not vary from run to run. */
  env: Record<string, string>;
  /** Scripts that also have their system calls counted (strace against CKPT_STATS). */
  counted: string[];
}

export const LANGS: Record<Lang, LangSpec> = {
  python: {
    program: '/usr/bin/python3.11',
    name: 'python3',
    ext: 'py',
    relinkArgs: ['--with', '/usr/lib/python3.11/lib-dynload'],
    args: (script) => ['-B', script],
    env: { PYTHONHASHSEED: '0' },
    counted: ['03-files-read-seek', '12-zlib', '14-json', '27-extension-modules', '31-mmap'],
  },
  sqlite: {
    program: '/usr/bin/sqlite3',
    name: 'sqlite3',
    ext: 'sql',
    relinkArgs: [],
    args: (script) => ['-batch', ':memory:', `.read ${script}`],
    env: {},
    counted: ['02-database-file', '04-transactions', '09-json1', '12-compression-sqlar', '20-large-data'],
  },
  perl: {
    program: '/usr/bin/perl',
    name: 'perl',
    ext: 'pl',
    // Core XS modules live in perl/5.36.0 and perl-base; perl5/ holds those of other packages
    relinkArgs: ['/usr/lib/x86_64-linux-gnu/perl/5.36.0', '/usr/lib/x86_64-linux-gnu/perl-base', '/usr/lib/x86_64-linux-gnu/perl5']
      .flatMap((dir) => ['--with', dir]),
    args: (script) => [script],
    env: { PERL_HASH_SEED: '0', PERL_PERTURB_KEYS: '0' },
    counted: ['03-files-read-seek', '11-regex', '12-compress-zlib', '14-json', '27-xs-storable-digest'],
  },
  lua: {
    program: '/usr/bin/lua5.4',
    name: 'lua',
    ext: 'lua',
    relinkArgs: [],
    args: (script) => [script],
    env: {},
    counted: ['03-files-read-seek', '11-patterns', '13-json-codec', '24-string-pack-utf8', '29-io-modes'],
  },
  gawk: {
    program: '/usr/bin/gawk',
    name: 'gawk',
    ext: 'awk',
    // Its @load extensions (filefuncs, readdir, fork...) are dlopen'd from here
    relinkArgs: ['--with', '/usr/lib/x86_64-linux-gnu/gawk'],
    args: (script) => ['-f', script],
    env: {},
    counted: ['03-files-read-seek', '11-regex', '23-arrays-functions', '24-fields-records', '26-extensions-loaded'],
  },
};

export const LANG_NAMES = Object.keys(LANGS) as Lang[];

const CONCURRENCY = 2;
const DEFAULT_TIMEOUT_MS = 60_000;

/** A script of a battery: its name (the file name without extension) and its file. */
export interface Script {
  name: string;
  file: string;
}

export function fixtureDir(lang?: Lang): string {
  const base = path.join(repositoryRoot(), 'test', 'fixtures', 'langs');
  return lang === undefined ? base : path.join(base, lang);
}

/** Every `NN-name.<ext>` of the language's directory, in order. */
export async function listScripts(lang: Lang): Promise<Script[]> {
  const ext = `.${LANGS[lang].ext}`;
  const files = (await fs.readdir(fixtureDir(lang))).filter((f) => /^\d\d-/.test(f) && f.endsWith(ext)).sort();
  return files.map((f) => ({ name: f.slice(0, -ext.length), file: path.join(fixtureDir(lang), f) }));
}

export function defaultLangRoot(lang: Lang): string {
  return path.join(os.tmpdir(), `ckpt-langs-${lang}`);
}

export interface RunLangOptions {
  lang: Lang;
  binary: string;
  scripts: Script[];
  /** Defaults to `defaultLangRoot(lang)`; must be the same string for runs that are compared. */
  root?: string;
  /** Added to the scripts' environment (CKPT_STATS...), so it must not be printed by them. */
  env?: Record<string, string>;
  /** Per script, in milliseconds; only turns a hang into a result that says so. */
  timeoutMs?: number;
  /** Runs the interpreter under this command line (strace...), the interpreter's path appended. */
  wrapper?: string[];
}

interface ScriptLayout {
  dir: string;
  work: string;
  home: string;
  tmp: string;
  script: string;
  stdout: string;
  stderr: string;
}

function scriptLayout(root: string, script: Script): ScriptLayout {
  const dir = path.join(root, 'runs', script.name);
  return {
    dir,
    work: path.join(dir, 'work'),
    home: path.join(dir, 'home'),
    tmp: path.join(dir, 'tmp'),
    script: path.join(dir, path.basename(script.file)),
    stdout: path.join(dir, 'stdout'),
    stderr: path.join(dir, 'stderr'),
  };
}

export function binaryPath(root: string, lang: Lang): string {
  return path.join(root, 'bin', LANGS[lang].name);
}

/** Runs the scripts, CONCURRENCY at a time, and gives their results in the scripts' order. */
export async function runLangBattery(opts: RunLangOptions): Promise<Result[]> {
  const root = opts.root ?? defaultLangRoot(opts.lang);
  await fs.mkdir(root, { recursive: true });
  const release = await lockRoot(root);
  try {
    await installBinary(opts.binary, binaryPath(root, opts.lang));
    const results: Result[] = new Array(opts.scripts.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < opts.scripts.length) {
        const index = next++;
        results[index] = await runScript(opts.scripts[index], opts, root);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    await fs.rm(path.join(root, 'runs'), { recursive: true, force: true });
    return results;
  } finally {
    await release();
  }
}

async function installBinary(binary: string, target: string): Promise<void> {
  await fs.rm(path.dirname(target), { recursive: true, force: true });
  await fs.mkdir(path.dirname(target));
  await fs.copyFile(binary, target, fsConstants.COPYFILE_EXCL);
  await fs.chmod(target, 0o755);
}

function scriptEnv(root: string, layout: ScriptLayout, opts: RunLangOptions): Record<string, string> {
  return {
    PATH: `${path.join(root, 'bin')}:/usr/bin:/bin`,
    HOME: layout.home,
    TMPDIR: layout.tmp,
    LANG: 'C',
    TZ: 'UTC',
    BATTERY_GREETING: 'hello from the environment',
    ...LANGS[opts.lang].env,
    ...opts.env,
  };
}

/** The stdin every script gets. */
export function stdinFile(): string {
  return path.join(fixtureDir(), 'stdin.txt');
}

async function runScript(script: Script, opts: RunLangOptions, root: string): Promise<Result> {
  const layout = scriptLayout(root, script);
  await fs.rm(layout.dir, { recursive: true, force: true });
  for (const dir of [layout.work, layout.home, layout.tmp]) await fs.mkdir(dir, { recursive: true });
  await fs.copyFile(script.file, layout.script);
  const started = performance.now();
  const files = await Promise.all([
    fs.open(stdinFile(), 'r'), fs.open(layout.stdout, 'w'), fs.open(layout.stderr, 'w'),
  ]);
  let ending: Pick<Result, 'exitCode' | 'signal' | 'timedOut'>;
  try {
    ending = await runInterpreter(script, opts, root, layout, files.map((f) => f.fd));
  } finally {
    await Promise.all(files.map((f) => f.close()));
  }
  // latin1 maps each byte to one character, so comparing the strings compares the bytes
  return {
    name: script.name,
    stdout: await fs.readFile(layout.stdout, 'latin1'),
    stderr: await fs.readFile(layout.stderr, 'latin1'),
    ...ending,
    durationMs: Math.round(performance.now() - started),
  };
}

/**
 * The interpreter leads its own session and process group, so no terminal leaks in and whatever
 * a script leaves behind is killed with the group when the script ends or times out, before its
 * output files are read.
 */
async function runInterpreter(
  script: Script,
  opts: RunLangOptions,
  root: string,
  layout: ScriptLayout,
  stdio: number[],
): Promise<Pick<Result, 'exitCode' | 'signal' | 'timedOut'>> {
  const spec = LANGS[opts.lang];
  // argv[0] is the binary's full path with or without a wrapper: python searches PATH for a bare
  // name, which would make the counted run differ from the uncounted one
  const command = [...(opts.wrapper ?? []), binaryPath(root, opts.lang), ...spec.args(path.join('..', path.basename(layout.script)))];
  const child = spawn(command[0], command.slice(1), {
    cwd: layout.work,
    env: scriptEnv(root, layout, opts),
    stdio,
    detached: true,
  });
  return groupEnding(child, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
}
