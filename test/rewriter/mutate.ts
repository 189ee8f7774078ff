/**
 * Mutated and truncated ELF inputs for the rewriter's robustness tests, and a worker pool that
 * relinks them one at a time.
 *
 * A case is plain data (a truncation or byte patches over a seed file), so it can be printed in a
 * failure message, posted to a worker and replayed by hand. Cases run in worker threads because a
 * hang inside relink() is synchronous: only a watchdog on another thread can notice it and end it
 * (Worker.terminate stops even a busy loop).
 */
import fs from 'node:fs';
import { Worker, parentPort, workerData } from 'node:worker_threads';
import { RelinkError } from '../../src/errors.js';
import { fieldSize, offsetOf, type Layout } from '../../src/lib/struct.js';
import { EHDR, EHDR_SIZE, PHDR, PHDR_SIZE, SHDR, SHDR_SIZE, decodeElf } from '../../src/rewriter/elf/structs.js';
import { relink } from '../../src/rewriter/relink.js';

export type SeedName = 'glibc' | 'pie' | 'musl';

export type MutationKind =
  | 'truncate-tiny' | 'truncate-phdrs' | 'truncate-shdrs' | 'truncate-any'
  | 'flip-ehdr' | 'flip-phdrs' | 'flip-shdrs' | 'flip-shstrtab' | 'flip-anywhere'
  | 'field-ehdr' | 'field-phdr' | 'field-shdr' | 'swap-phdrs' | 'valid';

export interface Patch { at: number; bytes: number[] }

export interface MutationCase {
  index: number;
  seed: SeedName;
  kind: MutationKind;
  /** What was done, enough to redo it by hand: "phdr[2].p_align := 2^63 (0x8000000000000000)" */
  label: string;
  /** Keep only this many leading bytes of the seed */
  truncate?: number;
  patches: Patch[];
  /** The mutation leaves a correct executable: relinking must succeed and the output must behave */
  mustRelink?: boolean;
}

/** Where the tables a mutation aims at lie in a seed file (file offsets) */
interface SeedLayout {
  length: number;
  phoff: number;
  phnum: number;
  shoff: number;
  shnum: number;
  shstrtab: { offset: number; size: number };
  comment?: { offset: number; size: number };
}

function layoutOf(buf: Buffer): SeedLayout {
  const { phoff, phnum, shoff, shnum, shstrndx } = decodeElf(buf, 0, EHDR);
  const section = (i: number) => decodeElf(buf, shoff + i * SHDR_SIZE, SHDR);
  const shstrtab = section(shstrndx);
  let comment: SeedLayout['comment'];
  for (let i = 1; i < shnum; i++) {
    const s = section(i);
    const end = buf.indexOf(0, shstrtab.offset + s.nameOffset);
    if (buf.toString('latin1', shstrtab.offset + s.nameOffset, end) === '.comment') comment = { offset: s.offset, size: s.size };
  }
  return { length: buf.length, phoff, phnum, shoff, shnum, shstrtab: { offset: shstrtab.offset, size: shstrtab.size }, comment };
}

/** mulberry32: small, fast, and the same sequence on every platform */
export class Prng {
  private state: number;
  constructor(seed: number) { this.state = seed >>> 0; }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [lo, hi) */
  int(lo: number, hi: number): number { return lo + Math.floor(this.next() * (hi - lo)); }
  pick<T>(items: readonly T[]): T { return items[this.int(0, items.length)]; }
}

const hex = (n: number | bigint) => `0x${n.toString(16)}`;

function le(value: bigint, width: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < width; i++) out.push(Number((value >> BigInt(8 * i)) & 0xffn));
  return out;
}

// ---- case builders: each returns the part of a case that says what changes ----

type Change = Pick<MutationCase, 'label' | 'truncate' | 'patches' | 'mustRelink'>;

