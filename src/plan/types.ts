/**
 * The plan is data: a versioned JSON document made by a pure planner from facts and an intent, reviewed
 * by a person, then run step by step by the executor. Nothing in here does I/O.
 */

import type { CanonFacts } from '../facts/assess.js';
import type { CostEstimate } from './cost.js';

export const PLAN_FORMAT = 'etcd-dr/plan';
export const PLAN_FORMAT_VERSION = 1;

export interface RecoverIntent {
  kind: 'recover';
  survivor?: string;
  exclude: string[];
  /** add members back as learners first (default); false = the voting add of the manual procedure */
  learner: boolean;
  /** plan even though the cluster still has a quorum */
  force: boolean;
  /** take over a lock left by another run (a dead one: the user says so with --break-lock) */
  breakLock?: boolean;
  /** copy the survivor's db to the bastion (default true) */
  localBackup: boolean;
  backupDir: string;
  /** the copy ends before the restore starts (default: it runs alongside the recovery, awaited before the verification) */
  backupBeforeRestore?: boolean;
  /**
   * how the members come back: `rejoin` (default) restores the survivor alone and adds the others one at a
   * time; `restore-all` restores the survivor's db on every member at once; `auto` picks the faster by the
   * cost model (src/plan/cost.ts)
   */
  strategy?: RecoverStrategy;
}

export type RecoverStrategy = 'rejoin' | 'restore-all' | 'auto';

/** Add inventory nodes that are not members yet, one at a time, as learners first. */
export interface ScaleOutIntent {
  kind: 'scale-out';
  nodes: string[];
}

/** Remove members one at a time, leadership moved away first. */
export interface ScaleInIntent {
  kind: 'scale-in';
  members: string[];
}

/** Remove a (dead) member, then add its replacement: the same node once wiped, or another inventory node. */
export interface ReplaceIntent {
  kind: 'replace';
  member: string;
  /** the node that takes its place; default the member's own node */
  with?: string;
}

export type Intent = RecoverIntent | ScaleOutIntent | ScaleInIntent | ReplaceIntent;

export type Phase = 'lock' | 'hook' | 'stop' | 'backup' | 'restore' | 'first-member' | 'join' | 'remove' | 'finalize' | 'verify' | 'unlock';

/** What a step does; the executor has one handler per action. Parameters are all the handler needs. */
export type Action =
  /** `breakRun`: the run whose lock is broken (--break-lock); `breakEmpty`: an empty lock file is set aside (--break-lock) */
  | { type: 'lock'; breakRun?: string; breakEmpty?: boolean }
  | { type: 'stop-etcd' }
  /**
   * set a data dir aside. `inside`: the data dir is a mount point; its member/ dir moves into `to`
   * (`<from>/etcd-dr-<run id>`) on the same file system instead of `from` being renamed
   */
  | { type: 'move-data-dir'; from: string; to: string; inside?: boolean }
  /**
   * copy the db to the bastion. `alongside`: the step only starts the copy, which runs on while the next
   * steps go on; the `backup-wait` step of the same `localPath` waits for it (a plan without the flag
   * copies in the step itself)
   */
  | { type: 'backup-db'; remoteDb: string; localPath: string; alongside?: boolean }
  /**
   * the copy an `alongside` backup-db step started, on the bastion with its sha256: awaited when this
   * process started it, taken as it is when an earlier process of the run finished it (the file matches
   * the sha256 recorded beside it), else copied now
   */
  | { type: 'backup-wait'; remoteDb: string; localPath: string }
  | {
      type: 'restore-db';
      tool: 'etcdctl' | 'etcdutl';
      db: string;
      dataDir: string;
      name: string;
      peerUrl: string;
      initialCluster: string;
      token: string;
      bumpRevision?: number;
      markCompacted: boolean;
      /** the data dir is a mount point: restore into a scratch dir inside it, then rename its member/ into place */
      inside?: boolean;
    }
  /**
   * restore-all: the bastion's copy of the survivor's db (`localPath`) streamed to every member of `to` at
   * once, while the bastion's copy is still being made when it is; each member's copy is hashed on the node
   * and put in place only once it matches the sha256 of the bastion's complete copy. `from` is the db that
   * copy is made of: copied again when a resumed run finds no complete copy on the bastion.
   */
  | { type: 'send-db'; localPath: string; to: { node: string; path: string }[]; from?: { node: string; remoteDb: string } }
  /** restore-all: every member restores its copy of the db at once, one token, the full initial cluster */
  | {
      type: 'restore-all';
      tool: 'etcdctl' | 'etcdutl';
      initialCluster: string;
      token: string;
      bumpRevision?: number;
      markCompacted: boolean;
      members: { node: string; db: string; dataDir: string; name: string; peerUrl: string }[];
    }
  /** restore-all: start etcd on every member at once, wait until each serves; `baselineVia` counts the keys */
  | { type: 'start-all'; baselineVia: string }
  | { type: 'write-env'; path: string; backup: string; beforeSha256: string; content: string; afterSha256: string }
  /** `baseline`: once it serves, count the keys: the verification's floor (what the restored db holds) */
  | { type: 'start-etcd'; waitHealthy: boolean; baseline?: boolean }
  | { type: 'member-add'; via: string; name: string; peerUrl: string; learner: boolean }
  | { type: 'promote'; via: string; name: string }
  /** remove the member with this peer URL; done when no member has it */
  | { type: 'member-remove'; via: string; name: string; peerUrl: string }
  /** when `from` leads, hand leadership to another voting member (`to`, or the most caught-up one) */
  | { type: 'move-leader'; via: string; from: string; to?: string; members: string[] }
  /**
   * wait until the member serves clients. `publishVia`: a promoted learner publishes its name (and so
   * serves) only when a publish attempt started after its promotion, up to etcd's request timeout
   * (5 s + 2 x election timeout) later; when it has not published yet and the cluster keeps its quorum
   * without it, its etcd is restarted so it publishes at once. The member list is read through this member.
   */
  | { type: 'wait-healthy'; endpointOf: string; publishVia?: string }
  | { type: 'verify'; via: string; members: string[] }
  /** the inventory's hook commands on each of the step's nodes (`run`: node → commands), see src/plan/hooks.ts */
  | { type: 'hook'; hook: 'beforeStop' | 'afterVerify'; run: Record<string, string[]>; timeoutSec: number }
  | { type: 'unlock' };

