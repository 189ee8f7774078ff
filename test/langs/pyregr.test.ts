// Python's own regression tests (Debian's libpython3.11-testsuite, `python3 -m test`) with Debian's
// python3.11 and with it relinked (issue 9): every chosen module must give the same result with
// both, module by module (passed, failed, skipped, resource denied, ...) and test case by test case
// (regrtest's --junit-xml). regrtest runs its workers with sys.executable, so with the relinked
// python every worker is relinked too. The modules were chosen for breadth over the system calls and
// libraries a relinked python goes through; see MODULES for the ones left out and why.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, scratch } from '../helpers.js';

const PYTHON = '/usr/bin/python3.11';
const LIB_DYNLOAD = '/usr/lib/python3.11/lib-dynload';
/** regrtest's workers at once: the machine's two cores */
const WORKERS = '2';
const RUN_LIMIT_MS = 600_000;

/**
 * Chosen for breadth: files, descriptors and processes; signals and threads; sockets on loopback;
 * extension modules of lib-dynload and the libraries they load (_bz2 and libbz2, _hashlib and
 * libcrypto, _uuid and libuuid, _decimal, _json, mmap, resource); pure-Python modules as a
 * control. Each took at most a minute with the original on a loaded 2-core machine (test_signal
 * nearly that: half of it is a 30 s wait in test_siginterrupt_off; kept, as signals are what the
 * runtime intercepts most), and gave the same result twice. The slowest come first, so that two
 * workers finish close together. Left out:
 * - test_socket: hangs in accept() of its AF_VSOCK tests in a container without vsock (the original
 *   was still there after 3 minutes); loopback sockets are covered by test_selectors,
 *   test_httpservers, test_smtplib, test_urllib2_localnet and test_socketserver (the latter denied
 *   the network resource, as regrtest's default, which checks that result too);
 * - test_sqlite3: not shipped in Debian's libpython3.11-testsuite (regrtest cannot import it);
 * - slow for what they add over the modules kept (seconds with the original, loaded machine):
 *   test_xmlrpc 29, test_logging 24, test_statistics 20, test_zipfile 20, test_pickle 18,
 *   test_lzma 15, test_tarfile 15, test_ftplib 13, test_queue 10, test_email 9, test_calendar 6.
 * Under a shell that ignores SIGINT (a background job of a non-interactive shell) test_signal and
 * test_threading fail with the original (KeyboardInterrupt not raised); node's children start with
 * default dispositions.
 */
const MODULES = [
  'test_signal', 'test_io', 'test_subprocess', 'test_selectors', 'test_threading', 'test_bz2', 'test_poll',
  'test_pathlib', 'test_json', 'test_decimal', 'test_datetime', 'test_argparse', 'test_itertools',
  'test_shutil', 'test_tempfile', 'test_posix', 'test_zlib', 'test_array', 'test_os', 'test_math',
  'test_time', 'test_urllib2_localnet', 'test_httpservers', 'test_re', 'test_unicodedata', 'test_hashlib',
  'test_smtplib', 'test_gzip', 'test_csv', 'test_random', 'test_codecs', 'test_select', 'test_glob',
  'test_difflib', 'test_enum', 'test_base64', 'test_collections', 'test_struct', 'test_fileinput',
  'test_functools', 'test_heapq', 'test_configparser', 'test_uuid', 'test_pty', 'test_sched',
  'test_dataclasses', 'test_stat', 'test_fcntl', 'test_resource', 'test_urlparse', 'test_mmap',
  'test_binascii', 'test_shlex', 'test_epoll', 'test_grp', 'test_pwd', 'test_textwrap', 'test_errno',
  'test_string', 'test_getopt', 'test_copy', 'test_socketserver', 'test_fractions', 'test_bisect',
  'test_contextlib', 'test_html',
] as const;

/** A module's result as regrtest's progress line gives it */
type ModuleResult = 'passed' | 'failed' | 'env changed' | 'skipped' | 'resource denied' | 'ran no tests' | 'crashed' | 'timed out' | 'interrupted';
/** A test case's result in the junit XML */
type CaseResult = 'passed' | 'skipped' | 'failure' | 'error';

