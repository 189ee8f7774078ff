// Every sample, in every build (glibc static, static-pie, musl static), relinked: the same
// stdout, stderr and exit status as the original, byte for byte. Once with every site patched,
// once with every site left to the SUD net, so both ways into the runtime are exercised.
import assert from 'node:assert/strict';
import path from 'node:path';
import { SAMPLE_FLAVOURS, relinkFile, runProgram, sample, sampleNames, scratch, type Outcome } from './helpers.js';

// rawterm needs a terminal: test/runtime/terminal.test.ts runs it in tmux; thread_pool runs until
// a line on stdin, for as many rounds as time allows: test/runtime/threads.test.ts drives it
const BATCH_SAMPLES = sampleNames().filter((n) => n !== 'rawterm' && n !== 'thread_pool');

async function outcome(file: string, dir: string): Promise<Outcome> {
  return runProgram(file, [], { cwd: dir, timeout: 60_000 });
}

for (const mode of ['patched', 'sud'] as const) {
  describe(`samples relinked with ${mode === 'patched' ? 'every site patched' : 'every site left to the SUD net'}`, function () {
    this.timeout(180_000);
    const dir = scratch();
    for (const flavour of SAMPLE_FLAVOURS) {
      for (const name of BATCH_SAMPLES) {
        it(`${flavour}/${name} behaves exactly like the original`, async () => {
          const relinked = path.join(dir, `${flavour}-${name}.ckpt`);
          await relinkFile(sample(flavour, name), relinked, mode === 'sud' ? ['--sud-sites', 'all'] : []);
          const [want, got] = [await outcome(sample(flavour, name), dir), await outcome(relinked, dir)];
          assert.deepEqual(got, want);
        });
      }
    }
  });
}
