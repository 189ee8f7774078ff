// runtime/remote/calls.h as the tests read it: one row a system call, and the kernel's numbers.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../helpers.js';

export interface CallRow { name: string; spec: string; cls: 'FWD' | 'REFUSE' | 'LOCAL' | 'NONE'; errno: string }

export function callRows(): CallRow[] {
  const text = fs.readFileSync(path.join(ROOT, 'runtime/remote/calls.h'), 'utf8');
  return [...text.matchAll(/^RT_CALL\((\w+), "([^"]*)", (\w+), (\w+)\)$/gm)].map((m) => ({ name: m[1], spec: m[2], cls: m[3] as CallRow['cls'], errno: m[4] }));
}

/** The kernel's numbers: the header's, and those vfiles.h fixes for calls newer than it */
export function syscallNumbers(): Map<string, number> {
  const header = fs.readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  const numbers = new Map([...header.matchAll(/^#define __NR_(\w+) (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  const calls = fs.readFileSync(path.join(ROOT, 'runtime/remote/vfiles.h'), 'utf8');
  for (const m of calls.matchAll(/^#define __NR_(\w+) (\d+)$/gm)) if (!numbers.has(m[1])) numbers.set(m[1], Number(m[2]));
  return numbers;
}


/** What a tree holds, as a user would list it: every entry's type, mode, owner, size and links,
 *  the mtime of files when it was set (not the clock's when the file was made; directories' and
 *  symlinks' times are those of the extraction), targets */
export function listing(dir: string, times = true): string {
  return execFileSync('/bin/busybox', ['sh', '-c',
    `find . ! -type d ! -type l | sort | xargs stat -c "%n %F %a %u:%g %s %h${times ? ' %Y' : ''}" | awk '{ if ($NF >= 1600000000) $NF = "(a recent time)"; print }'; ` +
    'find . \\( -type d -o -type l \\) | sort | xargs stat -c "%n %F %a %u:%g %N"'], { cwd: dir, encoding: 'utf8' });
}