function truncation(length: number, where: string): Change {
  return { label: `truncate to ${length} bytes (${where})`, truncate: length, patches: [] };
}

/** 1 to `most` byte changes in [lo, hi): half flip one bit, half xor a random nonzero byte */
function flips(rng: Prng, seed: Buffer, lo: number, hi: number, most: number, where: string): Change {
  const patches: Patch[] = [];
  const count = rng.int(1, most + 1);
  for (let i = 0; i < count; i++) {
    const at = rng.int(lo, hi);
    const mask = rng.next() < 0.5 ? 1 << rng.int(0, 8) : rng.int(1, 256);
    patches.push({ at, bytes: [seed[at] ^ mask] });
  }
  return { label: `${where}: ${patches.map((p) => `[${hex(p.at)}] ${hex(seed[p.at])}->${hex(p.bytes[0])}`).join(', ')}`, patches };
}

interface Field { name: string; at: number; width: 2 | 4 | 8 }

/** Field `name` of the struct `layout` at file offset `base`, labelled as the ELF spec names it */
function elfField(label: string, layout: Layout, base: number, name: string): Field {
  const type = layout.find((f) => f[0] === name)![2];
  return { name: label, at: base + offsetOf(layout, name), width: fieldSize(type) as Field['width'] };
}

/** The boundary values of the issue, each cut to the field's width */
function boundaryValues(fileLength: number): Array<[string, bigint]> {
  return [
    ['0', 0n], ['1', 1n], ['0xffff', 0xffffn], ['0xffffffff', 0xffffffffn], ['2^63', 1n << 63n],
    ['file length', BigInt(fileLength)], ['file length+1', BigInt(fileLength + 1)],
  ];
}

function setField(field: Field, valueName: string, value: bigint): Change {
  const cut = value & ((1n << BigInt(8 * field.width)) - 1n);
  const shown = cut === value ? hex(value) : `${hex(value)} cut to ${field.width} bytes = ${hex(cut)}`;
  return { label: `${field.name} := ${valueName} (${shown})`, patches: [{ at: field.at, bytes: le(cut, field.width) }] };
}

function ehdrFields(): Field[] {
  return [
    elfField('e_phoff', EHDR, 0, 'phoff'), elfField('e_shoff', EHDR, 0, 'shoff'),
    elfField('e_phnum', EHDR, 0, 'phnum'), elfField('e_shnum', EHDR, 0, 'shnum'), elfField('e_shstrndx', EHDR, 0, 'shstrndx'),
  ];
}

function phdrFields(l: SeedLayout, i: number): Field[] {
  const at = l.phoff + i * PHDR_SIZE;
  return ['offset', 'vaddr', 'filesz', 'memsz', 'align'].map((f) => elfField(`phdr[${i}].p_${f}`, PHDR, at, f));
}

function shdrFields(l: SeedLayout, i: number): Field[] {
  const at = l.shoff + i * SHDR_SIZE;
  return [
    elfField(`shdr[${i}].sh_name`, SHDR, at, 'nameOffset'), elfField(`shdr[${i}].sh_offset`, SHDR, at, 'offset'),
    elfField(`shdr[${i}].sh_size`, SHDR, at, 'size'),
  ];
}

function swapPhdrs(rng: Prng, seed: Buffer, l: SeedLayout): Change {
  const i = rng.int(0, l.phnum);
  const j = (i + rng.int(1, l.phnum)) % l.phnum;
  const entry = (k: number) => [...seed.subarray(l.phoff + k * PHDR_SIZE, l.phoff + (k + 1) * PHDR_SIZE)];
  return {
    label: `swap phdr[${i}] and phdr[${j}]`,
    patches: [{ at: l.phoff + i * PHDR_SIZE, bytes: entry(j) }, { at: l.phoff + j * PHDR_SIZE, bytes: entry(i) }],
  };
}

