// The checkpoint image format, version 3 (docs/image-format.md): the file and record headers, and
// one codec a record kind (check, decode, encode), so that read.ts and write.ts share every offset.
// Fields are only ever added: a codec decodes the prefix it knows and the record keeps the bytes
// after it (`rest`), which the encoder writes back unchanged.
import * as C from '../contract.generated.js';
import { readArray, readStruct, structBytes, writeArray, writeStruct, type Layout, type Struct } from '../lib/struct.js';

export const FILE_HEADER = [
  ['magic', C.CKPT_IH_MAGIC, 'u64'], ['version', C.CKPT_IH_VERSION, 'u32'], ['records', C.CKPT_IH_RECORDS, 'u32'],
  ['fileSize', C.CKPT_IH_FILE_SIZE, 'u64'], ['binaryId', C.CKPT_IH_BINARY_ID, 'u64'],
  ['jobStart', C.CKPT_IH_JOB_START, 'u64'], ['jobNonce', C.CKPT_IH_JOB_NONCE, 'u64'], ['generation', C.CKPT_IH_GENERATION, 'u64'],
  ['reserved', C.CKPT_IH_RESERVED, 'u32'], ['crc', C.CKPT_IH_CRC, 'u32'],
] as const;
export type FileHeader = Struct<typeof FILE_HEADER>;

export const RECORD_HEADER = [
  ['kind', C.CKPT_RH_KIND, 'u32'], ['flags', C.CKPT_RH_FLAGS, 'u32'],
  ['payloadSize', C.CKPT_RH_PAYLOAD_SIZE, 'u32'], ['payloadCrc', C.CKPT_RH_PAYLOAD_CRC, 'u32'],
  ['dataOffset', C.CKPT_RH_DATA_OFFSET, 'u64'], ['dataSize', C.CKPT_RH_DATA_SIZE, 'u64'],
  ['dataCrc', C.CKPT_RH_DATA_CRC, 'u32'], ['crc', C.CKPT_RH_CRC, 'u32'],
] as const;
export type RecordHeader = Struct<typeof RECORD_HEADER>;

export const PROCESS = [
  ['pid', C.CKPT_RP_PID, 'u32'], ['tid', C.CKPT_RP_TID, 'u32'], ['ppid', C.CKPT_RP_PPID, 'u32'],
  ['signal', C.CKPT_RP_SIGNAL, 'u32'], ['loadBias', C.CKPT_RP_LOAD_BIAS, 'u64'], ['brk', C.CKPT_RP_BRK, 'u64'],
  ['xfeatures', C.CKPT_RP_XFEATURES, 'u64'], ['fsBase', C.CKPT_RP_FS_BASE, 'u64'], ['umask', C.CKPT_RP_UMASK, 'u32'],
  ['ckptSignal', C.CKPT_RP_CKPT_SIGNAL, 'u32'], ['rseqAddr', C.CKPT_RP_RSEQ_ADDR, 'u64'], ['rseqLen', C.CKPT_RP_RSEQ_LEN, 'u32'],
  ['rseqSig', C.CKPT_RP_RSEQ_SIG, 'u32'], ['altstackSp', C.CKPT_RP_ALTSTACK_SP, 'u64'],
  ['altstackSize', C.CKPT_RP_ALTSTACK_SIZE, 'u64'], ['altstackFlags', C.CKPT_RP_ALTSTACK_FLAGS, 'u32'],
  ['interval', C.CKPT_RP_INTERVAL, 'u32'], ['vacateSignal', C.CKPT_RP_VACATE_SIGNAL, 'u32'],
  ['flags', C.CKPT_RP_FLAGS, 'u32'], ['time', C.CKPT_RP_TIME, 'u64'], ['pending', C.CKPT_RP_PENDING, 'u64'],
] as const;
export type ProcessState = Struct<typeof PROCESS>;

/** ucontext_t gregs order (REG_R8 = 0 ... REG_CR2 = 22) */
export const GREG_NAMES = [
  'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rdi', 'rsi', 'rbp', 'rbx', 'rdx', 'rax', 'rcx',
  'rsp', 'rip', 'eflags', 'csgsfs', 'err', 'trapno', 'oldmask', 'cr2',
] as const;
export type GregName = (typeof GREG_NAMES)[number];

export const REGS = [
  ['ucFlags', C.CKPT_RR_UC_FLAGS, 'u64'], ['sigmask', C.CKPT_RR_SIGMASK, 'u64'],
  ['xsaveSize', C.CKPT_RR_XSAVE_SIZE, 'u32'], ['reserved', C.CKPT_RR_RESERVED, 'u32'],
] as const;
export interface Registers extends Struct<typeof REGS> {
  gregs: Record<GregName, bigint>;
  /** the signal frame's xsave area, byte for byte */
  xsave: Buffer;
}

export const THREAD = [
  ['tid', C.CKPT_RT_TID, 'u32'], ['flags', C.CKPT_RT_FLAGS, 'u32'], ['fsBase', C.CKPT_RT_FS_BASE, 'u64'],
  ['clearTid', C.CKPT_RT_CLEAR_TID, 'u64'], ['robustHead', C.CKPT_RT_ROBUST_HEAD, 'u64'], ['robustLen', C.CKPT_RT_ROBUST_LEN, 'u64'],
  ['rseqAddr', C.CKPT_RT_RSEQ_ADDR, 'u64'], ['rseqLen', C.CKPT_RT_RSEQ_LEN, 'u32'], ['rseqSig', C.CKPT_RT_RSEQ_SIG, 'u32'],
  ['altstackSp', C.CKPT_RT_ALTSTACK_SP, 'u64'], ['altstackSize', C.CKPT_RT_ALTSTACK_SIZE, 'u64'],
  ['altstackFlags', C.CKPT_RT_ALTSTACK_FLAGS, 'u32'], ['slot', C.CKPT_RT_SLOT, 'u32'],
] as const;
/** One thread; the leader's registers are the register record, every other thread's are its own */
export interface ThreadState extends Struct<typeof THREAD> {
  registers: Registers | null;
}

// The kernel's struct sigaction, and the software-reserved bytes of an xsave area (struct
// _fpx_sw_bytes at byte 464 of the legacy area): not part of the contract, they are the kernel's.
const SIGACTION = [['handler', 0, 'u64'], ['flags', 8, 'u64'], ['restorer', 16, 'u64'], ['mask', 24, 'u64']] as const;
export const SIGACTION_SIZE = 32;
export const SIGNALS = 64;
export type SigAction = Struct<typeof SIGACTION>;
const FP_SW_BYTES = 464;
const FP_XSTATE_MAGIC1 = 0x46505853;

