/** What the parsers of etcdctl and etcdutl output return: plain data, ids as 16 lowercase hex digits. */


/** `0000000000000000`: the leader field of a member that knows no leader. */
export const NO_ID = '0000000000000000';

export interface ResponseHeader {
  clusterId: string;
  /** the member that answered */
  memberId: string;
  raftTerm: number;
  revision: number;
}

export interface Member {
  id: string;
  /** empty for a member that was added but never started */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  /** etcdctl's own rule: a member is started once it has published its name */
  started: boolean;
}

export interface MemberList {
  header: ResponseHeader;
  members: Member[];
}

export interface EndpointStatus {
  endpoint: string;
  memberId: string;
  clusterId: string;
  /** NO_ID when this member knows no leader */
  leader: string;
  isLeader: boolean;
  isLearner: boolean;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  revision: number;
  /** e.g. `etcdserver: no leader`, `memberID:… alarm:NOSPACE` */
  errors: string[];
}

export interface EndpointFailure {
  endpoint: string;
  error: string;
}

export interface EndpointStatusResult {
  statuses: EndpointStatus[];
  /** endpoints etcdctl could not reach (from its stderr) */
  failures: EndpointFailure[];
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  /** as printed, e.g. `3.497537ms` */
  took: string;
  tookMs: number;
  error?: string;
}

export interface EndpointHashKv {
  endpoint: string;
  memberId: string;
  clusterId: string;
  revision: number;
  hash: number;
  compactRevision: number;
}

export type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT' | `UNKNOWN(${string})`;

export interface Alarm {
  memberId: string;
  alarm: AlarmType;
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  /** storage version (etcdutl 3.6+ only) */
  version?: string;
}

export interface MemberChange {
  memberId: string;
  clusterId: string;
}

export interface MemberAddSimple extends MemberChange {
  /** the ETCD_* lines etcdctl prints for the new member (ETCD_NAME, ETCD_INITIAL_CLUSTER, …) */
  env: Record<string, string>;
}

export interface MemberAddResult {
  header: ResponseHeader;
  member: Member;
  /** the membership after the add, the new member included */
  members: Member[];
}

export interface KeyCount {
  header: ResponseHeader;
  count: number;
}

export interface RestoreLog {
  /** id of the member the restore created (from "added member") */
  memberId?: string;
  /** id of the restored cluster */
  clusterId?: string;
  /** revision before and after --bump-revision (3.5 logs it) */
  latestRevision?: number;
  bumpedRevision?: number;
}
