// Reads a checkpoint image (docs/image-format.md) from a Buffer or a file. The file header, record
// headers and payloads are read one at a time and the data area is checksummed in chunks, so a
// multi-GiB image is never in memory at once. Nothing here throws on a malformed image: readImage
// decodes what it can and lists every problem as one line, and checkData adds the checksums of the
// memory contents. Only a file that cannot be opened at all throws (ImageReadError).
import fs from 'node:fs';
import * as C from '../contract.generated.js';
import { crc32c } from './crc32c.js';
import {
  CODECS, FILE_HEADER, KIND_NAMES, RECORD_HEADER, kindLabel, restorable,
  type FileHeader, type KindName, type KindValues, type RecordHeader,
} from './format.js';
import { readStruct } from '../lib/struct.js';

export interface ImageSource {
  readonly size: number;
  /** `length` bytes at `offset` (fewer only past the end of the file) */
  read(offset: number, length: number): Buffer;
  close(): void;
}

export class ImageReadError extends Error {
  override readonly name = 'ImageReadError';
}

export function bufferSource(buf: Buffer): ImageSource {
  return { size: buf.length, read: (offset, length) => buf.subarray(offset, offset + length), close: () => {} };
}

export function fileSource(file: string): ImageSource {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ImageReadError(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message);
  }
  const st = fs.fstatSync(fd);
  if (!st.isFile()) {
    fs.closeSync(fd);
    throw new ImageReadError('not a regular file');
  }
  return {
    size: st.size,
    read(offset, length) {
      const buf = Buffer.allocUnsafe(length);
      let got = 0;
      for (let n = -1; got < length && n !== 0; got += n) n = fs.readSync(fd, buf, got, length - got, offset + got);
      return buf.subarray(0, got);
    },
    close: () => fs.closeSync(fd),
  };
}

export type DecodedRecord = { [K in KindName]: { kind: K; value: KindValues[K] } }[KindName];
/** The records that complete a descriptor's file record (format.ts, OBJECT_KINDS) */
export type ObjectRecord = Extract<DecodedRecord, { kind: 'pipe' | 'eventfd' | 'timerfd' | 'signalfd' | 'epoll' | 'fileData' | 'fown' | 'inotify' | 'fifo' | 'symlink' | 'socket' }>;

export interface ImageRecord {
  index: number;
  /** file offset of the record header */
  at: number;
  header: RecordHeader;
  payload: Buffer;
  /** absent for unknown kinds, and for payloads that fail their checksum or cannot be decoded */
  decoded?: DecodedRecord;
  /** payload bytes after the decoded part: fields added by a later version, kept as they are */
  rest: Buffer;
}

