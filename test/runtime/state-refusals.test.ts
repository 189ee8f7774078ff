// State a restart cannot bring back is refused, never restored wrong (docs/state-coverage.md): the
// samples of samples/zdtm/refused each set up one such state, print READY and wait. Checkpointed,
// each warns on stderr naming the state (the image is still written: the program goes on); killed
// and restarted, the restart exits 2 with one line naming it, and the program never runs on.
// A lock the program held that another process holds at the restart is refused the same way.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import { fileSource, readImage } from '../../src/image/read.js';
import { encodeImage } from '../../src/image/write.js';
import { SAMPLES_DIR, fixture, relinkFile, runProgram, scratch, waitFor } from '../helpers.js';


/** A started program's output so far, and whether it has exited */
interface Running { child: ChildProcess; stdout: string; stderr: string; exited: boolean }

function start(file: string, cwd: string, env: Record<string, string>, args: string[] = []): Running {
  const child = spawn(file, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', LANG: 'C', ...env } });
  const r: Running = { child, stdout: '', stderr: '', exited: false };
  child.stdout!.on('data', (d) => { r.stdout += d; });
  child.stderr!.on('data', (d) => { r.stderr += d; });
  child.stdin!.on('error', () => {});
  child.once('close', () => { r.exited = true; });
  return r;
}

async function until(r: Running, ready: () => boolean, what: string): Promise<void> {
  await waitFor(() => ready() || r.exited, what).catch(() => false);
  if (!ready()) throw new Error(`${what} did not happen\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
}

async function stop(r: Running): Promise<void> {
  if (r.exited) return;
  const closed = new Promise((resolve) => r.child.once('close', resolve));
  r.child.kill('SIGKILL');
  await closed;
}

/** Relinks `bin`, runs it in a scratch directory until READY, checkpoints it, and kills it once the
 *  image is there; returns the relinked file, the directory, the image and the first run's stderr */
async function checkpointed(bin: string, name: string): Promise<{ prog: string; dir: string; image: string; stderr: string }> {
  const dir = scratch(`ckpt-refused-${name}-`);
  const prog = path.join(dir, `${name}.ckpt`), image = path.join(dir, 'state.img');
  await relinkFile(bin, prog);
  const first = start(prog, dir, { CKPT_IMAGE: image });
  try {
    await until(first, () => first.stdout.includes('READY\n'), 'READY');
    first.child.kill('SIGUSR2');
    await until(first, () => fs.existsSync(image), 'the image');
  } finally {
    await stop(first);
  }
  return { prog, dir, image, stderr: first.stderr };
}

async function restart(prog: string, dir: string, image: string) {
  return runProgram(prog, [], { cwd: dir, env: { CKPT_RESTART: image }, input: 'go\n', timeout: 60_000 });
}

const refused = (name: string) => path.join(SAMPLES_DIR, 'zdtm/refused', name);

describe('state a restart cannot restore: warned about at the checkpoint, refused at the restart', function () {
  this.timeout(120_000);

  const cases = [
    {
      name: 'seccomp_filter',
      warning: 'ckpt: warning: the program runs under a seccomp filter (its own): it cannot be read back without privilege, so a restart will refuse this image (docs/limits.md)\n',
      refusal: 'the program ran under a seccomp filter of its own, which cannot be read back without privilege to be installed again (docs/limits.md)',
    },
    {
      name: 'shared_deleted',
      warning: /^ckpt: warning: MAP_SHARED region at 0x[0-9a-f]{12} cannot be shared again \(its file is gone or replaced, or it is a memfd's or the kernel's\): a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /a MAP_SHARED mapping cannot be shared again \(its file was gone or replaced, or it is a memfd's or the kernel's\): \/.*\/shared_deleted\.data \(deleted\)$/,
    },
    {
      name: 'sysv_shm_shared',
      warning: /^ckpt: warning: System V shared memory segment \d+ is removed and attached by another process too: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^a removed System V shared memory segment was attached by another process too: id \d+$/,
    },
    {
      name: 'aio_ring',
      warning: /^ckpt: warning: MAP_SHARED region at 0x[0-9a-f]{12} cannot be shared again/,
      refusal: /a MAP_SHARED mapping cannot be shared again \(its file was gone or replaced, or it is a memfd's or the kernel's\): \/\[aio\] \(deleted\)$/,
    },
    {
      name: 'timer_other_clock',
      warning: /^ckpt: warning: POSIX timer \d+ runs on another process's CPU clock: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^a POSIX timer runs on another process's CPU clock: timer \d+$/,
    },
    {
      name: 'timer_thread',
      warning: /^ckpt: warning: POSIX timer \d+ signals another thread \(SIGEV_THREAD or SIGEV_THREAD_ID\): a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^a POSIX timer signals another thread \(SIGEV_THREAD\): timer \d+$/,
    },
    {
      name: 'pi_mutex_wait',
      warning: /^ckpt: warning: thread \d+ waits for a priority-inheritance mutex \(FUTEX_LOCK_PI\): a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^a thread waits for a priority-inheritance mutex \(FUTEX_LOCK_PI\), whose owner a restart cannot name again: thread \d+$/,
    },
    {
      name: 'file_lease',
      warning: 'ckpt: warning: descriptor 3 holds a lease or a lock of another kind: a restart will refuse this image (docs/limits.md)\n',
      refusal: 'the program held a lease or a lock of a kind a restart cannot take again',
    },
    {
      name: 'tcp_connection',
      warning: /^(ckpt: warning: descriptor [45] \(socket:\[\d+\]\) cannot be restored: a TCP connection needs TCP_REPAIR \(CAP_NET_ADMIN\) to be made again; CKPT_TCP_CLOSE=1 at the restart makes it a closed socket: a restart will refuse this image \(docs\/limits\.md\)\n){2}$/,
      refusal: /^descriptor 4 \(socket:\[\d+\]\) cannot be restored: a TCP connection needs TCP_REPAIR \(CAP_NET_ADMIN\) to be made again; CKPT_TCP_CLOSE=1 at the restart makes it a closed socket$/,
    },
    {
      name: 'scm_rights',
      warning: /^ckpt: warning: descriptor 5 \(socket:\[\d+\]\) cannot be restored: descriptors passed on it \(SCM_RIGHTS\) wait unread, and they are not restored: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^descriptor 5 \(socket:\[\d+\]\) cannot be restored: descriptors passed on it \(SCM_RIGHTS\) wait unread, and they are not restored$/,
    },
    {
      name: 'unix_accepted',
      warning: /^(ckpt: warning: descriptor [45] \(socket:\[\d+\]\) cannot be restored: a connection made through a listening socket that is gone is not restored: a restart will refuse this image \(docs\/limits\.md\)\n){2}$/,
      refusal: /^descriptor 4 \(socket:\[\d+\]\) cannot be restored: a connection made through a listening socket that is gone is not restored$/,
    },
    {
      name: 'unix_listen_queued',
      warning: /^ckpt: warning: descriptor 3 \(socket:\[\d+\]\) cannot be restored: connections wait on it to be accepted, and their sockets cannot be made again: a restart will refuse this image \(docs\/limits\.md\)\nckpt: warning: descriptor 4 \(socket:\[\d+\]\) cannot be restored: its peer, a named socket, was closed or is not accepted yet: such a connection is not restored: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^descriptor 3 \(socket:\[\d+\]\) cannot be restored: connections wait on it to be accepted, and their sockets cannot be made again$/,
    },
    {
      name: 'unix_named_sender',
      warning: /^ckpt: warning: descriptor 3 \(socket:\[\d+\]\) cannot be restored: an unread datagram came from a named socket, whose address cannot be given again: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^descriptor 3 \(socket:\[\d+\]\) cannot be restored: an unread datagram came from a named socket, whose address cannot be given again$/,
    },
    {
      name: 'udp_corked',
      warning: /^ckpt: warning: descriptor 3 \(socket:\[\d+\]\) cannot be restored: data held back by UDP_CORK waits to be sent: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^descriptor 3 \(socket:\[\d+\]\) cannot be restored: data held back by UDP_CORK waits to be sent$/,
    },
    {
      name: 'netlink_socket',
      warning: /^ckpt: warning: descriptor 3 \(socket:\[\d+\]\) cannot be restored: sockets of this family \(netlink, packet\.\.\.\) are not restored: a restart will refuse this image \(docs\/limits\.md\)\n$/,
      refusal: /^descriptor 3 \(socket:\[\d+\]\) cannot be restored: sockets of this family \(netlink, packet\.\.\.\) are not restored$/,
    },
    {
      name: 'rmdir_open',
      warning: undefined,	// files.c's (the kobjects branch's) to say
      refusal: /^a file the program had open cannot be opened again: \/.*\/rmdir_open\.dir \(deleted\)$/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.warning === undefined ? '' : 'the checkpoint warns, and '}the restart exits 2 naming the state`, async () => {
      const { prog, dir, image, stderr } = await checkpointed(refused(c.name), c.name);
      if (typeof c.warning === 'string') assert.equal(stderr, c.warning);
      else if (c.warning) assert.match(stderr, c.warning);
      const r = await restart(prog, dir, image);
      assert.equal(r.exitCode, 2, `stdout: ${r.stdout}\nstderr: ${r.stderr}`);
      assert.equal(r.stdout, '');
      const prefix = `ckpt: cannot restart from ${image}: `;
      assert.ok(r.stderr.startsWith(prefix) && r.stderr.endsWith('\n') && r.stderr.split('\n').length === 2, r.stderr);
      const reason = r.stderr.slice(prefix.length, -1);
      if (typeof c.refusal === 'string') assert.equal(reason, c.refusal);
      else assert.match(reason, c.refusal);
    });
  }

  for (const name of ['seccomp_filter', 'tcp_connection']) {
    it(`${name}: the vacate signal makes no image, and the program dies of the signal`, async () => {
      const dir = scratch('ckpt-refused-vacate-');
      const prog = path.join(dir, `${name}.ckpt`), image = path.join(dir, 'state.img');
      await relinkFile(refused(name), prog);
      const run = start(prog, dir, { CKPT_IMAGE: image, CKPT_VACATE_SIGNAL: 'TERM' });
      try {
        await until(run, () => run.stdout.includes('READY\n'), 'READY');
        run.child.kill('SIGTERM');
        await until(run, () => run.exited, 'the exit');
      } finally {
        await stop(run);
      }
      assert.equal(run.child.signalCode, 'SIGTERM', run.stderr);
      assert.ok(!fs.existsSync(image), 'an image was written');
      assert.match(run.stderr, /ckpt: checkpoint refused: the vacate signal makes no image a restart would refuse\n/);
    });
  }
});

