/** Helpers shared by the planner unit tests. */
import { spawnSync } from 'node:child_process';
import type { ClusterFacts } from '../../src/facts/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { PlanContext } from '../../src/plan/context.js';
import type { Action, Plan, Step } from '../../src/plan/types.js';
import { RefusedError } from '../../src/util/errors.js';

/** The run id and lock file every planner test plans with. */
export const RUN = '20261124-200000-ab12';
export const LOCK = '/var/lib/etcd-dr/lock';

/** What a planner gets: `inventory` and `facts`, at a fixed time, run id, lock file and holder. */
export function planContext(inventory: Inventory, facts: ClusterFacts, runId = RUN): PlanContext {
  return { inventory, facts, runId, now: new Date('2026-11-24T20:00:00Z'), toolVersion: '0.1.0', lockFile: LOCK, holder: 'ops@bastion' };
}

/** Runs `f`, which must refuse (throw a RefusedError); returns the refusal for its message and hint. */
export function refusal(f: () => unknown): RefusedError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RefusedError);
    return e as RefusedError;
  }
  throw new Error('expected a refusal');
}

/** The plan's steps of one action type, typed by it. */
export const stepsOf = <T extends Action['type']>(p: Plan, type: T) => p.steps.filter((s): s is Step & { action: Extract<Action, { type: T }> } => s.action.type === type);

/** Runs a step script with `sh -c`, as a node would. */
export function runSh(script: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}
