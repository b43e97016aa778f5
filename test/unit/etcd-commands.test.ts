import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import {
  alarmListCmd,
  endpointHashKvCmd,
  endpointHealthCmd,
  endpointStatusCmd,
  etcdctlArgv,
  etcdctlVersionCmd,
  etcdutlVersionCmd,
  etcdVersionCmd,
  keyCountCmd,
  memberAddCmd,
  memberIdArg,
  memberListCmd,
  memberPromoteCmd,
  memberRemoveCmd,
  moveLeaderCmd,
  putCmd,
  snapshotRestoreCmd,
  snapshotStatusCmd,
  type Argv,
  type EtcdctlTarget,
  type SnapshotTools,
} from '../../src/etcd/commands.js';
import { EtcdArgumentError, EtcdCapabilityError } from '../../src/etcd/errors.js';
import { etcdctlPrefix, etcdTarget } from '../../src/etcd/node.js';
import { parseMemberListJson } from '../../src/etcd/parse-members.js';
import { parseVersion } from '../../src/etcd/version.js';
import { shellJoin } from '../../src/util/quote.js';
import type { NodeSpec } from '../../src/inventory/types.js';

const VERSIONS = ['3.4', '3.5'] as const;
type V = (typeof VERSIONS)[number];
const fx = (v: V, name: string) => readFileSync(new URL(`../fixtures/etcd/${v}/${name}.txt`, import.meta.url), 'utf8');

/** MANIFEST.txt: `name<TAB>exit=N<TAB>argv joined by spaces[<TAB>note]`, as capture.sh ran each command. */
function manifest(v: V): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of fx(v, 'MANIFEST').split('\n')) {
    if (line === '') continue;
    const [name, , argv] = line.split('\t') as [string, string, string];
    m.set(name, argv);
  }
  return m;
}

/** The etcdctl target capture.sh used, read back from one of its command lines. */
function targetOf(argv: string): EtcdctlTarget {
  const words = argv.split(' ');
  const flag = (f: string) => words.find((w) => w.startsWith(`--${f}=`))?.slice(f.length + 3);
  return {
    etcdctl: words[2] as string,
    endpoints: (flag('endpoints') as string).split(','),
    caCert: flag('cacert') as string,
    cert: flag('cert') as string,
    key: flag('key') as string,
    dialTimeoutMs: 2000,
    commandTimeoutMs: 5000,
  };
}

