// The JSON form of an image, as `ckpt-inspect --json` prints it. Its keys are stable: they are the
// field names of the typed records in format.ts, and new ones are only ever added.
//
// Types: every u64 field (addresses, sizes, offsets, masks, limits, times) is a decimal string, so
// that no value loses bits (parse with BigInt); u16/u32 fields are numbers; absent records are null.
//
//   image, size (bytes), ok, dataChecked (false with --no-data-check), problems: [one line each]
//   header: { magic, version, records, fileSize, binaryId, reserved, crc }
//   records: [{ index, offset, kind, kindName, flags, payloadSize, payloadCrc, dataOffset, dataSize, dataCrc, crc }]
//   process: { pid, tid, ppid, signal, loadBias, brk, xfeatures, fsBase, umask, ckptSignal, rseqAddr,
//              rseqLen, rseqSig, altstackSp, altstackSize, altstackFlags, interval, vacateSignal,
//              flags, time, pending }
//   registers: { ucFlags, sigmask, xsaveSize, reserved, xfeatures (the xsave area's own), gregs: { r8 ... cr2 } }
//   sigactions: [{ signal, handler, flags, restorer, mask }] (signals 1 to 64)
//   regions: [{ start, end, size, offset, prot, perms ("r-xp"), role, roleName, path, hasData, shared, fromFile,
//              fromBinary, source ("relinked binary", "file", "anonymous" or "kernel": where a restart
//              takes the pages not stored), stored (bytes of its pages in the image, = dataSize),
//              extents: [{ first, count }] (pages stored, from the region's first), dataOffset, dataSize }]
//   files: [{ fd, flags, offset, type, typeName, restorable, fdFlags, size, mtimeSec, mtimeNsec, pathAt,
//             sameAs (null: none), reserved, hasTermios, termios (hex, null without), winsize (null without), path }]
//   cwd, exe: strings
//   rlimits: [{ resource ("NOFILE"), soft, hard }] (18446744073709551615: infinity)
//   itimers: [{ which ("REAL"), intervalSec, intervalUsec, valueSec, valueUsec }]
//   queued: [{ signo, errno, code, pid, uid, siginfo (128 bytes, hex) }]: signals queued at the checkpoint, in order
//   threads: [{ tid, flags, fsBase, clearTid, robustHead, robustLen, rseqAddr, rseqLen, rseqSig, altstackSp,
//              altstackSize, altstackFlags, slot, leader, registers (as above; null for the leader, whose
//              registers are the register record) }]
//   objects: [{ kindName ("pipe", "eventfd", "timerfd", "signalfd", "epoll", "fileData", "fown", "inotify"), and the
//             fields of its record; pipe: unread (hex); epoll: entries: [{ tfd, events, data }]; fileData: extents:
//             [{ offset, length }]; inotify: watches: [{ wd, mask, pathAt, reserved, path }] }]
//             (the kernel objects and kept contents that complete file records; `restorable` above counts them)
//   posixTimers: [{ id, clock, signo, notify, value, intervalSec, intervalNsec, leftSec, leftNsec }] (id and clock
//                 as unsigned 32-bit numbers: -6 is 4294967290)
//   locks: [{ fd, kind, kindName ("flock", "posix", "ofd", "other"), type (0 read, 1 write), reserved, start, end }]
//   task: { name, dumpable, pdeathsig, subreaper, noNewPrivs, policy, priority, nice (unsigned 32-bit), seccomp,
//           thpDisable, reserved, timerslack, robustList, robustLen, membarrier, oomScoreAdj (unsigned 32-bit) }
//   sysvShm: [{ start, bytes, id, key, mode, attaches }]
//   guards: [{ start, end }]: runs of guard pages (MADV_GUARD_INSTALL)
//   keptMaps: [{ start, fd, reserved }]: private regions mapped from a file kept for descriptor fd
//   sysvIpc: [{ kind, kindName ("message queue", "semaphore set"), id, key, flags (1: SEM_UNDO used), count, changed }]
//   parent: { generation, headerCrc, depth, name } or null: an incremental image's parent link (a file in its directory)
//   inherited: [{ start, extents: [{ first, count }] }]: pages of the region at start taken from the parent
//   chain: [{ file, generation (null: unreadable), size, incremental, problem (null: sound) }]: the links below
//          this image, nearest first, as far as a restart would get
//   unknown: [{ index, kind, payloadSize }] (records of kinds this version does not know)
//   totals: { regions, mapped, saved } (bytes of memory mapped, and saved in the data area)
import * as C from '../contract.generated.js';
import { FILE_TYPE_NAMES, ITIMER_NAMES, LOCK_KIND_NAMES, NO_FD, RLIMIT_NAMES, ROLE_NAMES, SYSV_KIND_NAMES, kindLabel, regionSource, xsaveFeatures } from './format.js';
import type { ChainLink } from './chain.js';
import { fileRestorable, type Image, type ObjectRecord } from './read.js';

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** bigints as decimal strings; Buffers (raw areas) left out */
function plain(value: object): { [key: string]: Json } {
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) {
    if (typeof v === 'bigint') out[k] = v.toString();
    else if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') out[k] = v;
    else if (v && typeof v === 'object' && !Buffer.isBuffer(v)) out[k] = plain(v);
  }
  return out;
}