/** Changes the kernel and the rewriter ignore: the output must still print hello */
function validChanges(seed: Buffer, l: SeedLayout): Change[] {
  const out: Change[] = [{ label: 'unchanged', patches: [] }];
  out.push({ label: 'e_ident padding [9..15] := 0x5a', patches: [{ at: 9, bytes: Array(7).fill(0x5a) }] });
  out.push(setField(elfField('e_flags', EHDR, 0, 'flags'), 'arbitrary', 0x12345678n));
  if (l.comment && l.comment.size > 0) {
    const at = l.comment.offset;
    out.push({ label: `.comment byte [${hex(at)}] ${hex(seed[at])}->0x21`, patches: [{ at, bytes: [0x21] }] });
  }
  return out.map((c) => ({ ...c, mustRelink: true }));
}

/** Per seed, how many random cases of each kind. glibc and pie relink ~20x slower than musl, so
 * the kinds that mostly leave a relinkable file lean on musl. */
const RANDOM_PLAN: Record<Exclude<MutationKind, 'truncate-tiny' | 'field-ehdr' | 'field-phdr' | 'field-shdr' | 'valid'>, Record<SeedName, number>> = {
  'truncate-phdrs': { glibc: 40, pie: 40, musl: 40 },
  'truncate-shdrs': { glibc: 40, pie: 40, musl: 40 },
  'truncate-any': { glibc: 30, pie: 30, musl: 30 },
  'flip-ehdr': { glibc: 50, pie: 50, musl: 80 },
  'flip-phdrs': { glibc: 40, pie: 40, musl: 70 },
  'flip-shdrs': { glibc: 30, pie: 30, musl: 90 },
  'flip-shstrtab': { glibc: 8, pie: 8, musl: 44 },
  'flip-anywhere': { glibc: 8, pie: 8, musl: 104 },
  'swap-phdrs': { glibc: 10, pie: 10, musl: 10 },
};

function randomChange(kind: keyof typeof RANDOM_PLAN, rng: Prng, seed: Buffer, l: SeedLayout): Change {
  const phEnd = l.phoff + l.phnum * PHDR_SIZE;
  const shEnd = l.shoff + l.shnum * SHDR_SIZE;
  switch (kind) {
    case 'truncate-phdrs': return truncation(rng.int(l.phoff, phEnd), 'inside the program header table');
    case 'truncate-shdrs': return truncation(rng.int(l.shoff, shEnd), 'inside the section header table');
    case 'truncate-any': return truncation(rng.int(0, l.length), 'anywhere');
    case 'flip-ehdr': return flips(rng, seed, 0, EHDR_SIZE, 3, 'ELF header');
    case 'flip-phdrs': return flips(rng, seed, l.phoff, phEnd, 3, 'program header table');
    case 'flip-shdrs': return flips(rng, seed, l.shoff, shEnd, 3, 'section header table');
    case 'flip-shstrtab': return flips(rng, seed, l.shstrtab.offset, l.shstrtab.offset + l.shstrtab.size, 3, '.shstrtab');
    case 'flip-anywhere': return flips(rng, seed, 0, l.length, 8, 'anywhere');
    case 'swap-phdrs': return swapPhdrs(rng, seed, l);
  }
}

