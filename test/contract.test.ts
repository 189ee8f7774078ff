// The one contract header: TypeScript (src/contract.generated.ts) and C must agree on every
// constant and on the config block's real layout as the compiler lays it out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import * as C from '../src/contract.generated.js';
import { ROOT, scratch } from './helpers.js';

const FIELDS: Array<[string, keyof typeof C]> = [
  ['magic', 'CKPT_CFG_MAGIC'], ['version', 'CKPT_CFG_VERSION'], ['flags', 'CKPT_CFG_FLAGS'],
  ['self_vaddr', 'CKPT_CFG_SELF_VADDR'], ['orig_entry', 'CKPT_CFG_ORIG_ENTRY'], ['rt_text', 'CKPT_CFG_RT_TEXT'],
  ['rt_text_size', 'CKPT_CFG_RT_TEXT_SIZE'], ['tramp', 'CKPT_CFG_TRAMP'], ['tramp_size', 'CKPT_CFG_TRAMP_SIZE'],
  ['sites', 'CKPT_CFG_SITES'], ['sites_patched', 'CKPT_CFG_SITES_PATCHED'], ['redirects', 'CKPT_CFG_REDIRECTS'],
  ['redirect_count', 'CKPT_CFG_REDIRECT_COUNT'], ['loader_phdr', 'CKPT_CFG_LOADER_PHDR'],
  ['loader_phnum', 'CKPT_CFG_LOADER_PHNUM'], ['carried_count', 'CKPT_CFG_CARRIED_COUNT'], ['carried', 'CKPT_CFG_CARRIED'],
];

/** The kernel's layouts the wire protocol carries as they are (glibc's x86-64 struct stat and
 *  struct dirent64 are the kernel's), each field with the contract constant that must equal it */
const KERNEL_LAYOUTS: Array<[string, string, keyof typeof C]> = [
  ['stat', 'st_dev', 'CKPT_SH_STAT_DEV'], ['stat', 'st_ino', 'CKPT_SH_STAT_INO'], ['stat', 'st_nlink', 'CKPT_SH_STAT_NLINK'],
  ['stat', 'st_mode', 'CKPT_SH_STAT_MODE'], ['stat', 'st_uid', 'CKPT_SH_STAT_UID'], ['stat', 'st_gid', 'CKPT_SH_STAT_GID'],
  ['stat', 'st_rdev', 'CKPT_SH_STAT_RDEV'], ['stat', 'st_size', 'CKPT_SH_STAT_SZ'], ['stat', 'st_blksize', 'CKPT_SH_STAT_BLKSIZE'],
  ['stat', 'st_blocks', 'CKPT_SH_STAT_BLOCKS'], ['stat', 'st_atim', 'CKPT_SH_STAT_ATIME'], ['stat', 'st_mtim', 'CKPT_SH_STAT_MTIME'],
  ['stat', 'st_ctim', 'CKPT_SH_STAT_CTIME'],
  ['dirent64', 'd_ino', 'CKPT_SH_DIRENT_INO'], ['dirent64', 'd_off', 'CKPT_SH_DIRENT_OFF'],
  ['dirent64', 'd_reclen', 'CKPT_SH_DIRENT_RECLEN'], ['dirent64', 'd_type', 'CKPT_SH_DIRENT_TYPE'],
  ['dirent64', 'd_name', 'CKPT_SH_DIRENT_NAME'],
];

/** A C program that prints, as the compiler sees them, every value TypeScript relies on */
function probeSource(): string {
  const numeric = Object.entries(C).filter(([, v]) => typeof v === 'number' || typeof v === 'bigint').map(([k]) => k);
  const strings = Object.entries(C).filter(([, v]) => typeof v === 'string').map(([k]) => k);
  return [
    '#define _GNU_SOURCE', '#include <stdio.h>', '#include <stddef.h>', '#include <dirent.h>', '#include <sys/stat.h>',
    '#include "ckpt_contract.h"', 'int main(void) {',
    ...KERNEL_LAYOUTS.map(([type, field]) => `printf("${type}.${field} %zu\\n", offsetof(struct ${type}, ${field}));`),
    'printf("sizeof.stat %zu\\n", sizeof(struct stat));',
    ...FIELDS.map(([f]) => `printf("offsetof.${f} %zu\\n", offsetof(struct ckpt_config, ${f}));`),
    'printf("sizeof.config %zu\\n", sizeof(struct ckpt_config));',
    'printf("sizeof.redirect %zu\\n", sizeof(struct ckpt_redirect));',
    ...numeric.map((k) => `printf("${k} %llu\\n", (unsigned long long)(${k}));`),
    ...strings.map((k) => `printf("${k} %s\\n", ${k});`),
    'return 0; }',
  ].join('\n');
}

describe('contract between the rewriter and the runtime', () => {
  let printed: Map<string, string>;

  before(async () => {
    const dir = scratch();
    fs.writeFileSync(path.join(dir, 'probe.c'), probeSource());
    await execa('gcc', ['-I', path.join(ROOT, 'runtime/include'), '-o', path.join(dir, 'probe'), path.join(dir, 'probe.c')]);
    const { stdout } = await execa(path.join(dir, 'probe'));
    printed = new Map(stdout.split('\n').map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
  });

  it('gives every constant the same value in C and in TypeScript', () => {
    for (const [name, value] of Object.entries(C)) {
      assert.equal(printed.get(name), String(value), name);
    }
  });

  it('has config block offsets that are the struct offsets the compiler uses', () => {
    for (const [field, constant] of FIELDS) assert.equal(printed.get(`offsetof.${field}`), String(C[constant]), field);
    assert.equal(printed.get('sizeof.config'), String(C.CKPT_CFG_SIZE));
    assert.equal(printed.get('sizeof.redirect'), String(C.CKPT_REDIR_SIZE));
  });

  it('describes struct stat and linux_dirent64 as the kernel lays them out', () => {
    for (const [type, field, constant] of KERNEL_LAYOUTS) assert.equal(printed.get(`${type}.${field}`), String(C[constant]), `${type}.${field}`);
    assert.equal(printed.get('sizeof.stat'), String(C.CKPT_SH_STAT_SIZE));
  });

  it('is regenerated from the header, so the generated file is current', () => {
    const header = fs.readFileSync(path.join(ROOT, 'runtime/include/ckpt_contract.h'), 'utf8');
    const defined = [...header.matchAll(/^#define[ \t]+(CKPT_[A-Z0-9_]+)[ \t]+\S/gm)].map((m) => m[1])
      .filter((n) => n !== 'CKPT_CONTRACT_H' && n !== 'CKPT_CHECK_OFF');
    assert.deepEqual(Object.keys(C).sort(), defined.sort());
  });
});
