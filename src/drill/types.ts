/** What a drill is given (its dependencies and options) and what it reports, with its timings. */
import type { RunResult } from '../apply/executor.js';
import type { RunDir } from '../apply/rundir.js';
import type { ClusterFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/types.js';
import type { LinkRate } from '../plan/cost.js';
import type { Plan, RecoverStrategy } from '../plan/types.js';
import type { Transport } from '../ssh/transport.js';
import type { AckedWrite } from './acked.js';
import type { Capture } from './capture.js';
import type { Check } from './checks.js';
import type { Scenario } from './scenarios.js';

export interface Timings {
  stopMs: number;
  backupMs: number;
  restoreMs: number;
  /** from the start of the recovery until the first member serves: the time to write availability */
  firstMemberServingMs: number;
  joinsMs: Record<string, number>;
  verifyMs: number;
  /** the whole recovery run: the RTO (for a planned change: the whole change) */
  totalMs: number;
  captureBeforeMs: number;
  captureAfterMs: number;
  injectMs: number;
  /** planned changes: per removed member, its removal (leadership handover, member remove, stop, data dir aside, env files) */
  removesMs: Record<string, number>;
  /** planned changes: handing leadership over before a removal */
  moveLeaderMs: number;
  /** planned changes: every member's env file rewritten to the membership after a join */
  envSyncMs: number;
  /** replace: from the host's loss until its replacement is verified (the cluster ran a member short) */
  degradedMs: number;
}

export interface DrillReport {
  tool: { name: 'etcd-dr'; version: string };
  cluster: string;
  inventory: string;
  scenario: Scenario;
  /** recovery: a failure injected and recovered; planned: a membership change applied */
  kind: 'recovery' | 'planned';
  description: string;
  pass: boolean;
  startedAt: string;
  finishedAt: string;
  runId?: string;
  runDir?: string;
  survivor?: string;
  /** recoveries: the strategy that ran (rejoin, restore-all, or rejoin after a failed restore-all) and how it was chosen */
  strategy?: string;
  /** planned changes: the node added, removed or replaced */
  target?: string;
  /** planned changes: the membership before and after */
  members?: { before: string[]; after?: string[] };
  excluded: string[];
  error?: string;
  checks: Check[];
  timings: Partial<Timings>;
  before?: Omit<Capture, 'values'>;
  after?: Omit<Capture, 'values'>;
  missingKeys: string[];
  changedKeys: string[];
  notes: string[];
}

export interface DrillDeps {
  inventory: Inventory;
  /** the recovery's run id (its run dir also holds the drill's log and reports) */
  runId: string;
  transport: Transport;
  toolVersion: string;
  holder: string;
  lockFile: string;
  backupDir: string;
  /** the link rates earlier runs of this bastion measured, for the plan's cost model */
  link?: LinkRate;
  peer?: LinkRate;
  /** gathers facts (with host-key refusals) */
  gather: () => Promise<ClusterFacts>;
  /** shows the plan and asks (or accepts --yes) */
  confirm: (plan: Plan) => Promise<void>;
  /** runs the plan with journal and progress */
  execute: (plan: Plan, run: RunDir) => Promise<RunResult>;
  runDirFor: (plan: Plan) => RunDir;
  /** powers a node off (the built-in lab); without it `node-lost` and `replace` stop etcd there instead */
  powerOff?: (node: string) => Promise<void>;
  /** powers a node on again (the built-in lab): `replace` brings its host back */
  powerOn?: (node: string) => Promise<void>;
  note: (line: string) => void;
  /**
   * the writes that the writers beside etcd (on the lab: its apiserver stand-in) had acknowledged so far;
   * when given, a recovery drill checks that none of them was lost
   */
  ackedWrites?: () => AckedWrite[];
}

export interface DrillOptions {
  scenario: Scenario;
  survivor?: string;
  /** recoveries: --strategy (default rejoin) */
  strategy?: RecoverStrategy;
  /** keys written for `survivor-stale` while the stale member is down */
  lateKeys?: number;
  /** planned changes: the node to add (scale-out) or the member to remove or replace */
  target?: string;
}
