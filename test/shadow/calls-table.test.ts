// The runtime's classification of system calls for jobs on the shadow (runtime/remote/calls.h)
// against the kernel's whole list: every call of asm/unistd_64.h has exactly one row, with a
// class, and a refused call an errno; the calls newer than the header that calls.h names carry
// their kernel numbers; docs/limits.md lists the same calls under the same classes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT } from '../helpers.js';
import { callRows, syscallNumbers } from './calls.js';

describe('the classification of system calls for jobs on the shadow (calls.h)', () => {
  const rows = callRows();

  it('has one row for every call of the kernel\'s list, and no other', () => {
    const header = fs.readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
    const kernel = [...header.matchAll(/^#define __NR_(\w+) \d+$/gm)].map((m) => m[1]);
    assert.ok(kernel.length > 300, 'the header lists the kernel\'s calls');
    const names = rows.map((r) => r.name);
    assert.equal(new Set(names).size, names.length, 'no call has two rows');
    assert.deepEqual(kernel.filter((n) => !names.includes(n)), [], 'calls of the kernel without a row');
    const numbers = syscallNumbers();
    assert.deepEqual(names.filter((n) => !numbers.has(n)), [], 'rows that are not calls of the kernel');
    // the rows past the header: Linux's numbers for them (a typo here would misroute a call)
    const newer = { fchmodat2: 452, cachestat: 451, mseal: 462, setxattrat: 463, file_setattr: 469 } as Record<string, number>;
    for (const [n, nr] of Object.entries(newer)) assert.equal(numbers.get(n), nr, n);
  });

  it('gives each call that names a file a class, and each refused call an errno the kernel has', () => {
    const errnos = os.constants.errno as Record<string, number>;
    for (const r of rows) {
      assert.match(r.spec, /^[fdp.PS]*$/, `${r.name}: arguments`);
      if (r.cls === 'NONE') assert.equal(r.spec, '', `${r.name} names no file but its arguments say it does`);
      if (r.cls === 'REFUSE') assert.ok(errnos[r.errno] > 0, `${r.name}: ${r.errno}`);
      else assert.equal(r.errno, '0', r.name);
      assert.ok(!/d(?!p)/.test(r.spec), `${r.name}: a directory descriptor is followed by its path`);
    }
    // the calls the issue names, by path and by descriptor, are forwarded
    const forwarded = ['symlink', 'symlinkat', 'link', 'linkat', 'chmod', 'fchmod', 'fchmodat', 'fchmodat2', 'chown', 'fchown', 'lchown', 'fchownat',
      'utime', 'utimes', 'futimesat', 'utimensat', 'mknod', 'mknodat', 'statfs', 'fstatfs', 'fallocate', 'renameat2', 'copy_file_range', 'sendfile', 'splice'];
    for (const n of forwarded) assert.equal(rows.find((r) => r.name === n)?.cls, 'FWD', n);
    for (const n of ['setxattr', 'fgetxattr', 'llistxattr', 'fremovexattr']) assert.equal(rows.find((r) => r.name === n)?.errno, 'EOPNOTSUPP', n);
  });

  it('is the list docs/limits.md gives', () => {
    const doc = fs.readFileSync(path.join(ROOT, 'docs/limits.md'), 'utf8');
    const block = /<!-- calls\.h -->\n([\s\S]*?)<!-- \/calls\.h -->/.exec(doc);
    assert.ok(block, 'docs/limits.md has the calls.h block');
    const documented = new Map<string, string>();
    for (const m of block[1].matchAll(/^- (forwarded|local|refused with (E[A-Z]+)): (.*)$/gm)) {
      for (const name of m[3].split(', ')) documented.set(name.replace(/`/g, ''), m[2] ?? m[1]);
    }
    const want = new Map(rows.filter((r) => r.cls !== 'NONE').map((r) => [r.name, r.cls === 'FWD' ? 'forwarded' : r.cls === 'LOCAL' ? 'local' : r.errno]));
    assert.deepEqual(Object.fromEntries([...documented].sort()), Object.fromEntries([...want].sort()));
  });
});
