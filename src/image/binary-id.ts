// The binary id that ties an image to the relinked binary that made it: CRC-32C of the binary's
// config block, the first CKPT_CFG_SIZE bytes of its .ckpt.config section (rt_binary_id in the
// runtime computes it over the same bytes in memory; the block is never relocated). Only the ELF
// header, the section table and the section names are read, not the whole file.
import * as C from '../contract.generated.js';
import { crc32c } from './crc32c.js';
import type { ImageSource } from './read.js';

const EHDR_SIZE = 64;
const SHDR_SIZE = 64;

export class BinaryIdError extends Error {
  override readonly name = 'BinaryIdError';
}

/** The config block of a relinked binary; throws BinaryIdError when it has none */
export function readConfigBlock(bin: ImageSource): Buffer {
  const eh = bin.read(0, EHDR_SIZE);
  if (eh.length < EHDR_SIZE || eh.readUInt32BE(0) !== 0x7f454c46 || eh[4] !== 2) throw new BinaryIdError('not a 64-bit ELF file');
  const shoff = Number(eh.readBigUInt64LE(40)), shnum = eh.readUInt16LE(60), shstrndx = eh.readUInt16LE(62);
  const table = bin.read(shoff, shnum * SHDR_SIZE);
  if (shnum === 0 || eh.readUInt16LE(58) !== SHDR_SIZE || table.length < shnum * SHDR_SIZE || shstrndx >= shnum) {
    throw new BinaryIdError('its ELF section table is missing or malformed');
  }
  const field = (i: number, off: number) => Number(table.readBigUInt64LE(i * SHDR_SIZE + off));
  const names = bin.read(field(shstrndx, 24), field(shstrndx, 32));
  for (let i = 0; i < shnum; i++) {
    const at = table.readUInt32LE(i * SHDR_SIZE);
    const end = names.indexOf(0, at);
    if (end < 0 || names.toString('latin1', at, end) !== C.CKPT_SEC_CONFIG) continue;
    const block = bin.read(field(i, 24), C.CKPT_CFG_SIZE);
    if (field(i, 32) < C.CKPT_CFG_SIZE || block.length < C.CKPT_CFG_SIZE || block.readBigUInt64LE(C.CKPT_CFG_MAGIC) !== C.CKPT_CONFIG_MAGIC) {
      throw new BinaryIdError(`its ${C.CKPT_SEC_CONFIG} section does not hold a config block`);
    }
    return block;
  }
  throw new BinaryIdError(`not relinked by ckpt-relink (no ${C.CKPT_SEC_CONFIG} section)`);
}

/** The id an image made by this binary carries in its header (CKPT_IH_BINARY_ID) */
export function binaryId(bin: ImageSource): bigint {
  return BigInt(crc32c(readConfigBlock(bin)));
}