export const REGION = [
  ['start', C.CKPT_RG_START, 'u64'], ['end', C.CKPT_RG_END, 'u64'], ['offset', C.CKPT_RG_OFFSET, 'u64'],
  ['prot', C.CKPT_RG_PROT, 'u32'], ['role', C.CKPT_RG_ROLE, 'u32'], ['fileSize', C.CKPT_RG_FILE_SIZE, 'u64'],
  ['mtimeSec', C.CKPT_RG_MTIME_SEC, 'u64'], ['mtimeNsec', C.CKPT_RG_MTIME_NSEC, 'u32'], ['advice', C.CKPT_RG_ADVICE, 'u32'],
] as const;
/** Pages [first, first + count) of a region, stored back to back in its data */
export const EXTENT = [['first', C.CKPT_RE_FIRST, 'u64'], ['count', C.CKPT_RE_COUNT, 'u64']] as const;
export type Extent = Struct<typeof EXTENT>;

export interface Region extends Struct<typeof REGION> {
  path: string;
  /** record flags: contents in the data area; a MAP_SHARED mapping */
  hasData: boolean;
  shared: boolean;
  /** record flags: pages not stored are its file's; that file is the relinked binary */
  fromFile: boolean;
  fromBinary: boolean;
  /** the pages stored in the data area, in order */
  extents: Extent[];
}

/** Where a restart takes a region's pages that are not stored from */
export type RegionSource = 'relinked binary' | 'file' | 'anonymous' | 'kernel';

export function regionSource(r: Region): RegionSource {
  if (r.role !== C.CKPT_ROLE_MEMORY) return 'kernel';
  return r.fromBinary ? 'relinked binary' : r.fromFile ? 'file' : 'anonymous';
}

export const FILE = [
  ['fd', C.CKPT_RF_FD, 'u32'], ['flags', C.CKPT_RF_FLAGS, 'u32'], ['offset', C.CKPT_RF_OFFSET, 'u64'],
  ['type', C.CKPT_RF_TYPE, 'u32'], ['fdFlags', C.CKPT_RF_FD_FLAGS, 'u32'], ['size', C.CKPT_RF_FILE_SIZE, 'u64'],
  ['mtimeSec', C.CKPT_RF_MTIME_SEC, 'u64'], ['mtimeNsec', C.CKPT_RF_MTIME_NSEC, 'u32'],
  ['pathAt', C.CKPT_RF_PATH_AT, 'u32'], ['sameAs', C.CKPT_RF_SAME_AS, 'u32'], ['reserved', C.CKPT_RF_RESERVED, 'u32'],
] as const;
/** struct winsize: four unsigned shorts */
export const WINSIZE = [
  ['rows', C.CKPT_RF_WINSIZE, 'u16'], ['cols', C.CKPT_RF_WINSIZE + 2, 'u16'],
  ['xpixel', C.CKPT_RF_WINSIZE + 4, 'u16'], ['ypixel', C.CKPT_RF_WINSIZE + 6, 'u16'],
] as const;
export interface OpenFile extends Struct<typeof FILE> {
  /** record flag CKPT_FILE_HAS_TERMIOS: termios and winsize were read */
  hasTermios: boolean;
  termios: Buffer;
  winsize: Struct<typeof WINSIZE>;
  /** payload bytes between the fixed part this version knows and the path (fields added later) */
  extra: Buffer;
  path: string;
}
export const NO_FD = 0xffffffff;

const RLIMIT = [['soft', 0, 'u64'], ['hard', 8, 'u64']] as const;
export const RLIMIT_SIZE = 16;
export type Rlimit = Struct<typeof RLIMIT>;
export const RLIMIT_NAMES = [
  'CPU', 'FSIZE', 'DATA', 'STACK', 'CORE', 'RSS', 'NPROC', 'NOFILE', 'MEMLOCK', 'AS', 'LOCKS', 'SIGPENDING',
  'MSGQUEUE', 'NICE', 'RTPRIO', 'RTTIME',
] as const;
export const RLIM_INFINITY = 0xffffffffffffffffn;

const ITIMER = [
  ['intervalSec', 0, 'u64'], ['intervalUsec', 8, 'u64'], ['valueSec', 16, 'u64'], ['valueUsec', 24, 'u64'],
] as const;
export type Itimer = Struct<typeof ITIMER>;
export const ITIMER_NAMES = ['REAL', 'VIRTUAL', 'PROF'] as const;
const ITIMERS = ITIMER_NAMES.length;

/** siginfo_t: the fields every signal has; the rest of the 128 bytes depends on si_code */
const SIGINFO = [['signo', 0, 'u32'], ['errno', 4, 'u32'], ['code', 8, 'u32'], ['pid', 16, 'u32'], ['uid', 20, 'u32']] as const;
export interface QueuedSignal extends Struct<typeof SIGINFO> {
  /** the whole siginfo as the kernel gave it */
  raw: Buffer;
}

const siginfo: KindCodec<QueuedSignal[]> = {
  check: (p) => (p.length % C.CKPT_SIGINFO_SIZE ? `queued signal record of ${p.length} bytes is not a whole number of siginfo` : undefined),
  decode: (p) => {
    const value: QueuedSignal[] = [];
    for (let at = 0; at + C.CKPT_SIGINFO_SIZE <= p.length; at += C.CKPT_SIGINFO_SIZE) {
      const raw = p.subarray(at, at + C.CKPT_SIGINFO_SIZE);
      value.push({ ...readStruct(raw, 0, SIGINFO), code: raw.readInt32LE(8), raw });
    }
    return { value, used: value.length * C.CKPT_SIGINFO_SIZE };
  },
  encode: (v) => Buffer.concat(v.map((q) => q.raw)),
};

