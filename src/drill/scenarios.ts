/**
 * The drill's scenarios: failures recovered with `etcd-dr recover`'s engine, and the planned membership
 * changes (`scale-out`, `scale-in`, `replace`) rehearsed with their own engine. Pure.
 */
import { EXIT, ExitError } from '../util/errors.js';

/** A failure injected, then recovered by `etcd-dr recover`'s engine. */
export const RECOVERY_SCENARIOS = ['all-down', 'majority-lost', 'survivor-stale', 'node-lost'] as const;
/** A planned membership change, applied by the engine of `etcd-dr scale-out|scale-in|replace`. */
export const PLANNED_SCENARIOS = ['scale-out', 'scale-in', 'replace'] as const;
export const SCENARIOS = [...RECOVERY_SCENARIOS, ...PLANNED_SCENARIOS] as const;

export type RecoveryScenario = (typeof RECOVERY_SCENARIOS)[number];
export type PlannedScenario = (typeof PLANNED_SCENARIOS)[number];
export type Scenario = (typeof SCENARIOS)[number];

export const SCENARIO_TEXT: Record<Scenario, string> = {
  'all-down': 'etcd stopped on every node',
  'majority-lost': "etcd stopped everywhere and the data dirs of all but one member moved aside: the survivor holds the only copy",
  'survivor-stale': 'one member stopped earlier than the others while writes continued: its data is stale and must not be chosen',
  'node-lost': 'one host powered off or unreachable and etcd stopped on the others: recovery leaves it out',
  'scale-out': "a node that is not a member joins the healthy cluster as a learner and is promoted, by etcd-dr scale-out's engine",
  'scale-in': "a member, the leader unless --target names another, is removed from the healthy cluster, leadership handed over first, by etcd-dr scale-in's engine",
  replace:
    "a member's host is lost and comes back with its data dir gone, then is rebuilt in place by etcd-dr replace's engine; with --lab-dir the host is powered off and on, else its etcd is stopped",
};

/** What --target names in each planned scenario, its default, and what the cluster needs. */
export const PLANNED_NEEDS: Record<PlannedScenario, string> = {
  'scale-out': 'the node to add; default the first inventory node that is not a member and can join (reachable, etcd installed, not running)',
  'scale-in': 'the member to remove; default the leader; the cluster needs 2 members or more',
  replace: 'the member to replace; default the last member in inventory order; the cluster needs 3 members or more, so the others keep the quorum',
};

export function isPlanned(s: Scenario): s is PlannedScenario {
  return (PLANNED_SCENARIOS as readonly string[]).includes(s);
}

/**
 * Options that only make sense for some scenarios are bad input elsewhere, found before any node is
 * contacted: --survivor picks the restore source of a recovery; --target the node a planned change acts on.
 */
export function checkDrillOptions(scenario: Scenario, o: { survivor?: string; target?: string }): void {
  if (o.survivor !== undefined && isPlanned(scenario)) {
    throw new ExitError(
      `--survivor applies to the recovery scenarios (${RECOVERY_SCENARIOS.join(', ')}), not to ${scenario}`,
      EXIT.badInput,
      `${scenario} changes a healthy cluster and restores nothing; name the node it acts on with --target`,
    );
  }
  if (o.target !== undefined && !isPlanned(scenario)) {
    throw new ExitError(
      `--target applies to the planned scenarios (${PLANNED_SCENARIOS.join(', ')}), not to ${scenario}`,
      EXIT.badInput,
      'a recovery drill acts on the whole cluster; it picks its survivor itself, or takes --survivor',
    );
  }
}