describe.each(VERSIONS)('argv builders against the command lines captured from etcd %s', (v) => {
  const runs = manifest(v);
  const net = v === '3.4' ? 30 : 31;
  const bin = v === '3.4' ? '/usr/bin' : '.cache/etcd-3.5/bin';
  const scratch = `/tmp/etcd-dr-capture/${v}`;
  const tools: SnapshotTools = { version: parseVersion(v === '3.4' ? '3.4.23' : '3.5.30'), etcdctl: `${bin}/etcdctl`, etcdutl: `${bin}/etcdutl` };
  const t = (name: string) => targetOf(runs.get(name) as string);
  const ids = () => parseMemberListJson(fx(v, 'member-list-json')).members;
  /** the hex id the capture passed, as the manifest shows it */
  const lastWord = (name: string) => (runs.get(name) as string).split(' ').pop() as string;
  const restore = (name: string, o: { dataDir: string; bump?: number; skipHashCheck?: boolean; tool?: 'etcdctl' | 'etcdutl' }) =>
    snapshotRestoreCmd(
      { ...tools, ...(o.tool ? { tool: o.tool } : {}), ...(o.bump ? { version: parseVersion('3.5.30') } : {}) },
      {
        db: `${scratch}/current.db`,
        dataDir: o.dataDir,
        name: 'etcd3',
        initialCluster: [{ name: 'etcd3', peerUrl: `https://127.0.${net}.3:2380` }],
        initialClusterToken: `etcd-dr-capture-${v}-restored`,
        initialAdvertisePeerUrls: [`https://127.0.${net}.3:2380`],
        ...(o.skipHashCheck === undefined ? {} : { skipHashCheck: o.skipHashCheck }),
        ...(o.bump ? { bumpRevision: o.bump } : {}),
      },
    );

  const cases: [string, () => Argv][] = [
    ['etcd-version', () => etcdVersionCmd(`${bin}/etcd`)],
    ['etcdctl-version', () => etcdctlVersionCmd(`${bin}/etcdctl`)],
    ['member-list-json', () => memberListCmd(t('member-list-json'))],
    ['member-list-table', () => memberListCmd(t('member-list-table'), 'table')],
    ['member-list-simple', () => memberListCmd(t('member-list-simple'), 'simple')],
    ['member-list-fields', () => memberListCmd(t('member-list-fields'), 'fields')],
    ['small-id-member-list-json', () => memberListCmd(t('small-id-member-list-json'))],
    ['endpoint-status-json', () => endpointStatusCmd(t('endpoint-status-json'))],
    ['endpoint-status-table', () => endpointStatusCmd(t('endpoint-status-table'), { format: 'table' })],
    ['endpoint-status-cluster-json', () => endpointStatusCmd(t('endpoint-status-cluster-json'), { cluster: true })],
    ['endpoint-health-json', () => endpointHealthCmd(t('endpoint-health-json'))],
    ['endpoint-health-table', () => endpointHealthCmd(t('endpoint-health-table'), { format: 'table' })],
    ['endpoint-hashkv-json', () => endpointHashKvCmd(t('endpoint-hashkv-json'))],
    ['endpoint-hashkv-table', () => endpointHashKvCmd(t('endpoint-hashkv-table'), { format: 'table' })],
    ['alarm-list-json', () => alarmListCmd(t('alarm-list-json'))],
    ['get-count-json', () => keyCountCmd(t('get-count-json'), '/registry/')],
    ['get-count-pods-json', () => keyCountCmd(t('get-count-pods-json'), '/registry/pods/')],
    ['get-count-all-json', () => keyCountCmd(t('get-count-all-json'), '')],
    ['get-count-none-json', () => keyCountCmd(t('get-count-none-json'), '/nothing-here/')],
    ['put-json', () => putCmd(t('put-json'), '/registry/pods/default/web-1', '{"kind":"Pod"}')],
    ['member-add-learner-json', () => memberAddCmd(t('member-add-learner-json'), { name: 'etcd4', peerUrls: [`https://127.0.${net}.4:2380`], learner: true })],
    [
      'member-add-learner-simple',
      () => memberAddCmd(t('member-add-learner-simple'), { name: 'etcd4', peerUrls: [`https://127.0.${net}.4:2380`], learner: true, format: 'simple' }),
    ],
    ['member-promote-simple', () => memberPromoteCmd(t('member-promote-simple'), lastWord('member-promote-simple'))],
    ['member-remove-json', () => memberRemoveCmd(t('member-remove-json'), runs.get('member-remove-json')!.split(' ').at(-3) as string, 'json')],
    ['member-remove-promoted-simple', () => memberRemoveCmd(t('member-remove-promoted-simple'), lastWord('member-remove-promoted-simple'))],
    ['move-leader', () => moveLeaderCmd(t('move-leader'), lastWord('move-leader'))],
    ['snapshot-status-json', () => snapshotStatusCmd(tools, `${scratch}/etcd3/member/snap/db`)],
    ['err-snapshot-status-missing', () => snapshotStatusCmd({ ...tools, tool: 'etcdctl' }, `${scratch}/no-such.db`)],
    ['snapshot-restore', () => restore('snapshot-restore', { dataDir: `${scratch}/restored`, ...(v === '3.5' ? { bump: 1_000_000_000 } : {}) })],
    ['err-restore-data-dir-exists', () => restore('err-restore-data-dir-exists', { dataDir: `${scratch}/restored` })],
    ['err-restore-without-skip-hash-check', () => restore('x', { dataDir: `${scratch}/restored-hash`, skipHashCheck: false })],
  ];
  if (v === '3.5') {
    cases.push(
      ['etcdutl-version', () => etcdutlVersionCmd(`${bin}/etcdutl`)],
      ['snapshot-status-etcdctl-json', () => snapshotStatusCmd({ ...tools, tool: 'etcdctl' }, `${scratch}/etcd3/member/snap/db`)],
      ['snapshot-restore-etcdctl', () => restore('snapshot-restore-etcdctl', { dataDir: `${scratch}/restored-ctl`, tool: 'etcdctl' })],
    );
  }

  it.each(cases)('%s', (name, build) => {
    expect(runs.has(name)).toBe(true);
    expect(build().join(' ')).toBe(runs.get(name));
  });

  it('the ids passed to promote/remove/move-leader are the 16-digit hex ids of the member list', () => {
    for (const name of ['member-promote-simple', 'member-remove-promoted-simple', 'move-leader']) {
      expect(lastWord(name)).toMatch(/^[0-9a-f]{16}$/);
    }
    expect(ids().map((m) => m.id)).toContain(lastWord('move-leader'));
  });
});

