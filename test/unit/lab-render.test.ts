import { deriveNodes } from '../../src/lab/naming.js';
import {
  renderEtcHosts, renderEtcdEnv, renderInventory, renderKnownHosts, renderSshdConfig, renderStatusTable,
} from '../../src/lab/render.js';
import { renderTable } from '../../src/util/table.js';
import { EVENTS_CLUSTER, MAIN_CLUSTER } from '../../src/lab/profile.js';

const three = deriveNodes(3, '127.0.10.');
const one = deriveNodes(1, '127.0.20.');

/** KEY=VALUE lines of an env file, comments dropped. */
function envMap(text: string): Map<string, string> {
  return new Map(
    text
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]),
  );
}

describe('renderEtcdEnv', () => {
  it.each([
    {
      what: 'first node of three, new cluster',
      node: three[0]!,
      all: three,
      state: 'new' as const,
      want: {
        ETCD_NAME: 'etcd1',
        ETCD_INITIAL_CLUSTER_STATE: 'new',
        ETCD_ADVERTISE_CLIENT_URLS: 'https://127.0.10.1:2379',
        ETCD_LISTEN_CLIENT_URLS: 'https://127.0.10.1:2379',
        ETCD_LISTEN_PEER_URLS: 'https://127.0.10.1:2380',
        ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://127.0.10.1:2380',
        ETCD_INITIAL_CLUSTER: 'etcd1=https://127.0.10.1:2380,etcd2=https://127.0.10.2:2380,etcd3=https://127.0.10.3:2380',
        ETCD_CERT_FILE: '/etc/ssl/etcd/ssl/member-k2-master01.pem',
        ETCD_PEER_KEY_FILE: '/etc/ssl/etcd/ssl/member-k2-master01-key.pem',
      },
    },
    {
      what: 'third node, existing cluster',
      node: three[2]!,
      all: three,
      state: 'existing' as const,
      want: { ETCD_NAME: 'etcd3', ETCD_INITIAL_CLUSTER_STATE: 'existing', ETCD_KEY_FILE: '/etc/ssl/etcd/ssl/member-k2-master03-key.pem' },
    },
    {
      what: 'single node lab',
      node: one[0]!,
      all: one,
      state: 'new' as const,
      want: { ETCD_INITIAL_CLUSTER: 'etcd1=https://127.0.20.1:2380', ETCD_ADVERTISE_CLIENT_URLS: 'https://127.0.20.1:2379' },
    },
  ])('$what', ({ node, all, state, want }) => {
    const env = envMap(renderEtcdEnv(node, all, state));
    for (const [k, v] of Object.entries(want)) expect([k, env.get(k)]).toEqual([k, v]);
  });

  it("keeps kubespray's keys, order and fixed values, and explains the missing 127.0.0.1 listener", () => {
    const text = renderEtcdEnv(three[1]!, three, 'new');
    const keys = text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split('=')[0]);
    expect(keys).toEqual([
      'ETCD_DATA_DIR', 'ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_INITIAL_CLUSTER_STATE', 'ETCD_METRICS',
      'ETCD_LISTEN_CLIENT_URLS', 'ETCD_ELECTION_TIMEOUT', 'ETCD_HEARTBEAT_INTERVAL', 'ETCD_INITIAL_CLUSTER_TOKEN', 'ETCD_LISTEN_PEER_URLS',
      'ETCD_NAME', 'ETCD_PROXY', 'ETCD_INITIAL_CLUSTER', 'ETCD_AUTO_COMPACTION_RETENTION', 'ETCD_SNAPSHOT_COUNT',
      'ETCD_TRUSTED_CA_FILE', 'ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_CLIENT_CERT_AUTH', 'ETCD_PEER_TRUSTED_CA_FILE',
      'ETCD_PEER_CERT_FILE', 'ETCD_PEER_KEY_FILE', 'ETCD_PEER_CLIENT_CERT_AUTH',
    ]);
    const env = envMap(text);
    expect(env.get('ETCD_DATA_DIR')).toBe('/var/lib/etcd');
    expect(env.get('ETCD_ELECTION_TIMEOUT')).toBe('5000');
    expect(env.get('ETCD_HEARTBEAT_INTERVAL')).toBe('250');
    expect(env.get('ETCD_INITIAL_CLUSTER_TOKEN')).toBe('k8s_etcd');
    expect(env.get('ETCD_PROXY')).toBe('off');
    expect(env.get('ETCD_METRICS')).toBe('basic');
    expect(env.get('ETCD_AUTO_COMPACTION_RETENTION')).toBe('8');
    expect(env.get('ETCD_SNAPSHOT_COUNT')).toBe('10000');
    expect(env.get('ETCD_CLIENT_CERT_AUTH')).toBe('true');
    expect(env.get('ETCD_PEER_CLIENT_CERT_AUTH')).toBe('True');
    expect(text).not.toContain('https://127.0.0.1:2379\n');
    expect(text).toMatch(/^# etcd-dr lab: no https:\/\/127\.0\.0\.1:2379 listener/m);
    expect(text).toContain('\n# TLS settings\nETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem\n');
    expect(text.endsWith('\n')).toBe(true);
  });
});

