// The package as a user gets it: `npm pack`, then `npm install -g` of the tarball into a scratch
// prefix, then the installed commands and library used; the install and every command run with a
// PATH of node, npm and the prefix's bin alone (no gcc, ld, make or tsc on it). The tarball must
// carry everything built (the compiled CLI and library, build/runtime.o) and nothing of the
// tests, since a tarball install runs no build step.
//
// `npm test` has built dist/ and build/ just before; packing with --ignore-scripts takes them as
// they are (a real `npm pack` rebuilds them first: scripts/prepack.mjs, then `prepare`). The install
// prefers npm's cache, where scripts/setup.sh put the dependencies, and needs the network only for
// what the cache lacks. Nothing here waits for a time: the sample says READY, the image is
// renamed into place when it is whole, and each process is awaited to its exit.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { ROOT, SAMPLES_DIR, relinkFile, scratch, waitFor } from '../helpers.js';

const SAMPLE = path.join(SAMPLES_DIR, 'zdtm/glibc/mem_anon');
const COMMANDS = ['ckpt-relink', 'ckpt-restart', 'ckpt-inspect', 'ckpt-shadow', 'ckpt-run'];
const BUILD_TOOLS = ['gcc', 'cc', 'ld', 'as', 'make', 'tsc'];
const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

interface Installed { dir: string; prefix: string; files: string[]; path: string }

/** A directory holding node and npm alone: their usual directory (/usr/bin) holds gcc too */
function toolsDirectory(dir: string): string {
  const tools = path.join(dir, 'tools');
  fs.mkdirSync(tools);
  fs.symlinkSync(process.execPath, path.join(tools, 'node'));
  fs.symlinkSync(fs.realpathSync(which('npm', process.env.PATH ?? '')!), path.join(tools, 'npm'));
  return tools;
}

async function packAndInstall(): Promise<Installed> {
  const dir = scratch('ckpt-package-');
  const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: ROOT });
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const prefix = path.join(dir, 'prefix');
  const searchPath = `${toolsDirectory(dir)}:${path.join(prefix, 'bin')}`;
  await execa('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', path.join(dir, info.filename)], { cwd: dir, env: { PATH: searchPath } });
  return { dir, prefix, files: info.files.map((f) => f.path), path: searchPath };
}