function objectJson(o: ObjectRecord): Json {
  switch (o.kind) {
    case 'pipe': {
      const { unread, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), unread: unread.toString('hex') };
    }
    case 'fifo': {
      const { unread, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), unread: unread.toString('hex') };
    }
    case 'epoll': {
      const { entries, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), entries: entries.map((e) => plain(e)) };
    }
    case 'fileData': {
      const { extents, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), extents: extents.map((e) => plain(e)) };
    }
    case 'socket': {
      const { addr, peerAddr, tail, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), addr: addr.toString('hex'), peerAddr: peerAddr.toString('hex'), tail: tail.toString('hex') };
    }
    case 'inotify': {
      const { watches, ...fixed } = o.value;
      return { kindName: o.kind, ...plain(fixed), watches: watches.map((w) => plain(w)) };
    }
    default:
      return { kindName: o.kind, ...plain(o.value) };
  }
}

export function perms(prot: number, shared: boolean): string {
  return `${prot & 1 ? 'r' : '-'}${prot & 2 ? 'w' : '-'}${prot & 4 ? 'x' : '-'}${shared ? 's' : 'p'}`;
}

/** Bytes of memory the regions map, and of it saved in the data area */
export function regionTotals(image: Image): { mapped: bigint; saved: bigint } {
  let mapped = 0n, saved = 0n;
  for (const { region, record } of image.regions) {
    mapped += region.end - region.start;
    if (region.hasData) saved += record.header.dataSize;
  }
  return { mapped, saved };
}

export function imageToJson(file: string, image: Image, problems: string[], dataChecked: boolean, chain: ChainLink[] = []): { [key: string]: Json } {
  const totals = regionTotals(image);
  return {
    image: file, size: image.size, ok: problems.length === 0, dataChecked, problems,
    header: image.header ? plain(image.header) : null,
    records: image.records.map((r) => ({ index: r.index, offset: r.at, kindName: kindLabel(r.header.kind), ...plain(r.header) })),
    process: image.process ? plain(image.process) : null,
    registers: image.registers ? plain({ ...image.registers, xfeatures: xsaveFeatures(image.registers.xsave) }) : null,
    sigactions: image.sigactions?.map((a, i) => ({ signal: i + 1, ...plain(a) })) ?? null,
    regions: image.regions.map(({ region: { extents, ...g }, record }) => ({
      ...plain({
        ...g, size: g.end - g.start, perms: perms(g.prot, g.shared), roleName: ROLE_NAMES[g.role], source: regionSource({ ...g, extents }),
        stored: record.header.dataSize, dataOffset: record.header.dataOffset, dataSize: record.header.dataSize,
      }),
      extents: extents.map((e) => plain(e)),
    })),
    files: image.files.map((f) => ({
      ...plain(f), typeName: FILE_TYPE_NAMES[f.type] ?? `unknown ${f.type}`, restorable: fileRestorable(image, f),
      sameAs: f.sameAs === NO_FD ? null : f.sameAs,
      termios: f.hasTermios ? f.termios.toString('hex') : null, winsize: f.hasTermios ? plain(f.winsize) : null,
    })),
    threads: image.threads.map(({ registers, ...t }) => ({
      ...plain(t), leader: (t.flags & C.CKPT_THREAD_LEADER) !== 0,
      registers: registers ? plain({ ...registers, xfeatures: xsaveFeatures(registers.xsave) }) : null,
    })),
    cwd: image.cwd ?? null,
    exe: image.exe ?? null,
    rlimits: image.rlimits?.map((l, i) => ({ resource: RLIMIT_NAMES[i], ...plain(l) })) ?? null,
    itimers: image.itimers?.map((t, i) => ({ which: ITIMER_NAMES[i], ...plain(t) })) ?? null,
    queued: image.queued?.map(({ raw, ...q }) => ({ ...plain(q), siginfo: raw.toString('hex') })) ?? null,
    objects: image.objects.map(objectJson),
    posixTimers: image.posixTimers?.map((t) => plain(t)) ?? null,
    locks: image.locks?.map((l) => ({ ...plain(l), kindName: LOCK_KIND_NAMES[l.kind] ?? `unknown ${l.kind}` })) ?? null,
    task: image.task ? plain(image.task) : null,
    sysvShm: image.sysvShm?.map((g) => plain(g)) ?? null,
    guards: image.guards?.map((g) => plain(g)) ?? null,
    keptMaps: image.keptMaps?.map((k) => plain(k)) ?? null,
    sysvIpc: image.sysvIpc?.map((g) => ({ ...plain(g), kindName: SYSV_KIND_NAMES[g.kind] ?? `unknown ${g.kind}` })) ?? null,
    parent: image.parent ? plain(image.parent) : null,
    inherited: image.inherited.map((i) => ({ start: i.start.toString(), extents: i.extents.map((e) => plain(e)) })),
    chain: chain.map((l) => ({ file: l.file, generation: l.generation?.toString() ?? null, size: l.size ?? null,
      incremental: l.incremental, problem: l.problem ?? null })),
    unknown: image.unknown.map((r) => ({ index: r.index, kind: r.header.kind, payloadSize: r.header.payloadSize })),
    totals: { regions: image.regions.length, mapped: totals.mapped.toString(), saved: totals.saved.toString() },
  };
}
