// The TypeScript rooms depend on each other one way (DESIGN.md's rooms; runtime/ has its own test).
// Each room imports only from its own files and from rooms listed before it here, so no circle can
// form: elf/ never reaches back into link/, the image reader never into the rewriter's planning.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './helpers.js';

/** Lowest first. A file belongs to the longest room that prefixes its path. */
const ORDER = [
  'src/base',            // errors.ts, paths.ts, contract.generated.ts at src/'s top
  'src/lib',             // the struct codec, the wasm engines' flags
  'src/rewriter/elf',
  'src/rewriter/closure', // which libraries a dynamic program carries: reads ELF files through elf/
  'src/rewriter/disasm',
  'src/rewriter/patch',
  'src/rewriter/link',
  'src/rewriter',        // relink.ts, report.ts: the whole rewrite
  'src/image',           // reads relinked binaries' config blocks through elf/
  'src/shadow',
  'src/run',            // ckpt-run's job: image directory, choice of start, the program's supervision
  'src/cli',
  'src/index',           // the library entry: everything public
];

/** src/index.ts is the top; the other files at src/'s top are the base every room may use */
function roomOf(file: string): string {
  const rel = path.relative(ROOT, file).split(path.sep).join('/');
  if (rel === 'src/index.ts') return 'src/index';
  if (path.dirname(rel) === 'src') return 'src/base';
  const room = ORDER.filter((r) => rel.startsWith(r + '/')).sort((a, b) => b.length - a.length)[0];
  if (!room) throw new Error(`${rel} is in no room: add its folder to test/layering.test.ts`);
  return room;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports (static, dynamic and type-only) of one file, as absolute .ts paths */
function importsOf(file: string, text: string): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(?\s*)'(\.[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.resolve(path.dirname(file), s).replace(/\.js$/, '.ts'));
}

/** Every import that goes from a room to a room above it: "from -> to" lines */
function upwardImports(files: string[], read = (f: string) => fs.readFileSync(f, 'utf8')): string[] {
  const bad: string[] = [];
  for (const file of files) {
    const from = ORDER.indexOf(roomOf(file));
    for (const target of importsOf(file, read(file))) {
      const to = ORDER.indexOf(roomOf(target));
      if (to > from) bad.push(`${path.relative(ROOT, file)} -> ${path.relative(ROOT, target)}`);
    }
  }
  return bad;
}

describe('TypeScript rooms', () => {
  const files = sourceFiles(path.join(ROOT, 'src'));

  it('puts every source file in a known room', () => {
    for (const f of files) assert.ok(ORDER.includes(roomOf(f)), f);
  });

  it('has no import from a room into one above it (dependencies point one way)', () => {
    assert.deepEqual(upwardImports(files), []);
  });

  it('notices an import that points up', () => {
    const planted = path.join(ROOT, 'src/rewriter/elf/planted.ts');
    const text = "import { linkRuntime } from '../link/layout.js';\nexport const x = linkRuntime;\n";
    assert.deepEqual(upwardImports([planted], () => text), ['src/rewriter/elf/planted.ts -> src/rewriter/link/layout.ts']);
  });
});
