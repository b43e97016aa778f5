import { nodeOfMountinfo, nsInode, parseStat } from '../../src/lab/procs.js';
import { missingPrereqsError, NOT_ROOT_MESSAGE, checkPrereqs, prerequisitesFor, requireRoot } from '../../src/lab/prereq.js';
import { displayArgv, tailLines } from '../../src/lab/run.js';
import { EXIT, ExitError } from '../../src/util/errors.js';

describe('parseStat', () => {
  it.each([
    ['1234 (etcd) S 1 1234 1234 0 -1', { pid: 1234, comm: 'etcd', state: 'S', ppid: 1 }],
    ['77 (sshd: root@notty) R 12 77 77', { pid: 77, comm: 'sshd: root@notty', state: 'R', ppid: 12 }],
    ['9 (a) b)) Z 3 9', { pid: 9, comm: 'a) b)', state: 'Z', ppid: 3 }],
    ['garbage', null],
  ])('%j', (text, want) => {
    expect(parseStat(text)).toEqual(want);
  });
});

describe('nsInode', () => {
  it.each([
    ['mnt:[4026532177]', '4026532177'],
    ['pid:[4026531836]', '4026531836'],
    ['nope', null],
  ])('%j', (link, want) => {
    expect(nsInode(link)).toBe(want);
  });
});

describe('nodeOfMountinfo', () => {
  const node = (dir: string, host: string) =>
    [
      '43 1 254:0 / / rw,relatime - ext4 /dev/vda rw',
      '91 43 0:42 / /run rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755',
      `92 43 0:43 / /etc rw,relatime - overlay overlay rw,lowerdir=/etc,upperdir=${dir}/nodes/${host}/upper/etc,workdir=${dir}/nodes/${host}/work/etc`,
      `93 43 0:44 / /var/lib rw,relatime - overlay overlay rw,lowerdir=/var/lib,upperdir=${dir}/nodes/${host}/upper/var-lib,workdir=${dir}/nodes/${host}/work/var-lib`,
      '',
    ].join('\n');
  it.each([
    ['its own lab', node('/tmp/lab', 'k2-master02'), '/tmp/lab', 'k2-master02'],
    ['another lab', node('/tmp/lab2', 'k2-master02'), '/tmp/lab', undefined],
    ['a lab whose dir extends this one', node('/tmp/lab-b', 'k2-master01'), '/tmp/lab', undefined],
    ['the host', '43 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n', '/tmp/lab', undefined],
    ['an overlay elsewhere than /etc', node('/tmp/lab', 'h').replace(' /etc ', ' /srv '), '/tmp/lab', undefined],
  ])('%s', (_what, text, dir, want) => {
    expect(nodeOfMountinfo(text, dir)).toBe(want);
  });
});

describe('prerequisites', () => {
  it('needs Debian etcd for 3.4 but not for 3.5 (which comes from the cache)', () => {
    expect(prerequisitesFor('3.4').map((p) => p.program)).toEqual(expect.arrayContaining(['sshd', 'etcd', 'etcdctl', 'unshare', 'nsenter', 'openssl', 'ssh-keygen']));
    expect(prerequisitesFor('3.5').map((p) => p.program)).not.toContain('etcd');
  });
  it.each([
    [['sshd'], /needs sshd, which is not installed/, 'apt-get install openssh-server'],
    [['unshare', 'nsenter', 'etcd'], /needs unshare, nsenter, etcd, which are not installed/, 'apt-get install util-linux etcd-server'],
  ])('missing %j', (programs, msg, hint) => {
    const err = missingPrereqsError(prerequisitesFor('3.4').filter((p) => programs.includes(p.program)));
    expect(err?.exitCode).toBe(EXIT.badInput);
    expect(err?.message).toMatch(msg);
    expect(err?.hint).toContain(hint);
  });
  it('is quiet when nothing is missing', () => {
    expect(missingPrereqsError([])).toBeUndefined();
    expect(() => checkPrereqs('3.4', () => '/usr/bin/x')).not.toThrow();
    expect(() => checkPrereqs('3.4', (p) => (p === 'openssl' ? undefined : '/x'))).toThrow(/needs openssl/);
  });
  it.each([
    [1000, true],
    [65534, true],
    [0, false],
  ])('uid %j refused: %j', (uid, refused) => {
    if (refused) {
      expect(() => requireRoot(uid)).toThrow(ExitError);
      expect(() => requireRoot(uid)).toThrow(NOT_ROOT_MESSAGE);
    } else expect(() => requireRoot(uid)).not.toThrow();
  });
});

describe('run helpers', () => {
  it.each([
    [['etcdctl', '--endpoints=https://127.0.10.1:2379', 'get', '/a'], 'etcdctl --endpoints=https://127.0.10.1:2379 get /a'],
    [['sh', '-c', "echo 'hi' there"], `sh -c 'echo '\\''hi'\\'' there'`],
    [['x', ''], "x ''"],
  ])('displayArgv %j', (argv, want) => {
    expect(displayArgv(argv)).toBe(want);
  });
  it.each([
    ['a\nb\nc\n', 2, 'b\nc'],
    ['a', 5, 'a'],
  ])('tailLines %j', (text, n, want) => {
    expect(tailLines(text, n)).toBe(want);
  });
});
