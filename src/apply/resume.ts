/**
 * `resume` as a use case: the run picked and locked, its plan read back, its journal checked against the
 * nodes, the plan amended when asked (members left out with --exclude, the db copy moved with
 * --backup-dir) and the amendment recorded, so that the run goes on where its journal says. The caller
 * opens the session (its log goes to the run's log file) and reads plan files, runs the returned run and
 * prints how it ended.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { checkExclude, excludeFromPlan } from '../plan/exclude.js';
import { sealPlan } from '../plan/seal.js';
import type { Plan } from '../plan/types.js';
import { RefusedError } from '../util/errors.js';
import { relocateBackup } from './bastion-room.js';
import { checkNames } from './check-names.js';
import { doneStepsOf } from './executor.js';
import { checkJournal } from './journal-check.js';
import { pickRun } from './pick-run.js';
import type { Run, RunSettings } from './run.js';
import { writePrivateFile, type RunDir } from './rundir.js';
import { gather, type RunSession } from './session.js';
import { runDirFor } from './start-run.js';

/** The run to continue (named, or the newest unfinished one), locked before its journal is read. */
export function pickRunToResume(stateDirs: string[], runId?: string): RunDir {
  const picked = pickRun(stateDirs, runId);
  // before its journal is read: another process may still be writing it
  picked.lock();
  return picked;
}

export interface ResumeRequest {
  /** from pickRunToResume; the caller unlocks it when the command ends */
  picked: RunDir;
  session: RunSession;
  /** reads a plan file and checks it against the session's inventory (the caller owns file reading) */
  readPlan: (path: string) => Plan;
  /** members to finish without (their hosts died during the run) */
  exclude: string[];
  /** an absolute dir: the db copy goes to `<backupDir>/<run id>` instead of where the plan says */
  backupDir?: string;
  settings: RunSettings;
  /** a line for the operator (notes, what was amended, where the run goes on) */
  tell: (line: string) => void;
}

/** The run ready to go on, or a refusal saying why it cannot. */
export async function prepareResume(req: ResumeRequest): Promise<Run> {
  const { picked, session: s, exclude, tell } = req;
  // the state dir the run was found in (a run of an earlier version may be in ./.etcd-dr)
  const stateDir = resolve(picked.dir, '..', '..');
  let plan = req.readPlan(picked.planPath);
  if (exclude.length) {
    checkNames(s.inventory, '--exclude', exclude);
    checkExclude(plan, exclude);
  }
  // the run's own lock is expected; another run's lock is not
  const facts = await gather(s);
  for (const note of checkJournal(picked, plan, facts)) tell(`note: ${note}`);
  const other = facts.nodes.filter((n) => n.lock && n.lock.runId !== plan.runId);
  if (other.length) {
    throw new RefusedError(
      `another etcd-dr run holds the lock: ${other.map((n) => `${n.name} by ${n.lock!.runId}`).join(', ')}`,
      'wait for it to finish; a lock left by a dead run is broken with --break-lock',
    );
  }
  if (exclude.length) {
    // the rest of the run without those members; the plan the run started with is kept beside
    const amended = excludeFromPlan(plan, exclude, { inventory: s.inventory, nodes: facts.nodes, done: new Set(doneStepsOf(picked.read()).keys()) });
    const previousPlan = join(picked.dir, `plan.before-exclude-${exclude.join('-')}-${Date.now()}.json`);
    writePrivateFile(previousPlan, readFileSync(picked.planPath, 'utf8'));
    plan = sealPlan(amended.plan);
    writePrivateFile(picked.planPath, `${JSON.stringify(plan, null, 2)}\n`);
    picked.append({ event: 'plan-amended', exclude, previousPlan, changes: amended.changes });
    tell(`run ${plan.runId} goes on without ${exclude.join(', ')} (the plan it started with: ${previousPlan}):${amended.changes.map((c) => `\n  - ${c}`).join('')}`);
    for (const w of plan.warnings.slice(-exclude.length)) tell(`note: ${w}`);
  }
  const run = runDirFor(stateDir, plan, true);
  if (req.backupDir) {
    plan = relocateBackup(plan, req.backupDir);
    tell(`the db copy goes to ${resolve(req.backupDir, plan.runId)} (--backup-dir)`);
  }
  return { plan, run, session: s, resumed: true, settings: req.settings };
}
