// docs/image-format.md is the spec of the image format, and its tables must say what the code does:
// each table row (offset, size, field) is held to the contract constant of that name and to the
// struct layouts in src/image/format.ts, every field of a layout has its row, and the rows cover
// the fixed part of the record without a gap (bytes no field names are rows called `padding`).
// The record kinds and the array records' counts and entry sizes are held to the code too.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import * as C from '../../src/contract.generated.js';
import {
  EPOLL, EVENTFD, EXTENT, FIFO, KEPT_MAP, FILE, FILE_DATA, FILE_HEADER, FOWN, INOTIFY, PIPE, SIGNALFD, TIMERFD, GREG_NAMES, ITIMER_NAMES, KIND_NAMES,
  LOCK, PARENT, POSIX_TIMER, PROCESS, SYSV_SEGMENT, RECORD_HEADER, REGION, REGS, RLIMIT_SIZE, SIGACTION_SIZE, SIGNALS, SYMLINK, SYSV_IPC, TASK, TASK_NAME_SIZE,
  SOCKET, SOCKET_ADDR_SIZE, THREAD, WINSIZE,
} from '../../src/image/format.js';
import { fieldSize, type Layout } from '../../src/lib/struct.js';
import { ROOT } from '../helpers.js';

interface Field { offset: number; size: number }
interface Row extends Field { name: string }
interface DocStruct { heading: string; prefix: string; size: number; rows: Row[] }

const contract = C as unknown as Record<string, unknown>;

/** The `###` sections of the doc, each with its heading and its text */
function sections(doc: string): Array<{ heading: string; body: string }> {
  return doc.split(/^### /m).slice(1).map((part) => {
    const nl = part.indexOf('\n');
    return { heading: part.slice(0, nl), body: part.slice(nl + 1) };
  });
}