describe('renderEtcdEnv on the kubespray profile', () => {
  it.each([
    [MAIN_CLUSTER, { ETCD_NAME: 'etcd2', ETCD_DATA_DIR: '/var/lib/etcd', ETCD_LISTEN_CLIENT_URLS: 'https://127.0.10.2:2379', ETCD_LISTEN_PEER_URLS: 'https://127.0.10.2:2380', ETCD_INITIAL_CLUSTER_TOKEN: 'k8s_etcd', ETCD_LISTEN_METRICS_URLS: 'http://127.0.10.2:2378', ETCDCTL_ENDPOINTS: 'https://127.0.0.1:2379', ETCDCTL_CERT: '/etc/ssl/etcd/ssl/admin-k2-master02.pem' }],
    [EVENTS_CLUSTER, { ETCD_NAME: 'etcd2-events', ETCD_DATA_DIR: '/var/lib/etcd-events', ETCD_LISTEN_CLIENT_URLS: 'https://127.0.10.2:2381', ETCD_LISTEN_PEER_URLS: 'https://127.0.10.2:2382', ETCD_INITIAL_CLUSTER_TOKEN: 'k8s_events_etcd', ETCD_INITIAL_CLUSTER: 'etcd1-events=https://127.0.10.1:2382,etcd2-events=https://127.0.10.2:2382,etcd3-events=https://127.0.10.3:2382' }],
  ])('%o: its own names, ports, data dir and token, and kubespray\'s lines of today', (cluster, want) => {
    const env = envMap(renderEtcdEnv(three[1]!, three, 'new', { cluster, kubespray: true }));
    expect(Object.fromEntries([...env].filter(([k]) => k in want))).toEqual(want);
    for (const k of ['ETCD_QUOTA_BACKEND_BYTES', 'ETCD_MAX_REQUEST_BYTES', 'ETCD_LOG_LEVEL', 'ETCD_MAX_SNAPSHOTS', 'ETCD_MAX_WALS', 'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK', 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL']) expect(env.has(k)).toBe(true);
    // the same member certificate for both clusters
    expect(env.get('ETCD_CERT_FILE')).toBe('/etc/ssl/etcd/ssl/member-k2-master02.pem');
    expect(cluster === EVENTS_CLUSTER ? [env.has('ETCDCTL_ENDPOINTS'), env.has('ETCD_LISTEN_METRICS_URLS')] : [true, true]).toEqual([cluster !== EVENTS_CLUSTER, cluster !== EVENTS_CLUSTER]);
  });

  it('writes the events inventory logging in as ops with become', () => {
    const text = renderInventory(three, { identityFile: '/l/id', knownHostsFile: '/l/kh', cluster: EVENTS_CLUSTER, ops: true });
    for (const line of ['  name: k2-events', '  user: ops', '  envFile: /etc/etcd-events.env', '  dataDir: /var/lib/etcd-events', '  service: etcd-events', '  clientPort: 2381', '  peerPort: 2382', '  - name: etcd3-events']) expect(text.split('\n')).toContain(line);
    expect(text).toMatch(/^  become: true/m);
  });
});

describe('renderSshdConfig', () => {
  const text = renderSshdConfig(three[1]!, { nodeDir: '/l/nodes/k2-master02', authorizedKeys: '/l/authorized_keys' });
  it.each([
    'ListenAddress 127.0.10.2:22',
    'HostKey /l/nodes/k2-master02/ssh_host_ed25519_key',
    'PidFile /l/nodes/k2-master02/sshd.pid',
    'AuthorizedKeysFile /l/authorized_keys .ssh/authorized_keys',
    'UsePAM no',
    'StrictModes no',
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'AllowTcpForwarding yes',
    'MaxSessions 30',
    'MaxStartups 100',
    'LogLevel VERBOSE',
  ])('has %s', (line) => {
    expect(text.split('\n')).toContain(line);
  });
});

describe('renderInventory', () => {
  it('writes the lab inventory in its fixed format', () => {
    expect(renderInventory(deriveNodes(2, '127.0.11.'), { identityFile: '/l/id_ed25519', knownHostsFile: '/l/known_hosts' })).toBe(
      `# etcd-dr lab inventory (generated by \`etcd-dr lab up\`)
cluster:
  name: k2
  disposable: true        # a lab: drills may break it
ssh:
  user: root
  port: 22
  identityFile: /l/id_ed25519
  knownHostsFile: /l/known_hosts
etcd:
  envFile: /etc/etcd.env
  dataDir: /var/lib/etcd
  service: etcd
  caCert: /etc/ssl/etcd/ssl/ca.pem
  clientCert: /etc/ssl/etcd/ssl/admin-{host}.pem
  clientKey: /etc/ssl/etcd/ssl/admin-{host}-key.pem
  scheme: https
  clientPort: 2379
  peerPort: 2380
nodes:
  - name: etcd1
    host: k2-master01
    address: 127.0.11.1
  - name: etcd2
    host: k2-master02
    address: 127.0.11.2
`,
    );
  });
});

describe('renderKnownHosts', () => {
  it.each([
    [['ssh-ed25519 AAAAC3one root@k2-master01\n', 'ssh-ed25519 AAAAC3two root@k2-master02'], '127.0.10.1 ssh-ed25519 AAAAC3one\n127.0.10.2 ssh-ed25519 AAAAC3two\n'],
    [['ssh-ed25519   AAAAC3one', 'ssh-ed25519 AAAAC3two   '], '127.0.10.1 ssh-ed25519 AAAAC3one\n127.0.10.2 ssh-ed25519 AAAAC3two\n'],
  ])('%j', (keys, want) => {
    expect(renderKnownHosts(deriveNodes(2, '127.0.10.'), keys)).toBe(want);
  });
  it('refuses a key that is not an OpenSSH public key line, naming the host', () => {
    expect(() => renderKnownHosts(deriveNodes(1, '127.0.10.'), ['garbage'])).toThrow(/k2-master01/);
  });
});

describe('renderEtcHosts', () => {
  const nodes = deriveNodes(2, '127.0.10.');
  const block = '# BEGIN etcd-dr lab nodes\n127.0.10.1 k2-master01\n127.0.10.2 k2-master02\n# END etcd-dr lab nodes\n';
  it.each([
    ['127.0.0.1 localhost\n', `127.0.0.1 localhost\n${block}`],
    ['127.0.0.1 localhost', `127.0.0.1 localhost\n${block}`],
    ['', block],
    [`127.0.0.1 localhost\n# BEGIN etcd-dr lab nodes\n127.0.9.1 old\n# END etcd-dr lab nodes\n::1 localhost\n`, `127.0.0.1 localhost\n::1 localhost\n${block}`],
  ])('%j', (host, want) => {
    expect(renderEtcHosts(host, nodes)).toBe(want);
  });
});

describe('tables', () => {
  it('pads every column but the last', () => {
    expect(renderTable([['A', 'BB'], ['CCC', 'D']])).toBe('A    BB\nCCC  D\n');
  });
  it('shows a powered-off node with dashes', () => {
    const t = renderStatusTable([
      { name: 'etcd1', host: 'k2-master01', address: '127.0.10.1', poweredOn: true, sshdPid: 42, sshdUp: true, etcd: 'active', etcdPid: 7 },
      { name: 'etcd2', host: 'k2-master02', address: '127.0.10.2', poweredOn: false, sshdPid: null, sshdUp: false, etcd: 'unknown', etcdPid: null },
    ]);
    const lines = t.trim().split('\n');
    expect(lines[0]).toMatch(/^NODE\s+HOST\s+ADDRESS\s+POWER\s+SSHD\s+ETCD\s+SSHD PID\s+ETCD PID/);
    expect(lines[1]!.split(/\s+/)).toEqual(['etcd1', 'k2-master01', '127.0.10.1', 'on', 'up', 'active', '42', '7']);
    expect(lines[2]!.split(/\s+/)).toEqual(['etcd2', 'k2-master02', '127.0.10.2', 'off', 'down', 'unknown', '-', '-']);
  });
});
