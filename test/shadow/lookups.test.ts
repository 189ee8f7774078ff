// Where ckpt-shadow makes its stat lookups (src/shadow/lookup-pool.ts): on the event loop while
// every mounted file system is local, in worker threads as soon as one that may wait on a network
// or a user-space server is mounted, and back when it is gone. The shadow runs in a mount
// namespace of its own, where the test puts an NFS line into its mount table by bind-mounting a
// file over /proc/PID/mountinfo; the job's stats are answered the same way all along.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { decodeStat } from '../../src/shadow/protocol.js';
import { remoteMounts } from '../../src/shadow/lookup-pool.js';
import { scratch } from '../helpers.js';
import { ShadowClient } from './client.js';
import { startShadow } from './shadow-process.js';

const LOCAL = [
  '22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda rw',
  '23 22 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:2 - proc proc rw',
  '24 22 0:22 / /tmp rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,size=100m',
  '25 22 0:5 / /dev rw,nosuid shared:4 - devtmpfs udev rw,size=4g',
  '26 25 0:23 / /dev/pts rw,nosuid,noexec,relatime shared:5 - devpts devpts rw,gid=5,mode=620',
  '27 22 0:24 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:6 - cgroup2 cgroup2 rw',
  '28 22 0:25 /upper /merged rw,relatime shared:7 - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w',
];

describe('ckpt-shadow stat lookups: event loop or worker threads', function () {
  this.timeout(30_000);

  it('counts only local file systems as safe for the event loop', () => {
    assert.deepEqual(remoteMounts(LOCAL.join('\n') + '\n'), []);
    const more = [...LOCAL,
      '40 22 0:40 / /mnt/home rw,relatime - nfs4 server:/home rw,vers=4.2',
      '41 22 0:41 / /mnt/remote rw,nosuid,nodev,relatime - fuse.sshfs user@host:/ rw,user_id=0',
      '42 22 0:42 / /net rw,relatime - autofs /etc/auto.net rw,fd=7',
      '43 22 0:43 / /mnt/win rw,relatime - cifs //host/share rw',
      '44 22 0:44 / /mnt/more rw,relatime - nfs4 server:/more rw',
    ];
    assert.deepEqual(remoteMounts(more.join('\n')), ['nfs4', 'fuse.sshfs', 'autofs', 'cifs']);
  });

  it('moves lookups to worker threads while an NFS mount is in the table, and back after', async () => {
    const shadow = await startShadow({ ownMounts: true });
    const job = await ShadowClient.connect(shadow.port, shadow.token);
    try {
      // this machine's own mounts are all local
      await shadow.waitForLog(/^ckpt-shadow: all file systems are local: lookups on the event loop$/);
      fs.writeFileSync(path.join(shadow.root, 'data'), 'twelve bytes');
      const statSize = async () => {
        const r = await job.call({ op: 'stat', path: Buffer.from('/data'), nofollow: false });
        assert.equal(r.result, 0);
        return decodeStat(r.data).size;
      };
      assert.equal(await statSize(), 12n);

      const table = path.join(scratch(), 'mountinfo');
      const pid = String(shadow.proc.pid);
      fs.writeFileSync(table, fs.readFileSync(`/proc/${pid}/mountinfo`, 'utf8') + '99 22 0:99 / /mnt/data rw,relatime - nfs4 server:/export rw\n');
      const since = shadow.log.length;
      execFileSync('nsenter', ['-t', pid, '-m', 'mount', '--bind', table, `/proc/${pid}/mountinfo`]);
      await shadow.waitForLog(/^ckpt-shadow: file systems that may wait \(nfs4\): lookups in worker threads$/, 10_000, since);
      assert.equal(await statSize(), 12n);
      fs.symlinkSync('/etc/passwd', path.join(shadow.root, 'out'));
      const refused = await job.call({ op: 'stat', path: Buffer.from('/out'), nofollow: false });
      assert.equal(refused.result, -13, 'a symlink out of the root is refused in a worker too (EACCES)');

      const back = shadow.log.length;
      execFileSync('nsenter', ['-t', pid, '-m', 'umount', `/proc/${pid}/mountinfo`]);
      await shadow.waitForLog(/^ckpt-shadow: all file systems are local: lookups on the event loop$/, 10_000, back);
      assert.equal(await statSize(), 12n);
    } finally {
      job.end();
      await shadow.stop();
    }
  });
});