/** Sections whose heading names a constant prefix and a size: "(`CKPT_RP_*`, 120 bytes" */
function documentedStructs(doc: string): DocStruct[] {
  return sections(doc).flatMap(({ heading, body }) => {
    const m = /\(`CKPT_([A-Z]+)_\*`, (\d+) bytes/.exec(heading);
    if (!m) return [];
    const rows = [...body.matchAll(/^\| (\d+) \| (\d+) \| (\w+) \|/gm)].map((r) => ({ offset: Number(r[1]), size: Number(r[2]), name: r[3] }));
    return [{ heading, prefix: m[1], size: Number(m[2]), rows }];
  });
}

const fieldsOf = (layout: Layout): Field[] => layout.map(([, offset, type]) => ({ offset, size: fieldSize(type) }));
/** A nested struct as one field */
const spanOf = (layout: Layout): Field => {
  const fields = fieldsOf(layout);
  const start = Math.min(...fields.map((f) => f.offset));
  return { offset: start, size: Math.max(...fields.map((f) => f.offset + f.size)) - start };
};

/** What the TypeScript side reads and writes, by constant prefix; byte areas are given as spans */
const CODE_FIELDS: Record<string, Field[]> = {
  IH: fieldsOf(FILE_HEADER),
  RH: fieldsOf(RECORD_HEADER),
  RP: fieldsOf(PROCESS),
  RR: [...fieldsOf(REGS), { offset: C.CKPT_RR_GREGS, size: GREG_NAMES.length * 8 }],
  RG: fieldsOf(REGION),
  RT: fieldsOf(THREAD),
  RE: fieldsOf(EXTENT),
  RF: [...fieldsOf(FILE), { offset: C.CKPT_RF_TERMIOS, size: C.CKPT_RF_TERMIOS_SIZE }, spanOf(WINSIZE)],
  RPI: fieldsOf(PIPE),
  REV: fieldsOf(EVENTFD),
  RTF: fieldsOf(TIMERFD),
  RSF: fieldsOf(SIGNALFD),
  REP: fieldsOf(EPOLL),
  RFD: fieldsOf(FILE_DATA),
  RFO: fieldsOf(FOWN),
  RIN: fieldsOf(INOTIFY),
  RFI: fieldsOf(FIFO),
  RSL: fieldsOf(SYMLINK),
  RSK: [...fieldsOf(SOCKET), { offset: C.CKPT_RSK_ADDR, size: SOCKET_ADDR_SIZE }, { offset: C.CKPT_RSK_PEER_ADDR, size: SOCKET_ADDR_SIZE }],
  PT: fieldsOf(POSIX_TIMER),
  LK: fieldsOf(LOCK),
  SM: fieldsOf(SYSV_SEGMENT),
  SI: fieldsOf(SYSV_IPC),
  KM: fieldsOf(KEPT_MAP),
  TK: [{ offset: C.CKPT_TK_NAME, size: TASK_NAME_SIZE }, ...fieldsOf(TASK)],
  PA: fieldsOf(PARENT),
};

/** Bytes between fields that no constant names (the runtime zeroes them) */
const PADDING = 'padding';
const named = (rows: Row[]) => rows.filter((r) => r.name !== PADDING);

const byOffset = (fields: Field[]) => fields.map(({ offset, size }) => ({ offset, size })).sort((a, b) => a.offset - b.offset);

describe('docs/image-format.md', () => {
  const doc = fs.readFileSync(path.join(ROOT, 'docs/image-format.md'), 'utf8');
  const structs = documentedStructs(doc);

  it('has a table for the file header, the record header and every fixed-layout record', () => {
    assert.deepEqual(structs.map((s) => s.prefix).sort(), Object.keys(CODE_FIELDS).sort());
  });

  for (const prefix of Object.keys(CODE_FIELDS)) {
    describe(`the CKPT_${prefix}_* table`, () => {
      const table = () => {
        const s = structs.find((x) => x.prefix === prefix);
        assert.ok(s, `no section headed (\`CKPT_${prefix}_*\`, N bytes)`);
        return s;
      };

      it('gives the size of the fixed part that the contract gives', () => {
        assert.equal(table().size, contract[`CKPT_${prefix}_SIZE`]);
      });

      it('names each field by its contract constant, at the constant\'s offset', () => {
        for (const row of named(table().rows)) {
          const name = `CKPT_${prefix}_${row.name.toUpperCase()}`;
          assert.equal(contract[name], row.offset, `${table().heading}: ${row.name} at ${row.offset}, but ${name} is ${contract[name]}`);
        }
      });

      it('has one row per field of the TypeScript layout, at its offset and of its size', () => {
        assert.deepEqual(byOffset(named(table().rows)), byOffset(CODE_FIELDS[prefix]));
      });

      it('covers the fixed part without gaps or overlaps', () => {
        let end = 0;
        for (const row of byOffset(table().rows)) {
          assert.equal(row.offset, end, `${table().heading}: a field at ${row.offset}, the one before ends at ${end}`);
          end = row.offset + row.size;
        }
        assert.equal(end, table().size);
      });
    });
  }

  it('numbers the record kinds as the code does', () => {
    const kinds = sections(doc).flatMap(({ heading }) => /^(\d+): /.exec(heading)?.[1] ?? []).map(Number);
    assert.deepEqual(kinds, Object.keys(KIND_NAMES).map(Number));
  });

  it('gives the array records the counts and entry sizes the code uses', () => {
    const arrays = Object.fromEntries(sections(doc).flatMap(({ heading }) => {
      const m = /^(\d+): .*\((\w+) × (\d+) bytes\)/.exec(heading);
      return m ? [[KIND_NAMES[Number(m[1])], `${m[2]} × ${m[3]}`]] : [];
    }));
    assert.deepEqual(arrays, {
      sigactions: `${SIGNALS} × ${SIGACTION_SIZE}`,
      rlimits: `${C.CKPT_RLIMITS_COUNT} × ${RLIMIT_SIZE}`,
      itimers: `${ITIMER_NAMES.length} × ${C.CKPT_ITIMER_SIZE}`,
      queued: `N × ${C.CKPT_SIGINFO_SIZE}`,
      posixTimers: `N × ${C.CKPT_PT_SIZE}`,
      locks: `N × ${C.CKPT_LK_SIZE}`,
      sysvShm: `N × ${C.CKPT_SM_SIZE}`,
      guards: `N × ${C.CKPT_GUARD_SIZE}`,
      sysvIpc: `N × ${C.CKPT_SI_SIZE}`,
      keptMaps: `N × ${C.CKPT_KM_SIZE}`,
    });
  });
});