export interface Image {
  /** bytes in the file */
  size: number;
  /** absent when the file is shorter than a header */
  header?: FileHeader;
  records: ImageRecord[];
  process?: KindValues['process'];
  registers?: KindValues['registers'];
  sigactions?: KindValues['sigactions'];
  regions: { region: KindValues['region']; record: ImageRecord }[];
  files: KindValues['file'][];
  /** kernel objects and kept contents that complete file records (OBJECT_KINDS), in image order */
  objects: ObjectRecord[];
  cwd?: string;
  exe?: string;
  rlimits?: KindValues['rlimits'];
  itimers?: KindValues['itimers'];
  /** signals queued at the checkpoint, in the order a restart queues them again */
  queued?: KindValues['queued'];
  /** one per thread, the leader's (CKPT_THREAD_LEADER) among them; none in images from before threads */
  threads: KindValues['thread'][];
  posixTimers?: KindValues['posixTimers'];
  locks?: KindValues['locks'];
  task?: KindValues['task'];
  sysvShm?: KindValues['sysvShm'];
  sysvIpc?: KindValues['sysvIpc'];
  keptMaps?: KindValues['keptMaps'];
  guards?: KindValues['guards'];
  /** an incremental image's parent link (docs/image-format.md, "Incremental images") */
  parent?: KindValues['parent'];
  /** the pages each region takes from the parent, by region start */
  inherited: KindValues['inherit'][];
  /** records of kinds this version does not know: skipped, kept raw */
  unknown: ImageRecord[];
  /** every problem found while reading, one line each; empty for a sound image */
  problems: string[];
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;
const SINGLETONS: readonly KindName[] = ['process', 'registers', 'sigactions', 'cwd', 'exe', 'rlimits', 'itimers', 'queued', 'posixTimers', 'locks', 'task', 'sysvShm', 'guards', 'sysvIpc', 'keptMaps', 'parent'];
const REQUIRED: readonly KindName[] = ['process', 'registers', 'sigactions'];

export function recordLabel(rec: ImageRecord): string {
  return `record ${rec.index} (${kindLabel(rec.header.kind)}) at offset ${rec.at}`;
}

/** `what` is the subject with its verb: "payload is", "memory contents are" */
function checksum(what: string, stored: number, computed: number): string {
  return `${what} corrupt (checksum ${hex(stored)}, computed ${hex(computed)})`;
}

/** Decodes the file header and every record; never throws on a malformed image */
export function readImage(src: ImageSource): Image {
  const image: Image = { size: src.size, records: [], regions: [], files: [], threads: [], objects: [], inherited: [], unknown: [], problems: [] };
  if (src.size < C.CKPT_IH_SIZE) {
    image.problems.push(`truncated: ${src.size} bytes, shorter than the ${C.CKPT_IH_SIZE}-byte file header`);
    return image;
  }
  const bytes = src.read(0, C.CKPT_IH_SIZE);
  const h = readStruct(bytes, 0, FILE_HEADER);
  image.header = h;
  if (h.magic !== C.CKPT_IMAGE_MAGIC) {
    image.problems.push(`not a checkpoint image (bad magic ${hex(h.magic)})`);
    return image;
  }
  const crc = crc32c(bytes.subarray(0, C.CKPT_IH_CRC));
  if (crc !== h.crc) {
    // its record count and size cannot be trusted: a walk by them would report the damage again
    // as records that are not there (or not report records that are), so it ends here, as the
    // runtime's check does
    image.problems.push(checksum('file header is', h.crc, crc));
    return image;
  }
  if (h.version !== C.CKPT_IMAGE_VERSION) image.problems.push(`format version ${h.version} is not supported (this reader knows version ${C.CKPT_IMAGE_VERSION})`);
  if (h.fileSize !== BigInt(src.size)) image.problems.push(`file is ${src.size} bytes but its header says ${h.fileSize}: truncated or extended`);
  const known = h.version === C.CKPT_IMAGE_VERSION;
  const recordsEnd = readRecords(src, image, known);
  // only a walk that reached the last record says where the records end
  if (image.records.length === h.records) checkPadding(src, image, recordsEnd);
  checkDataPlacement(image, recordsEnd);
  checkRegionsDisjoint(image);
  for (const kind of known ? REQUIRED : []) if (!image.records.some((r) => r.decoded?.kind === kind)) image.problems.push(`the image has no valid ${kind} record`);
  return image;
}

/** Walks the records; returns where they end. A bad record header ends the walk: what follows cannot be located. */
function readRecords(src: ImageSource, image: Image, decode: boolean): number {
  let at = C.CKPT_IH_SIZE;
  const count = image.header!.records;
  for (let index = 0; index < count; index++) {
    if (at + C.CKPT_RH_SIZE > src.size) {
      image.problems.push(`record ${index} at offset ${at}: truncated (the file ends at ${src.size}, the header lists ${count} records)`);
      return at;
    }
    const bytes = src.read(at, C.CKPT_RH_SIZE);
    const header = readStruct(bytes, 0, RECORD_HEADER);
    const crc = crc32c(bytes.subarray(0, C.CKPT_RH_CRC));
    if (crc !== header.crc) {
      image.problems.push(`record ${index} at offset ${at}: ${checksum('record header is', header.crc, crc)}; the records after it cannot be located`);
      return at;
    }
    const rec: ImageRecord = { index, at, header, payload: Buffer.alloc(0), rest: Buffer.alloc(0) };
    if (at + C.CKPT_RH_SIZE + header.payloadSize > src.size) {
      image.problems.push(`${recordLabel(rec)}: its ${header.payloadSize}-byte payload runs past the end of the file`);
      return at;
    }
    rec.payload = rec.rest = src.read(at + C.CKPT_RH_SIZE, header.payloadSize);
    image.records.push(rec);
    const payloadCrc = crc32c(rec.payload);
    if (payloadCrc !== header.payloadCrc) image.problems.push(`${recordLabel(rec)}: ${checksum('payload is', header.payloadCrc, payloadCrc)}`);
    else if (decode) decodeRecord(image, rec);
    checkDataBounds(image, rec);
    at += C.CKPT_RH_SIZE + header.payloadSize;
  }
  return at;
}

function decodeRecord(image: Image, rec: ImageRecord): void {
  const kind = KIND_NAMES[rec.header.kind];
  if (kind === undefined) {
    image.unknown.push(rec);
    return;
  }
  const codec = CODECS[kind];
  const why = codec.check(rec.payload, rec.header);
  if (why) {
    image.problems.push(`${recordLabel(rec)}: ${why}`);
    return;
  }
  if (SINGLETONS.includes(kind) && image.records.some((r) => r.decoded?.kind === kind)) {
    image.problems.push(`${recordLabel(rec)}: a second ${kind} record`);
    return;
  }
  const { value, used } = codec.decode(rec.payload, rec.header);
  rec.decoded = { kind, value } as DecodedRecord;
  rec.rest = rec.payload.subarray(used);
  attach(image, rec, rec.decoded);
}

function attach(image: Image, rec: ImageRecord, d: DecodedRecord): void {
  switch (d.kind) {
    case 'region': image.regions.push({ region: d.value, record: rec }); break;
    case 'file': image.files.push(d.value); break;
    case 'process': image.process = d.value; break;
    case 'registers': image.registers = d.value; break;
    case 'sigactions': image.sigactions = d.value; break;
    case 'cwd': image.cwd = d.value; break;
    case 'exe': image.exe = d.value; break;
    case 'rlimits': image.rlimits = d.value; break;
    case 'itimers': image.itimers = d.value; break;
    case 'queued': image.queued = d.value; break;
    case 'thread': image.threads.push(d.value); break;
    case 'posixTimers': image.posixTimers = d.value; break;
    case 'locks': image.locks = d.value; break;
    case 'task': image.task = d.value; break;
    case 'sysvShm': image.sysvShm = d.value; break;
    case 'sysvIpc': image.sysvIpc = d.value; break;
    case 'keptMaps': image.keptMaps = d.value; break;
    case 'guards': image.guards = d.value; break;
    case 'parent': image.parent = d.value; break;
    case 'inherit': image.inherited.push(d.value); break;
    default: image.objects.push(d);
  }
}

/** The object records of one descriptor: a pipe's by the inode its path names, the others' by fd */
export function objectsOf(image: Image, f: KindValues['file']): ObjectRecord[] {
  const inode = /^pipe:\[(\d+)\]$/.exec(f.path)?.[1];
  return image.objects.filter((o) => (o.kind === 'pipe' ? inode !== undefined && o.value.inode === BigInt(inode) : o.value.fd === f.fd));
}

/** Whether a restart makes the descriptor again: by path, as a terminal, or from an object the image holds */
export function fileRestorable(image: Image, f: KindValues['file']): boolean {
  const made = objectsOf(image, f).some((o) => o.kind !== 'fown');
  if (f.type === C.CKPT_FT_REGULAR) return made || !f.path.endsWith(' (deleted)');
  return restorable(f.type) || made;
}

function checkDataBounds(image: Image, rec: ImageRecord): void {
  const { dataOffset, dataSize } = rec.header;
  const fault =
    dataSize === 0n ? (dataOffset !== 0n ? `data offset ${dataOffset} given without data` : undefined)
    : dataOffset % BigInt(C.CKPT_IMAGE_PAGE) !== 0n ? `data offset ${dataOffset} is not page-aligned`
    : dataOffset + dataSize > BigInt(image.size) ? `its ${dataSize} bytes of data at offset ${dataOffset} run past the end of the file`
    : undefined;
  if (fault) image.problems.push(`${recordLabel(rec)}: ${fault}`);
}

/** The bytes between the records and the first page of contents are zero: no checksum covers them */
function checkPadding(src: ImageSource, image: Image, recordsEnd: number): void {
  const dataStart = Math.min(Math.ceil(recordsEnd / C.CKPT_IMAGE_PAGE) * C.CKPT_IMAGE_PAGE, src.size);
  if (dataStart <= recordsEnd) return;
  const at = src.read(recordsEnd, dataStart - recordsEnd).findIndex((b) => b !== 0);
  if (at >= 0) image.problems.push(`byte ${recordsEnd + at}, between the records and the memory contents, is not zero (records dropped from the count, or damage)`);
}

/** Data lies after the records, and no two records' data overlap */
function checkDataPlacement(image: Image, recordsEnd: number): void {
  const withData = image.records.filter((r) => r.header.dataSize > 0n).sort((a, b) => (a.header.dataOffset < b.header.dataOffset ? -1 : 1));
  let prev: ImageRecord | undefined;
  for (const rec of withData) {
    if (rec.header.dataOffset < BigInt(recordsEnd)) image.problems.push(`${recordLabel(rec)}: its data at offset ${rec.header.dataOffset} overlaps the records, which end at ${recordsEnd}`);
    else if (prev && rec.header.dataOffset < prev.header.dataOffset + prev.header.dataSize) image.problems.push(`${recordLabel(rec)}: its data overlaps the data of record ${prev.index}`);
    prev = rec;
  }
}

function checkRegionsDisjoint(image: Image): void {
  const sorted = [...image.regions].sort((a, b) => (a.region.start < b.region.start ? -1 : 1));
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.region.start < a.region.end) {
      image.problems.push(`${recordLabel(b.record)}: region ${hex(b.region.start)}-${hex(b.region.end)} overlaps region ${hex(a.region.start)}-${hex(a.region.end)}`);
    }
  }
}

const DATA_CHUNK = 16 << 20;

/** Checksums every record's data (the memory contents), streamed in chunks; one line per mismatch */
export function checkData(src: ImageSource, image: Image): string[] {
  const problems: string[] = [];
  for (const rec of image.records) {
    const { dataOffset, dataSize, dataCrc } = rec.header;
    if (dataSize === 0n || dataOffset + dataSize > BigInt(src.size)) continue;
    let crc = 0;
    const start = Number(dataOffset), end = start + Number(dataSize);
    for (let off = start; off < end; off += DATA_CHUNK) crc = crc32c(src.read(off, Math.min(DATA_CHUNK, end - off)), crc);
    if (crc !== dataCrc) problems.push(`${recordLabel(rec)}: ${checksum('memory contents are', dataCrc, crc)}`);
  }
  return problems;
}

/** readImage, then (unless `data` is false) checkData: every problem, one line each */
export function checkImage(src: ImageSource, opts: { data?: boolean } = {}): { image: Image; problems: string[] } {
  const image = readImage(src);
  const problems = opts.data === false ? image.problems : [...image.problems, ...checkData(src, image)];
  return { image, problems };
}
