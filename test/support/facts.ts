import { createHash } from 'node:crypto';
import { assessCluster, digestFacts } from '../../src/facts/assess.js';
import type { ClusterFacts, MemberInfo, NodeFacts } from '../../src/facts/types.js';
import type { EtcdSettings, Inventory, NodeSpec } from '../../src/inventory/types.js';

/** Fixture facts of a kubespray-style cluster: etcd1..etcdN on 10.0.0.1..N, shaped as the probe reports them. */
export const CLUSTER_ID = 'cdf818194e3a8c32';
export const memberId = (i: number): string => `8e9e05c52164694${i.toString(16)}`;
export const addr = (i: number): string => `10.0.0.${i}`;

export function member(i: number, over: Partial<MemberInfo> = {}): MemberInfo {
  return {
    id: memberId(i),
    name: `etcd${i}`,
    peerUrls: [`https://${addr(i)}:2380`],
    clientUrls: [`https://${addr(i)}:2379`],
    isLearner: false,
    ...over,
  };
}

export function initialCluster(ids: number[]): string {
  return ids.map((i) => `etcd${i}=https://${addr(i)}:2380`).join(',');
}

export interface NodeOpts {
  running?: boolean;
  healthy?: boolean;
  reachable?: boolean;
  revision?: number;
  raftIndex?: number;
  members?: number[];
  leader?: number;
  clusterId?: string;
  hasDb?: boolean;
  envCluster?: number[];
  /** members shown as learners in this node's member list */
  learners?: number[];
  /** etcd, etcdctl (and etcdutl from 3.5 on) at this version, e.g. '3.4.23', '3.5.30', '3.4.27' */
  version?: string;
  alarms?: string[];
  /** the whole env file; default: envFileText(i, envCluster ?? members); null: the file is missing */
  envText?: string | null;
  /** an etcd-dr lock found on the node */
  lock?: { runId: string; holder?: string };
  /** free bytes where a new data dir goes (default: unknown, as from a node without POSIX df) */
  freeBytes?: number;
}

/**
 * An /etc/etcd.env as kubespray writes it (roles/etcd/templates/etcd.env.j2, abridged), with a comment,
 * a blank line and a quoted value so edits can be checked to keep them.
 */
export function envFileText(i: number, cluster: number[] = [1, 2, 3], eol = '\n'): string {
  return [
    '# Environment file for etcd v3.5.30',
    'ETCD_DATA_DIR=/var/lib/etcd',
    `ETCD_ADVERTISE_CLIENT_URLS=https://${addr(i)}:2379`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=https://${addr(i)}:2380`,
    'ETCD_INITIAL_CLUSTER_STATE=existing',
    'ETCD_METRICS=basic',
    `ETCD_LISTEN_CLIENT_URLS=https://${addr(i)}:2379,https://127.0.0.1:2379`,
    'ETCD_ELECTION_TIMEOUT="5000"',
    'ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd',
    `ETCD_LISTEN_PEER_URLS=https://${addr(i)}:2380`,
    `ETCD_NAME=etcd${i}`,
    `ETCD_INITIAL_CLUSTER=${initialCluster(cluster)}`,
    '',
    '# TLS settings',
    'ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem',
    `ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-k2-master0${i}.pem`,
    '',
  ].join(eol);
}

