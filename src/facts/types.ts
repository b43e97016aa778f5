/**
 * What etcd-dr knows about a cluster, gathered read-only from every node in one pass.
 * Plans are made from these facts alone; a digest of the parts that matter makes stale plans detectable.
 * Ids are 16-digit lowercase hex strings everywhere.
 */

export interface VersionInfo {
  raw: string;
  major: number;
  minor: number;
  patch: number;
}

export interface MemberInfo {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** `endpoint status` of a running member, as it answered for itself. */
export interface EndpointInfo {
  memberId: string;
  clusterId: string;
  /** '0000000000000000' when it knows no leader */
  leader: string;
  isLearner: boolean;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  revision: number;
  dbSize: number;
  version: string;
  errors: string[];
}

/** Snapshot status of a stopped member's db (`etcdctl|etcdutl snapshot status`). */
export interface DbStatus {
  revision: number;
  totalKey: number;
  totalSize: number;
  hash: number;
}

export interface DataDirInfo {
  path: string;
  exists: boolean;
  /** member/snap/db present */
  hasDb: boolean;
  dbBytes?: number;
  walFiles?: number;
  /** from the WAL metadata record: works on a stopped member */
  walMemberId?: string;
  walClusterId?: string;
  /** only for a stopped member: reading a live db would race etcd */
  db?: DbStatus;
  dbError?: string;
  /** data dirs set aside by earlier etcd-dr runs: `<dataDir>.etcd-dr-<run id>`, or `<dataDir>/etcd-dr-<run id>` in a mount point */
  movedAside: string[];
  /**
   * the data dirs earlier etcd-dr runs set aside that hold a db (`<dataDir>.etcd-dr-<run id>`, or
   * `<dataDir>/etcd-dr-<run id>` inside a data dir that is a mount point), newest run first: a recovery
   * weighs them like live data dirs (see src/facts/aside.ts)
   */
  setAside?: SetAsideDir[];
  /**
   * free bytes on the file system where a restore or a join writes a new data dir: the data dir's own
   * (its parent's when it does not exist)
   */
  freeBytes?: number;
  /** type of that file system (ext4, xfs, tmpfs, …) */
  fsType?: string;
  /**
   * the data dir is the root of a file system of its own (a dedicated volume). It cannot be renamed
   * (EBUSY), so its member/ dir is set aside inside it; `exists` then says whether member/ exists
   */
  mountPoint?: boolean;
  /** the WAL dir the env file sets with ETCD_WAL_DIR, and its file system (plans refuse a WAL apart from the data dir) */
  walDir?: { path: string; fsType?: string; freeBytes?: number; mountPoint: boolean };
}

/** A data dir an earlier etcd-dr run set aside, as the probe read it (read-only). */
export interface SetAsideDir {
  path: string;
  /** the run that set it aside (from its name) */
  runId: string;
  /** when it was set aside: the dir's change time (a rename sets it), ISO */
  at?: string;
  dbBytes?: number;
  walMemberId?: string;
  walClusterId?: string;
  /** read only while etcd is stopped on the node, as for a live db */
  db?: DbStatus;
  dbError?: string;
}

export interface EnvInfo {
  path: string;
  exists: boolean;
  sha256?: string;
  /** the whole file: plans rewrite it keeping every line they do not change */
  text?: string;
  /** the cluster-related variables, as the file sets them */
  vars: Partial<Record<EnvKey, string>>;
}

export const ENV_KEYS = [
  'ETCD_NAME',
  'ETCD_DATA_DIR',
  'ETCD_INITIAL_CLUSTER',
  'ETCD_INITIAL_CLUSTER_STATE',
  'ETCD_INITIAL_CLUSTER_TOKEN',
  'ETCD_INITIAL_ADVERTISE_PEER_URLS',
  'ETCD_ADVERTISE_CLIENT_URLS',
  'ETCD_LISTEN_PEER_URLS',
  'ETCD_LISTEN_CLIENT_URLS',
  // how long a follower waits for its leader before it calls an election (status waits that out)
  'ETCD_ELECTION_TIMEOUT',
] as const;
export type EnvKey = (typeof ENV_KEYS)[number];

export type ServiceState = 'active' | 'inactive' | 'failed' | 'activating' | 'deactivating' | 'unknown';

export interface NodeFacts {
  name: string;
  host: string;
  address: string;
  reachable: boolean;
  /** why the node could not be reached or probed */
  error?: string;
  /** its host key was refused (unknown, changed or revoked): nothing may run against this cluster */
  refused?: { message: string; hint: string };
  service: ServiceState;
  /** an etcd process exists (independent of what the service manager says) */
  processRunning: boolean;
  versions: { etcd?: VersionInfo; etcdctl?: VersionInfo; etcdutl?: VersionInfo };
  env?: EnvInfo;
  dataDir?: DataDirInfo;
  /** present when etcd answered `endpoint status` */
  endpoint?: EndpointInfo;
  /** the membership as this member sees it (running members only) */
  members?: MemberInfo[];
  /** member list's header cluster id */
  membersClusterId?: string;
  alarms?: string[];
  /** `endpoint health` (a linearizable read): the member serves clients */
  healthy?: boolean;
  healthError?: string;
  /** an etcd-dr lock on this node (another run, or a stale one) */
  lock?: { runId: string; since?: string; holder?: string };
  /** the lock file exists but is empty: a run crashed between creating and writing it */
  lockEmpty?: boolean;
  /** runs whose lock on this node was released at their end (`<lock>.released-<run id>`) */
  releasedRuns?: string[];
  /** probe problems that did not stop the probe (a command failed, output unparsable) */
  warnings: string[];
  probeMs: number;
}

export type Verdict = 'healthy' | 'degraded' | 'quorum-lost' | 'inconsistent';

export interface ClusterAssessment {
  verdict: Verdict;
  reasons: string[];
  /** the membership agreed by the running members (voting + learners); empty when none runs */
  members: MemberInfo[];
  clusterId?: string;
  leader?: string;
  votingCount: number;
  quorum: number;
  /** voting members that serve clients */
  healthyVoting: number;
  notes: string[];
  /**
   * present when a majority ran but too few served at the first probe, and the gathering waited out a
   * possible leader election: its bound, how long it waited and how many more probes it made
   */
  electionWait?: { limitMs: number; waitedMs: number; probes: number };
}

export interface ClusterFacts {
  /** inventory file path and cluster name */
  inventory: { file: string; cluster: string };
  gatheredAt: string;
  nodes: NodeFacts[];
  assessment: ClusterAssessment;
  /** digest of the facts that a plan depends on (see digestFacts) */
  digest: string;
}
