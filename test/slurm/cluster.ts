// A real Slurm for one test suite: munged, slurmctld and one slurmd per node, all on this machine,
// with a slurm.conf generated into a scratch directory that also holds their keys, state, spools,
// logs and the jobs' files. Contract: nothing of a cluster outlives its `stop()`, and `stop()` ends
// only what this cluster started or what runs for its jobs: the daemons by the pids of the
// processes it spawned (they run in the foreground, as our children), and the job step daemons
// (slurmstepd detaches from slurmd, so it is nobody's child here) by their ties to the cluster's
// directory. Nothing is ever stopped by name; another cluster, or a system Slurm, is never touched.
//
// Several slurmd run on one machine: Debian's Slurm is built with multiple-slurmd support, so each
// node is a NodeName with its own Port, started as `slurmd -N NAME`. Settings that matter to the
// tests (see ../../../shared/notes/slurm.md for the measurements behind them):
//   RequeueExit=85            a job that exits 85 (ckpt-run after a vacate) is requeued
//   AuthInfo cred_expire=5    a requeued job may start again after 5 s instead of 120 s
//   sched/bf_interval=1       the scheduler looks every second
//   partition low             PreemptMode=REQUEUE, GraceTime, OverSubscribe=FORCE:8 (16 jobs on 2 cores)
//   partition high            a higher PriorityTier: its jobs preempt low's
//   preempt_send_user_signal  a preempted job gets its --signal when the grace time begins
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { scratch } from '../helpers.js';

/** Job states after which a job runs no more unless it is requeued */
export const FINAL_STATES = ['COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT', 'NODE_FAIL', 'OUT_OF_MEMORY', 'BOOT_FAIL', 'DEADLINE', 'PREEMPTED'];

/** One job (or array task) as `scontrol show job -o` describes it */
export interface JobInfo {
  jobId: string;
  state: string;
  restarts: number;
  /** "status:signal", as Slurm writes it */
  exitCode: string;
  nodes: string;
  fields: Record<string, string>;
}

export interface ClusterOptions {
  /** slurmd daemons on this machine, named n1, n2, ... (1 unless said) */
  nodes?: number;
  /** seconds a preempted job has between its warning signal and SIGKILL */
  graceTime?: number;
}

const POLL_MS = 100;
const SLURM_BIN = '/usr/bin';
const SLURM_SBIN = '/usr/sbin';

export class SlurmCluster {
  readonly nodeNames: string[];
  readonly confFile: string;
  private readonly daemons: ChildProcess[] = [];
  /** A run that exits without stop() (interrupted) still leaves nothing of the cluster running */
  private readonly killOnExit = () => {
    for (const d of this.daemons) if (running(d)) d.kill('SIGKILL');
    killTiedTo(this.dir);
  };

  private constructor(readonly dir: string, nodes: number) {
    this.nodeNames = Array.from({ length: nodes }, (_, i) => `n${i + 1}`);
    this.confFile = path.join(dir, 'slurm.conf');
  }

  /** Starts munged, slurmctld and the slurmds; resolves once every node is idle */
  static async start(options: ClusterOptions = {}): Promise<SlurmCluster> {
    const dir = scratch('ckpt-slurm-');
    fs.chmodSync(dir, 0o755);
    const cluster = new SlurmCluster(dir, options.nodes ?? 1);
    process.on('exit', cluster.killOnExit);
    try {
      await cluster.startDaemons(options);
    } catch (e) {
      await cluster.stop();
      throw e;
    }
    return cluster;
  }

  /** The environment Slurm's commands (and, through sbatch, the jobs) need to find this cluster */
  get env(): Record<string, string> {
    return { SLURM_CONF: this.confFile };
  }

