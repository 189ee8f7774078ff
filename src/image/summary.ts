// The human summary `ckpt-inspect IMAGE` prints: what the process was, its registers, memory and
// files, and the verdict of the checks. Sections an image lacks are left out.
import os from 'node:os';
import * as C from '../contract.generated.js';
import { FDATA_KIND_NAMES, FILE_TYPE_NAMES, ITIMER_NAMES, NO_FD, RLIMIT_NAMES, RLIM_INFINITY, ROLE_NAMES, SOCKET_ROLE_NAMES, regionSource, xsaveFeatures } from './format.js';
import { perms, regionTotals } from './json.js';
import { fileRestorable, objectsOf, type Image, type ObjectRecord } from './read.js';
import type { ChainLink } from './chain.js';

const hex = (n: bigint | number) => `0x${n.toString(16)}`;
const SIGNAL_NAMES = new Map(Object.entries(os.constants.signals).map(([name, n]) => [n as number, name]));
const XFEATURE_NAMES = ['x87', 'sse', 'avx', 'bndregs', 'bndcsr', 'opmask', 'zmm_hi256', 'hi16_zmm', 'pt', 'pkru', 'pasid', 'cet_u', 'cet_s', 'hdc', 'uintr', 'lbr', 'hwp', 'amx_tilecfg', 'amx_tiledata'];
const O_ACCMODE = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'];
const OPEN_FLAGS: [number, string][] = [[0o2000, 'O_APPEND'], [0o4000, 'O_NONBLOCK'], [0o4010000, 'O_SYNC'], [0o200000, 'O_DIRECTORY'], [0o100000, 'O_LARGEFILE']];

