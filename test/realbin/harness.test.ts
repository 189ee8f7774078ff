import assert from 'node:assert/strict';
import { BatteryFormatError, compareBatteries, parseBattery } from './battery.js';
import type { Result } from './battery.js';

function result(name: string, fields: Partial<Result> = {}): Result {
  return { name, stdout: '', stderr: '', exitCode: 0, signal: null, timedOut: false, durationMs: 0, ...fields };
}

describe('The battery harness', function () {
  describe('parseBattery', function () {
    it('splits entries on --- lines and takes the name from the first line', function () {
      const text = '# first entry\necho one\n\necho two\n---\n\n# second\n  indented\n\n';
      assert.deepStrictEqual(parseBattery(text), [
        { name: 'first entry', script: 'echo one\n\necho two' },
        { name: 'second', script: '  indented' },
      ]);
    });

    it('keeps comment lines after the name as part of the script', function () {
      assert.deepStrictEqual(parseBattery('# name\n# a comment\ntrue'), [
        { name: 'name', script: '# a comment\ntrue' },
      ]);
    });

    it('rejects an entry without a name line and says on which line it starts', function () {
      assert.throws(() => parseBattery('# ok\ntrue\n---\necho no name'), (error: unknown) => {
        assert.ok(error instanceof BatteryFormatError);
        assert.equal(error.line, 4);
        return true;
      });
    });

    it('rejects duplicate names and entries without a script', function () {
      assert.throws(() => parseBattery('# same\ntrue\n---\n# same\nfalse'), /duplicate entry name "same"/);
      assert.throws(() => parseBattery('# lonely\n\n'), /has no script/);
    });
  });

  describe('compareBatteries', function () {
    it('finds no difference between equal results', function () {
      const run = [result('a', { stdout: 'x\n' }), result('b', { exitCode: 3 })];
      assert.deepStrictEqual(compareBatteries(run, structuredClone(run)), []);
    });

    it('ignores durations', function () {
      assert.deepStrictEqual(compareBatteries([result('a', { durationMs: 5 })], [result('a', { durationMs: 900 })]), []);
    });

    it('names the entry, the stream and the first differing line', function () {
      const differences = compareBatteries(
        [result('cat', { stdout: 'same\nleft\n' })],
        [result('cat', { stdout: 'same\nright\n' })],
      );
      assert.deepStrictEqual(differences, ['cat: stdout differs: line 2: "left" vs "right" (10 vs 11 chars)']);
    });

    it('reports exit codes signals and timeouts as one exit difference', function () {
      const differences = compareBatteries(
        [result('a', { exitCode: 143 }), result('b', { exitCode: 0 })],
        [result('a', { exitCode: null, signal: 'SIGTERM' }), result('b', { timedOut: true })],
      );
      assert.deepStrictEqual(differences, [
        'a: exit differs: exit 143 vs killed by SIGTERM',
        'b: exit differs: exit 0 vs timed out',
      ]);
    });

    it('reports entries present in only one run', function () {
      assert.deepStrictEqual(compareBatteries([result('a'), result('b')], [result('a'), result('c')]), [
        'b: missing from the second run',
        'c: missing from the first run',
      ]);
    });
  });
});
