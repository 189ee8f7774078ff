// No silent miss: for real binaries, the runtime's own per-number counts (CKPT_STATS) equal what
// strace -f -c counts in the same relinked run, but for the runtime's own calls and the calls it
// answers itself; for those names the counts must equal strace's of the original binary. (Comparing every name with the original's
// run failed now and then: how often zsh waits in rt_sigsuspend, and the kill and sigprocmask
// calls around it, depend on when its children end, even under strace.) strace counts two things
// the runtime cannot: the execve that started the traced program, and it leaves out exit_group
// and exit, which never return. Each call trapped by the SUD net adds the rt_sigreturn of the
// runtime's own SIGSYS handler to strace's count of the same run.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, sample, scratch } from '../helpers.js';
import { asStrace, readStats, straceCounts } from '../strace.js';
import type { StatsLine } from '../strace.js';

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'wc', 'sort', 'head', 'mkdir', 'rm', 'cp', 'sha256sum', 'seq', 'tr'];

interface Workload { binary: string; name: string; args: string[]; applets?: string[]; input?: string }

const WORKLOADS: Workload[] = [
  { binary: '/bin/busybox', name: 'busybox', applets: APPLETS, args: ['sh', '-c',
    'echo start; mkdir -p d; seq 1 200 > d/a; cat d/a | wc -l; sort -r d/a | head -3; (cd d; ls); ' +
    'x=$(cat d/a | tr 1 x | sha256sum); echo $x; cp d/a d/b; rm -r d; echo end'] },
  { binary: '/bin/bash-static', name: 'bash', args: ['-c',
    'echo start; x=$(echo sub); echo $x; (cd /; pwd); for i in 1 2 3; do echo $i; done > f; read a < f; echo $a; ' +
    '{ echo a; echo b; } > g; while read l; do echo "line $l"; done < g; exec 3>h; echo fd >&3; exec 3>&-; ' +
    '(exit 3); echo $?; umask 027; umask; echo end'] },
  { binary: '/bin/zsh-static', name: 'zsh', args: ['-f', '-c',
    'echo start; x=$(echo sub); print $x; (cd /; pwd); for i in 1 2 3; do echo $i; done > f; read a < f; print $a; ' +
    'print -l one two > g; while read l; do print "line $l"; done < g; (exit 4); echo $?; echo end'] },
  // sash's built-in commands are the ones spelled with a dash; plain `echo` would exec /bin/echo
  { binary: '/bin/sash', name: 'sash', args: ['-c', '-echo sash coverage'] },
  // threads counting at once (the counts are atomic): a pool that makes and joins four threads a
  // round for 40 rounds, each thread making 1000 getppid calls, glibc's and musl's
  { binary: sample('glibc', 'thread_pool'), name: 'a glibc thread pool', args: ['40', '1000'], input: '' },
  { binary: sample('musl', 'thread_pool'), name: 'a musl thread pool', args: ['40', '1000'], input: '' },
];

/** A directory holding the binary (and applet links to it), so exec'd applets are the same binary */
function install(dir: string, w: Workload, file: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const target = path.join(dir, path.basename(w.binary));
  fs.copyFileSync(file, target);
  fs.chmodSync(target, 0o755);
  for (const a of w.applets ?? []) fs.symlinkSync(path.basename(w.binary), path.join(dir, a));
  return target;
}

async function traced(bin: string, w: Workload, env: Record<string, string>, out: string): Promise<void> {
  const cwd = scratch();
  await execa('/usr/bin/strace', ['-f', '-c', '-o', out, bin, ...w.args], {
    cwd, extendEnv: false, env: { PATH: `${path.dirname(bin)}:/usr/bin:/bin`, LANG: 'C', HOME: cwd, ...env }, timeout: 120_000,
    ...(w.input === undefined ? {} : { input: w.input }),
  });
}

async function compare(w: Workload, relinkArgs: string[]): Promise<StatsLine[]> {
  const dir = scratch();
  const relinked = path.join(dir, 'relinked.bin');
  await relinkFile(w.binary, relinked, relinkArgs);
  const orig = install(path.join(dir, 'orig'), w, w.binary);
  const rel = install(path.join(dir, 'rel'), w, relinked);
  const stats = path.join(dir, 'stats.jsonl');
  await traced(orig, w, {}, path.join(dir, 'orig.strace'));
  await traced(rel, w, { CKPT_STATS: stats }, path.join(dir, 'rel.strace'));
  const lines = readStats(stats);
  const ours = asStrace(lines), original = straceCounts(path.join(dir, 'orig.strace'));
  const sameRun = straceCounts(path.join(dir, 'rel.strace'));
  const trapped = lines.reduce((n, l) => n + l.trapped, 0);
  assert.equal((ours.get('rt_sigreturn') ?? 0) + trapped, sameRun.get('rt_sigreturn') ?? 0, 'rt_sigreturn, same run');
  ours.delete('rt_sigreturn');
  sameRun.delete('rt_sigreturn');
  // every call strace saw in the same relinked run is in the runtime's counts, but for the
  // runtime's own calls (its set-up, its statistics file: strace sees more) and the program's
  // calls it answers itself (an rt_sigaction for a signal it reserves: strace sees fewer); for
  // such a name the runtime's count must be the original binary's
  for (const name of new Set([...ours.keys(), ...sameRun.keys()])) {
    const mine = ours.get(name) ?? 0, seen = sameRun.get(name) ?? 0, orig = original.get(name) ?? 0;
    if (mine !== seen) assert.equal(mine, orig, `${name}: strace saw ${seen} in the relinked run and ${orig} in the original's, the runtime counted ${mine}`);
  }
  return lines;
}

describe('system call coverage against strace', function () {
  this.timeout(300_000);

  for (const w of WORKLOADS) {
    it(`counts every call ${w.name} makes, all through patched sites`, async () => {
      const report = JSON.parse(await relinkReport(w.binary));
      assert.equal(report.sud, 0, 'every site of this binary is patched');
      const lines = await compare(w, []);
      assert.deepEqual(lines.map((l) => l.trapped), lines.map(() => 0));
    });
  }

  it('still sees every call when sites are forced onto the SUD net', async () => {
    const w = WORKLOADS[0];
    const report = JSON.parse(await relinkReport(w.binary));
    const writeSites: string[] = report.siteReports.filter((s: { nr?: number }) => s.nr === 1).map((s: { address: string }) => s.address);
    assert.ok(writeSites.length > 0);
    const lines = await compare(w, ['--sud-sites', writeSites.join(',')]);
    const trapped = lines.reduce((n, l) => n + l.trapped, 0);
    assert.ok(trapped > 0, 'the forced write sites were reached through the SUD net');
    assert.ok(trapped <= lines.reduce((n, l) => n + (l.by_number['1'] ?? 0), 0), 'only write calls were trapped');
  });
});

async function relinkReport(binary: string): Promise<string> {
  const dir = scratch();
  await relinkFile(binary, path.join(dir, 'out'), ['--report', path.join(dir, 'report.json')]);
  return fs.readFileSync(path.join(dir, 'report.json'), 'utf8');
}
