import type { MemberInfo, NodeFacts } from '../../src/facts/types.js';

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
  version?: '3.4.23' | '3.5.30';
  alarms?: string[];
}

export function node(i: number, o: NodeOpts = {}): NodeFacts {
  const running = o.running ?? true;
  const reachable = o.reachable ?? true;
  const version = o.version ?? '3.4.23';
  const [major, minor, patch] = version.split('.').map(Number) as [number, number, number];
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
      exists: true,
      sha256: `env-${i}-${(o.envCluster ?? membersIds).join('')}`,
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
    warnings: [],
    probeMs: 120,
  };
}

export const NAMES3 = ['etcd1', 'etcd2', 'etcd3'];