/** Every case, in a fixed order decided by `prngSeed` and the seed files alone */
export function generateCases(seeds: Record<SeedName, Buffer>, prngSeed: number): MutationCase[] {
  const rng = new Prng(prngSeed);
  const cases: MutationCase[] = [];
  const add = (seed: SeedName, kind: MutationKind, c: Change) => cases.push({ index: cases.length, seed, kind, ...c });
  const names = Object.keys(seeds) as SeedName[];
  const layouts = Object.fromEntries(names.map((n) => [n, layoutOf(seeds[n])])) as Record<SeedName, SeedLayout>;

  for (let n = 0; n <= EHDR_SIZE; n++) add('musl', 'truncate-tiny', truncation(n, n < EHDR_SIZE ? 'inside the ELF header' : 'just the ELF header'));
  for (const seed of names.filter((n) => n !== 'musl')) {
    for (let k = 0; k < 10; k++) { const n = rng.int(0, EHDR_SIZE + 1); add(seed, 'truncate-tiny', truncation(n, 'within the first 64 bytes')); }
  }
  for (const seed of names) {
    const l = layouts[seed];
    for (const [vn, v] of boundaryValues(l.length)) {
      for (const f of ehdrFields()) add(seed, 'field-ehdr', setField(f, vn, v));
      for (const f of phdrFields(l, rng.int(0, l.phnum))) add(seed, 'field-phdr', setField(f, vn, v));
      for (const f of shdrFields(l, rng.int(1, l.shnum))) add(seed, 'field-shdr', setField(f, vn, v));
    }
    for (const c of validChanges(seeds[seed], l)) add(seed, 'valid', c);
  }
  for (const kind of Object.keys(RANDOM_PLAN) as Array<keyof typeof RANDOM_PLAN>) {
    for (const seed of names) {
      for (let k = 0; k < RANDOM_PLAN[kind][seed]; k++) add(seed, kind, randomChange(kind, rng, seeds[seed], layouts[seed]));
    }
  }
  return cases;
}

export function applyCase(seed: Buffer, c: MutationCase): Buffer {
  const out = Buffer.from(seed.subarray(0, c.truncate ?? seed.length));
  for (const p of c.patches) Buffer.from(p.bytes).copy(out, p.at);
  return out;
}

export function describeCase(c: MutationCase): string {
  return `#${c.index} ${c.seed}/hello ${c.kind}: ${c.label}`;
}

// ---- relinking cases on worker threads ----

/** Protocol between the pool (main thread) and a worker: one request, one answer, in turn. */
interface RelinkRequest { case: MutationCase; outputPath: string }

export type RelinkOutcome =
  | { outcome: 'relinked'; outputPath: string; size: number }
  | { outcome: 'rejected'; code: string; message: string }
  /** anything thrown that is not a RelinkError */
  | { outcome: 'threw'; name: string; message: string; stack: string }
  | { outcome: 'hung'; afterMs: number }
  /** the worker itself died: an error escaped relink()'s promise, or the process was told to exit */
  | { outcome: 'worker-died'; message: string };

/** Worker side: answers requests until the pool terminates it. Started by RelinkPool. */
export function serveRelinkRequests(): void {
  const seedPaths = workerData as Record<SeedName, string>;
  const seeds = new Map<SeedName, Buffer>();
  const seedBytes = (n: SeedName) => seeds.get(n) ?? seeds.set(n, fs.readFileSync(seedPaths[n])).get(n)!;
  parentPort!.on('message', async (req: RelinkRequest) => {
    parentPort!.postMessage(await relinkOne(applyCase(seedBytes(req.case.seed), req.case), req.outputPath));
  });
}

async function relinkOne(input: Buffer, outputPath: string): Promise<RelinkOutcome> {
  try {
    const { output } = await relink(input);
    fs.writeFileSync(outputPath, output, { mode: 0o755 });
    return { outcome: 'relinked', outputPath, size: output.length };
  } catch (e) {
    if (e instanceof RelinkError) return { outcome: 'rejected', code: e.code, message: e.message };
    const err = e instanceof Error ? e : new Error(String(e));
    return { outcome: 'threw', name: err.name, message: err.message, stack: err.stack ?? '' };
  }
}

interface Lane {
  worker: Worker;
  /** the worker has died or is dying: the next case starts a new one */
  exited: boolean;
  current?: { c: MutationCase; resolve: (o: RelinkOutcome) => void; startedAt: number };
  /** the cases this worker answered, latest last: an error escaping on a timer may come from any */
  answered: MutationCase[];
}