/** The first directory of `searchPath` holding an executable `name`, if any */
function which(name: string, searchPath: string): string | undefined {
  for (const d of searchPath.split(':')) {
    try {
      fs.accessSync(path.join(d, name), fs.constants.X_OK);
      return path.join(d, name);
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Resolves with everything the child wrote on stdout once it has written `text`; rejects if it exits first */
function untilOutput(child: ReturnType<typeof spawn>, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d;
      if (out.includes(text)) {
        child.stdout!.off('data', onData);
        resolve(out);
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', () => reject(new Error(`exited before it printed ${JSON.stringify(text)}; printed ${JSON.stringify(out)}`)));
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}

describe('the npm package, installed from its tarball', function () {
  this.timeout(300_000);
  let pkg: Installed;
  const env = () => ({ PATH: pkg.path, LANG: 'C' });
  const run = (command: string, args: string[], cwd = pkg.dir) =>
    execa(command, args, { cwd, env: env(), extendEnv: false, reject: false, stripFinalNewline: false });

  before(async () => {
    pkg = await packAndInstall();
  });

  it('packs the compiled CLI and library, the runtime object, docs and license, and no tests', function () {
    const bins = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).bin as Record<string, string>;
    for (const f of ['build/runtime.o', 'dist/src/index.js', 'dist/src/index.d.ts', 'README.md', 'LICENSE', 'package.json', 'docs/image-format.md', ...Object.values(bins)]) {
      assert.ok(pkg.files.includes(f), `${f} is in the tarball`);
    }
    const unwanted = pkg.files.filter((f) => /^(dist\/)?test\/|^(src|runtime|samples|bench)\/|\.map$|^node_modules\//.test(f));
    assert.deepEqual(unwanted, [], 'tests, sources and source maps left out');
  });

  it('installs every command, and runs them with no compiler on the PATH', async () => {
    const found = BUILD_TOOLS.filter((t) => which(t, pkg.path));
    assert.deepEqual(found, [], 'build tools on the test PATH');
    for (const command of COMMANDS) {
      assert.equal(which(command, pkg.path), path.join(pkg.prefix, 'bin', command));
      const r = await run(command, ['--version']);
      assert.equal(r.stdout, `${command} (ckpt) ${PACKAGE.version}\n`, r.stderr);
    }
  });

  it('relinks a sample with the installed ckpt-relink, checkpoints it, and restarts it with ckpt-restart', async () => {
    const dir = pkg.dir;
    const native = await execa(SAMPLE, [], { cwd: dir, input: '\n', stripFinalNewline: false, reject: false });
    assert.equal(native.exitCode, 0, native.stdout);

    const relinked = path.join(dir, 'mem_anon.ckpt');
    const r = await run('ckpt-relink', [SAMPLE, '-o', relinked, '-q']);
    assert.equal(r.exitCode, 0, r.stderr);
    const fromRepo = path.join(dir, 'mem_anon.repo.ckpt');
    await relinkFile(SAMPLE, fromRepo);
    assert.ok(fs.readFileSync(relinked).equals(fs.readFileSync(fromRepo)), 'the installed ckpt-relink writes what the repository build writes');

    const image = path.join(dir, 'run.img');
    const first = spawn(relinked, [], { cwd: dir, env: { ...env(), CKPT_IMAGE: image }, stdio: ['pipe', 'pipe', 'inherit'] });
    const firstEnd = exited(first);
    const firstOut = await untilOutput(first, 'READY\n');
    first.kill('SIGUSR2');
    await waitFor(() => fs.existsSync(image), 'the image, renamed into place once whole');
    first.kill('SIGKILL');
    assert.equal((await firstEnd).signal, 'SIGKILL');

    const inspected = await run('ckpt-inspect', [image]);
    assert.equal(inspected.exitCode, 0, inspected.stdout + inspected.stderr);

    const restarted = await execa('ckpt-restart', [image], { cwd: dir, env: env(), extendEnv: false, input: '\n', reject: false, stripFinalNewline: false });
    assert.equal(restarted.stderr, '');
    assert.equal(restarted.exitCode, 0, restarted.stdout);
    assert.equal(firstOut + restarted.stdout, native.stdout, 'the output of the run and its restart, together, is the native run\'s');
  });

  it('serves a job from the installed ckpt-shadow: a busybox relinked by the installed ckpt-relink writes in its root', async () => {
    const dir = scratch('ckpt-package-shadow-');
    const root = path.join(dir, 'root'), token = path.join(dir, 'token'), job = path.join(dir, 'busybox.ckpt');
    fs.mkdirSync(root);
    fs.writeFileSync(token, 'package-test-token\n', { mode: 0o600 });
    assert.equal((await run('ckpt-relink', ['/bin/busybox', '-o', job, '-q'])).exitCode, 0);
    const shadow = spawn('ckpt-shadow', ['--listen', '127.0.0.1:0', '--root', root, '--token-file', token],
      { cwd: dir, env: env(), stdio: ['ignore', 'ignore', 'pipe'] });
    const shadowEnd = exited(shadow);
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let err = '';
        shadow.stderr!.on('data', (d: Buffer) => {
          err += d;
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(err);
          if (m) resolve(Number(m[1]));
        });
        shadow.once('exit', () => reject(new Error(`ckpt-shadow ended: ${err}`)));
      });
      const r = await execa(job, ['sh', '-c', 'echo remote > made.txt; cat made.txt'], {
        cwd: dir, extendEnv: false, reject: false,
        env: { PATH: '/usr/bin:/bin', CKPT_SHADOW: `127.0.0.1:${port}`, CKPT_SHADOW_TOKEN_FILE: token },
      });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'remote');
      assert.equal(fs.readFileSync(path.join(root, 'made.txt'), 'utf8'), 'remote\n', 'written in the shadow\'s root');
      assert.ok(!fs.existsSync(path.join(dir, 'made.txt')), 'nothing written on the execute side');
    } finally {
      shadow.kill('SIGTERM');
      assert.equal((await shadowEnd).code, 0, 'the shadow ends cleanly on SIGTERM');
    }
  });

  it("imports the library by the package's name, and its types resolve", async () => {
    // Beside the prefix's node_modules, so that 'ckpt' resolves as it does for any user of the package
    const lib = path.join(pkg.prefix, 'lib');
    const relinked = path.join(pkg.dir, 'lib-mem_anon.ckpt');
    fs.writeFileSync(path.join(lib, 'use.mjs'), `
      import fs from 'node:fs';
      import { relink, RelinkError, Tactic, checkImage, fileSource, ShadowServer, ConfinedRoot } from 'ckpt';
      const { output, report } = await relink(fs.readFileSync(${JSON.stringify(SAMPLE)}));
      fs.writeFileSync(${JSON.stringify(relinked)}, output, { mode: 0o755 });
      const refused = await relink(Buffer.from('not an ELF file')).catch((e) => e);
      const src = fileSource(${JSON.stringify(path.join(pkg.dir, 'run.img'))});
      const { problems } = checkImage(src);
      src.close();
      const root = await ConfinedRoot.open(${JSON.stringify(pkg.dir)});
      const server = await ShadowServer.start({ host: '127.0.0.1', port: 0, root, token: Buffer.from('t'), policy: '', log() {}, print() {} });
      const listening = server.address.port > 0;
      await server.close();
      console.log(JSON.stringify({ patched: report.patched[Tactic.Jump], refused: refused instanceof RelinkError && refused.code, problems, listening }));
    `);
    const r = await execa('node', ['use.mjs'], { cwd: lib, env: env(), extendEnv: false, reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const result = JSON.parse(r.stdout);
    assert.ok(result.patched > 0, r.stdout);
    assert.deepEqual({ ...result, patched: 0 }, { patched: 0, refused: 'ENOTELF', problems: [], listening: true });
    assert.ok(fs.readFileSync(relinked).equals(fs.readFileSync(path.join(pkg.dir, 'mem_anon.ckpt'))), 'relink() writes what ckpt-relink writes');

    fs.writeFileSync(path.join(lib, 'use.mts'), `
      import { relink, type RelinkResult, type Image, readImage, bufferSource } from 'ckpt';
      const result: RelinkResult = await relink(Buffer.alloc(0), { sudNet: 'always' });
      const image: Image = readImage(bufferSource(result.output));
      export const sites: number = result.report.sites + image.records.length;
    `);
    // --skipLibCheck, as `tsc --init` sets it: checking all of @types/node takes four times as long
    const tsc = path.join(ROOT, 'node_modules/typescript/bin/tsc');
    const types = path.join(ROOT, 'node_modules/@types');
    const checked = await execa('node', [tsc, '--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022',
      '--typeRoots', types, '--types', 'node', 'use.mts'], { cwd: lib, reject: false });
    assert.equal(checked.exitCode, 0, checked.stdout + checked.stderr);
  });
});
