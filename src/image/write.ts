// Encodes an image from its decoded form, the inverse of readImage: every known payload is rebuilt
// from its typed fields (plus the bytes a later version added), so a decode -> encode round trip
// gives the same bytes only when the decoder misses nothing. With `seal`, the records are laid out
// and checksummed as the runtime does it (data packed from the first page after the records), for
// tests that build images of their own. The whole image is built in memory.
import * as C from '../contract.generated.js';
import { crc32c } from './crc32c.js';
import { CODECS, FILE_HEADER, RECORD_HEADER, type RecordHeader } from './format.js';
import { writeStruct } from '../lib/struct.js';
import type { Image, ImageRecord, ImageSource } from './read.js';

const pageUp = (n: number) => Math.ceil(n / C.CKPT_IMAGE_PAGE) * C.CKPT_IMAGE_PAGE;

function encodePayload(rec: ImageRecord): Buffer {
  if (!rec.decoded) return rec.payload;
  const codec = CODECS[rec.decoded.kind] as { encode(value: unknown): Buffer };
  return Buffer.concat([codec.encode(rec.decoded.value), rec.rest]);
}

/** Record headers as the runtime would write them for these payloads: data packed after the records */
function sealedHeaders(records: ImageRecord[], payloads: Buffer[], dataStart: number): RecordHeader[] {
  let next = dataStart;
  return records.map((rec, i) => {
    const h = { ...rec.header, payloadSize: payloads[i].length, payloadCrc: crc32c(payloads[i]), dataOffset: 0n };
    if (h.dataSize > 0n) {
      h.dataOffset = BigInt(next);
      next += Number(h.dataSize);
    }
    return h;
  });
}

export function encodeImage(image: Image, src: ImageSource, opts: { seal?: boolean } = {}): Buffer {
  if (!image.header) throw new RangeError('encodeImage: the image has no file header');
  const payloads = image.records.map(encodePayload);
  const recordsEnd = payloads.reduce((at, p) => at + C.CKPT_RH_SIZE + p.length, C.CKPT_IH_SIZE);
  const headers = opts.seal ? sealedHeaders(image.records, payloads, pageUp(recordsEnd)) : image.records.map((r) => r.header);
  const size = opts.seal ? headers.reduce((n, h) => n + Number(h.dataSize), pageUp(recordsEnd)) : Number(image.header.fileSize);
  const out = Buffer.alloc(size);
  let at = C.CKPT_IH_SIZE;
  image.records.forEach((rec, i) => {
    const h = headers[i];
    if (h.dataSize > 0n) {
      const data = src.read(Number(rec.header.dataOffset), Number(h.dataSize));
      data.copy(out, Number(h.dataOffset));
      if (opts.seal) h.dataCrc = crc32c(data);
    }
    writeStruct(out, at, RECORD_HEADER, h);
    if (opts.seal) out.writeUInt32LE(crc32c(out.subarray(at, at + C.CKPT_RH_CRC)), at + C.CKPT_RH_CRC);
    payloads[i].copy(out, at + C.CKPT_RH_SIZE);
    at += C.CKPT_RH_SIZE + payloads[i].length;
  });
  const header = opts.seal ? { ...image.header, records: image.records.length, fileSize: BigInt(size) } : image.header;
  writeStruct(out, 0, FILE_HEADER, header);
  if (opts.seal) out.writeUInt32LE(crc32c(out.subarray(0, C.CKPT_IH_CRC)), C.CKPT_IH_CRC);
  return out;
}
