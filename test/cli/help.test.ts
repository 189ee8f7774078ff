// Every command's --help names every option its parser accepts and, for the commands that start
// the relinked program (ckpt-relink makes it, ckpt-restart runs it), every environment variable
// the runtime reads. Both lists are read from the code (the parsers' `=== '-x'` comparisons, the
// runtime's getenv calls), so an option or variable added without its help line fails here.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT } from '../helpers.js';
import { CLI_NODE_FLAGS, nodeCommand } from '../../src/cli/node-flags.js';

const COMMANDS = ['relink', 'inspect', 'restart', 'shadow', 'run'] as const;
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const cli = (command: string, args: string[]) =>
  execa(...nodeCommand(path.join(ROOT, `dist/src/cli/${command}.js`), args), { reject: false, stripFinalNewline: false });

/** The option strings a command's parser compares its arguments with, shared ones included */
function parsedOptions(command: string): string[] {
  const code = ['src/cli/usage.ts', `src/cli/${command}.ts`].map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  return [...new Set([...code.matchAll(/===\s*'(-[-\w]*)'/g)].map((m) => m[1]))];
}

function filesUnder(dir: string, suffix: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith(suffix)).map((f) => path.join(dir, f));
}

/** CKPT_* variables the runtime reads (getenv) or sets for the programs a job execs ("CKPT_X=") */
function runtimeVariables(): string[] {
  const code = filesUnder(path.join(ROOT, 'runtime'), '.c').map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const read = [...code.matchAll(/getenv\([^,)]*,\s*"(CKPT_\w+)"\)/g)].map((m) => m[1]);
  const set = [...code.matchAll(/"(CKPT_\w+)=/g)].map((m) => m[1]);
  return [...new Set([...read, ...set])].sort();
}

/** The lines of `help` from its `heading` line to the next heading (a line that starts a paragraph) */
function section(help: string, heading: string): string {
  const from = help.indexOf(`\n${heading}`);
  assert.ok(from >= 0, `no "${heading}" section`);
  const rest = help.slice(from + 1);
  const end = rest.search(/\n\n/);
  return end < 0 ? rest : rest.slice(0, end);
}

/** `word` standing alone in `text`: not as part of a longer option or variable name */
function mentions(text: string, word: string): boolean {
  const escaped = word.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`(^|[\\s,\\[(|])${escaped}(?=$|[\\s,=\\])|])`, 'm').test(text);
}

describe('--help and --version', function () {
  this.timeout(60_000);

  it('finds the options and variables in the code (the lists the other tests check against)', function () {
    assert.ok(parsedOptions('relink').includes('-o') && parsedOptions('relink').includes('--help'));
    assert.ok(parsedOptions('shadow').includes('--stderr'));
    const vars = runtimeVariables();
    for (const v of ['CKPT_IMAGE', 'CKPT_RESTART', 'CKPT_SHADOW_TOKEN_FILE', 'CKPT_VFDS']) assert.ok(vars.includes(v), `${v} in ${vars}`);
  });

  for (const command of COMMANDS) {
    describe(`ckpt-${command}`, function () {
      let help: string;
      before(async () => {
        const r = await cli(command, ['--help']);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(r.stderr, '');
        help = r.stdout;
      });

      it('prints its usage first, then explains each option it accepts', function () {
        assert.match(help, new RegExp(`^usage: ckpt-${command} `));
        const options = section(help, 'Options:');
        const missing = parsedOptions(command).filter((o) => !mentions(options, o));
        assert.deepEqual(missing, [], `options the parser accepts that --help does not explain`);
      });

      it('says what its exit statuses mean and which environment variables it reads', function () {
        assert.match(help, /^Exit status: /m);
        assert.match(help, /^Environment: /m);
      });

      if (command === 'relink' || command === 'restart') {
        it("explains every variable the relinked program's runtime reads", function () {
          const environment = section(help, 'Environment:');
          const missing = runtimeVariables().filter((v) => !mentions(environment, v));
          assert.deepEqual(missing, [], 'runtime variables --help does not mention');
        });
      }

      it('prints the same help for -h', async () => {
        const r = await cli(command, ['-h']);
        assert.equal(r.exitCode, 0);
        assert.equal(r.stdout, help);
      });

      it("prints the package's version for --version", async () => {
        const r = await cli(command, ['--version']);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.equal(r.stdout, `ckpt-${command} (ckpt) ${VERSION}\n`);
      });
    });
  }

  it("each command's #! line starts Node with the flags that keep it from hanging at exit", function () {
    for (const command of COMMANDS) {
      const first = fs.readFileSync(path.join(ROOT, `dist/src/cli/${command}.js`), 'utf8').split('\n')[0];
      assert.equal(first, `#!/usr/bin/env -S node ${CLI_NODE_FLAGS.join(' ')}`, command);
    }
  });
});
