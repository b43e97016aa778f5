/**
 * One run of a plan as a single value: the plan, its run dir, the session it runs through, whether it
 * continues a journal, and the executor's settings. `executeRun` runs it; `runSummary` says how it ended.
 */
import { clientUrl } from '../inventory/types.js';
import type { Plan } from '../plan/types.js';
import { Executor, type RunResult } from './executor.js';
import type { ProgressSink } from './progress.js';
import type { RunDir } from './rundir.js';
import { gather, type RunSession } from './session.js';
import { underLockCheck } from './under-lock.js';

/** The executor's settings from the command line. */
export interface RunSettings {
  healthyTimeoutSec?: number;
}

export interface Run {
  plan: Plan;
  run: RunDir;
  session: RunSession;
  /** true when the run continues its journal (`resume`), false for a new run */
  resumed: boolean;
  settings: RunSettings;
}

/** What the caller watches a run through: where progress goes, and the signal received, if any. */
export interface RunWatch {
  progress: ProgressSink;
  interrupted: () => 'SIGINT' | 'SIGTERM' | undefined;
}

/** Runs the plan; the run's lock is released when it ends, whichever way. */
export async function executeRun(r: Run, watch: RunWatch): Promise<RunResult> {
  const { plan, run, session: s, resumed, settings } = r;
  // a new run checks the facts again once it holds every lock (a resumed one changed them itself)
  const underLock = resumed ? undefined : underLockCheck(plan, () => gather(s));
  try {
    const ex = new Executor(plan, {
      inventory: s.inventory,
      transport: s.transport,
      log: s.log,
      run,
      progress: watch.progress,
      interrupted: watch.interrupted,
      ...(underLock ? { underLock } : {}),
      ...settings,
    });
    return await ex.run({ resumed });
  } finally {
    run.unlock();
  }
}

/** How a run ended, as the fields of its JSON document (docs/json.md). */
export type RunSummary = {
  runId: string;
  outcome: RunResult['outcome'];
  seconds: number;
  runDir: string;
  members: string[];
  etcdServers: string;
  backup?: string;
  steps: RunResult['steps'];
  verification?: RunResult['verification'];
  warnings: string[];
};

/** What was done, where the run's files are, what the kube-apiservers should use. */
export function runSummary(r: Run, result: RunResult): RunSummary {
  const { plan, run, session: s } = r;
  const servers = plan.finalMembers.map((m) => clientUrl(s.inventory.nodes.find((n) => n.name === m)!)).join(',');
  const backup = plan.steps.find((st) => st.action.type === 'backup-db');
  return {
    runId: result.runId,
    outcome: result.outcome,
    seconds: result.ms / 1000,
    runDir: run.dir,
    members: plan.finalMembers,
    etcdServers: servers,
    ...(backup && backup.action.type === 'backup-db' ? { backup: backup.action.localPath } : {}),
    steps: result.steps,
    ...(result.verification ? { verification: result.verification } : {}),
    warnings: plan.warnings,
  };
}
