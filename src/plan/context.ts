/**
 * What every planner is given (the inventory, the facts, the run it plans for, who holds the lock) and the
 * checks they share about other runs' locks. Pure.
 */
import type { ClusterFacts, NodeFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { emptyLocks } from './emptylock.js';

export interface PlanContext {
  inventory: Inventory;
  facts: ClusterFacts;
  runId: string;
  now: Date;
  toolVersion: string;
  /** lock file on every node */
  lockFile: string;
  /** who runs it, for the lock file (user@bastion) */
  holder: string;
  /** how a run of this bastion ended, when it finished: its locks left on nodes are stale (see endedRun) */
  runEnded?: (runId: string) => string | undefined;
  /** the run's journal is in this bastion's state dir (it can be resumed here) */
  runHere?: (runId: string) => boolean;
}

/** The facts of an inventory node (every inventory node has facts, reachable or not). */
export function factOf(ctx: PlanContext, name: string): NodeFacts {
  return ctx.facts.nodes.find((n) => n.name === name)!;
}

/**
 * Other runs' locks on the nodes: those of runs that finished on this bastion are stale and taken over by
 * the plan (said in its warnings); the others are live. `breakRun` is the one run whose lock the lock step
 * breaks (a stale one, or the one --break-lock names); locks of several runs are refused.
 */
export function otherLocks(ctx: PlanContext, o: { breakLock: boolean; flag: boolean }): { breakRun?: string; breakEmpty?: boolean; warnings: string[] } {
  const empty = emptyLocks(ctx.facts.nodes, o);
  const locked = ctx.facts.nodes.filter((n) => n.lock && n.lock.runId !== ctx.runId);
  if (!locked.length) return empty;
  const runs = [...new Set(locked.map((n) => n.lock!.runId))];
  const ended = new Map(runs.flatMap((r) => {
    const how = ctx.runEnded?.(r);
    return how ? [[r, how] as const] : [];
  }));
  const live = locked.filter((n) => !ended.has(n.lock!.runId));
  if (live.length && !o.breakLock) {
    throw new RefusedError(
      `another etcd-dr run holds the lock: ${live.map((n) => `${n.name} by run ${n.lock!.runId}${n.lock!.holder ? ` (${n.lock!.holder})` : ''}`).join(', ')}`,
      `wait for it to finish, or \`etcd-dr resume ${[...new Set(live.map((n) => n.lock!.runId))].join(' / ')}\` it${ctx.runHere && live.every((n) => !ctx.runHere!(n.lock!.runId)) ? ' on the bastion that started it' : ''}${o.flag ? '; a lock left by a run that is dead is broken with --break-lock' : ''}`,
    );
  }
  if (runs.length > 1) {
    throw new RefusedError(`several runs hold locks (${runs.join(', ')}); a plan takes over one run's lock at a time`, 'resume or finish those runs first');
  }
  const run = runs[0]!;
  const on = locked.map((n) => n.name).join(', ');
  const how = ended.get(run);
  return {
    breakRun: run,
    ...(empty.breakEmpty ? { breakEmpty: true } : {}),
    warnings: [
      ...empty.warnings,
      how
        ? `${on} still hold${locked.length === 1 ? 's' : ''} the lock of run ${run}, which ${how}: a node it could not reach at its end keeps it; this plan takes it over (the old lock is kept beside)`
        : `--break-lock: the lock of run ${run} (${locked.map((n) => n.lock!.holder ?? '?').filter((h, i, a) => a.indexOf(h) === i).join(', ')}) is broken on ${on}; make sure that run is dead`,
    ],
  };
}
