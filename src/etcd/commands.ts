/**
 * Command lines for etcdctl and etcdutl, as argv arrays. Nothing here builds a shell string: the SSH
 * layer quotes every argument with its one quoting function.
 *
 * Layout: `env ETCDCTL_API=3 <etcdctl> --endpoints=… --cacert=… --cert=… --key=… --dial-timeout=…
 * --command-timeout=… <command…>`. `env` makes the API version explicit whatever the login shell
 * sets (etcdctl 3.3 and older default to the v2 API). The fixtures in test/fixtures/etcd were captured
 * with exactly this layout, and the unit tests compare each builder against them.
 */
import { EtcdArgumentError, EtcdCapabilityError } from './errors.js';
import { initialClusterString, type InitialClusterMember } from './initial-cluster.js';
import { restoreTool, supportsBumpRevision, type EtcdVersion } from './version.js';

/** How to reach etcd with etcdctl. */
export interface EtcdctlTarget {
  /** client URLs, e.g. `https://10.0.0.1:2379` */
  endpoints: readonly string[];
  caCert?: string;
  cert?: string;
  key?: string;
  /** etcdctl on the node (default `etcdctl`, found on PATH) */
  etcdctl?: string;
  /** default 2000, etcdctl's own default */
  dialTimeoutMs?: number;
  /** per request, excluding the dial; default 5000, etcdctl's own default */
  commandTimeoutMs?: number;
}

/** The tools of one node, for the commands that work on files (snapshot status/restore). */
export interface SnapshotTools {
  version: Pick<EtcdVersion, 'major' | 'minor' | 'patch'> & { prerelease?: string };
  /** default `etcdctl` */
  etcdctl?: string;
  /** default `etcdutl` */
  etcdutl?: string;
  /** whether etcdutl exists on the node (default: true when the version ships it) */
  etcdutlPresent?: boolean;
  /** use this tool whatever the version prefers (e.g. to compare both on 3.5) */
  tool?: 'etcdctl' | 'etcdutl';
}

export type Argv = string[];

const CLIENT_URL = /^(https?|unixs?):\/\/[A-Za-z0-9_.\-\[\]:%]+\/?$/;
const HEX_ID = /^[0-9a-fA-F]{1,16}$/;
const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;

function checkPath(what: string, p: string): string {
  if (p === '' || /[\0\r\n]/.test(p)) throw new EtcdArgumentError(`${what} ${JSON.stringify(p)} is not a usable path`);
  return p;
}

function checkUrl(what: string, u: string): string {
  if (!CLIENT_URL.test(u)) throw new EtcdArgumentError(`${what} ${JSON.stringify(u)} is not a URL like https://10.0.0.1:2379`);
  return u;
}

