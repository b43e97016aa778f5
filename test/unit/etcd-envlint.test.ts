import { envName, formatFinding, lintEnvFile, parseFeatureGates, type LintSeverity } from '../../src/etcd/envlint.js';
import { envLintWarnings } from '../../src/plan/envcheck.js';
import { planRecover } from '../../src/plan/recover.js';
import { clusterFacts as cluster, envFileText, inventory, node } from '../support/facts.js';

/** The env file kubespray's etcd.env.j2 writes today (main cluster, one member), as on a v2.29–v2.31 master. */
const KUBESPRAY_TODAY = [
  'ETCD_DATA_DIR=/var/lib/etcd',
  'ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.1:2379',
  'ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380',
  'ETCD_INITIAL_CLUSTER_STATE=existing',
  'ETCD_METRICS=basic',
  'ETCD_LISTEN_CLIENT_URLS=https://10.0.0.1:2379,https://127.0.0.1:2379',
  'ETCD_ELECTION_TIMEOUT=5000',
  'ETCD_HEARTBEAT_INTERVAL=250',
  'ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd',
  'ETCD_LISTEN_PEER_URLS=https://10.0.0.1:2380',
  'ETCD_NAME=etcd1',
  'ETCD_PROXY=off',
  'ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.1:2380',
  'ETCD_AUTO_COMPACTION_RETENTION=8',
  'ETCD_SNAPSHOT_COUNT=10000',
  'ETCD_QUOTA_BACKEND_BYTES=2147483648',
  'ETCD_MAX_REQUEST_BYTES=1572864',
  'ETCD_LOG_LEVEL=info',
  'ETCD_MAX_SNAPSHOTS=5',
  'ETCD_MAX_WALS=5',
  'ETCD_LISTEN_METRICS_URLS=http://10.0.0.1:2381,http://127.0.0.1:2381',
  'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=True',
  'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=5s',
  '# CLI settings',
  'ETCDCTL_ENDPOINTS=https://127.0.0.1:2379',
  'ETCDCTL_CACERT=/etc/ssl/etcd/ssl/ca.pem',
  '',
].join('\n');

const v = (s: string) => {
  const [major, minor] = s.split('.').map(Number) as [number, number];
  return { major, minor };
};
const lineOf = (text: string, key: string) => text.split('\n').findIndex((l) => l.startsWith(`${key}=`)) + 1;

