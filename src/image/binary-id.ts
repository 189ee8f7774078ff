// The binary id that ties an image to the relinked binary that made it: CRC-32C of the binary's
// config block, the first CKPT_CFG_SIZE bytes of its .ckpt.config section (rt_binary_id in the
// runtime computes it over the same bytes in memory; the block is never relocated). Only the ELF
// header, the section table and the section names are read, not the whole file.
import * as C from '../contract.generated.js';
import { EI_CLASS, ELF_MAGIC, ELFCLASS64 } from '../rewriter/elf/constants.js';
import { EHDR, EHDR_SIZE, SHDR, SHDR_SIZE } from '../rewriter/elf/structs.js';
import { crc32c } from './crc32c.js';
import { readStruct } from '../lib/struct.js';
import type { ImageSource } from './read.js';

export class BinaryIdError extends Error {
  override readonly name = 'BinaryIdError';
}

/** The config block of a relinked binary; throws BinaryIdError when it has none */
export function readConfigBlock(bin: ImageSource): Buffer {
  const eh = bin.read(0, EHDR_SIZE);
  if (eh.length < EHDR_SIZE || eh.readUInt32BE(0) !== ELF_MAGIC || eh[EI_CLASS] !== ELFCLASS64) throw new BinaryIdError('not a 64-bit ELF file');
  const { shoff, shnum, shentsize, shstrndx } = readStruct(eh, 0, EHDR);
  const table = bin.read(Number(shoff), shnum * SHDR_SIZE);
  if (shnum === 0 || shentsize !== SHDR_SIZE || table.length < shnum * SHDR_SIZE || shstrndx >= shnum) {
    throw new BinaryIdError('its ELF section table is missing or malformed');
  }
  const section = (i: number) => readStruct(table, i * SHDR_SIZE, SHDR);
  const nameTable = section(shstrndx);
  const names = bin.read(Number(nameTable.offset), Number(nameTable.size));
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const end = names.indexOf(0, s.nameOffset);
    if (end < 0 || names.toString('latin1', s.nameOffset, end) !== C.CKPT_SEC_CONFIG) continue;
    const block = bin.read(Number(s.offset), C.CKPT_CFG_SIZE);
    if (Number(s.size) < C.CKPT_CFG_SIZE || block.length < C.CKPT_CFG_SIZE || block.readBigUInt64LE(C.CKPT_CFG_MAGIC) !== C.CKPT_CONFIG_MAGIC) {
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
