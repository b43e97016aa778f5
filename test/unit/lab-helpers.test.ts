import { etcdctlFlags } from '../../src/lab/exec.js';
import { smallValue } from '../../src/lab/load.js';
import { deriveNodes } from '../../src/lab/naming.js';
import { nodeEnv, nodeIsUp, nsenterArgs } from '../../src/lab/node.js';
import { ROOT_PATH } from '../../src/lab/prereq.js';
import { renderEtcdUnit, renderUsage } from '../../src/lab/render.js';
import type { LabState } from '../../src/lab/types.js';

describe('smallValue', () => {
  it.each([1, 42, 999_999, 10_000_000])('key %i: about 100 bytes of JSON that names it', (k) => {
    const v = smallValue(k);
    expect(JSON.parse(v)).toMatchObject({ kind: 'LabKey', n: k });
    expect(v.length).toBe(Math.max(100, `{"kind":"LabKey","n":${k},"pad":""}`.length));
  });
});

describe('etcdctlFlags', () => {
  it("reach a node's own member with that host's admin certificate", () => {
    expect(etcdctlFlags({ host: 'k2-master02', address: '127.0.10.2' })).toEqual([
      '--endpoints=https://127.0.10.2:2379',
      '--cacert=/etc/ssl/etcd/ssl/ca.pem',
      '--cert=/etc/ssl/etcd/ssl/admin-k2-master02.pem',
      '--key=/etc/ssl/etcd/ssl/admin-k2-master02-key.pem',
    ]);
  });
});

describe('nsenterArgs', () => {
  it("enter the mount, UTS and PID namespaces of the node's sshd, the command after --", () => {
    expect(nsenterArgs(4242, ['sh', '-c', 'echo "$0"', 'a b'])).toEqual(['-t', '4242', '--mount', '--uts', '--pid', '--', 'sh', '-c', 'echo "$0"', 'a b']);
  });
  it('keep a command that starts with a dash as the command', () => {
    expect(nsenterArgs(7, ['--help']).slice(-2)).toEqual(['--', '--help']);
  });
});

describe('nodeEnv', () => {
  it("is a root login's environment, whatever the caller's", () => {
    expect(nodeEnv()).toEqual({ PATH: ROOT_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8' });
  });
  it('takes extra variables, which may override the defaults', () => {
    expect(nodeEnv({ ETCDCTL_API: '3', LANG: 'C' })).toMatchObject({ ETCDCTL_API: '3', LANG: 'C', PATH: ROOT_PATH });
  });
});

describe('nodeIsUp without a live sshd', () => {
  const base = { name: 'etcd1', host: 'k2-master01', address: '127.0.10.1', unsharePid: null, bootedAt: null };
  it.each([
    ['powered off', { poweredOn: false, sshdPid: process.pid, mntNs: '1' }],
    ['no sshd pid', { poweredOn: true, sshdPid: null, mntNs: '1' }],
    ['no mount namespace', { poweredOn: true, sshdPid: process.pid, mntNs: null }],
    // a live process, but not an sshd in the recorded namespace: a pid reused after a crash
    ['a pid that is not sshd', { poweredOn: true, sshdPid: process.pid, mntNs: '1' }],
    ['a pid that does not exist', { poweredOn: true, sshdPid: 2147483646, mntNs: '1' }],
  ])('%s: down', (_what, over) => {
    expect(nodeIsUp({ ...base, ...over })).toBe(false);
  });
});

describe('renderEtcdUnit', () => {
  const unit = renderEtcdUnit();
  it.each(['Type=notify', 'EnvironmentFile=/etc/etcd.env', 'ExecStart=/usr/local/bin/etcd', 'WantedBy=multi-user.target', 'Restart=always'])(
    "has kubespray's %s",
    (line) => {
      expect(unit.split('\n')).toContain(line);
    },
  );
  it('says what the shim does not do', () => {
    expect(unit).toMatch(/^# .*systemctl shim/m);
    expect(unit).toMatch(/does not restart a crashed etcd/);
  });
});

describe('renderUsage', () => {
  const state = (n: number): LabState => ({
    dir: '/tmp/lab',
    version: '3.4',
    clusterName: 'k2',
    addressBase: '127.0.24.',
    nodes: deriveNodes(n, '127.0.24.').map((x, i) => ({ ...x, sshdPid: i === 1 ? null : 100 + i, poweredOn: i !== 1 })),
    inventoryPath: '/tmp/lab/inventory.yaml',
    identityFile: '/tmp/lab/id_ed25519',
    knownHostsFile: '/tmp/lab/known_hosts',
    bootstrapped: true,
  });

  it('lists the nodes and how to reach them', () => {
    const lines = renderUsage(state(3), '3.4.23', 3.21).split('\n');
    expect(lines[0]).toBe('etcd-dr lab: 3 nodes, etcd 3.4.23, cluster k2 in 3.2 s');
    expect(lines).toContain('  etcd1  k2-master01  127.0.24.1  on');
    expect(lines).toContain('  etcd2  k2-master02  127.0.24.2  off');
    expect(lines).toContain('inventory: /tmp/lab/inventory.yaml');
    expect(lines).toContain('ssh:       ssh -i /tmp/lab/id_ed25519 -o UserKnownHostsFile=/tmp/lab/known_hosts root@127.0.24.1');
    expect(lines).toContain('status:    etcd-dr status -i /tmp/lab/inventory.yaml');
    expect(lines).toContain('in a node: etcd-dr lab exec etcd1 --dir /tmp/lab -- systemctl status etcd');
    expect(lines).toContain('stop:      etcd-dr lab down --dir /tmp/lab   (add --purge to remove the lab dir)');
  });

  it('says "1 node" and leaves out the time when it is not given', () => {
    expect(renderUsage(state(1), '3.5.30').split('\n')[0]).toBe('etcd-dr lab: 1 node, etcd 3.5.30, cluster k2');
  });
});
