/**
 * The check under the lock. A plan is made from facts gathered before any lock is taken, and a run may wait
 * at its prompt for minutes; meanwhile another bastion may have changed the cluster (recovered it, added a
 * member). Once this run holds every node's lock, nobody else can change it through etcd-dr, so the facts
 * the plan depends on are read again and compared with those it was made from. Any difference stops the
 * run before its first change, listing what changed; the locks it took are released.
 */
import { canonFacts, diffCanonFacts, type CanonFacts } from '../facts/assess.js';
import type { ClusterFacts } from '../facts/types.js';
import type { Plan } from '../plan/types.js';
import { RefusedError } from '../util/errors.js';

type Canon = CanonFacts[number];

/**
 * The two sides made comparable. The locks are left out: this run holds them all now (it broke a dead
 * run's, or an empty one, if the plan said so). So is whether etcd runs, and what only a running etcd
 * answers (its member id, the member list) or only a stopped one's db gives (its revision) when one side
 * lacks it: an etcd that crash-loops under systemd flips between the two from one probe to the next. What
 * another bastion's change leaves is still seen: env files, data dirs (moved aside, a new cluster id in
 * the WAL), set-aside dirs, and a membership both sides read.
 */
function comparable(a: Canon, b: Canon | undefined): Canon {
  const out = { ...a, lock: null, running: false } as Canon & Record<string, unknown>;
  if (!b) return out;
  if (a.member === null || b.member === null) out.member = null;
  if (a.members === null || b.members === null) out.members = null;
  if (out.dataDir && (a.dataDir?.revision === null || b.dataDir?.revision === null || a.dataDir?.revision === undefined || b.dataDir?.revision === undefined)) out.dataDir = { ...out.dataDir, revision: null };
  return out;
}

/** What changed between the plan's facts and `now` that another run would leave; empty when nothing did. */
export function changedUnderLock(plan: Plan, now: ClusterFacts): string[] {
  const after = canonFacts(now.nodes);
  const before = plan.facts;
  const other = (list: CanonFacts, name: string) => list.find((n) => n.name === name);
  return diffCanonFacts(
    before.map((n) => comparable(n, other(after, n.name))) as CanonFacts,
    after.map((n) => comparable(n, other(before, n.name))) as CanonFacts,
  );
}

/** The check the executor runs right after it took every lock of a new run. */
export function underLockCheck(plan: Plan, gather: () => Promise<ClusterFacts>): () => Promise<void> {
  return async () => {
    const changes = changedUnderLock(plan, await gather());
    if (!changes.length) return;
    throw new RefusedError(
      `the cluster changed since the plan was made (${plan.createdAt}), before this run took its locks: another bastion or a person changed it in between\n${changes.map((c) => `  - ${c}`).join('\n')}`,
      'nothing was changed by this run and its locks are released; look at `etcd-dr status`, then make a new plan from the current state',
    );
  };
}