describe('sockets at the restart', function () {
  this.timeout(120_000);

  it('tcp_connection restarted with CKPT_TCP_CLOSE=1: both ends come back closed, the listener still accepts', async () => {
    const { prog, dir, image } = await checkpointed(refused('tcp_connection'), 'tcp-close');
    const r = await runProgram(prog, [], { cwd: dir, env: { CKPT_RESTART: image, CKPT_TCP_CLOSE: '1' }, input: 'go\n', timeout: 60_000 });
    assert.equal(r.stdout, 'PASS\n', r.stderr);
    assert.equal(r.exitCode, 0);
  });

  /** The port the image's socket at fd was bound to (its address's bytes 2 and 3, network order) */
  function portOf(image: string, fd: number): number {
    const sock = readImage(fileSource(image)).objects.find((o) => o.kind === 'socket' && o.value.fd === fd);
    assert.ok(sock && sock.kind === 'socket', `no socket record for fd ${fd}`);
    return sock.value.addr.readUInt16BE(2);
  }

  /** python3 bound to `what` (a unix name in dir, or a TCP port) until its stdin closes */
  async function holdName(dir: string, code: string): Promise<Running> {
    const holder = start('/usr/bin/python3', dir, {}, ['-c', `import socket, sys\n${code}\nprint('bound', flush=True)\nsys.stdin.read()\n`]);
    await until(holder, () => holder.stdout.includes('bound\n'), 'python3 binding the name');
    return holder;
  }

  it('a unix name another process listens on now refuses the restart, naming the descriptor and the name; freed, the restart goes on', async () => {
    const { prog, dir, image, stderr } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/unix_bound'), 'unix-taken');
    assert.equal(stderr, '');
    const holder = await holdName(dir, "import os\nos.unlink('unix_bound.listen')\ns = socket.socket(socket.AF_UNIX)\ns.bind('unix_bound.listen')\ns.listen(1)");
    try {
      const r = await restart(prog, dir, image);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, /^ckpt: cannot restart from .*: descriptor 8 \(socket:\[\d+\]\) cannot be restored: its name is taken now \(by a socket another process is bound to, or a file that is no socket\): unix_bound\.listen\n$/);
    } finally {
      await stop(holder);
    }
    const again = await restart(prog, dir, image);	// python's socket file left behind, nobody on it: removed
    assert.equal(again.stdout, 'PASS\n', again.stderr);
  });

  it('a file that is no socket at a unix name refuses the restart and is left as it is', async () => {
    const { prog, dir, image } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/unix_bound'), 'unix-file');
    const file = path.join(dir, 'unix_bound.listen');
    fs.unlinkSync(file);
    fs.writeFileSync(file, 'not a socket\n');
    const r = await restart(prog, dir, image);
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /cannot be restored: its name is taken now \(by a socket another process is bound to, or a file that is no socket\): unix_bound\.listen\n$/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'not a socket\n');
  });

  it('a TCP port another process listens on now refuses the restart, naming the port', async () => {
    const { prog, dir, image, stderr } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/inet_sockets'), 'port-taken');
    assert.equal(stderr, '');
    const port = portOf(image, 3);	// inet_sockets' IPv4 listener
    const holder = await holdName(dir, `s = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('127.0.0.1', ${port}))\ns.listen(1)`);
    try {
      const r = await restart(prog, dir, image);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^ckpt: cannot restart from .*: descriptor 3 \\(socket:\\[\\d+\\]\\) cannot be restored: its address is in use now \\(another socket's, or connections of the old process in TIME_WAIT\\): port ${port}\\n$`));
    } finally {
      await stop(holder);
    }
  });
});