// Kernel objects (records 20 to 26): each completes the file record of a descriptor (the pipe's,
// of every descriptor that shows its inode), read by runtime/ckpt/kobjects.c and fdata.c.
export const PIPE = [
  ['inode', C.CKPT_RPI_INODE, 'u64'], ['capacity', C.CKPT_RPI_CAPACITY, 'u32'], ['bytes', C.CKPT_RPI_BYTES, 'u32'],
] as const;
export interface PipeState extends Struct<typeof PIPE> {
  /** the bytes not yet read at the checkpoint */
  unread: Buffer;
}
export const FIFO = [
  ['fd', C.CKPT_RFI_FD, 'u32'], ['first', C.CKPT_RFI_FIRST, 'u32'], ['mode', C.CKPT_RFI_MODE, 'u32'],
  ['capacity', C.CKPT_RFI_CAPACITY, 'u32'], ['bytes', C.CKPT_RFI_BYTES, 'u32'], ['reserved', C.CKPT_RFI_RESERVED, 'u32'],
] as const;
export interface FifoState extends Struct<typeof FIFO> {
  /** the bytes not yet read at the checkpoint (in the record of the FIFO's lowest descriptor) */
  unread: Buffer;
}
export const SYMLINK = [['fd', C.CKPT_RSL_FD, 'u32'], ['reserved', C.CKPT_RSL_RESERVED, 'u32']] as const;
export interface SymlinkState extends Struct<typeof SYMLINK> {
  /** what the link points to */
  target: string;
}
export const EVENTFD = [['fd', C.CKPT_REV_FD, 'u32'], ['flags', C.CKPT_REV_FLAGS, 'u32'], ['count', C.CKPT_REV_COUNT, 'u64']] as const;
export const TIMERFD = [
  ['fd', C.CKPT_RTF_FD, 'u32'], ['clock', C.CKPT_RTF_CLOCK, 'u32'], ['settimeFlags', C.CKPT_RTF_SETTIME_FLAGS, 'u32'],
  ['reserved', C.CKPT_RTF_RESERVED, 'u32'], ['ticks', C.CKPT_RTF_TICKS, 'u64'], ['valueSec', C.CKPT_RTF_VALUE_SEC, 'u64'],
  ['valueNsec', C.CKPT_RTF_VALUE_NSEC, 'u64'], ['intervalSec', C.CKPT_RTF_INTERVAL_SEC, 'u64'],
  ['intervalNsec', C.CKPT_RTF_INTERVAL_NSEC, 'u64'], ['nowSec', C.CKPT_RTF_NOW_SEC, 'u64'], ['nowNsec', C.CKPT_RTF_NOW_NSEC, 'u64'],
] as const;
export const SIGNALFD = [['fd', C.CKPT_RSF_FD, 'u32'], ['reserved', C.CKPT_RSF_RESERVED, 'u32'], ['mask', C.CKPT_RSF_MASK, 'u64']] as const;
export const EPOLL = [['fd', C.CKPT_REP_FD, 'u32'], ['count', C.CKPT_REP_COUNT, 'u32']] as const;
const EPOLL_ENTRY = [['tfd', C.CKPT_EPOLL_TFD, 'u32'], ['events', C.CKPT_EPOLL_EVENTS, 'u32'], ['data', C.CKPT_EPOLL_DATA, 'u64']] as const;
export interface EpollState extends Struct<typeof EPOLL> {
  entries: Struct<typeof EPOLL_ENTRY>[];
}
export const FILE_DATA = [
  ['fd', C.CKPT_RFD_FD, 'u32'], ['kind', C.CKPT_RFD_KIND, 'u32'], ['fileSize', C.CKPT_RFD_FILE_SIZE, 'u64'],
  ['seals', C.CKPT_RFD_SEALS, 'u32'], ['mode', C.CKPT_RFD_MODE, 'u32'], ['extentCount', C.CKPT_RFD_EXTENTS, 'u32'],
  ['sameFile', C.CKPT_RFD_SAME_FILE, 'u32'],
] as const;
const FDATA_EXTENT = [['offset', C.CKPT_FDATA_OFFSET, 'u64'], ['length', C.CKPT_FDATA_LENGTH, 'u64']] as const;
export interface FileDataState extends Struct<typeof FILE_DATA> {
  /** the file's data, back to back in the record's data; holes between */
  extents: Struct<typeof FDATA_EXTENT>[];
}
export const FDATA_KIND_NAMES: Readonly<Record<number, string>> = {
  [C.CKPT_FDATA_UNLINKED]: 'unlinked', [C.CKPT_FDATA_TMPFILE]: 'O_TMPFILE', [C.CKPT_FDATA_MEMFD]: 'memfd',
};
export const INOTIFY = [['fd', C.CKPT_RIN_FD, 'u32'], ['count', C.CKPT_RIN_COUNT, 'u32']] as const;
const INOTIFY_WATCH = [
  ['wd', C.CKPT_INOTIFY_WD, 'u32'], ['mask', C.CKPT_INOTIFY_MASK, 'u32'], ['pathAt', C.CKPT_INOTIFY_PATH_AT, 'u32'],
  ['reserved', C.CKPT_INOTIFY_RESERVED, 'u32'],
] as const;
export interface InotifyState extends Struct<typeof INOTIFY> {
  watches: (Struct<typeof INOTIFY_WATCH> & { path: string })[];
}
export const FOWN = [
  ['fd', C.CKPT_RFO_FD, 'u32'], ['signal', C.CKPT_RFO_SIGNAL, 'u32'], ['ownerType', C.CKPT_RFO_OWNER_TYPE, 'u32'], ['owner', C.CKPT_RFO_OWNER, 'u32'],
] as const;
/** A socket (CKPT_REC_SOCKET): its fixed fields; its two addresses are byte areas beside them */
export const SOCKET = [
  ['fd', C.CKPT_RSK_FD, 'u32'], ['family', C.CKPT_RSK_FAMILY, 'u32'], ['type', C.CKPT_RSK_TYPE, 'u32'],
  ['protocol', C.CKPT_RSK_PROTOCOL, 'u32'], ['role', C.CKPT_RSK_ROLE, 'u32'], ['shutdown', C.CKPT_RSK_SHUTDOWN, 'u32'],
  ['inode', C.CKPT_RSK_INODE, 'u64'], ['peer', C.CKPT_RSK_PEER, 'u64'], ['backlog', C.CKPT_RSK_BACKLOG, 'u32'],
  ['addrLen', C.CKPT_RSK_ADDR_LEN, 'u32'], ['peerAddrLen', C.CKPT_RSK_PEER_ADDR_LEN, 'u32'],
  ['options', C.CKPT_RSK_OPTIONS, 'u32'], ['filter', C.CKPT_RSK_FILTER, 'u32'], ['messages', C.CKPT_RSK_MESSAGES, 'u32'],
  ['refusalAt', C.CKPT_RSK_REFUSAL_AT, 'u32'], ['flags', C.CKPT_RSK_FLAGS, 'u32'],
] as const;
export const SOCKET_ADDR_SIZE = 128;
export interface SocketState extends Struct<typeof SOCKET> {
  addr: Buffer;
  peerAddr: Buffer;
  /** options, filter and messages as the runtime wrote them, then the refusal */
  tail: Buffer;
  /** why a restart refuses it ('' when it is restorable) */
  refusal: string;
}
export const SOCKET_ROLE_NAMES: readonly string[] = ['plain', 'listening', 'paired', 'peer closed', 'connected', 'TCP connection', 'TCP connection closed', 'accepted'];