describe('lintEnvFile: kubespray env file of today, per version', () => {
  it.each(['3.4', '3.5'])('etcd %s: nothing to say', (ver) => {
    expect(lintEnvFile(KUBESPRAY_TODAY, v(ver))).toEqual([]);
  });

  it('etcd 3.6: the renamed flags, the feature gate, the proxy and the deprecated snapshot flags, each with its line', () => {
    const got = lintEnvFile(KUBESPRAY_TODAY, v('3.6')).map((f) => [f.key, f.line, f.severity]);
    expect(got).toEqual([
      ['ETCD_PROXY', lineOf(KUBESPRAY_TODAY, 'ETCD_PROXY'), 'ignored'],
      ['ETCD_SNAPSHOT_COUNT', lineOf(KUBESPRAY_TODAY, 'ETCD_SNAPSHOT_COUNT'), 'deprecated'],
      ['ETCD_MAX_SNAPSHOTS', lineOf(KUBESPRAY_TODAY, 'ETCD_MAX_SNAPSHOTS'), 'deprecated'],
      ['ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK', lineOf(KUBESPRAY_TODAY, 'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK'), 'deprecated'],
      ['ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL', lineOf(KUBESPRAY_TODAY, 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL'), 'deprecated'],
    ]);
    const byKey = new Map(lintEnvFile(KUBESPRAY_TODAY, v('3.6')).map((f) => [f.key, f.message]));
    expect(byKey.get('ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK')).toContain('ETCD_FEATURE_GATES=InitialCorruptCheck=true');
    expect(byKey.get('ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL')).toContain('rename it to ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL');
    expect(byKey.get('ETCD_PROXY')).toContain('nothing is lost: remove the line');
  });

  it('etcd 3.7: the old experimental names are ignored (only logged), so their settings are lost', () => {
    const got = lintEnvFile(KUBESPRAY_TODAY, v('3.7')).filter((f) => f.key.startsWith('ETCD_EXPERIMENTAL_'));
    expect(got.map((f) => f.severity)).toEqual(['ignored', 'ignored']);
    expect(got[0]!.message).toContain('set ETCD_FEATURE_GATES=InitialCorruptCheck=true instead');
    expect(got[1]!.message).toContain('its setting is lost; rename it to ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL');
  });
});

describe('lintEnvFile: one line at a time', () => {
  const cases: [string, string, string, LintSeverity | undefined, string][] = [
    // [version, the line, extra lines, severity of the line's finding, part of its message]
    ['3.6', 'ETCD_ENABLE_V2=true', '', 'ignored', 'clients of the v2 API'],
    ['3.6', 'ETCD_ENABLE_V2=false', '', 'ignored', 'nothing is lost'],
    ['3.5', 'ETCD_ENABLE_V2=true', '', undefined, ''],
    ['3.6', 'ETCD_PROXY=on', '', 'ignored', 'no v2 proxy mode'],
    ['3.6', 'ETCD_PROXY_DIAL_TIMEOUT=1000', '', 'ignored', 'remove the line'],
    ['3.6', 'ETCD_EXPERIMENTAL_ENABLE_V2V3=/v2', '', 'ignored', 'no v2 API'],
    // both forms of a gated flag: 3.6 refuses to start
    ['3.6', 'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=true', 'ETCD_FEATURE_GATES=InitialCorruptCheck=true', 'error', 'refuses to start'],
    ['3.6', 'ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED=true', 'ETCD_FEATURE_GATES=StopGRPCServiceOnDefrag=true', 'deprecated', 'CompactHashCheck=true'],
    ['3.7', 'ETCD_EXPERIMENTAL_TXN_MODE_WRITE_WITH_SHARED_BUFFER=false', '', 'ignored', 'TxnModeWriteWithSharedBuffer=false'],
    // both names of a renamed flag: 3.6 takes the old one's value
    ['3.6', 'ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME=4m', 'ETCD_CORRUPT_CHECK_TIME=5m', 'deprecated', "uses ETCD_EXPERIMENTAL_CORRUPT_CHECK_TIME's value"],
    ['3.6', 'ETCD_EXPERIMENTAL_WARNING_UNARY_REQUEST_DURATION=300ms', 'ETCD_WARNING_UNARY_REQUEST_DURATION=300ms', 'error', 'refuses to start with both'],
    ['3.6', 'ETCD_EXPERIMENTAL_WARNING_UNARY_REQUEST_DURATION=300ms', '', 'deprecated', 'rename it to ETCD_WARNING_UNARY_REQUEST_DURATION'],
    // a 3.6 name on an older etcd is ignored
    ['3.5', 'ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL=5s', '', 'ignored', 'write ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL'],
    ['3.5', 'ETCD_FEATURE_GATES=InitialCorruptCheck=true', '', 'ignored', 'is a 3.6 name'],
    ['3.6', 'ETCD_FEATURE_GATES=InitialCorruptCheck=true', '', undefined, ''],
    ['3.6', 'ETCD_WATCH_PROGRESS_NOTIFY_INTERVAL=5s', '', undefined, ''],
    // 3.5 dropped 3.4's logging flags
    ['3.5', 'ETCD_DEBUG=true', '', 'ignored', 'ETCD_LOG_LEVEL=debug'],
    ['3.4', 'ETCD_DEBUG=true', '', undefined, ''],
    ['3.5', 'ETCD_LOG_PACKAGE_LEVELS=etcdserver=DEBUG', '', 'ignored', 'removed in 3.5'],
    ['3.5', 'ETCD_EXPERIMENTAL_BACKEND_BBOLT_FREELIST_TYPE=map', '', 'ignored', 'ETCD_BACKEND_BBOLT_FREELIST_TYPE'],
    // flags of a later 3.5 on 3.4, and typos
    ['3.4', 'ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED=true', '', 'ignored', 'no flag for'],
    ['3.5', 'ETCD_EXPERIMENTAL_COMPACT_HASH_CHECK_ENABLED=true', '', undefined, ''],
    ['3.5', 'ETCD_ELECTON_TIMEOUT=5000', '', 'ignored', 'a typo'],
    ['3.5', 'ETCD_CIPHER_SUITES=TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', '', undefined, ''],
    ['3.5', 'ETCD_UNSAFE_NO_FSYNC=false', '', undefined, ''],
    ['3.5', 'ETCD_EXPERIMENTAL_SNAPSHOT_CATCHUP_ENTRIES=5000', '', undefined, ''],
    ['3.5', 'ETCD_CLUSTER_ACTIVE_SIZE=3', '', undefined, ''],
    // not etcd's: etcdctl's
    ['3.6', 'ETCDCTL_API=3', '', undefined, ''],
    ['3.5', 'ETCDCTL_ENDPOINTS=https://127.0.0.1:2379', '', undefined, ''],
  ];
  it.each(cases)('etcd %s: %s (with %p)', (ver, line, extra, severity, part) => {
    const text = `# kubespray\n${line}\n${extra ? `${extra}\n` : ''}`;
    const key = line.split('=')[0]!;
    const found = lintEnvFile(text, v(ver)).filter((f) => f.key === key);
    if (severity === undefined) {
      expect(found).toEqual([]);
      return;
    }
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ line: 2, severity });
    expect(found[0]!.message).toContain(part);
  });

  it('quoted values, comments and continuation lines are read as systemd reads them', () => {
    const text = '# a comment: ETCD_ENABLE_V2=true\nETCD_ENABLE_V2="true"\n  ETCD_PROXY = off\n';
    const got = lintEnvFile(text, v('3.6'));
    expect(got.map((f) => [f.key, f.line])).toEqual([
      ['ETCD_ENABLE_V2', 2],
      ['ETCD_PROXY', 3],
    ]);
    expect(got[0]!.message).toContain('v2 API');
  });
});