/**
 * Runs cases on `size` workers. A case that takes longer than `caseTimeoutMs` is answered 'hung'
 * and its worker replaced, so one hang costs one case, not the run. A worker that dies (an error
 * escaped relink() on a timer, or something exited) is charged to the case it was running, or
 * between cases to the last one it answered; the message names the earlier cases too.
 */
export class RelinkPool {
  private readonly lanes: Lane[] = [];
  private readonly watchdog: NodeJS.Timeout;
  private readonly strays: Array<[MutationCase, RelinkOutcome]> = [];
  private closing = false;

  constructor(private readonly seedPaths: Record<SeedName, string>, size: number, private readonly caseTimeoutMs: number) {
    for (let i = 0; i < size; i++) this.lanes.push(this.startLane());
    this.watchdog = setInterval(() => this.checkHangs(), 200);
  }

  /** Relinks every case; `onOutcome` runs as each answer arrives */
  async run(cases: MutationCase[], outputPathOf: (c: MutationCase) => string, onOutcome: (c: MutationCase, o: RelinkOutcome) => Promise<void>): Promise<void> {
    let next = 0;
    const pending: Array<Promise<void>> = [];
    await Promise.all(this.lanes.map(async (_, laneIndex) => {
      while (next < cases.length) {
        const c = cases[next++];
        const outcome = await this.relinkOn(laneIndex, c, outputPathOf(c));
        pending.push(onOutcome(c, outcome));
      }
    }));
    for (const [c, o] of this.strays.splice(0)) pending.push(onOutcome(c, o));
    await Promise.all(pending);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.watchdog);
    await Promise.all(this.lanes.map((l) => l.worker.terminate()));
  }

  private startLane(): Lane {
    const url = new URL(import.meta.url).href;
    const worker = new Worker(`import(${JSON.stringify(url)}).then((m) => m.serveRelinkRequests())`, { eval: true, workerData: this.seedPaths });
    const lane: Lane = { worker, exited: false, answered: [] };
    const finish = (o: RelinkOutcome) => {
      const cur = lane.current;
      lane.current = undefined;
      if (cur) lane.answered.push(cur.c);
      cur?.resolve(o);
    };
    const died = (what: string, detail: string) => {
      if (lane.exited || this.closing) return;
      lane.exited = true;
      const before = lane.answered.slice(-4).map((c) => `#${c.index}`).join(', ');
      const earlier = before ? ` (or from a case this worker answered before: ${before})` : '';
      if (lane.current) finish({ outcome: 'worker-died', message: `${what}${earlier}${detail}` });
      else if (lane.answered.length) this.strays.push([lane.answered[lane.answered.length - 1], { outcome: 'worker-died', message: `after answering, ${what}${earlier}${detail}` }]);
    };
    worker.on('message', (o: RelinkOutcome) => finish(o));
    worker.on('error', (e) => died('uncaught in worker', `: ${(e.stack ?? e.message).split('\n').slice(0, 5).join('\n      ')}`));
    worker.on('exit', (code) => died(`worker exited with code ${code}`, ''));
    return lane;
  }

  private relinkOn(laneIndex: number, c: MutationCase, outputPath: string): Promise<RelinkOutcome> {
    let lane = this.lanes[laneIndex];
    if (lane.exited) lane = this.lanes[laneIndex] = this.startLane();
    return new Promise((resolve) => {
      lane.current = { c, resolve, startedAt: Date.now() };
      lane.worker.postMessage({ case: c, outputPath } satisfies RelinkRequest);
    });
  }

  private checkHangs(): void {
    this.lanes.forEach((lane, i) => {
      const cur = lane.current;
      if (!cur || Date.now() - cur.startedAt < this.caseTimeoutMs) return;
      lane.current = undefined;
      lane.worker.removeAllListeners();
      void lane.worker.terminate();
      this.lanes[i] = this.startLane();
      cur.resolve({ outcome: 'hung', afterMs: Date.now() - cur.startedAt });
    });
  }
}
