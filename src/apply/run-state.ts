/**
 * What a run's steps hand on to later steps of the same process, in one place: the key count the
 * verification must not fall below, when a joiner was last started, a serve check begun after a promote,
 * and the db copies still running beside the steps. Everything else a step needs is in the plan or on the
 * nodes; a resumed run starts from a new state (the baseline is read back from the journal).
 */
import type { Plan } from '../plan/types.js';
import type { GrowingFile } from '../util/growing-file.js';

export interface DbCopy {
  bytes: number;
  sha256: string;
  ms: number;
  endedAt: number;
}

/** A copy an `alongside` backup step started and this process has not awaited yet. */
export interface CopyInFlight {
  step: string;
  done: Promise<DbCopy>;
  /** the file its current attempt writes, once there is one: a send can follow it (see sendDb) */
  file?: GrowingFile;
  /** settles with the first attempt's file, or with nothing once the copy ended without one */
  firstFile: Promise<GrowingFile | undefined>;
}

export interface RunState {
  /** the plan being run: the reviewed one, or its fallback once a restore-all step failed */
  plan: Plan;
  /** keys the restored member served: the verification's floor */
  baseline?: { count: number; revision: number };
  /** when this run last started etcd on a joining member: etcd accepts the next member 5 s after that */
  joinerStartedAt?: number;
  /** a serve check run in the background right after a promote, read by that member's wait step */
  readonly serveSeen: Map<string, Promise<{ word: string; at: number }>>;
  /** db copies to the bastion that `alongside` backup steps of this process started, by local path */
  readonly copies: Map<string, CopyInFlight>;
}

export function newRunState(plan: Plan, baseline?: { count: number; revision: number }): RunState {
  return { plan, ...(baseline ? { baseline } : {}), serveSeen: new Map(), copies: new Map() };
}