describe('helpers', () => {
  it('envName maps flags as etcd does', () => {
    expect(envName('--experimental-initial-corrupt-check')).toBe('ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK');
    expect(envName('data-dir')).toBe('ETCD_DATA_DIR');
  });
  it('parseFeatureGates reads A=true,B=false', () => {
    expect([...parseFeatureGates('InitialCorruptCheck=true, CompactHashCheck=false')]).toEqual([
      ['InitialCorruptCheck', true],
      ['CompactHashCheck', false],
    ]);
  });
  it('formatFinding names node, file and line', () => {
    expect(formatFinding('etcd2', '/etc/etcd.env', { line: 7, key: 'ETCD_PROXY', severity: 'ignored', message: 'm' })).toBe('etcd2: /etc/etcd.env:7: ETCD_PROXY (ignored): m');
  });
});

describe('every plan carries the findings for the version installed on each node', () => {
  const env36 = `${envFileText(1)}ETCD_ENABLE_V2=true\n`;
  it('a node on 3.6 with ETCD_ENABLE_V2 gets a warning naming its file and line; nodes on 3.5 none', () => {
    const facts = cluster([node(1, { running: false, version: '3.6.10', envText: env36 }), node(2, { running: false, version: '3.5.30' }), node(3, { running: false, version: '3.5.30' })]);
    const inv = inventory(3);
    const w = envLintWarnings(inv, facts);
    expect(w).toEqual([expect.stringMatching(/^etcd1: \/etc\/etcd\.env:\d+: ETCD_ENABLE_V2 \(ignored\): etcd 3\.6 has no v2 API/)]);
    const line = env36.split('\n').indexOf('ETCD_ENABLE_V2=true') + 1;
    expect(w[0]).toContain(`/etc/etcd.env:${line}:`);
    const plan = planRecover(
      { inventory: inv, facts, runId: 'r1', now: new Date(0), toolVersion: 't', lockFile: '/var/lib/etcd-dr/lock', holder: 'h' },
      { kind: 'recover', exclude: [], learner: true, force: false, localBackup: false, backupDir: '/tmp' },
    );
    expect(plan.warnings).toContain(w[0]);
  });
});