export function node(i: number, o: NodeOpts = {}): NodeFacts {
  const running = o.running ?? true;
  const reachable = o.reachable ?? true;
  const version = o.version ?? '3.4.23';
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
  const envText = o.envText === undefined ? envFileText(i, o.envCluster ?? o.members ?? [1, 2, 3]) : o.envText;
  const v = { raw: version, major, minor, patch };
  const membersIds = o.members ?? [1, 2, 3];
  const clusterId = o.clusterId ?? CLUSTER_ID;
  const hasDb = o.hasDb ?? true;
  if (!reachable) {
    return {
      name: `etcd${i}`, host: `k2-master0${i}`, address: addr(i), reachable: false, error: 'connect ETIMEDOUT',
      service: 'unknown', processRunning: false, versions: {}, warnings: [], probeMs: 10_000,
    };
  }
  return {
    name: `etcd${i}`,
    host: `k2-master0${i}`,
    address: addr(i),
    reachable: true,
    service: running ? 'active' : 'inactive',
    processRunning: running,
    versions: { etcd: v, etcdctl: v, ...(major === 3 && minor >= 5 ? { etcdutl: v } : {}) },
    env: {
      path: '/etc/etcd.env',
      exists: envText !== null,
      sha256: envText === null ? undefined : createHash('sha256').update(envText).digest('hex'),
      ...(envText === null ? {} : { text: envText }),
      vars: {
        ETCD_NAME: `etcd${i}`,
        ETCD_DATA_DIR: '/var/lib/etcd',
        ETCD_INITIAL_CLUSTER: initialCluster(o.envCluster ?? membersIds),
        ETCD_INITIAL_CLUSTER_STATE: 'existing',
        ETCD_INITIAL_CLUSTER_TOKEN: 'k8s_etcd',
        ETCD_INITIAL_ADVERTISE_PEER_URLS: `https://${addr(i)}:2380`,
        ETCD_ADVERTISE_CLIENT_URLS: `https://${addr(i)}:2379`,
      },
    },
    dataDir: {
      path: '/var/lib/etcd',
      exists: hasDb,
      hasDb,
      ...(hasDb
        ? {
            dbBytes: 20_000_000,
            walFiles: 1,
            walMemberId: memberId(i),
            walClusterId: clusterId,
            ...(running ? {} : { db: { revision: o.revision ?? 1000, totalKey: 500, totalSize: 20_000_000, hash: 1 } }),
          }
        : {}),
      movedAside: [],
      ...(o.freeBytes !== undefined ? { freeBytes: o.freeBytes } : {}),
    },
    ...(running
      ? {
          endpoint: {
            memberId: memberId(i),
            clusterId,
            leader: o.leader === undefined ? memberId(1) : o.leader === 0 ? '0000000000000000' : memberId(o.leader),
            isLearner: (o.learners ?? []).includes(i),
            raftTerm: 2,
            raftIndex: o.raftIndex ?? 5000,
            raftAppliedIndex: o.raftIndex ?? 5000,
            revision: o.revision ?? 1000,
            dbSize: 20_000_000,
            version,
            errors: [],
          },
          members: membersIds.map((m) => member(m, (o.learners ?? []).includes(m) ? { isLearner: true } : {})),
          membersClusterId: clusterId,
          healthy: o.healthy ?? true,
          alarms: o.alarms ?? [],
        }
      : {}),
    ...(o.lock ? { lock: o.lock } : {}),
    warnings: [],
    probeMs: 120,
  };
}

/** The etcd settings of a node named `host` under the inventory's kubespray defaults. */
export function kubesprayEtcd(host: string, over: Partial<EtcdSettings> = {}): EtcdSettings {
  return {
    envFile: '/etc/etcd.env',
    dataDir: '/var/lib/etcd',
    service: 'etcd',
    caCert: '/etc/ssl/etcd/ssl/ca.pem',
    clientCert: `/etc/ssl/etcd/ssl/admin-${host}.pem`,
    clientKey: `/etc/ssl/etcd/ssl/admin-${host}-key.pem`,
    scheme: 'https',
    clientPort: 2379,
    peerPort: 2380,
    ...over,
  };
}

/** The inventory node etcdN as loadInventory makes it from a kubespray inventory with defaults. */
export function nodeSpec(i: number): NodeSpec {
  const host = `k2-master0${i}`;
  return {
    name: `etcd${i}`,
    host,
    address: addr(i),
    ssh: { sshHost: addr(i), user: 'root', port: 22, knownHostsFile: '/root/.ssh/known_hosts', become: false, connectTimeout: 10, commandTimeout: 60 },
    etcd: kubesprayEtcd(host),
  };
}

export function inventory(count = 3): Inventory {
  return { file: '/work/inventory.yaml', cluster: { name: 'k2', disposable: false }, nodes: Array.from({ length: count }, (_, k) => nodeSpec(k + 1)) };
}

/** ClusterFacts of these nodes, assessed and digested as gatherFacts does. */
export function clusterFacts(nodes: NodeFacts[], names: string[] = nodes.map((n) => n.name)): ClusterFacts {
  return {
    inventory: { file: '/work/inventory.yaml', cluster: 'k2' },
    gatheredAt: '2026-11-24T20:00:00.000Z',
    nodes,
    assessment: assessCluster(nodes, names),
    digest: digestFacts(nodes),
  };
}

export const NAMES3 = ['etcd1', 'etcd2', 'etcd3'];