function duration(what: string, ms: number): string {
  if (!Number.isSafeInteger(ms) || ms <= 0) throw new EtcdArgumentError(`${what} must be a positive number of milliseconds, not ${ms}`);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/**
 * A member id as etcdctl's `member promote|remove` and `move-leader` take it: hex, here always 16
 * lowercase digits. Accepts hex strings (with or without leading zeros) or a bigint.
 */
export function memberIdArg(id: string | bigint): string {
  let hex: string;
  if (typeof id === 'bigint') {
    if (id <= 0n || id >= 1n << 64n) throw new EtcdArgumentError(`member id ${id} is not a uint64 above 0`);
    hex = id.toString(16);
  } else {
    const s = id.trim().replace(/^0x/i, '');
    if (!HEX_ID.test(s)) throw new EtcdArgumentError(`member id ${JSON.stringify(id)} is not hex like 8e9e05c52164694d`);
    hex = s;
  }
  const out = hex.toLowerCase().padStart(16, '0');
  if (out === '0000000000000000') throw new EtcdArgumentError('member id 0 names no member');
  return out;
}

/** Flags every etcdctl call against a cluster gets. */
export function etcdctlArgv(t: EtcdctlTarget, args: readonly string[]): Argv {
  if (t.endpoints.length === 0) throw new EtcdArgumentError('etcdctl needs at least one endpoint');
  const argv: Argv = ['env', 'ETCDCTL_API=3', checkPath('etcdctl', t.etcdctl ?? 'etcdctl')];
  argv.push(`--endpoints=${t.endpoints.map((e) => checkUrl('endpoint', e)).join(',')}`);
  if (t.caCert !== undefined) argv.push(`--cacert=${checkPath('CA certificate', t.caCert)}`);
  if (t.cert !== undefined) argv.push(`--cert=${checkPath('client certificate', t.cert)}`);
  if (t.key !== undefined) argv.push(`--key=${checkPath('client key', t.key)}`);
  argv.push(`--dial-timeout=${duration('dial timeout', t.dialTimeoutMs ?? 2000)}`);
  argv.push(`--command-timeout=${duration('command timeout', t.commandTimeoutMs ?? 5000)}`);
  argv.push(...args);
  return argv;
}

export type OutputFormat = 'json' | 'table' | 'simple' | 'fields';

/**
 * `member list`. json is what etcd-dr reads (ids exact through the BigInt-safe reader, `isLearner`
 * present in 3.4 and 3.5); table/simple print ids in hex and serve as a cross-check.
 * From 3.5 on this is a linearizable read: it fails while quorum is lost.
 */
export function memberListCmd(t: EtcdctlTarget, format: OutputFormat = 'json'): Argv {
  return etcdctlArgv(t, ['member', 'list', '-w', format]);
}

/** `endpoint status` of each endpoint (served locally by each member, so it works without quorum). */
export function endpointStatusCmd(t: EtcdctlTarget, opts: { cluster?: boolean; format?: OutputFormat } = {}): Argv {
  return etcdctlArgv(t, ['endpoint', 'status', '-w', opts.format ?? 'json', ...(opts.cluster ? ['--cluster'] : [])]);
}

/** `endpoint health`: a linearizable read per endpoint; fails on a learner and without quorum. */
export function endpointHealthCmd(t: EtcdctlTarget, opts: { cluster?: boolean; format?: OutputFormat } = {}): Argv {
  return etcdctlArgv(t, ['endpoint', 'health', '-w', opts.format ?? 'json', ...(opts.cluster ? ['--cluster'] : [])]);
}

/** `endpoint hashkv`: the KV hash per member, equal on consistent members at the same revision. */
export function endpointHashKvCmd(t: EtcdctlTarget, opts: { rev?: number; format?: OutputFormat } = {}): Argv {
  const args = ['endpoint', 'hashkv', '-w', opts.format ?? 'json'];
  if (opts.rev !== undefined) {
    if (!Number.isSafeInteger(opts.rev) || opts.rev < 0) throw new EtcdArgumentError(`hashkv revision must be a revision number, not ${opts.rev}`);
    args.push(`--rev=${opts.rev}`);
  }
  return etcdctlArgv(t, args);
}

export function alarmListCmd(t: EtcdctlTarget, format: OutputFormat = 'json'): Argv {
  return etcdctlArgv(t, ['alarm', 'list', '-w', format]);
}

export interface MemberAddOptions {
  name: string;
  peerUrls: readonly string[];
  /** add as a non-voting learner (3.4+): the quorum does not grow until it is promoted */
  learner: boolean;
  /** json (default: gives the new member's exact id) or simple (prints the ETCD_* lines) */
  format?: 'json' | 'simple';
}

/** `member add NAME --peer-urls=… [--learner]`. */
export function memberAddCmd(t: EtcdctlTarget, o: MemberAddOptions): Argv {
  if (!MEMBER_NAME.test(o.name)) throw new EtcdArgumentError(`member name ${JSON.stringify(o.name)} is not letters, digits, _ . -`);
  if (o.peerUrls.length === 0) throw new EtcdArgumentError(`member ${o.name} needs at least one peer URL`);
  const args = ['member', 'add', o.name, `--peer-urls=${o.peerUrls.map((u) => checkUrl(`peer URL of ${o.name}`, u)).join(',')}`];
  if (o.learner) args.push('--learner');
  if ((o.format ?? 'json') === 'json') args.push('-w', 'json');
  return etcdctlArgv(t, args);
}

/**
 * `member promote HEX`, simple output only: etcdctl 3.4 has no json printer for promote and crashes
 * (nil pointer) after the promote succeeded, which would read as a failure.
 */
export function memberPromoteCmd(t: EtcdctlTarget, id: string | bigint): Argv {
  return etcdctlArgv(t, ['member', 'promote', memberIdArg(id)]);
}

/** `member remove HEX` (simple output: "Member … removed from cluster …"). */
export function memberRemoveCmd(t: EtcdctlTarget, id: string | bigint, format: 'simple' | 'json' = 'simple'): Argv {
  return etcdctlArgv(t, ['member', 'remove', memberIdArg(id), ...(format === 'json' ? ['-w', 'json'] : [])]);
}

/** `move-leader HEX`: etcdctl sends it to whichever of the endpoints is the leader; give it all of them. */
export function moveLeaderCmd(t: EtcdctlTarget, id: string | bigint): Argv {
  return etcdctlArgv(t, ['move-leader', memberIdArg(id)]);
}

function checkKey(what: string, k: string): string {
  if (/[\0\r\n]/.test(k)) throw new EtcdArgumentError(`${what} ${JSON.stringify(k)} contains a line break or NUL`);
  return k;
}

/**
 * Counts the keys under a prefix (`''` = the whole keyspace): a keys-only read limited to one key,
 * whose `count` is still the size of the whole range. 3.4 has no `--count-only`, and 3.5 allows it
 * with `-w fields` only, so this one form serves both. `--` keeps a prefix starting with `-` a key.
 */
export function keyCountCmd(t: EtcdctlTarget, prefix: string): Argv {
  return etcdctlArgv(t, ['get', '--prefix', '--keys-only', '--limit=1', '-w', 'json', '--', checkKey('prefix', prefix)]);
}

/** `put KEY VALUE` in json (the response header carries the new revision). */
export function putCmd(t: EtcdctlTarget, key: string, value: string): Argv {
  if (key === '') throw new EtcdArgumentError('put needs a key');
  return etcdctlArgv(t, ['put', '-w', 'json', '--', checkKey('key', key), checkKey('value', value)]);
}

export function etcdVersionCmd(etcd = 'etcd'): Argv {
  return [checkPath('etcd', etcd), '--version'];
}

export function etcdctlVersionCmd(etcdctl = 'etcdctl'): Argv {
  return ['env', 'ETCDCTL_API=3', checkPath('etcdctl', etcdctl), 'version'];
}

export function etcdutlVersionCmd(etcdutl = 'etcdutl'): Argv {
  return [checkPath('etcdutl', etcdutl), 'version'];
}

function snapshotTool(tools: SnapshotTools): 'etcdctl' | 'etcdutl' {
  if (tools.tool) return tools.tool;
  return restoreTool(tools.version, tools.etcdutlPresent === undefined ? {} : { etcdutlPresent: tools.etcdutlPresent });
}

function snapshotArgv(tools: SnapshotTools, args: readonly string[]): Argv {
  return snapshotTool(tools) === 'etcdutl'
    ? [checkPath('etcdutl', tools.etcdutl ?? 'etcdutl'), ...args]
    : ['env', 'ETCDCTL_API=3', checkPath('etcdctl', tools.etcdctl ?? 'etcdctl'), ...args];
}

/**
 * `snapshot status DB -w json` of a stopped member's db (or a saved snapshot): revision, key count,
 * size. etcdctl on 3.4, etcdutl on 3.5+ (etcdctl's form is deprecated there and gone in 3.6).
 * Never point it at the db of a running member: it opens the file and races etcd.
 */
export function snapshotStatusCmd(tools: SnapshotTools, db: string): Argv {
  return snapshotArgv(tools, ['snapshot', 'status', checkPath('db', db), '-w', 'json']);
}

export interface RestoreOptions {
  /** a db copied from `member/snap/db`, or a file from `snapshot save` */
  db: string;
  /** must not exist: etcd refuses to restore over a data dir */
  dataDir: string;
  name: string;
  /** `ETCD_INITIAL_CLUSTER` of the restored cluster, as a string or as members */
  initialCluster: string | readonly InitialClusterMember[];
  /** a new token gives a new cluster id, so old members can never rejoin by mistake */
  initialClusterToken: string;
  initialAdvertisePeerUrls: readonly string[];
  /**
   * a db copied from a data dir has no snapshot hash and needs this (default true); a `snapshot
   * save` file has one, so pass false to have it checked
   */
  skipHashCheck?: boolean;
  /**
   * add this much to the revision and mark it compacted, so watchers (Kubernetes) do not trust
   * revisions that went backwards. Needs 3.4.27+/3.5.10+: throws on older versions.
   */
  bumpRevision?: number | bigint;
  walDir?: string;
}

/** `snapshot restore …` with the tool the version calls for. */
export function snapshotRestoreCmd(tools: SnapshotTools, o: RestoreOptions): Argv {
  if (!MEMBER_NAME.test(o.name)) throw new EtcdArgumentError(`member name ${JSON.stringify(o.name)} is not letters, digits, _ . -`);
  if (!/^[A-Za-z0-9_.\-]+$/.test(o.initialClusterToken)) {
    throw new EtcdArgumentError(`cluster token ${JSON.stringify(o.initialClusterToken)} is not letters, digits, _ . -`);
  }
  if (o.initialAdvertisePeerUrls.length === 0) throw new EtcdArgumentError(`member ${o.name} needs at least one peer URL to advertise`);
  const cluster = typeof o.initialCluster === 'string' ? o.initialCluster : initialClusterString(o.initialCluster);
  if (cluster === '' || /[\s'"]/.test(cluster)) throw new EtcdArgumentError(`initial cluster ${JSON.stringify(cluster)} is not name=url,…`);
  const args = [
    'snapshot',
    'restore',
    checkPath('db', o.db),
    `--data-dir=${checkPath('data dir', o.dataDir)}`,
    `--name=${o.name}`,
    `--initial-cluster=${cluster}`,
    `--initial-cluster-token=${o.initialClusterToken}`,
    `--initial-advertise-peer-urls=${o.initialAdvertisePeerUrls.map((u) => checkUrl(`peer URL of ${o.name}`, u)).join(',')}`,
  ];
  if (o.skipHashCheck ?? true) args.push('--skip-hash-check');
  if (o.walDir !== undefined) args.push(`--wal-dir=${checkPath('wal dir', o.walDir)}`);
  if (o.bumpRevision !== undefined) {
    const n = BigInt(o.bumpRevision);
    if (n < 0n) throw new EtcdArgumentError(`bump revision must not be negative, not ${n}`);
    if (n > 0n) {
      if (!supportsBumpRevision(tools.version)) {
        const v = tools.version;
        throw new EtcdCapabilityError(
          `etcd ${v.major}.${v.minor}.${v.patch} cannot bump the revision on restore (needs 3.4.27+ or 3.5.10+); ` +
            'restore without it, or upgrade the etcd tools on the node',
        );
      }
      args.push(`--bump-revision=${n}`, '--mark-compacted');
    }
  }
  return snapshotArgv(tools, args);
}