describe('etcdctlArgv', () => {
  const target: EtcdctlTarget = { endpoints: ['https://10.0.0.1:2379', 'https://[fd00::2]:2379'], caCert: '/etc/ssl/etcd/ssl/ca.pem', cert: '/c.pem', key: '/k.pem' };

  it('puts env, the API version and every global flag first', () => {
    expect(etcdctlArgv(target, ['member', 'list'])).toEqual([
      'env',
      'ETCDCTL_API=3',
      'etcdctl',
      '--endpoints=https://10.0.0.1:2379,https://[fd00::2]:2379',
      '--cacert=/etc/ssl/etcd/ssl/ca.pem',
      '--cert=/c.pem',
      '--key=/k.pem',
      '--dial-timeout=2s',
      '--command-timeout=5s',
      'member',
      'list',
    ]);
  });

  it.each([
    [{ dialTimeoutMs: 1500, commandTimeoutMs: 30_000 }, ['--dial-timeout=1500ms', '--command-timeout=30s']],
    [{ dialTimeoutMs: 1000, commandTimeoutMs: 1 }, ['--dial-timeout=1s', '--command-timeout=1ms']],
  ])('timeouts %j', (over, flags) => {
    expect(etcdctlArgv({ endpoints: ['http://a:2379'], ...over }, []).slice(-2)).toEqual(flags);
  });

  it.each([
    ['no endpoint', { endpoints: [] }, /at least one endpoint/],
    ['a URL with a space', { endpoints: ['https://a b:2379'] }, /is not a URL/],
    ['a URL with a path', { endpoints: ['https://a:2379/x'] }, /is not a URL/],
    ['no scheme', { endpoints: ['10.0.0.1:2379'] }, /is not a URL/],
    ['a shell word in the URL', { endpoints: ['https://$(reboot):2379'] }, /is not a URL/],
    ['a newline in a path', { endpoints: ['https://a:2379'], caCert: '/ca\n.pem' }, /not a usable path/],
    ['an empty path', { endpoints: ['https://a:2379'], key: '' }, /not a usable path/],
    ['a zero timeout', { endpoints: ['https://a:2379'], dialTimeoutMs: 0 }, /positive number/],
    ['a fractional timeout', { endpoints: ['https://a:2379'], commandTimeoutMs: 1.5 }, /positive number/],
  ] as [string, EtcdctlTarget, RegExp][])('refuses %s', (_name, t, msg) => {
    expect(() => etcdctlArgv(t, [])).toThrow(EtcdArgumentError);
    expect(() => etcdctlArgv(t, [])).toThrow(msg);
  });

  it('member add refuses bad names and URLs, and needs a peer URL', () => {
    const t: EtcdctlTarget = { endpoints: ['https://a:2379'] };
    expect(() => memberAddCmd(t, { name: 'a b', peerUrls: ['https://a:2380'], learner: true })).toThrow(/member name/);
    expect(() => memberAddCmd(t, { name: '-x', peerUrls: ['https://a:2380'], learner: true })).toThrow(/member name/);
    expect(() => memberAddCmd(t, { name: 'a', peerUrls: [], learner: true })).toThrow(/at least one peer URL/);
    expect(() => memberAddCmd(t, { name: 'a', peerUrls: ['a:2380'], learner: true })).toThrow(/peer URL of a/);
    expect(memberAddCmd(t, { name: 'a', peerUrls: ['https://a:2380', 'https://b:2380'], learner: false }).slice(-6)).toEqual([
      'member',
      'add',
      'a',
      '--peer-urls=https://a:2380,https://b:2380',
      '-w',
      'json',
    ]);
  });

  it('keys and values are separated from flags by --, and refuse line breaks', () => {
    const t: EtcdctlTarget = { endpoints: ['https://a:2379'] };
    expect(keyCountCmd(t, '--weird').slice(-2)).toEqual(['--', '--weird']);
    expect(putCmd(t, '-k', '-v').slice(-3)).toEqual(['--', '-k', '-v']);
    expect(() => putCmd(t, '', 'v')).toThrow(/needs a key/);
    expect(() => putCmd(t, 'k', 'a\nb')).toThrow(/line break/);
    expect(() => keyCountCmd(t, 'a\0')).toThrow(/NUL/);
    expect(endpointHashKvCmd(t, { rev: 42 })).toContain('--rev=42');
    expect(() => endpointHashKvCmd(t, { rev: -1 })).toThrow(/revision number/);
  });
});