describe('file locks another process holds at the restart', function () {
  this.timeout(120_000);

  /** python3 holding one lock on `file` until its stdin closes; resolves once it holds it */
  async function holdLock(dir: string, file: string, how: 'flock' | 'posix'): Promise<Running> {
    const take = how === 'flock' ? 'fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)' : 'fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 15)';
    const code = `import fcntl, sys\nf = open(${JSON.stringify(file)}, 'r+')\n${take}\nprint('held', flush=True)\nsys.stdin.read()\n`;
    const holder = start('/usr/bin/python3', dir, {}, ['-c', code]);
    await until(holder, () => holder.stdout.includes('held\n'), `python3 taking the ${how} lock`);
    return holder;
  }

  for (const [how, fd, file] of [['flock', 3, 'file_locks.flock'], ['posix', 4, 'file_locks.posix']] as const) {
    it(`a ${how} lock taken by another process since the checkpoint refuses the restart, naming descriptor ${fd} and the file`, async () => {
      const { prog, dir, image, stderr } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/file_locks'), `locks-${how}`);
      assert.equal(stderr, '');
      const holder = await holdLock(dir, path.join(dir, file), how);
      try {
        const r = await restart(prog, dir, image);
        const by = how === 'posix' ? ` by pid ${holder.child.pid}` : '';
        assert.equal(r.exitCode, 2, r.stderr);
        assert.equal(r.stderr, `ckpt: cannot restart from ${image}: a lock the program held is taken${by} now: descriptor ${fd} (${path.join(dir, file)})\n`);
      } finally {
        await stop(holder);
      }
      const again = await restart(prog, dir, image);	// the lock free again: the restart goes on
      assert.equal(again.stdout, 'PASS\n', again.stderr);
    });
  }
});

