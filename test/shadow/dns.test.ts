// CKPT_SHADOW names its host as a user would: here through DNS. A real DNS server (dnsmasq)
// answers for submit.ckpt.test on 127.0.0.153; the job runs in a mount namespace whose
// /etc/resolv.conf names that server with a search domain, so the short name, the full name and
// the absolute name (trailing dot) all reach the shadow, and the server's log shows the queries:
// one per job, since relinked programs its processes exec are given the address.
// A name nobody knows ends the job with one line and exit 86.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { relinkFile, scratch, waitFor } from '../helpers.js';
import { startShadow, type Shadow } from './shadow-process.js';

const NAMESERVER = '127.0.0.153';

/** `argv` with resolv.conf bound over /etc/resolv.conf, in a mount namespace of its own */
function withResolvConf(resolv: string, argv: string[]): string[] {
  return ['unshare', '-m', 'sh', '-c', 'mount --bind "$0" /etc/resolv.conf && exec "$@"', resolv, ...argv];
}

describe('CKPT_SHADOW by name, through DNS (dnsmasq)', function () {
  this.timeout(60_000);
  let dns: ChildProcess, dnsLog = '', shadow: Shadow, busybox: string, resolv: string;

  before(async () => {
    const dir = scratch();
    busybox = path.join(dir, 'busybox.ckpt');
    await relinkFile('/bin/busybox', busybox);
    resolv = path.join(dir, 'resolv.conf');
    fs.writeFileSync(resolv, `nameserver ${NAMESERVER}\nsearch ckpt.test\noptions timeout:1 attempts:1\n`);
    dns = spawn('dnsmasq', ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--listen-address=${NAMESERVER}`,
      '--bind-interfaces', '--port=53', '--address=/submit.ckpt.test/127.0.0.1', '--log-queries', '--log-facility=-', '--user=root', '--pid-file='],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    dns.stdout!.on('data', (d) => (dnsLog += d));
    dns.stderr!.on('data', (d) => (dnsLog += d));
    await waitFor(() => /started, version/.test(dnsLog) || dns.exitCode !== null, `dnsmasq to start: ${dnsLog}`);
    assert.ok(dns.exitCode === null, `dnsmasq did not start: ${dnsLog}`);
    shadow = await startShadow();
  });
  after(async () => {
    await shadow?.stop();
    dns?.kill();
  });

  const job = (host: string, script: string) => {
    const [command, ...args] = withResolvConf(resolv, [busybox, 'sh', '-c', script]);
    return execa(command, args, {
      cwd: scratch(), reject: false,
      env: { PATH: '/usr/bin:/bin', CKPT_SHADOW: `${host}:${shadow.port}`, CKPT_SHADOW_TOKEN_FILE: shadow.tokenFile, CKPT_SHADOW_RETRY: '1' },
    });
  };

  for (const [host, asked] of [['submit', 'submit.ckpt.test'], ['submit.ckpt.test', 'submit.ckpt.test'], ['submit.ckpt.test.', 'submit.ckpt.test']]) {
    it(`finds the shadow as ${host}`, async () => {
      const file = `/by-${host.replace(/\./g, '_')}.txt`;
      const before = dnsLog.length;
      const r = await job(host, `echo reached > ${file}; cat ${file}`);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stdout, 'reached');
      assert.equal(fs.readFileSync(path.join(shadow.root, file), 'utf8'), 'reached\n');
      assert.match(dnsLog.slice(before), new RegExp(`query\\[A\\] ${asked.replace(/\./g, '\\.')} from 127\\.0\\.0\\.1`));
    });
  }

  it('asks DNS once for a job whose processes exec relinked programs: they are told the address', async () => {
    const before = dnsLog.length;
    const script = `for i in 1 2 3 4; do "${busybox}" echo exec $i >> /execs.txt; done; "${busybox}" cat /execs.txt`;
    const r = await job('submit.ckpt.test.', script);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'exec 1\nexec 2\nexec 3\nexec 4');
    const queries = dnsLog.slice(before).match(/query\[A\] submit\.ckpt\.test from/g) ?? [];
    assert.equal(queries.length, 1, `five relinked processes made ${queries.length} queries`);
  });

  it('ends a job whose shadow nobody knows with one line and exit 86', async () => {
    const r = await job('nosuch', 'echo never');
    assert.equal(r.exitCode, 86);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `ckpt: shadow nosuch:${shadow.port}: host not found (not an IPv4 address, nor a name in /etc/hosts or DNS)`);
  });
});