describe('memberIdArg', () => {
  it.each([
    ['8e9e05c52164694d', '8e9e05c52164694d'],
    ['8E9E05C52164694D', '8e9e05c52164694d'],
    ['0x8e9e05c52164694d', '8e9e05c52164694d'],
    ['9244f18f9fbe79', '009244f18f9fbe79'],
    [' 1 ', '0000000000000001'],
    [0x1234n, '0000000000001234'],
    [(1n << 64n) - 1n, 'ffffffffffffffff'],
  ] as [string | bigint, string][])('%p -> %s', (id, want) => {
    expect(memberIdArg(id)).toBe(want);
  });

  it.each([['0'], ['0000000000000000'], ['xyz'], ['12345678901234567'], [''], [0n], [-1n], [1n << 64n]] as [string | bigint][])('refuses %p', (id) => {
    expect(() => memberIdArg(id)).toThrow(EtcdArgumentError);
  });

  it.each(VERSIONS)('every member id of the %s member list passes through unchanged', (v) => {
    for (const m of parseMemberListJson(fx(v, 'member-list-json')).members) {
      expect(memberIdArg(m.id)).toBe(m.id);
      expect(memberIdArg(BigInt(`0x${m.id}`))).toBe(m.id);
    }
    const small = parseMemberListJson(fx(v, 'small-id-member-list-json')).members[0]!.id;
    expect(memberPromoteCmd({ endpoints: ['https://a:2379'] }, small.replace(/^0+/, '')).at(-1)).toBe(small);
  });
});