  /** A fresh directory for a test's job files, under the cluster's (so that stop() finds what runs there) */
  jobDir(name: string): string {
    const d = path.join(this.dir, 'jobs', name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  }

  /** Runs one of Slurm's commands against this cluster; throws with its stderr when it fails */
  async command(name: string, args: string[]): Promise<string> {
    const r = await execa(path.join(SLURM_BIN, name), args, { env: this.env, reject: false, timeout: 60_000 });
    if (r.exitCode !== 0) throw new Error(`${name} ${args.join(' ')} failed (${r.exitCode ?? r.signal}): ${r.stderr || r.stdout}`);
    return r.stdout;
  }

  /** sbatch --parsable: the job id ("12" for a job, "12" for an array too) */
  async submit(script: string, sbatchArgs: string[] = []): Promise<string> {
    const out = await this.command('sbatch', ['--parsable', ...sbatchArgs, script]);
    return out.trim().split(';')[0];
  }

  /** Every job (or array task, each its own entry) that `job` names, as Slurm sees it now */
  async jobInfos(job: string): Promise<JobInfo[]> {
    const out = await this.command('scontrol', ['show', 'job', '-o', job]);
    return out.split('\n').filter((l) => l.trim()).map(parseJobLine);
  }

  async jobInfo(job: string): Promise<JobInfo> {
    const [info] = await this.jobInfos(job);
    return info;
  }

  /**
   * Polls until `test` holds for the job's entries, and returns them. A job that ends in a final
   * state `test` did not accept fails at once, with the job's description, rather than at the bound.
   */
  async waitForJobs(job: string, test: (infos: JobInfo[]) => boolean, what: string, ms = 120_000): Promise<JobInfo[]> {
    for (const t0 = Date.now(); ; await pause(POLL_MS)) {
      const infos = await this.jobInfos(job);
      if (test(infos)) return infos;
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for job ${job}: ${what}; last seen ${describe(infos)}`);
    }
  }

  /** Waits until the job is in one of `states`; fails when it ends in another */
  async waitForState(job: string, states: string | string[], ms?: number): Promise<JobInfo> {
    const wanted = typeof states === 'string' ? [states] : states;
    const [info] = await this.waitForJobs(job, ([i]) => {
      if (wanted.includes(i.state)) return true;
      if (FINAL_STATES.includes(i.state)) throw new Error(`job ${job} ended ${i.state} (exit ${i.exitCode}) while the test waited for ${wanted.join('|')}: ${describe([i])}`);
      return false;
    }, wanted.join('|'), ms);
    return info;
  }

  /** Polls until `test` (async or not) returns something truthy; `what` may be worked out at the bound */
  async waitUntil<T>(test: () => Promise<T> | T, what: string | (() => string), ms = 120_000): Promise<T> {
    for (const t0 = Date.now(); ; await pause(POLL_MS)) {
      const got = await test();
      if (got) return got;
      if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
  }

  /** Node name -> state (idle, alloc, mix, drain...) */
  async nodeStates(): Promise<Map<string, string>> {
    const out = await this.command('sinfo', ['-h', '-N', '-o', '%N %t']);
    return new Map(out.split('\n').filter((l) => l.trim()).map((l) => l.trim().split(/\s+/) as [string, string]));
  }

  /** The end of a daemon's log and of its own output (where it complains before its log is open) */
  logTail(daemon: string, lines = 20): string {
    const tail = (file: string) => { try { return fs.readFileSync(path.join(this.dir, 'log', file), 'utf8').trimEnd().split('\n').slice(-lines).join('\n'); } catch { return ''; } };
    return [tail(`${daemon}.log`), tail(`${daemon}.out`)].filter(Boolean).join('\n');
  }

  /** Kills every job's processes and cancels the jobs; waits until no job holds a node */
  async cancelAllJobs(): Promise<void> {
    await this.command('scancel', ['--full', '--signal=KILL', '--user=root']).catch(() => {});
    await this.command('scancel', ['--user=root']).catch(() => {});
    await this.waitUntil(async () => (await this.command('squeue', ['-h', '-t', 'RUNNING,COMPLETING,SUSPENDED', '-o', '%i'])).trim() === '', 'every job to end', 30_000);
  }

  /**
   * Ends every job, then the daemons by their pids, then any job step daemon or job process still
   * tied to the cluster's directory. Safe to call twice, and on a cluster that failed to start.
   */
  async stop(): Promise<void> {
    process.off('exit', this.killOnExit);
    if (this.daemons.some(running)) await this.cancelAllJobs().catch(() => {});
    await Promise.all(this.daemons.map((d) => stopChild(d)));
    killTiedTo(this.dir);
  }

  private async startDaemons(options: ClusterOptions): Promise<void> {
    for (const sub of ['munge', 'log', 'state', 'spool', 'run', 'jobs']) fs.mkdirSync(path.join(this.dir, sub), { recursive: true });
    fs.chmodSync(path.join(this.dir, 'munge'), 0o700);
    await this.startMunge();
    const ports = await freePorts(1 + this.nodeNames.length);
    fs.writeFileSync(this.confFile, slurmConf({
      dir: this.dir, host: os.hostname(), controllerPort: ports[0], nodePorts: ports.slice(1),
      nodeNames: this.nodeNames, hardware: await nodeHardware(), graceTime: options.graceTime ?? 60,
    }));
    this.spawnDaemon('slurmctld', [path.join(SLURM_SBIN, 'slurmctld'), '-D', '-i', '-f', this.confFile]);
    await this.waitUntil(() => this.command('scontrol', ['ping']).then((o) => /is UP/.test(o), () => false), () => `slurmctld to answer; its log:\n${this.logTail('slurmctld')}`, 30_000);
    for (const node of this.nodeNames) {
      fs.mkdirSync(path.join(this.dir, 'spool', node), { recursive: true });
      this.spawnDaemon(`slurmd-${node}`, [path.join(SLURM_SBIN, 'slurmd'), '-D', '-N', node, '-f', this.confFile]);
    }
    await this.waitUntil(async () => {
      const states = await this.nodeStates();
      return this.nodeNames.every((n) => states.get(n) === 'idle');
    }, () => `every node idle; the first node's log:\n${this.logTail(`slurmd-${this.nodeNames[0]}`)}`, 30_000);
  }

  /** munged with this cluster's own key, socket, pid and log files; runs as root (--force) */
  private async startMunge(): Promise<void> {
    const m = path.join(this.dir, 'munge');
    await execa('/usr/sbin/mungekey', ['--create', `--keyfile=${m}/munge.key`]);
    const socket = mungeSocket(this.dir);
    this.spawnDaemon('munged', ['/usr/sbin/munged', '--foreground', '--force', `--socket=${socket}`, `--key-file=${m}/munge.key`,
      `--pid-file=${m}/munged.pid`, `--log-file=${path.join(this.dir, 'log', 'munged.log')}`, `--seed-file=${m}/munged.seed`]);
    await this.waitUntil(() => fs.existsSync(socket), `munged's socket ${socket}`, 30_000);
  }

  /** A daemon in the foreground, as our child; its output goes to its log (the files Slurm writes) */
  private spawnDaemon(name: string, argv: string[]): void {
    const log = fs.openSync(path.join(this.dir, 'log', `${name}.out`), 'a');
    const child = spawn(argv[0], argv.slice(1), { cwd: this.dir, stdio: ['ignore', log, log], env: { ...process.env, ...this.env } });
    fs.closeSync(log);
    child.on('error', () => {});
    this.daemons.push(child);
  }


}

/** Where munged listens; the daemons and commands are told through AuthInfo */
const mungeSocket = (dir: string) => path.join(dir, 'munge', 'munge.socket');

interface ConfInput {
  dir: string;
  host: string;
  controllerPort: number;
  nodePorts: number[];
  nodeNames: string[];
  /** CPUs=... Boards=... as `slurmd -C` gives them, RealMemory lowered */
  hardware: string;
  graceTime: number;
}

function slurmConf(c: ConfInput): string {
  const nodes = c.nodeNames.map((n, i) => `NodeName=${n} NodeHostname=${c.host} NodeAddr=127.0.0.1 Port=${c.nodePorts[i]} ${c.hardware}`);
  const all = c.nodeNames.join(',');
  return [
    'ClusterName=ckpttest',
    `SlurmctldHost=${c.host}(127.0.0.1)`,
    `SlurmctldPort=${c.controllerPort}`,
    'SlurmUser=root',
    'SlurmdUser=root',
    'AuthType=auth/munge',
    'CredType=cred/munge',
    // cred_expire below 5 silently falls back to 120 s; it is how long a requeued job waits
    `AuthInfo=socket=${mungeSocket(c.dir)},cred_expire=5`,
    `StateSaveLocation=${c.dir}/state`,
    `SlurmdSpoolDir=${c.dir}/spool/%n`,
    `SlurmctldPidFile=${c.dir}/run/slurmctld.pid`,
    `SlurmdPidFile=${c.dir}/run/slurmd-%n.pid`,
    `SlurmctldLogFile=${c.dir}/log/slurmctld.log`,
    `SlurmdLogFile=${c.dir}/log/slurmd-%n.log`,
    'ProctrackType=proctrack/linuxproc',
    'TaskPlugin=task/none',
    'MpiDefault=none',
    'MailProg=/bin/true',
    'ReturnToService=2',
    'SchedulerType=sched/backfill',
    'SchedulerParameters=bf_interval=1,sched_interval=1',
    'SelectType=select/cons_tres',
    'SelectTypeParameters=CR_Core',
    'AccountingStorageType=accounting_storage/none',
    'JobCompType=jobcomp/none',
    'RequeueExit=85',
    'PreemptType=preempt/partition_prio',
    'PreemptMode=REQUEUE',
    'SlurmctldParameters=preempt_send_user_signal',
    ...nodes,
    `PartitionName=low Nodes=${all} Default=YES PriorityTier=1 PreemptMode=REQUEUE GraceTime=${c.graceTime} OverSubscribe=FORCE:8 MaxTime=INFINITE State=UP`,
    `PartitionName=high Nodes=${all} PriorityTier=10 PreemptMode=OFF MaxTime=INFINITE State=UP`,
    '',
  ].join('\n');
}

/**
 * This machine as `slurmd -C` describes it, without the NodeName: a node line that differs from
 * the hardware gets the node drained. Memory a little lower, as the kernel's figure moves.
 */
async function nodeHardware(): Promise<string> {
  const { stdout } = await execa(path.join(SLURM_SBIN, 'slurmd'), ['-C']);
  const line = stdout.split('\n').find((l) => l.startsWith('NodeName='));
  if (!line) throw new Error(`slurmd -C printed no node line: ${stdout}`);
  return line.replace(/^NodeName=\S+\s*/, '').replace(/RealMemory=(\d+)/, (_, mb: string) => `RealMemory=${Math.floor(Number(mb) * 0.9)}`);
}

/** Ports free now on the loopback, distinct; each is bound once and released */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<net.Server>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function parseJobLine(line: string): JobInfo {
  const fields: Record<string, string> = {};
  for (const m of line.matchAll(/(?:^|\s)([A-Za-z:/]+)=(\S*)/g)) fields[m[1]] ??= m[2];
  const task = fields.ArrayTaskId && fields.ArrayJobId ? `${fields.ArrayJobId}_${fields.ArrayTaskId}` : fields.JobId;
  return { jobId: task, state: fields.JobState, restarts: Number(fields.Restarts ?? 0), exitCode: fields.ExitCode, nodes: fields.NodeList, fields };
}

function describe(infos: JobInfo[]): string {
  return infos.map((i) => `${i.jobId} ${i.state} Restarts=${i.restarts} ExitCode=${i.exitCode} Reason=${i.fields.Reason} NodeList=${i.nodes}`).join('; ');
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/** TERM, and KILL if the daemon has not ended when a generous bound passes */
async function stopChild(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  const ended = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const bound = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await ended;
  clearTimeout(bound);
}

/**
 * Kills every process whose working directory or an open file lies under `dir`: the slurmstepd of
 * a job that outlived its slurmd, and the job's own processes (their files are all under `dir`).
 */
function killTiedTo(dir: string): void {
  for (const name of fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    const pid = Number(name);
    if (pid === process.pid || !tiedTo(pid, dir)) continue;
    try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
  }
}

function tiedTo(pid: number, dir: string): boolean {
  const under = (link: string) => { try { const t = fs.readlinkSync(link); return t === dir || t.startsWith(`${dir}/`); } catch { return false; } };
  if (under(`/proc/${pid}/cwd`)) return true;
  let fds: string[];
  try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  return fds.some((fd) => under(`/proc/${pid}/fd/${fd}`));
}

/**
 * Registers a suite's hooks around one cluster: started before its tests, every job ended after
 * each test (a test that failed midway leaves its job holding slots the next test counts on), and
 * stopped after them all. Returns the running cluster; call it inside tests and later hooks.
 */
export function clusterForSuite(options: ClusterOptions = {}): () => SlurmCluster {
  let cluster: SlurmCluster | undefined;
  before(async function () {
    this.timeout(60_000);
    cluster = await SlurmCluster.start(options);
  });
  after(async function () {
    this.timeout(60_000);
    await cluster?.stop();
  });
  afterEach(async function () {
    this.timeout(60_000);
    await cluster?.cancelAllJobs();
  });
  return () => {
    if (!cluster) throw new Error('the Slurm cluster of this suite is not running');
    return cluster;
  };
}
