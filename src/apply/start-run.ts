/**
 * Where a run lives before it starts: its run dir (created, locked against a second process, the plan
 * saved in it), its log file, and the refusal of a plan made from facts that no longer hold.
 */
import { existsSync, readFileSync } from 'node:fs';
import { diffCanonFacts, canonFacts } from '../facts/assess.js';
import { sealPlan } from '../plan/seal.js';
import type { Plan } from '../plan/types.js';
import { RefusedError } from '../util/errors.js';
import { RUN_ID_RE } from '../plan/run-id.js';
import { ensurePrivateDir, RunDir, writePrivateFile } from './rundir.js';
import { gather, type RunSession } from './session.js';

/** The run dir for a plan; a plan whose run already started is resumed, not applied again. */
export function runDirFor(stateDir: string, plan: Plan, resumed: boolean): RunDir {
  const run = new RunDir(stateDir, plan.runId);
  run.create();
  // one process per run: a second `resume`, or one while the first still ends its step, is refused here
  run.lock();
  if (!resumed && existsSync(run.journalPath) && run.read().some((e) => e.event === 'run-start')) {
    throw new RefusedError(`run ${plan.runId} already started from this plan`, `continue it with \`etcd-dr resume ${plan.runId}\`; to start over, make a new plan`);
  }
  if (!existsSync(run.planPath)) writePrivateFile(run.planPath, `${JSON.stringify(sealPlan(plan), null, 2)}\n`);
  return run;
}

/** Refuse a plan made from facts that no longer hold, saying what changed. */
export async function refuseIfStale(s: RunSession, plan: Plan): Promise<void> {
  const facts = await gather(s);
  if (facts.digest === plan.factsDigest) return;
  const changes = diffCanonFacts(plan.facts, canonFacts(facts.nodes));
  throw new RefusedError(
    `the plan is stale: the cluster changed since it was made (${plan.createdAt})\n${changes.map((c) => `  - ${c}`).join('\n') || '  - (the facts digest differs)'}`,
    'make a new plan from the current state and review it again',
  );
}

/** Per-run log file: known before the session opens, so connecting is logged too. */
export function logFileFor(stateDir: string, runId: string): string {
  const run = new RunDir(stateDir, runId);
  ensurePrivateDir(run.dir);
  return run.logPath;
}

/** The run id a saved plan names, read before the plan is checked (so its log file is known early). */
export function runIdInPlanFile(path: string): string | undefined {
  try {
    const id = (JSON.parse(readFileSync(path, 'utf8')) as { runId?: unknown }).runId;
    return typeof id === 'string' && RUN_ID_RE.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A saved plan's run dir, checked before anything else (a plan whose run already started is refused),
 * then the plan checked against the cluster as it is now; a refusal leaves the run dir unlocked.
 */
export async function checkSavedRun(stateDir: string, plan: Plan, s: RunSession): Promise<RunDir> {
  const run = runDirFor(stateDir, plan, false);
  try {
    await refuseIfStale(s, plan);
  } catch (err) {
    run.unlock();
    throw err;
  }
  return run;
}