export type ActionType = Action['type'];

export interface Step {
  /** stable within a plan: `07-join-etcd2-add` */
  id: string;
  phase: Phase;
  /** the inventory node (member name) the step runs on; absent for bastion-only steps */
  node?: string;
  /** nodes the step touches at once (parallel fan-out steps like stop-etcd on every node) */
  nodes?: string[];
  action: Action;
  /** the exact remote commands, for review; values only known at run time appear as <…> */
  commands: string[];
  /** unified-diff-like text of an env-file change */
  envDiff?: string;
  why: string;
  /**
   * the member whose join this step is part of: when any step of a join fails, the executor rolls the
   * join back (member removed, etcd stopped, env file restored, data dir set aside)
   */
  join?: string;
  /**
   * a step of the restore-all part of a recovery: when one fails, every member's part is undone (etcd
   * stopped, the restored data dir set aside, the env file restored) and the run goes on with the plan's
   * `fallback` steps, the survivor-then-rejoin path
   */
  allAtOnce?: boolean;
}

export type DataDirLayout = 'beside' | 'inside';

/** One data dir a plan touches, as the plan shows it (see datadir-layout.ts). */
export interface DataDirRow {
  node: string;
  path: string;
  layout: DataDirLayout;
  fsType?: string;
  /** free bytes on the file system a new data dir is written on */
  freeBytes?: number;
  /** where this run sets the old data aside (a whole data dir: `<it>/member/snap/db`) */
  setAside: string;
}

export interface EvidenceRow {
  node: string;
  state: 'running' | 'stopped' | 'unreachable' | 'excluded' | 'set-aside';
  /** a set-aside row: the dir that holds the data (an earlier run set it aside) */
  source?: string;
  /** the row the plan restores from */
  chosen?: boolean;
  hasDb: boolean;
  dbBytes?: number;
  revision?: number;
  totalKey?: number;
  raftIndex?: number;
  appliedIndex?: number;
  clusterId?: string;
  note?: string;
}

export interface Plan {
  format: typeof PLAN_FORMAT;
  version: typeof PLAN_FORMAT_VERSION;
  runId: string;
  createdAt: string;
  tool: { name: 'etcd-dr'; version: string };
  /** `fingerprint`: of the inventory's nodes (see seal.ts); a plan runs only with the inventory it was made from */
  inventory: { file: string; cluster: string; fingerprint: string };
  intent: Intent;
  /** the lock file on every node, and who the lock names as holder */
  lockFile: string;
  holder: string;
  /** digest of the facts the plan was made from; apply refuses when re-gathered facts differ */
  factsDigest: string;
  /** the facts behind the digest, so a refusal can say what changed */
  facts: CanonFacts;
  summary: string;
  /** `source`: the survivor's data is restored from a dir an earlier run set aside, not from its data dir */
  survivor?: { name: string; reason: string; evidence: EvidenceRow[]; source?: { path: string; db: string; runId: string; at?: string } };
  /** members of the cluster once the plan has run */
  finalMembers: string[];
  /** the data dirs the plan sets aside, each with its layout (beside it, or inside a mount point) and file system */
  dataDirs?: DataDirRow[];
  warnings: string[];
  steps: Step[];
  /** the strategy the recovery runs, and the cost model's estimates behind the choice */
  strategy?: { name: 'rejoin' | 'restore-all'; chosenBy: 'default' | 'flag' | 'auto'; estimate?: CostEstimate };
  /**
   * restore-all: what runs instead of the `allAtOnce` steps and everything after them when one of them
   * fails (the survivor restored alone, the others re-added one at a time)
   */
  fallback?: Step[];
  /** digest of everything above, set when the plan is saved (see seal.ts) */
  digest?: string;
}
