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
  ['redirect_count', 'CKPT_CFG_REDIRECT_COUNT'],
];

/** A C program that prints, as the compiler sees them, every value TypeScript relies on */
function probeSource(): string {
  const numeric = Object.entries(C).filter(([, v]) => typeof v === 'number' || typeof v === 'bigint').map(([k]) => k);
  const strings = Object.entries(C).filter(([, v]) => typeof v === 'string').map(([k]) => k);
  return [
    '#include <stdio.h>', '#include <stddef.h>', '#include "ckpt_contract.h"', 'int main(void) {',
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

  it('is regenerated from the header, so the generated file is current', () => {
    const header = fs.readFileSync(path.join(ROOT, 'runtime/include/ckpt_contract.h'), 'utf8');
    const defined = [...header.matchAll(/^#define[ \t]+(CKPT_[A-Z0-9_]+)[ \t]+\S/gm)].map((m) => m[1])
      .filter((n) => n !== 'CKPT_CONTRACT_H' && n !== 'CKPT_CHECK_OFF');
    assert.deepEqual(Object.keys(C).sort(), defined.sort());
  });
});