describe('System V message queues and semaphore sets: used where the kernel keeps them, or refused', function () {
  this.timeout(120_000);

  /** Removes a queue ('q') or a semaphore set ('s') the test left behind; gone already is fine */
  const ipcrm = (what: 'q' | 's', id: number) => runProgram('/usr/bin/ipcrm', [`-${what}`, String(id)], { cwd: '/', timeout: 10_000 });

  it('a set changed with SEM_UNDO: the checkpoint warns, and the restart exits 2 naming the set', async () => {
    const { prog, dir, image, stderr } = await checkpointed(refused('sem_undo'), 'sem_undo');
    const id = Number(/^System V semaphore set (\d+) /.exec(stderr.replace('ckpt: warning: ', ''))?.[1]);
    try {
      assert.equal(stderr, `ckpt: warning: System V semaphore set ${id} was changed with SEM_UNDO, whose adjustments the kernel `
        + 'undoes when the process ends: a restart will refuse this image (docs/limits.md)\n');
      const r = await restart(prog, dir, image);
      assert.deepEqual({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }, {
        code: 2, stdout: '',
        stderr: `ckpt: cannot restart from ${image}: a System V semaphore set was changed with SEM_UNDO, whose adjustments the `
          + `kernel undid when the process ended: id ${id}\n`,
      });
    } finally {
      await ipcrm('s', id);
    }
  });

  it('a queue removed after the checkpoint refuses the restart, naming its id', async () => {
    const { prog, dir, image, stderr } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/sysv_ipc'), 'sysv_ipc');
    const used = readImage(fileSource(image)).sysvIpc ?? [];
    const queue = used.find((u) => u.kind === C.CKPT_SYSV_MSG)!, set = used.find((u) => u.kind === C.CKPT_SYSV_SEM)!;
    try {
      assert.equal(stderr, '');
      assert.deepEqual(used.map((u) => [u.kind, Number(u.count), u.flags]), [[C.CKPT_SYSV_MSG, 3, 0], [C.CKPT_SYSV_SEM, 3, 0]]);
      await ipcrm('q', queue.id);
      const r = await restart(prog, dir, image);
      assert.deepEqual({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }, {
        code: 2, stdout: '',
        stderr: `ckpt: cannot restart from ${image}: a System V message queue the program used is gone, or another one has its id now: id ${queue.id}\n`,
      });
    } finally {
      await ipcrm('s', set.id);
    }
  });
});