interface Regrtest {
  modules: Map<string, ModuleResult>;
  cases: Map<string, CaseResult>;
  output: string;
}

/** regrtest's own words for a module's result (libregrtest/runtest.py, the classes' __str__) */
function moduleResult(text: string): ModuleResult {
  if (text.startsWith('skipped (resource denied)')) return 'resource denied';
  if (text.startsWith('failed (env changed)')) return 'env changed';
  for (const r of ['passed', 'failed', 'skipped', 'ran no tests', 'crashed', 'timed out', 'interrupted'] as const) {
    if (text.startsWith(r)) return r;
  }
  throw new Error(`regrtest reported a result this test does not know: ${text}`);
}

/** "0:00:03 load avg: 1.20 [ 3/44/1] test_os passed (31.2 sec) -- running: test_io": one per module */
function moduleResults(output: string): Map<string, ModuleResult> {
  const results = new Map<string, ModuleResult>();
  for (const [, name, text] of output.matchAll(/\[\s*\d+\/\d+(?:\/\d+)?\] (test_\w+) (.*)$/gm)) {
    results.set(name, moduleResult(text));
  }
  return results;
}

/**
 * <testcase name="test.test_os.FileTests.test_access" ...>, with a <skipped>, <failure> or <error>
 * inside (after <system-out> and <system-err>, whose text is escaped), or none
 */
function caseResults(xml: string): Map<string, CaseResult> {
  const results = new Map<string, CaseResult>();
  for (const [, name, body] of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const inner = /<(skipped|failure|error)\b/.exec(body ?? '')?.[1] as CaseResult | undefined;
    results.set(name, inner ?? 'passed');
  }
  return results;
}

/** Runs the modules with `python` in a directory of their own (cwd, HOME and TMPDIR) */
async function regrtest(python: string): Promise<Regrtest> {
  const dir = scratch('ckpt-pyregr-');
  const xml = path.join(dir, 'results.xml');
  const r = await execa(python, ['-m', 'test', `-j${WORKERS}`, '--junit-xml', xml, ...MODULES], {
    cwd: dir, reject: false, all: true, extendEnv: false, timeout: RUN_LIMIT_MS,
    env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8', TZ: 'UTC', HOME: dir, TMPDIR: dir },
  });
  if (r.timedOut) throw new Error(`${python} -m test did not finish in ${RUN_LIMIT_MS / 1000} s`);
  const output = r.all ?? '';
  const modules = moduleResults(output);
  const missing = MODULES.filter((m) => !modules.has(m));
  if (missing.length > 0) throw new Error(`${python} -m test gave no result for ${missing.join(' ')}:\n${output.slice(-3000)}`);
  return { modules, cases: caseResults(fs.existsSync(xml) ? fs.readFileSync(xml, 'utf8') : ''), output };
}

/** "name: original -> relinked" for each key whose values differ */
function differences<T>(original: Map<string, T>, relinked: Map<string, T>): string[] {
  const names = [...new Set([...original.keys(), ...relinked.keys()])].sort();
  return names.filter((n) => original.get(n) !== relinked.get(n))
    .map((n) => `${n}: ${original.get(n) ?? 'absent'} -> ${relinked.get(n) ?? 'absent'}`);
}

describe('python3.11 relinked runs its own regression tests as the original does', function () {
  this.timeout(2 * RUN_LIMIT_MS + 300_000);
  let original: Regrtest, relinked: Regrtest;

  before(async () => {
    const bin = path.join(scratch('ckpt-pyregr-bin-'), 'python3.ckpt');
    await relinkFile(PYTHON, bin, ['--with', LIB_DYNLOAD]);
    // one after the other: each uses both cores, and the comparison must not hinge on load
    original = await regrtest(PYTHON);
    relinked = await regrtest(bin);
  });

  it('every module gives the same result (passed, failed, skipped, resource denied...)', () => {
    assert.deepEqual(differences(original.modules, relinked.modules), [], `relinked run's output:\n${relinked.output.slice(-3000)}`);
  });

  it('every test case gives the same result (junit XML)', () => {
    assert.ok(original.cases.size > 1000, `the original's XML lists ${original.cases.size} test cases`);
    assert.deepEqual(differences(original.cases, relinked.cases), []);
  });
});