/** A POSIX timer (CKPT_REC_POSIX_TIMERS): ids and clocks are signed, as the kernel gives them */
export const POSIX_TIMER = [
  ['id', C.CKPT_PT_ID, 'u32'], ['clock', C.CKPT_PT_CLOCK, 'u32'], ['signo', C.CKPT_PT_SIGNO, 'u32'],
  ['notify', C.CKPT_PT_NOTIFY, 'u32'], ['value', C.CKPT_PT_VALUE, 'u64'],
  ['intervalSec', C.CKPT_PT_INTERVAL_SEC, 'i64'], ['intervalNsec', C.CKPT_PT_INTERVAL_NSEC, 'i64'],
  ['leftSec', C.CKPT_PT_LEFT_SEC, 'i64'], ['leftNsec', C.CKPT_PT_LEFT_NSEC, 'i64'],
] as const;
export type PosixTimer = Struct<typeof POSIX_TIMER>;

/** A file lock (CKPT_REC_LOCKS), on the descriptor it was taken through */
export const LOCK = [
  ['fd', C.CKPT_LK_FD, 'u32'], ['kind', C.CKPT_LK_KIND, 'u32'], ['type', C.CKPT_LK_TYPE, 'u32'],
  ['reserved', C.CKPT_LK_RESERVED, 'u32'], ['start', C.CKPT_LK_START, 'u64'], ['end', C.CKPT_LK_END, 'u64'],
] as const;
export type FileLock = Struct<typeof LOCK>;
export const LOCK_KIND_NAMES: Readonly<Record<number, string>> = {
  [C.CKPT_LOCK_FLOCK]: 'flock', [C.CKPT_LOCK_POSIX]: 'posix', [C.CKPT_LOCK_OFD]: 'ofd', [C.CKPT_LOCK_OTHER]: 'other',
};

/** A System V shared memory segment attached (CKPT_REC_SYSV_SHM) */
export const SYSV_SEGMENT = [
  ['start', C.CKPT_SM_START, 'u64'], ['bytes', C.CKPT_SM_BYTES, 'u64'], ['id', C.CKPT_SM_ID, 'u32'],
  ['key', C.CKPT_SM_KEY, 'u32'], ['mode', C.CKPT_SM_MODE, 'u32'], ['attaches', C.CKPT_SM_ATTACHES, 'u32'],
] as const;
export type SysvSegment = Struct<typeof SYSV_SEGMENT>;

/** A private region mapped from a file the image keeps for a descriptor (CKPT_REC_KEPT_MAPS) */
export const KEPT_MAP = [['start', C.CKPT_KM_START, 'u64'], ['fd', C.CKPT_KM_FD, 'u32'], ['reserved', C.CKPT_KM_RESERVED, 'u32']] as const;
export type KeptMap = Struct<typeof KEPT_MAP>;

/** A System V message queue or semaphore set the program used, still there at the checkpoint (CKPT_REC_SYSV_IPC) */
export const SYSV_IPC = [
  ['kind', C.CKPT_SI_KIND, 'u32'], ['id', C.CKPT_SI_ID, 'u32'], ['key', C.CKPT_SI_KEY, 'u32'], ['flags', C.CKPT_SI_FLAGS, 'u32'],
  ['count', C.CKPT_SI_COUNT, 'u64'], ['changed', C.CKPT_SI_CHANGED, 'u64'],
] as const;
export type SysvIpc = Struct<typeof SYSV_IPC>;
export const SYSV_KIND_NAMES: Readonly<Record<number, string>> = { [C.CKPT_SYSV_MSG]: 'message queue', [C.CKPT_SYSV_SEM]: 'semaphore set' };

/** A run of guard pages (CKPT_REC_GUARDS): addresses, page-aligned */
export const GUARD = [['start', 0, 'u64'], ['end', 8, 'u64']] as const;
export type GuardRun = Struct<typeof GUARD>;

/** The process's settings (CKPT_REC_TASK); the name is a byte area of its own */
export const TASK = [
  ['dumpable', C.CKPT_TK_DUMPABLE, 'u32'], ['pdeathsig', C.CKPT_TK_PDEATHSIG, 'u32'], ['subreaper', C.CKPT_TK_SUBREAPER, 'u32'],
  ['noNewPrivs', C.CKPT_TK_NO_NEW_PRIVS, 'u32'], ['policy', C.CKPT_TK_POLICY, 'u32'], ['priority', C.CKPT_TK_PRIORITY, 'u32'],
  ['nice', C.CKPT_TK_NICE, 'u32'], ['seccomp', C.CKPT_TK_SECCOMP, 'u32'], ['thpDisable', C.CKPT_TK_THP_DISABLE, 'u32'],
  ['reserved', C.CKPT_TK_RESERVED, 'u32'], ['timerslack', C.CKPT_TK_TIMERSLACK, 'u64'],
  ['robustList', C.CKPT_TK_ROBUST_LIST, 'u64'], ['robustLen', C.CKPT_TK_ROBUST_LEN, 'u64'],
  ['membarrier', C.CKPT_TK_MEMBARRIER, 'u32'], ['oomScoreAdj', C.CKPT_TK_OOM_SCORE_ADJ, 'u32'],
] as const;
export const TASK_NAME_SIZE = 16;
export interface TaskState extends Struct<typeof TASK> {
  /** PR_GET_NAME, up to its NUL */
  name: string;
}

/** An incremental image's parent (CKPT_REC_PARENT): a file in the same directory, by name */
export const PARENT = [
  ['generation', C.CKPT_PA_GENERATION, 'u64'], ['headerCrc', C.CKPT_PA_HEADER_CRC, 'u32'], ['depth', C.CKPT_PA_DEPTH, 'u32'],
] as const;
export interface ParentLink extends Struct<typeof PARENT> {
  /** the parent's file name, in the directory of the image that names it */
  name: string;
}
/** Pages of the region at `start` that an incremental image takes from its parent (CKPT_REC_INHERIT) */
export interface Inherited { start: bigint; extents: Struct<typeof EXTENT>[] }