describe('MAP_HUGETLB memory: made again with huge pages, or the restart refused', function () {
  this.timeout(120_000);
  const HUGE_PAGE = 2n << 20n;
  const hugePagesFree = () => Number(/^HugePages_Free:\s+(\d+)/m.exec(fs.readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? 0);

  it('restores private and shared MAP_HUGETLB regions with their bytes, as huge-page mappings '
    + '(skipped where /proc/meminfo shows fewer than 4 huge pages free: root sets vm.nr_hugepages)', async function () {
    if (hugePagesFree() < 4) this.skip();
    const { prog, dir, image, stderr } = await checkpointed(await fixture('hugetlb'), 'hugetlb');
    assert.equal(stderr, '');
    const r = await restart(prog, dir, image);
    assert.deepEqual({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: 'PASS\n', stderr: '' });
  });

  it('an image with a MAP_HUGETLB region this machine cannot give huge pages to is refused, naming the region', async () => {
    const { prog, dir, image } = await checkpointed(path.join(SAMPLES_DIR, 'zdtm/glibc/mem_anon'), 'hugetlb-refused');
    const src = fileSource(image), decoded = readImage(src);
    const target = decoded.regions.find(({ region }) => region.role === C.CKPT_ROLE_MEMORY && region.start % HUGE_PAGE !== 0n
      && (region.prot & 2) !== 0)!;	// not aligned to a huge page: refused however many a machine has free
    target.region.advice |= C.CKPT_VM_HUGETLB;
    const marked = path.join(dir, 'marked.img');
    fs.writeFileSync(marked, encodeImage(decoded, src, { seal: true }));
    const r = await restart(prog, dir, marked);
    assert.deepEqual({ code: r.exitCode, stdout: r.stdout, stderr: r.stderr }, {
      code: 2, stdout: '',
      stderr: `ckpt: cannot restart from ${marked}: a MAP_HUGETLB region cannot be made again: this machine has too few huge pages `
        + `of its size free (HugePages_Free in /proc/meminfo): 0x${target.region.start.toString(16).padStart(12, '0')}\n`,
    });
    const whole = await restart(prog, dir, image);
    assert.equal(whole.stdout, 'PASS\n', whole.stderr);
  });
});