export function sizeText(bytes: bigint | number): string {
  const n = Number(bytes);
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024, u = 0;
  for (; v >= 1024 && u < units.length - 1; u++) v /= 1024;
  return `${v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

function signalName(sig: number): string {
  return SIGNAL_NAMES.has(sig) ? `${sig} (${SIGNAL_NAMES.get(sig)})` : `${sig}`;
}

function featureNames(mask: bigint): string {
  const names = XFEATURE_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
  return names.length ? ` (${names.join(' ')})` : '';
}

function openFlags(flags: number): string {
  return [O_ACCMODE[flags & 3], ...OPEN_FLAGS.filter(([bit]) => (flags & bit) === bit).map(([, name]) => name)].join('|');
}

/** Rows of cells, each column padded to its widest cell */
function table(rows: string[][], indent: string): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => indent + r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]))).join('  ').trimEnd());
}

const label = (name: string) => name.padEnd(11);
const INDENT = ' '.repeat(11);

function processLines(image: Image): string[] {
  const p = image.process;
  if (!p) return [];
  const when = new Date(Number(p.time) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return [
    `${label('process')}pid ${p.pid}, tid ${p.tid}, ppid ${p.ppid}; checkpointed by signal ${signalName(p.signal)} at ${when}`,
    `${INDENT}brk ${hex(p.brk)}, load bias ${hex(p.loadBias)}, fs base ${hex(p.fsBase)}, umask ${p.umask.toString(8).padStart(3, '0')}`,
    `${label('xfeatures')}${hex(p.xfeatures)}${featureNames(p.xfeatures)}`,
  ];
}

function registerLines(image: Image): string[] {
  const r = image.registers;
  if (!r) return [];
  const features = xsaveFeatures(r.xsave);
  return [`${label('registers')}rip ${hex(r.gregs.rip)}, rsp ${hex(r.gregs.rsp)}, sigmask ${hex(r.sigmask)}; xsave area ${r.xsaveSize} bytes (features ${hex(features)})`];
}

/** One line per thread: its tid, where it was, its signal mask; the leader is the register record's */
function threadLines(image: Image): string[] {
  if (!image.threads.length) return [];
  return image.threads.map((t, i) => {
    const where = t.registers ? `rip ${hex(t.registers.gregs.rip)}, rsp ${hex(t.registers.gregs.rsp)}, sigmask ${hex(t.registers.sigmask)}`
      : 'took the checkpoint signal (registers above)';
    return `${i ? INDENT : label('threads')}tid ${t.tid}: ${where}; fs base ${hex(t.fsBase)}`;
  });
}

function regionLines(image: Image): string[] {
  if (image.regions.length === 0) return [];
  const rows = [['START', 'END', 'SIZE', 'PERMS', 'SAVED', 'FROM', 'PATH']];
  for (const { region: g, record } of image.regions) {
    const path = g.role !== C.CKPT_ROLE_MEMORY ? ROLE_NAMES[g.role] ?? `role ${g.role}` : g.path;
    rows.push([hex(g.start), hex(g.end), sizeText(g.end - g.start), perms(g.prot, g.shared), g.hasData ? sizeText(record.header.dataSize) : '-',
      regionSource(g), path]);
  }
  const t = regionTotals(image);
  return [
    `${label('regions')}${image.regions.length} regions, ${sizeText(t.mapped)} mapped, ${sizeText(t.saved)} saved`,
    ...table(rows, INDENT),
  ];
}

const seconds = (sec: bigint, nsec: bigint) => `${sec}.${nsec.toString().padStart(9, '0')} s`;

/** A descriptor's kernel object or kept contents, in a few words */
function describeObject(o: ObjectRecord): string {
  switch (o.kind) {
    case 'pipe': return `pipe made again, ${o.value.bytes} unread bytes`;
    case 'eventfd': return `eventfd ${o.value.count}${o.value.flags & C.CKPT_EVENTFD_SEMAPHORE ? ' (semaphore)' : ''}`;
    case 'timerfd': return `timerfd clock ${o.value.clock}, ${seconds(o.value.valueSec, o.value.valueNsec)} left, `
      + `interval ${seconds(o.value.intervalSec, o.value.intervalNsec)}, ${o.value.ticks} unread`;
    case 'signalfd': return `signalfd mask ${hex(o.value.mask)}`;
    case 'epoll': return `epoll of ${o.value.entries.map((e) => `fd ${e.tfd}`).join(', ') || 'nothing'}`;
    case 'fileData': return `${FDATA_KIND_NAMES[o.value.kind] ?? `kind ${o.value.kind}`} `
      + (o.value.sameFile !== NO_FD ? `of fd ${o.value.sameFile}` : `kept, ${o.value.fileSize} bytes${o.value.seals ? `, seals ${hex(BigInt(o.value.seals))}` : ''}`);
    case 'fown': return `signal ${o.value.signal || 'SIGIO'} to ${o.value.owner}`;
    case 'fifo': return `FIFO made again${o.value.first === o.value.fd ? `, ${o.value.bytes} unread bytes` : ` with fd ${o.value.first}`}`;
    case 'symlink': return `symbolic link to ${o.value.target}`;
    case 'inotify': return `inotify of ${o.value.watches.map((w) => `${w.wd}: ${w.path}`).join(', ') || 'nothing'}`;
    case 'socket': return o.value.refusal ? `socket, refused: ${o.value.refusal}`
      : `socket (family ${o.value.family}, type ${o.value.type}) ${SOCKET_ROLE_NAMES[o.value.role] ?? `role ${o.value.role}`}, ${o.value.messages} unread messages`;
  }
}

function fileLines(image: Image): string[] {
  if (image.files.length === 0) return [];
  const rows = [['FD', 'TYPE', 'OFFSET', 'FLAGS', 'PATH']];
  for (const f of image.files) {
    const notes = [f.sameAs !== NO_FD ? `same as fd ${f.sameAs}` : '', ...objectsOf(image, f).map(describeObject),
      fileRestorable(image, f) ? '' : 'not restorable'].filter(Boolean);
    rows.push([`${f.fd}`, FILE_TYPE_NAMES[f.type] ?? `type ${f.type}`, `${f.offset}`, openFlags(f.flags) + (f.fdFlags & 1 ? ' cloexec' : ''),
      f.path + (notes.length ? `  (${notes.join('; ')})` : '')]);
  }
  return [`${label('files')}${image.files.length} open`, ...table(rows, INDENT)];
}

function limitLines(image: Image): string[] {
  if (!image.rlimits) return [];
  const limit = (v: bigint) => (v === RLIM_INFINITY ? 'unlimited' : `${v}`);
  const finite = image.rlimits.map((l, i) => ({ ...l, name: RLIMIT_NAMES[i] })).filter((l) => l.soft !== RLIM_INFINITY || l.hard !== RLIM_INFINITY);
  return [`${label('rlimits')}${finite.length ? finite.map((l) => `${l.name} ${limit(l.soft)}/${limit(l.hard)}`).join(', ') : 'all unlimited'}`];
}

function timerLines(image: Image): string[] {
  if (!image.itimers) return [];
  const secs = (s: bigint, us: bigint) => `${s}.${us.toString().padStart(6, '0')} s`;
  const armed = image.itimers.map((t, i) => ({ ...t, name: ITIMER_NAMES[i] })).filter((t) => t.valueSec || t.valueUsec);
  const text = armed.map((t) => `${t.name} in ${secs(t.valueSec, t.valueUsec)}${t.intervalSec || t.intervalUsec ? `, every ${secs(t.intervalSec, t.intervalUsec)}` : ''}`);
  return [`${label('itimers')}${text.length ? text.join('; ') : 'none armed'}`];
}

function queuedLines(image: Image): string[] {
  if (!image.queued?.length) return [];
  return [`${label('queued')}${image.queued.map((q) => `signal ${q.signo} (code ${q.code}, from pid ${q.pid})`).join(', ')}`];
}

function checkLines(problems: string[], dataChecked: boolean): string[] {
  if (problems.length === 0) return [`${label('checks')}${dataChecked ? 'all checksums ok' : 'headers and records ok (memory contents not checked)'}`];
  return [`${label('checks')}${problems.length} problem${problems.length > 1 ? 's' : ''}:`, ...problems.map((p) => `${INDENT}${p}`)];
}

/** The job's first start (UTC), its nonce, and the generation as restarts.checkpoints */
function jobText(start: bigint, nonce: bigint, generation: bigint): string {
  const started = new Date(Number(start / 1_000_000n)).toISOString();
  return `started ${started}, nonce ${hex(nonce)}, generation ${generationText(generation)}`;
}

/** An incremental image's links, down to its full image */
function chainLines(image: Image, chain: ChainLink[]): string[] {
  if (!image.parent) return [];
  const inherited = image.inherited.reduce((n, i) => n + i.extents.reduce((m, e) => m + e.count, 0n), 0n);
  const rows = [['GENERATION', 'SIZE', 'KIND', 'FILE']];
  for (const l of chain) {
    rows.push([l.generation === undefined ? '?' : generationText(l.generation), l.size === undefined ? '-' : sizeText(l.size),
      l.problem ? 'refused' : l.incremental ? 'incremental' : 'full', l.problem ? `${l.file}: ${l.problem}` : l.file]);
  }
  return [
    `${label('chain')}incremental: ${sizeText(inherited * BigInt(C.CKPT_IMAGE_PAGE))} of its regions are as the ${chain.length} link${chain.length === 1 ? '' : 's'} below hold them`,
    ...table(rows, INDENT),
  ];
}

const generationText = (g: bigint) => `${g >> BigInt(C.CKPT_GEN_RESTART_SHIFT)}.${g & 0xffffffffn}`;

export function formatSummary(file: string, image: Image, problems: string[], dataChecked: boolean, chain: ChainLink[] = []): string {
  const h = image.header;
  const lines = [
    `${label('image')}${file}: ${sizeText(image.size)}` + (h?.magic === C.CKPT_IMAGE_MAGIC ? `, format ${h.version}, ${h.records} records, binary id ${hex(h.binaryId)}` : ''),
    ...(h?.magic === C.CKPT_IMAGE_MAGIC ? [`${label('job')}${jobText(h.jobStart, h.jobNonce, h.generation)}`] : []),
    ...(image.exe !== undefined ? [`${label('binary')}${image.exe}`] : []),
    ...processLines(image),
    ...registerLines(image),
    ...threadLines(image),
    ...regionLines(image),
    ...chainLines(image, chain),
    ...fileLines(image),
    ...(image.cwd !== undefined ? [`${label('cwd')}${image.cwd}`] : []),
    ...limitLines(image),
    ...timerLines(image),
    ...queuedLines(image),
    ...(image.unknown.length ? [`${label('unknown')}${image.unknown.map((r) => `kind ${r.header.kind} (${r.header.payloadSize} bytes)`).join(', ')}: skipped`] : []),
    ...checkLines(problems, dataChecked),
  ];
  return lines.join('\n') + '\n';
}