export interface KindValues {
  process: ProcessState;
  registers: Registers;
  sigactions: SigAction[];
  region: Region;
  file: OpenFile;
  cwd: string;
  exe: string;
  rlimits: Rlimit[];
  itimers: Itimer[];
  queued: QueuedSignal[];
  thread: ThreadState;
  pipe: PipeState;
  fifo: FifoState;
  symlink: SymlinkState;
  eventfd: Struct<typeof EVENTFD>;
  timerfd: Struct<typeof TIMERFD>;
  signalfd: Struct<typeof SIGNALFD>;
  epoll: EpollState;
  fileData: FileDataState;
  fown: Struct<typeof FOWN>;
  inotify: InotifyState;
  socket: SocketState;
  posixTimers: PosixTimer[];
  locks: FileLock[];
  task: TaskState;
  sysvShm: SysvSegment[];
  sysvIpc: SysvIpc[];
  keptMaps: KeptMap[];
  guards: GuardRun[];
  parent: ParentLink;
  inherit: Inherited;
}
export type KindName = keyof KindValues;
/** Records that complete a descriptor's file record */
export const OBJECT_KINDS: readonly KindName[] = ['pipe', 'eventfd', 'timerfd', 'signalfd', 'epoll', 'fileData', 'fown', 'inotify',
  'fifo', 'symlink', 'socket'];

export const KIND_NAMES: Readonly<Record<number, KindName>> = {
  [C.CKPT_REC_PROCESS]: 'process', [C.CKPT_REC_REGS]: 'registers', [C.CKPT_REC_SIGACTIONS]: 'sigactions',
  [C.CKPT_REC_REGION]: 'region', [C.CKPT_REC_FILE]: 'file', [C.CKPT_REC_CWD]: 'cwd', [C.CKPT_REC_EXE]: 'exe',
  [C.CKPT_REC_RLIMITS]: 'rlimits', [C.CKPT_REC_ITIMERS]: 'itimers', [C.CKPT_REC_SIGINFO]: 'queued',
  [C.CKPT_REC_THREAD]: 'thread',
  [C.CKPT_REC_PIPE]: 'pipe', [C.CKPT_REC_EVENTFD]: 'eventfd', [C.CKPT_REC_TIMERFD]: 'timerfd', [C.CKPT_REC_SIGNALFD]: 'signalfd',
  [C.CKPT_REC_EPOLL]: 'epoll', [C.CKPT_REC_FILE_DATA]: 'fileData', [C.CKPT_REC_FOWN]: 'fown', [C.CKPT_REC_INOTIFY]: 'inotify',
  [C.CKPT_REC_FIFO]: 'fifo', [C.CKPT_REC_SYMLINK]: 'symlink',
  [C.CKPT_REC_SOCKET]: 'socket',
  [C.CKPT_REC_POSIX_TIMERS]: 'posixTimers', [C.CKPT_REC_LOCKS]: 'locks', [C.CKPT_REC_TASK]: 'task',
  [C.CKPT_REC_SYSV_SHM]: 'sysvShm', [C.CKPT_REC_GUARDS]: 'guards',
  [C.CKPT_REC_SYSV_IPC]: 'sysvIpc', [C.CKPT_REC_KEPT_MAPS]: 'keptMaps',
  [C.CKPT_REC_PARENT]: 'parent', [C.CKPT_REC_INHERIT]: 'inherit',
};

export function kindLabel(kind: number): string {
  return KIND_NAMES[kind] ?? `kind ${kind}`;
}

export const FILE_TYPE_NAMES: Readonly<Record<number, string>> = {
  [C.CKPT_FT_REGULAR]: 'regular', [C.CKPT_FT_DIRECTORY]: 'directory', [C.CKPT_FT_CHAR]: 'char device',
  [C.CKPT_FT_TERMINAL]: 'terminal', [C.CKPT_FT_PIPE]: 'pipe', [C.CKPT_FT_SOCKET]: 'socket', [C.CKPT_FT_OTHER]: 'other',
};

/** Types a restart reopens by themselves; a pipe or another object only with its record (docs/limits.md) */
export function restorable(type: number): boolean {
  return type >= C.CKPT_FT_REGULAR && type <= C.CKPT_FT_TERMINAL;
}

export const ROLE_NAMES: readonly string[] = ['memory', '[vvar]', '[vvar_vclock]', '[vdso]'];

interface KindCodec<T> {
  /** why this payload cannot be decoded, or undefined */
  check(p: Buffer, h: RecordHeader): string | undefined;
  /** the value, and how many payload bytes it took (the rest are fields added later) */
  decode(p: Buffer, h: RecordHeader): { value: T; used: number };
  encode(value: T): Buffer;
}

const tooShort = (p: Buffer, min: number, what: string) =>
  p.length < min ? `payload is ${p.length} bytes, shorter than the ${min}-byte ${what}` : undefined;

const nulAt = (p: Buffer, from: number) => p.indexOf(0, from);
/** A path ends its payload, NUL-terminated (the runtime refuses anything else) */
const unterminated = (p: Buffer) => (p.length === 0 || p[p.length - 1] !== 0 ? 'path is not NUL-terminated' : undefined);

const cString: KindCodec<string> = {
  check: unterminated,
  decode: (p) => ({ value: p.toString('utf8', 0, nulAt(p, 0)), used: nulAt(p, 0) + 1 }),
  encode: (s) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.alloc(1)]),
};

function fixedArray<L extends Layout>(count: number, size: number, layout: L, what: string): KindCodec<Struct<L>[]> {
  return {
    check: (p) => tooShort(p, count * size, what),
    decode: (p) => ({ value: readArray(p, count, size, layout), used: count * size }),
    encode: (v) => writeArray(v, size, layout),
  };
}

const processCodec: KindCodec<ProcessState> = {
  check: (p) => tooShort(p, C.CKPT_RP_SIZE, 'process record'),
  decode: (p) => ({ value: readStruct(p, 0, PROCESS), used: C.CKPT_RP_SIZE }),
  encode: (v) => structBytes(C.CKPT_RP_SIZE, PROCESS, v),
};

