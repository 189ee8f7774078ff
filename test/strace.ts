// System-call counts in strace's terms, shared by the tests that hold the runtime's CKPT_STATS
// against `strace -f -c`. strace counts two things the runtime cannot: the execve that started the
// traced program, and it leaves out exit_group and exit, which never return. vDSO calls are system
// calls for neither side.
import fs from 'node:fs';

export const SYSCALL_NAMES = syscallNames();

function syscallNames(): Map<number, string> {
  const names = new Map<number, string>();
  const header = fs.readFileSync('/usr/include/x86_64-linux-gnu/asm/unistd_64.h', 'utf8');
  for (const m of header.matchAll(/^#define __NR_(\w+) (\d+)$/gm)) names.set(Number(m[2]), m[1]);
  return names;
}

/** The per-name call counts of a `strace -c -o FILE` summary */
export function straceCounts(file: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 5 && /^\d/.test(f[0]) && f[f.length - 1] !== 'total') counts.set(f[f.length - 1], Number(f[3]));
  }
  return counts;
}

/** One line of a CKPT_STATS file: one process's counts when it ended */
export interface StatsLine { pid: number; end: string; patched: number; trapped: number; by_number: Record<string, number> }

export function readStats(file: string): StatsLine[] {
  return fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as StatsLine);
}

/** The runtime's counts in strace's terms: summed over processes, by name, strace's conventions */
export function asStrace(lines: StatsLine[]): Map<string, number> {
  const counts = new Map<string, number>([['execve', 1]]);
  for (const l of lines) {
    for (const [nr, n] of Object.entries(l.by_number)) {
      const name = SYSCALL_NAMES.get(Number(nr)) ?? `nr${nr}`;
      counts.set(name, (counts.get(name) ?? 0) + n);
    }
  }
  counts.delete('exit_group');
  counts.delete('exit');
  return counts;
}

/** One line per name whose counts differ, naming both counts; empty when they agree */
export function countDifferences(expected: Map<string, number>, got: Map<string, number>): string[] {
  const differences: string[] = [];
  for (const name of [...new Set([...expected.keys(), ...got.keys()])].sort()) {
    const want = expected.get(name) ?? 0, have = got.get(name) ?? 0;
    if (want !== have) differences.push(`${name}: ${want} vs ${have}`);
  }
  return differences;
}

/**
 * How many reads of /proc/PID/maps an `strace -f -y -e trace=read -o FILE` log holds. A program that
 * reads its own maps (gawk's libsigsegv does at start) needs as many reads as the file is long, and
 * a relinked program's maps are longer (the runtime's regions, carried objects named after the
 * relinked file), so these reads are counted apart from the rest.
 */
export function mapsReads(file: string): number {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => /^(\d+ +)?read\(\d+<\/proc\/(\d+|self)\/maps>/.test(l)).length;
}

/** `counts` with `n` fewer reads */
export function withoutReads(counts: Map<string, number>, n: number): Map<string, number> {
  const less = new Map(counts);
  if (n > 0) less.set('read', (less.get('read') ?? 0) - n);
  return less;
}
