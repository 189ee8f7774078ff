// The steps fixture (test/fixtures/steps.c): a computation that writes a line per chunk and runs
// until the test writes a file named "finish" in its directory. Tests act on it after its Nth line,
// and compare what a checkpointed run wrote with an uninterrupted run of as many chunks.
import fs from 'node:fs';
import path from 'node:path';
import { fileSource, readImage } from '../src/image/read.js';
import { waitFor, type Flavour, fixture, runProgram } from './helpers.js';

/**
 * Steps per chunk: tens of milliseconds of work, so that a checkpoint usually lands inside one.
 * CKPT_TEST_CHUNK sets another, to see the tests hold for a machine many times faster or slower.
 */
export const CHUNK = process.env.CKPT_TEST_CHUNK ?? '20000000';

export const stepsProgram = (flavour: Flavour = 'glibc') => fixture('steps', flavour);

/** Chunk lines in `out` so far */
export function chunkLines(out: string): number {
  const text = fs.existsSync(out) ? fs.readFileSync(out, 'utf8') : '';
  return text.match(/^chunk \d+ /gm)?.length ?? 0;
}

/** Waits until `out` holds at least `n` chunk lines: the program is running, mid-computation */
export function afterChunks(out: string, n: number): Promise<number> {
  return waitFor(() => chunkLines(out) >= n && chunkLines(out), `${n} chunk lines in ${out}`);
}

/** Tells every steps program running in `dir` to finish after its current chunk */
export function tellToFinish(dir: string): void {
  fs.writeFileSync(path.join(dir, 'finish'), '');
}

/** What an uninterrupted run writes that ends after as many chunks as the final line of `text` says */
export async function uninterrupted(exe: string, text: string, args: string[] = [CHUNK]): Promise<string> {
  const chunks = /^chunks=(\d+) /m.exec(text)?.[1];
  if (!chunks) throw new Error(`the run did not finish: ${JSON.stringify(text.slice(-200))}`);
  return (await runProgram(exe, [...args, chunks], { cwd: path.dirname(exe) })).stdout;
}

/** Where descriptor `fd` stood in the file it writes, when the image was taken */
export function offsetInImage(image: string, fd: number): number {
  const file = readImage(fileSource(image)).files.find((f) => f.fd === fd);
  if (!file) throw new Error(`${image} records no descriptor ${fd}`);
  return Number(file.offset);
}

/**
 * Bytes a killed run appended after its image was taken, [from, to): the restart, back at `from`,
 * appends them again, as any program restarted from an earlier state does.
 */
export interface Replayed { from: number; to: number }

/** `text` with each replayed stretch taken out once, after checking that the restart wrote it again */
export function withoutReplays(text: string, replays: Replayed[]): string {
  for (const { from, to } of [...replays].reverse()) {
    const again = text.slice(to, to + (to - from));
    if (again !== text.slice(from, to)) throw new Error(`the restart did not go on from the image: it wrote ${JSON.stringify(again)} where ${JSON.stringify(text.slice(from, to))} was due`);
    text = text.slice(0, from) + text.slice(to);
  }
  return text;
}

/**
 * Waits until a restart has written again all that the killed run appended after the image, so that
 * a checkpoint or a finish from now on comes after the point the killed run had reached.
 */
export async function caughtUp(out: string, replayed: Replayed): Promise<void> {
  const end = replayed.to + (replayed.to - replayed.from);
  await waitFor(() => fs.statSync(out).size >= end, `the restart to write again what the killed run wrote after its image`);
}