const registers: KindCodec<Registers> = {
  check: (p) => tooShort(p, C.CKPT_RR_SIZE, 'register record') ??
    (C.CKPT_RR_SIZE + p.readUInt32LE(C.CKPT_RR_XSAVE_SIZE) > p.length ? `xsave area of ${p.readUInt32LE(C.CKPT_RR_XSAVE_SIZE)} bytes runs past the payload` : undefined),
  decode: (p) => {
    const fixed = readStruct(p, 0, REGS);
    const gregs = Object.fromEntries(GREG_NAMES.map((n, i) => [n, p.readBigUInt64LE(C.CKPT_RR_GREGS + 8 * i)])) as Record<GregName, bigint>;
    const xsave = p.subarray(C.CKPT_RR_SIZE, C.CKPT_RR_SIZE + fixed.xsaveSize);
    return { value: { ...fixed, gregs, xsave }, used: C.CKPT_RR_SIZE + fixed.xsaveSize };
  },
  encode: (v) => {
    const out = structBytes(C.CKPT_RR_SIZE, REGS, v);
    GREG_NAMES.forEach((n, i) => out.writeBigUInt64LE(v.gregs[n], C.CKPT_RR_GREGS + 8 * i));
    return Buffer.concat([out, v.xsave]);
  },
};

const isLeader = (p: Buffer) => (p.readUInt32LE(C.CKPT_RT_FLAGS) & C.CKPT_THREAD_LEADER) !== 0;

const thread: KindCodec<ThreadState> = {
  check: (p, h) => tooShort(p, C.CKPT_RT_SIZE, 'thread record') ??
    (isLeader(p) ? undefined : registers.check(p.subarray(C.CKPT_RT_REGS), h)),
  decode: (p, h) => {
    const fixed = readStruct(p, 0, THREAD);
    if (isLeader(p)) return { value: { ...fixed, registers: null }, used: C.CKPT_RT_SIZE };
    const regs = registers.decode(p.subarray(C.CKPT_RT_REGS), h);
    return { value: { ...fixed, registers: regs.value }, used: C.CKPT_RT_REGS + regs.used };
  },
  encode: (v) => Buffer.concat([structBytes(C.CKPT_RT_SIZE, THREAD, v), v.registers ? registers.encode(v.registers) : Buffer.alloc(0)]),
};

/** The features the xsave area holds, from its software-reserved bytes; 0 when it has none */
export function xsaveFeatures(xsave: Buffer): bigint {
  if (xsave.length < FP_SW_BYTES + 16 || xsave.readUInt32LE(FP_SW_BYTES) !== FP_XSTATE_MAGIC1) return 0n;
  return xsave.readBigUInt64LE(FP_SW_BYTES + 8);
}

const MEMORY_PAGE = 4096n; // x86-64

/** Where the extents start: after the path's NUL, at the next multiple of 8; -1 without a NUL */
function extentsAt(p: Buffer): number {
  const nul = nulAt(p, C.CKPT_RG_SIZE);
  return nul < 0 ? -1 : (nul + 1 + 7) & ~7;
}

function checkExtents(p: Buffer, at: number, r: Struct<typeof REGION>, dataSize: bigint, span: string): string | undefined {
  if (at > p.length || (p.length - at) % C.CKPT_RE_SIZE !== 0) return `${span} has ${p.length - at} bytes of extents, not a whole number`;
  const pages = (r.end - r.start) / MEMORY_PAGE;
  let next = 0n, stored = 0n;
  for (const e of readArray(p.subarray(at), (p.length - at) / C.CKPT_RE_SIZE, C.CKPT_RE_SIZE, EXTENT)) {
    if (e.first < next || e.count === 0n || e.first + e.count > pages) return `${span} has an extent of ${e.count} pages at page ${e.first} out of order, empty or outside its ${pages} pages`;
    next = e.first + e.count;
    stored += e.count;
  }
  if (stored * MEMORY_PAGE !== dataSize) return `${span} has ${dataSize} bytes of data for ${stored} pages stored`;
  return undefined;
}

function checkRegion(p: Buffer, h: RecordHeader): string | undefined {
  const at = extentsAt(p);
  if (p.length <= C.CKPT_RG_SIZE || at < 0) return 'region record has no NUL-terminated path';
  const r = readStruct(p, 0, REGION);
  const hasData = (h.flags & C.CKPT_REGION_HAS_DATA) !== 0;
  const span = `region 0x${r.start.toString(16)}-0x${r.end.toString(16)}`;
  if (r.start >= r.end || r.start % MEMORY_PAGE !== 0n || r.end % MEMORY_PAGE !== 0n) return `${span} is empty or not page-aligned`;
  if (r.role >= ROLE_NAMES.length) return `${span} has unknown role ${r.role}`;
  if (hasData !== (h.dataSize !== 0n)) return `${span} has ${h.dataSize} bytes of data but is ${hasData ? '' : 'not '}flagged as having data`;
  if (hasData && r.role !== C.CKPT_ROLE_MEMORY) return `${span} (role ${r.role}) should not have data`;
  if ((h.flags & C.CKPT_REGION_BINARY) !== 0 && (h.flags & C.CKPT_REGION_FILE) === 0) return `${span} is from the relinked binary but not from a file`;
  return checkExtents(p, at, r, h.dataSize, span);
}

const region: KindCodec<Region> = {
  check: checkRegion,
  decode: (p, h) => {
    const nul = nulAt(p, C.CKPT_RG_SIZE), at = extentsAt(p);
    const value: Region = {
      ...readStruct(p, 0, REGION), path: p.toString('utf8', C.CKPT_RG_SIZE, nul),
      hasData: (h.flags & C.CKPT_REGION_HAS_DATA) !== 0, shared: (h.flags & C.CKPT_REGION_SHARED) !== 0,
      fromFile: (h.flags & C.CKPT_REGION_FILE) !== 0, fromBinary: (h.flags & C.CKPT_REGION_BINARY) !== 0,
      extents: readArray(p.subarray(at), (p.length - at) / C.CKPT_RE_SIZE, C.CKPT_RE_SIZE, EXTENT),
    };
    return { value, used: p.length };
  },
  encode: (v) => {
    const head = Buffer.concat([structBytes(C.CKPT_RG_SIZE, REGION, v), cString.encode(v.path)]);
    const padded = Buffer.concat([head, Buffer.alloc(((head.length + 7) & ~7) - head.length)]);
    return Buffer.concat([padded, writeArray(v.extents, C.CKPT_RE_SIZE, EXTENT)]);
  },
};