describe('snapshot commands', () => {
  const base = {
    db: '/var/lib/etcd.etcd-dr-r1/member/snap/db',
    dataDir: '/var/lib/etcd',
    name: 'etcd1',
    initialCluster: 'etcd1=https://10.0.0.1:2380',
    initialClusterToken: 'etcd-dr-r1',
    initialAdvertisePeerUrls: ['https://10.0.0.1:2380'],
  };
  const tools = (version: string, extra: Partial<SnapshotTools> = {}): SnapshotTools => ({ version: parseVersion(version), ...extra });

  it.each([
    ['3.4.23', {}, 'env'],
    ['3.5.30', {}, 'etcdutl'],
    ['3.5.30', { etcdutlPresent: false }, 'env'],
    ['3.5.30', { tool: 'etcdctl' as const }, 'env'],
    ['3.6.0', {}, 'etcdutl'],
  ])('%s %j runs %s', (version, extra, first) => {
    expect(snapshotStatusCmd(tools(version, extra), '/db')[0]).toBe(first);
    expect(snapshotRestoreCmd(tools(version, extra), base)[0]).toBe(first);
  });

  it('3.6 without etcdutl cannot restore', () => {
    expect(() => snapshotRestoreCmd(tools('3.6.0', { etcdutlPresent: false }), base)).toThrow(EtcdCapabilityError);
  });

  it.each([
    ['3.4.23', false],
    ['3.4.27', true],
    ['3.5.9', false],
    ['3.5.10', true],
    ['3.5.10-rc.0', false],
    ['3.6.0', true],
  ])('--bump-revision on %s: %s', (version, ok) => {
    const build = () => snapshotRestoreCmd(tools(version), { ...base, bumpRevision: 1_000_000_000 });
    if (ok) expect(build().slice(-2)).toEqual(['--bump-revision=1000000000', '--mark-compacted']);
    else expect(build).toThrow(/cannot bump the revision on restore \(needs 3\.4\.27\+ or 3\.5\.10\+\)/);
  });

  it('a bump of 0 adds nothing, a negative one is refused', () => {
    expect(snapshotRestoreCmd(tools('3.4.23'), { ...base, bumpRevision: 0 })).not.toContain('--mark-compacted');
    expect(() => snapshotRestoreCmd(tools('3.5.30'), { ...base, bumpRevision: -1 })).toThrow(/must not be negative/);
  });

  it('restore checks its inputs', () => {
    const t = tools('3.5.30');
    expect(() => snapshotRestoreCmd(t, { ...base, name: 'a b' })).toThrow(/member name/);
    expect(() => snapshotRestoreCmd(t, { ...base, initialClusterToken: "k8s'etcd" })).toThrow(/cluster token/);
    expect(() => snapshotRestoreCmd(t, { ...base, initialAdvertisePeerUrls: [] })).toThrow(/at least one peer URL/);
    expect(() => snapshotRestoreCmd(t, { ...base, initialCluster: 'a=https://x:2380 b' })).toThrow(/initial cluster/);
    expect(() => snapshotRestoreCmd(t, { ...base, dataDir: '' })).toThrow(/not a usable path/);
    expect(snapshotRestoreCmd(t, { ...base, walDir: '/wal' })).toContain('--wal-dir=/wal');
  });
});

describe('quoting: what the remote shell receives', () => {
  const node: NodeSpec = {
    name: 'etcd1',
    host: "k2 master's",
    address: '10.0.0.1',
    ssh: { sshHost: '10.0.0.1', user: 'root', port: 22, knownHostsFile: '/k', become: false, connectTimeout: 10, commandTimeout: 60 },
    etcd: {
      envFile: '/etc/etcd.env',
      dataDir: '/var/lib/etcd',
      service: 'etcd',
      caCert: '/etc/ssl/etcd/ssl/ca.pem',
      clientCert: "/etc/ssl/etcd/ssl/admin-k2 master's.pem",
      clientKey: '/etc/ssl/etcd/ssl/admin-$(id).pem',
      scheme: 'https',
      clientPort: 2379,
      peerPort: 2380,
    },
  };

  it('etcdctlPrefix quotes every argument with shellQuote, and sh gets the argv back intact', () => {
    const argv = etcdctlArgv(etcdTarget(node), []);
    const line = etcdctlPrefix(node);
    expect(line).toBe(shellJoin(argv));
    expect(line).toContain("'--cert=/etc/ssl/etcd/ssl/admin-k2 master'\\''s.pem'");
    expect(line).toContain("'--key=/etc/ssl/etcd/ssl/admin-$(id).pem'");
    // a real shell splits it back into exactly the argv
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${line.split(' ').slice(1).join(' ')}`], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv.slice(1));
  });

  it('a put of a JSON value survives the shell', () => {
    const argv = putCmd({ endpoints: ['https://a:2379'] }, "/registry/it's", '{"kind":"Pod","x":"$HOME `id`"}');
    const out = execFileSync('sh', ['-c', `printf '%s\\0' ${shellJoin(argv.slice(1))}`], { encoding: 'utf8' });
    expect(out.split('\0').slice(0, -1)).toEqual(argv.slice(1));
  });

  it('etcdTarget uses the node client URL, with brackets for IPv6', () => {
    expect(etcdTarget({ ...node, address: 'fd00::1' }).endpoints).toEqual(['https://[fd00::1]:2379']);
    expect(etcdTarget(node, ['https://10.0.0.2:2379'], 9000)).toMatchObject({ endpoints: ['https://10.0.0.2:2379'], commandTimeoutMs: 9000 });
  });
});
