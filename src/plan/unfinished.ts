/**
 * A recovery planned while an earlier run is unfinished: that run set data dirs aside and did not end
 * (killed, its terminal gone, its bastion lost). It is said first and the plan is refused, pointing to
 * `resume`, which finishes that run as it was reviewed. With --break-lock the operator goes on (another
 * bastion, a lost journal): the plan restores from the freshest data wherever it sits, and says so.
 */
import { RefusedError } from '../util/errors.js';
import type { RecoverIntent } from './types.js';
import type { PlanContext } from './context.js';
import { dataSources, unfinishedRuns } from './sources.js';

/** Warnings for the plan when the operator goes on with --break-lock; a refusal otherwise. */
export function refuseUnfinished(ctx: PlanContext, intent: RecoverIntent): string[] {
  const { candidates } = dataSources(ctx.facts.nodes, intent.exclude);
  // a run that still holds its locks is said by the lock check, which comes first
  const runs = unfinishedRuns(ctx.facts.nodes, candidates, ctx.runEnded).filter((r) => r.runId !== ctx.runId);
  if (!runs.length) return [];
  const what = runs.map((r) => `run ${r.runId} set the data dir${r.nodes.length > 1 ? 's' : ''} of ${r.nodes.join(', ')} aside and did not finish`).join('; ');
  if (!intent.breakLock) {
    const here = runs.filter((r) => ctx.runHere?.(r.runId));
    const elsewhere = runs.filter((r) => !ctx.runHere?.(r.runId));
    throw new RefusedError(
      `an earlier recovery is unfinished: ${what}. A new recovery would start over from data that run already moved`,
      [
        ...here.map((r) => `finish it with \`etcd-dr resume ${r.runId}\` (its journal is in this state dir)`),
        ...elsewhere.map((r) => `its journal is not in this state dir: finish it with \`etcd-dr resume ${r.runId}\` on the bastion (or --state-dir) that started it`),
        'if that run is dead and its journal lost, `etcd-dr recover --break-lock` plans a new recovery from the freshest data, in a data dir or set aside beside it',
      ].join('; '),
    );
  }
  return [`--break-lock: ${what}; this recovery takes its place and weighs the data dirs it set aside like the others (nothing of them is changed)`];
}