function checkFile(p: Buffer): string | undefined {
  const short = tooShort(p, C.CKPT_RF_SIZE, 'file record');
  if (short) return short;
  const at = p.readUInt32LE(C.CKPT_RF_PATH_AT), fd = p.readUInt32LE(C.CKPT_RF_FD), sameAs = p.readUInt32LE(C.CKPT_RF_SAME_AS);
  if (at < C.CKPT_RF_SIZE || at >= p.length) return `path offset ${at} lies outside the payload`;
  if (sameAs !== NO_FD && sameAs >= fd) return `fd ${fd} shares its open file with fd ${sameAs}, not a lower one`;
  return unterminated(p);
}

const file: KindCodec<OpenFile> = {
  check: checkFile,
  decode: (p, h) => {
    const fixed = readStruct(p, 0, FILE);
    const nul = nulAt(p, fixed.pathAt);
    const value: OpenFile = {
      ...fixed, hasTermios: (h.flags & C.CKPT_FILE_HAS_TERMIOS) !== 0,
      termios: p.subarray(C.CKPT_RF_TERMIOS, C.CKPT_RF_TERMIOS + C.CKPT_RF_TERMIOS_SIZE),
      winsize: readStruct(p, 0, WINSIZE), extra: p.subarray(C.CKPT_RF_SIZE, fixed.pathAt),
      path: p.toString('utf8', fixed.pathAt, nul),
    };
    return { value, used: nul + 1 };
  },
  encode: (v) => {
    const out = structBytes(C.CKPT_RF_SIZE, FILE, v);
    v.termios.copy(out, C.CKPT_RF_TERMIOS);
    writeStruct(out, 0, WINSIZE, v.winsize);
    return Buffer.concat([out, v.extra, cString.encode(v.path)]);
  },
};

function fixedStruct<L extends Layout>(size: number, layout: L, what: string): KindCodec<Struct<L>> {
  return {
    check: (p) => tooShort(p, size, what),
    decode: (p) => ({ value: readStruct(p, 0, layout), used: size }),
    encode: (v) => structBytes(size, layout, v),
  };
}

/** A fixed part, then `count` entries of `size` bytes, where the fixed part's field `countField` says how many */
function withEntries<L extends Layout, E extends Layout, K extends string>(
  fixed: number, layout: L, countField: string, size: number, entry: E, key: K, what: string,
): KindCodec<Struct<L> & Record<K, Struct<E>[]>> {
  const count = (p: Buffer) => Number((readStruct(p, 0, layout) as Record<string, unknown>)[countField]);
  return {
    check: (p) => tooShort(p, fixed, what) ?? tooShort(p, fixed + count(p) * size, `${what} with its ${count(p)} entries`),
    decode: (p) => {
      const value = { ...readStruct(p, 0, layout), [key]: readArray(p.subarray(fixed), count(p), size, entry) } as Struct<L> & Record<K, Struct<E>[]>;
      return { value, used: fixed + count(p) * size };
    },
    encode: (v) => Buffer.concat([structBytes(fixed, layout, v), writeArray(v[key], size, entry)]),
  };
}

/** A fixed part whose `bytes` field counts the unread bytes that follow it (a pipe's, a FIFO's) */
function withUnread<L extends Layout>(size: number, layout: L, bytesAt: number, what: string): KindCodec<Struct<L> & { unread: Buffer }> {
  return {
    check: (p) => tooShort(p, size, what) ??
      (size + p.readUInt32LE(bytesAt) > p.length ? `${p.readUInt32LE(bytesAt)} unread bytes run past the payload` : undefined),
    decode: (p) => {
      const bytes = p.readUInt32LE(bytesAt);
      return { value: { ...readStruct(p, 0, layout), unread: p.subarray(size, size + bytes) }, used: size + bytes };
    },
    encode: (v) => Buffer.concat([structBytes(size, layout, v), v.unread]),
  };
}

/** The target takes the rest of the payload, NUL-terminated */
const symlinkCodec: KindCodec<SymlinkState> = {
  check: (p) => tooShort(p, C.CKPT_RSL_SIZE + 1, 'symbolic link record') ?? unterminated(p),
  decode: (p) => ({ value: { ...readStruct(p, 0, SYMLINK), target: p.toString('utf8', C.CKPT_RSL_SIZE, nulAt(p, C.CKPT_RSL_SIZE)) }, used: p.length }),
  encode: (v) => Buffer.concat([structBytes(C.CKPT_RSL_SIZE, SYMLINK, v), cString.encode(v.target)]),
};

/** The watches, then their paths: the paths take the rest of the payload, so nothing can follow them */
function checkInotify(p: Buffer): string | undefined {
  const short = tooShort(p, C.CKPT_RIN_SIZE, 'inotify record');
  if (short) return short;
  const count = p.readUInt32LE(C.CKPT_RIN_COUNT), strings = C.CKPT_RIN_SIZE + count * C.CKPT_INOTIFY_ENTRY_SIZE;
  if (strings > p.length) return `${count} watches run past the payload`;
  for (const w of readArray(p.subarray(C.CKPT_RIN_SIZE), count, C.CKPT_INOTIFY_ENTRY_SIZE, INOTIFY_WATCH)) {
    if (w.pathAt < strings || w.pathAt >= p.length || nulAt(p, w.pathAt) < 0) return `watch ${w.wd} has no NUL-terminated path in the payload`;
  }
  return count ? unterminated(p) : undefined;
}

const inotifyCodec: KindCodec<InotifyState> = {
  check: checkInotify,
  decode: (p) => {
    const fixed = readStruct(p, 0, INOTIFY);
    const watches = readArray(p.subarray(C.CKPT_RIN_SIZE), fixed.count, C.CKPT_INOTIFY_ENTRY_SIZE, INOTIFY_WATCH)
      .map((w) => ({ ...w, path: p.toString('utf8', w.pathAt, nulAt(p, w.pathAt)) }));
    return { value: { ...fixed, watches }, used: p.length };
  },
  encode: (v) => {
    const head = Buffer.concat([structBytes(C.CKPT_RIN_SIZE, INOTIFY, v), writeArray(v.watches, C.CKPT_INOTIFY_ENTRY_SIZE, INOTIFY_WATCH)]);
    const strings = Buffer.concat(v.watches.map((w) => cString.encode(w.path)));
    return Buffer.concat([head, strings]);
  },
};

