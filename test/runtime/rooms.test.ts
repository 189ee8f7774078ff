// The runtime's rooms (runtime/README.md): every file sits in a known room, a file includes only
// headers of its own room and of rooms below it, so the dependencies between rooms point one way,
// and no .c file declares what another file defines (a prototype or an extern there would let a
// file use a room its includes do not name).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, scratch } from '../helpers.js';

/** Files of the runtime's own folder that belong to no room: its build and its map */
const TOP_FILES = new Set(['Makefile', 'check-object.sh', 'README.md']);
/** System headers a freestanding file may include: the compiler's and the kernel's UAPI, no libc */
const SYSTEM_HEADER = /^(stdint\.h|stddef\.h|linux\/[\w/.-]+|asm\/[\w/.-]+|asm-generic\/[\w/.-]+)$/;

interface Tree { runtime: string; shim: string }

/** The rooms, lowest first, from the README's line `Order, lowest first: a, b, ...` */
function roomOrder(runtimeDir: string): string[] {
  const readme = fs.readFileSync(path.join(runtimeDir, 'README.md'), 'utf8');
  const line = readme.split('\n').find((l) => l.startsWith('Order, lowest first:'));
  if (!line) throw new Error('runtime/README.md has no "Order, lowest first:" line');
  return line.slice(line.indexOf(':') + 1).split(',').map((r) => r.trim().replace(/[`.]/g, '').replace(/\/$/, ''));
}

function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? filesUnder(path.join(dir, e.name)) : [path.join(dir, e.name)]);
}

/** The room a runtime file is in ('syscall-shim' for the shim), or undefined */
function roomOf(tree: Tree, rooms: string[], file: string): string | undefined {
  if (file.startsWith(tree.shim + path.sep)) return 'syscall-shim';
  const rel = path.relative(tree.runtime, file).split(path.sep).join('/');
  return rooms.filter((r) => rel.startsWith(r + '/')).sort((a, b) => b.length - a.length)[0];
}

/** Rank of a room; the shim is the assembly of arch/x86_64 and ranks with it */
function rankOf(rooms: string[], room: string): number {
  return rooms.indexOf(room === 'syscall-shim' ? 'arch/x86_64' : room);
}

function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/\/\/[^\n]*/g, '')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""').replace(/'(?:[^'\\\n]|\\.)+'/g, "''");
}

/** Statements at file scope, bodies of braces left out ({} in their place) */
function fileScopeStatements(text: string): string[] {
  const code = withoutComments(text).split('\n').filter((l) => !l.trimStart().startsWith('#')).join('\n');
  const out: string[] = [];
  let depth = 0, parens = 0, acc = '';
  for (const ch of code) {
    if (ch === '{') { if (depth++ === 0) acc += '{}'; continue; }
    if (ch === '}') {
      depth--;
      if (depth === 0 && /\)\s*(__attribute__\s*\(\(.*\)\))?\s*\{\}$/s.test(acc)) { out.push(acc.trim()); acc = ''; }
      continue;
    }
    if (depth > 0) continue;
    if (ch === '(') parens++;
    if (ch === ')') parens--;
    if (ch === ';' && parens === 0) { out.push(acc.trim() + ';'); acc = ''; continue; }
    acc += ch;
  }
  return out;
}

/** What a .c file declares for use across files: extern declarations and non-static prototypes */
function crossFileDeclarations(text: string): string[] {
  return fileScopeStatements(text).filter((s) => {
    const flat = s.replace(/\s+/g, ' ');
    if (/^extern\b/.test(flat) || /\bextern\b/.test(flat.split('(')[0])) return true;
    if (!flat.endsWith(';') || flat.includes('{}') || flat.includes('=') || /^(typedef|static|_Static_assert)\b/.test(flat)) return false;
    return /^[\w\s*]+[\s*]\w+\s*\(.*\)\s*(__attribute__.*)?;$/.test(flat);
  });
}

interface Include { file: string; line: number; target: string; system: boolean }

function includesOf(file: string): Include[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const out: Include[] = [];
  lines.forEach((l, i) => {
    const m = /^\s*#\s*include\s*([<"])([^>"]+)[>"]/.exec(l);
    if (m) out.push({ file, line: i + 1, target: m[2], system: m[1] === '<' });
  });
  return out;
}

/** A quoted include as the compiler finds it: next to the file, else from runtime/ (-I) */
function resolveInclude(tree: Tree, inc: Include): string | undefined {
  for (const base of [path.dirname(inc.file), tree.runtime]) {
    const p = path.resolve(base, inc.target);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/** Every breach of the room rules in TREE, one line each */
export function roomViolations(tree: Tree): string[] {
  const rooms = roomOrder(tree.runtime);
  const problems: string[] = [];
  const rel = (f: string) => path.relative(path.dirname(tree.runtime), f);
  const files = [...filesUnder(tree.runtime), ...filesUnder(tree.shim)];
  for (const file of files) {
    const room = roomOf(tree, rooms, file);
    if (!room) {
      if (!TOP_FILES.has(path.relative(tree.runtime, file))) problems.push(`${rel(file)}: not in any room of runtime/README.md`);
      continue;
    }
    if (!/\.(c|h|S|inc)$/.test(file)) continue;
    for (const inc of includesOf(file)) {
      const where = `${rel(file)}:${inc.line}`;
      if (inc.system) {
        if (!SYSTEM_HEADER.test(inc.target)) problems.push(`${where}: <${inc.target}> is not a freestanding or UAPI header`);
        continue;
      }
      const target = resolveInclude(tree, inc);
      const targetRoom = target && roomOf(tree, rooms, target);
      if (!target || !targetRoom) { problems.push(`${where}: "${inc.target}" is not a header of any room`); continue; }
      if (rankOf(rooms, targetRoom) > rankOf(rooms, room))
        problems.push(`${where}: ${room} includes "${inc.target}" from ${targetRoom}, a room above it`);
    }
    if (file.endsWith('.c'))
      for (const decl of crossFileDeclarations(fs.readFileSync(file, 'utf8')))
        problems.push(`${rel(file)}: declares \`${decl.replace(/\s+/g, ' ')}\` (it belongs in its room's header)`);
  }
  return problems;
}

const TREE: Tree = { runtime: path.join(ROOT, 'runtime'), shim: path.join(ROOT, 'syscall-shim') };

/** A small runtime tree in a scratch folder, FILES by path under it */
function plantedTree(files: Record<string, string>): Tree {
  const dir = scratch();
  const tree = { runtime: path.join(dir, 'runtime'), shim: path.join(dir, 'syscall-shim') };
  const all: Record<string, string> = {
    'runtime/README.md': 'Order, lowest first: include, arch/x86_64, lib, core\n',
    'runtime/lib/lib.h': '#include <stdint.h>\nint rt_one(void);\n',
    'runtime/lib/one.c': '#include "lib/lib.h"\nint rt_one(void) { return 1; }\n',
    'runtime/core/core.h': '#include "lib/lib.h"\nvoid rt_top(void);\n',
    'runtime/core/top.c': '#include "core/core.h"\nstatic int rt_two(void);\nvoid rt_top(void) { rt_two(); }\nstatic int rt_two(void) { return rt_one(); }\n',
    'syscall-shim/entry.S': '#include "include/contract.h"\n',
    'runtime/include/contract.h': '#define X 1\n',
    ...files,
  };
  for (const [p, text] of Object.entries(all)) {
    fs.mkdirSync(path.dirname(path.join(dir, p)), { recursive: true });
    fs.writeFileSync(path.join(dir, p), text);
  }
  return tree;
}

describe('runtime rooms', () => {
  it('keeps every runtime file in a room, includes pointing down, declarations in headers', () => {
    assert.deepEqual(roomViolations(TREE), []);
  });

  it('names the loader room, between ckpt and core, with its header', () => {
    const order = roomOrder(TREE.runtime);
    assert.ok(order.indexOf('ckpt') < order.indexOf('loader') && order.indexOf('loader') < order.indexOf('core'));
    assert.ok(fs.existsSync(path.join(TREE.runtime, 'loader/loader.h')));
  });

  describe('the checker itself', () => {
    it('accepts a tree that follows the rules', () => {
      assert.deepEqual(roomViolations(plantedTree({})), []);
    });

    it('finds a room including from a room above it', () => {
      const found = roomViolations(plantedTree({ 'runtime/lib/two.c': '#include "core/core.h"\n' }));
      assert.deepEqual(found, ['runtime/lib/two.c:1: lib includes "core/core.h" from core, a room above it']);
    });

    it('finds a prototype or an extern declaration in a .c file', () => {
      const found = roomViolations(plantedTree({
        'runtime/core/more.c': '#include "core/core.h"\nint rt_one(void);\nextern int rt_count;\nlong rt_f(int a,\n\tint b);\n',
      }));
      assert.equal(found.length, 3, found.join('\n'));
      assert.match(found[0], /more\.c: declares `int rt_one\(void\);`/);
      assert.match(found[1], /more\.c: declares `extern int rt_count;`/);
      assert.match(found[2], /more\.c: declares `long rt_f\(int a, int b\);`/);
    });

    it('finds a file outside the rooms and a libc header', () => {
      const found = roomViolations(plantedTree({ 'runtime/misc/x.c': '\n', 'runtime/lib/y.c': '#include <string.h>\n' }));
      assert.deepEqual(found.sort(), [
        'runtime/lib/y.c:1: <string.h> is not a freestanding or UAPI header',
        'runtime/misc/x.c: not in any room of runtime/README.md',
      ]);
    });
  });
});
