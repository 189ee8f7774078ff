// Root hooks for the whole suite (.mocharc.json requires this file). They keep a test that hangs or
// times out from holding anything after it: not the run (what it started is stopped after it), not
// the CI that runs us (no process of ours keeps a descriptor CI gave this process).
import fs from 'node:fs';

/** Stops for what the current test started and has not stopped itself yet */
const pending = new Set<() => Promise<void>>();

/**
 * Registers `stop` to run after the current test if the test has not called the returned function
 * first. A test's own `finally` does not run when mocha times it out; this does.
 */
export function stopAfterTest(stop: () => Promise<void>): () => void {
  pending.add(stop);
  return () => { pending.delete(stop); };
}

/**
 * Descriptors this process inherited open across exec (no O_CLOEXEC: Node opens every one of its own
 * with it). A daemon a test starts (the tmux server) would inherit them in turn and, if it outlived
 * the run, keep a pipe of the CI's open for ever; so they are closed before any test runs.
 */
function closeInheritedDescriptors(): void {
  for (const name of fs.readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    let flags: number;
    try { flags = parseInt(/^flags:\s+(\d+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))![1], 8); } catch { continue; }
    const O_CLOEXEC = 0o2000000;
    if ((flags & O_CLOEXEC) === 0) try { fs.closeSync(fd); } catch { /* gone already */ }
  }
}

closeInheritedDescriptors();

/** This process's descendants still running: pid -> command line */
function descendants(): Map<number, string> {
  const parent = new Map<number, number>();
  for (const name of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state !== 'Z') parent.set(Number(name), Number(ppid));
    } catch { /* gone meanwhile */ }
  }
  const ours = new Map<number, string>();
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (p !== process.pid) continue;
      let cmd = '';
      try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim(); } catch { /* gone */ }
      ours.set(pid, cmd);
      break;
    }
  }
  return ours;
}

export const mochaHooks = {
  /**
   * After the last suite: whatever the tests started and left running is named (a leak to fix)
   * and killed, so that nothing of the run goes on after it.
   */
  afterAll(): void {
    for (const [pid, cmd] of descendants()) {
      process.stderr.write(`left running after the tests, killed: ${pid} ${cmd}\n`);
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
  },

  async afterEach(): Promise<void> {
    const stops = [...pending];
    pending.clear();
    await Promise.all(stops.map((stop) => stop().catch(() => {})));
  },
};