const socketCodec: KindCodec<SocketState> = {
  check: (p) => {
    const short = tooShort(p, C.CKPT_RSK_SIZE, 'socket record');
    if (short) return short;
    const at = p.readUInt32LE(C.CKPT_RSK_REFUSAL_AT);
    return at && (at < C.CKPT_RSK_SIZE || at >= p.length || nulAt(p, at) < 0) ? 'its refusal is not a NUL-terminated string in the payload' : undefined;
  },
  decode: (p) => {
    const fixed = readStruct(p, 0, SOCKET);
    const area = (at: number) => Buffer.from(p.subarray(at, at + SOCKET_ADDR_SIZE));
    const refusal = fixed.refusalAt ? p.toString('utf8', fixed.refusalAt, nulAt(p, fixed.refusalAt)) : '';
    return { value: { ...fixed, addr: area(C.CKPT_RSK_ADDR), peerAddr: area(C.CKPT_RSK_PEER_ADDR), tail: Buffer.from(p.subarray(C.CKPT_RSK_SIZE)), refusal }, used: p.length };
  },
  encode: (v) => {
    const out = structBytes(C.CKPT_RSK_SIZE, SOCKET, v);
    v.addr.copy(out, C.CKPT_RSK_ADDR);
    v.peerAddr.copy(out, C.CKPT_RSK_PEER_ADDR);
    return Buffer.concat([out, v.tail]);
  },
};

/** N entries of size bytes, N read from the payload's length */
function entries<L extends Layout>(size: number, layout: L, what: string): KindCodec<Struct<L>[]> {
  return {
    check: (p) => (p.length % size ? `${what} record of ${p.length} bytes is not a whole number of ${size}-byte entries` : undefined),
    decode: (p) => ({ value: readArray(p, p.length / size, size, layout), used: p.length }),
    encode: (v) => writeArray(v, size, layout),
  };
}

const task: KindCodec<TaskState> = {
  check: (p) => tooShort(p, C.CKPT_TK_SIZE, 'process settings record'),
  decode: (p) => {
    const name = p.subarray(C.CKPT_TK_NAME, C.CKPT_TK_NAME + TASK_NAME_SIZE);
    const nul = name.indexOf(0);
    return { value: { ...readStruct(p, 0, TASK), name: name.toString('utf8', 0, nul < 0 ? TASK_NAME_SIZE : nul) }, used: C.CKPT_TK_SIZE };
  },
  encode: (v) => {
    const out = structBytes(C.CKPT_TK_SIZE, TASK, v);
    out.write(v.name.slice(0, TASK_NAME_SIZE - 1), C.CKPT_TK_NAME, 'utf8');
    return out;
  },
};

const parent: KindCodec<ParentLink> = {
  check: (p) => tooShort(p, C.CKPT_PA_SIZE + 2, 'parent record') ?? unterminated(p),
  decode: (p) => {
    const nul = nulAt(p, C.CKPT_PA_SIZE);
    return { value: { ...readStruct(p, 0, PARENT), name: p.toString('utf8', C.CKPT_PA_SIZE, nul) }, used: nul + 1 };
  },
  encode: (v) => Buffer.concat([structBytes(C.CKPT_PA_SIZE, PARENT, v), cString.encode(v.name)]),
};

const inherit: KindCodec<Inherited> = {
  check: (p) => tooShort(p, C.CKPT_INHERIT_EXTENTS, 'inherited pages record') ??
    ((p.length - C.CKPT_INHERIT_EXTENTS) % C.CKPT_RE_SIZE ? 'inherited pages record is not a whole number of extents' : undefined),
  decode: (p) => ({
    value: { start: p.readBigUInt64LE(0), extents: readArray(p.subarray(C.CKPT_INHERIT_EXTENTS), (p.length - C.CKPT_INHERIT_EXTENTS) / C.CKPT_RE_SIZE, C.CKPT_RE_SIZE, EXTENT) },
    used: p.length,
  }),
  encode: (v) => {
    const start = Buffer.alloc(C.CKPT_INHERIT_EXTENTS);
    start.writeBigUInt64LE(v.start);
    return Buffer.concat([start, writeArray(v.extents, C.CKPT_RE_SIZE, EXTENT)]);
  },
};

export const CODECS: { readonly [K in KindName]: KindCodec<KindValues[K]> } = {
  inotify: inotifyCodec,
  pipe: withUnread(C.CKPT_RPI_SIZE, PIPE, C.CKPT_RPI_BYTES, 'pipe record'),
  fifo: withUnread(C.CKPT_RFI_SIZE, FIFO, C.CKPT_RFI_BYTES, 'FIFO record'),
  symlink: symlinkCodec,
  socket: socketCodec,
  eventfd: fixedStruct(C.CKPT_REV_SIZE, EVENTFD, 'eventfd record'),
  timerfd: fixedStruct(C.CKPT_RTF_SIZE, TIMERFD, 'timerfd record'),
  signalfd: fixedStruct(C.CKPT_RSF_SIZE, SIGNALFD, 'signalfd record'),
  epoll: withEntries(C.CKPT_REP_SIZE, EPOLL, 'count', C.CKPT_EPOLL_ENTRY_SIZE, EPOLL_ENTRY, 'entries', 'epoll record'),
  fileData: withEntries(C.CKPT_RFD_SIZE, FILE_DATA, 'extentCount', C.CKPT_FDATA_EXTENT_SIZE, FDATA_EXTENT, 'extents', 'file data record'),
  fown: fixedStruct(C.CKPT_RFO_SIZE, FOWN, 'owner record'),
  process: processCodec, registers, region, file, cwd: cString, exe: cString,
  sigactions: fixedArray(SIGNALS, SIGACTION_SIZE, SIGACTION, 'signal action record'),
  rlimits: fixedArray(C.CKPT_RLIMITS_COUNT, RLIMIT_SIZE, RLIMIT, 'resource limit record'),
  itimers: fixedArray(ITIMERS, C.CKPT_ITIMER_SIZE, ITIMER, 'interval timer record'),
  queued: siginfo, thread,
  posixTimers: entries(C.CKPT_PT_SIZE, POSIX_TIMER, 'POSIX timer'),
  locks: entries(C.CKPT_LK_SIZE, LOCK, 'lock'),
  task,
  sysvShm: entries(C.CKPT_SM_SIZE, SYSV_SEGMENT, 'System V segment'),
  sysvIpc: entries(C.CKPT_SI_SIZE, SYSV_IPC, 'System V queue or semaphore set'),
  keptMaps: entries(C.CKPT_KM_SIZE, KEPT_MAP, 'kept-file mapping'),
  guards: entries(C.CKPT_GUARD_SIZE, GUARD, 'guard page'),
  parent, inherit,
};
