/**
 * Room on the bastion for the survivor's db copy: the plan warns when the backup dir's file system has
 * less free space than the db, and `resume --backup-dir` puts the copy elsewhere when it ran out.
 */
import { basename, join } from 'node:path';
import type { ClusterFacts } from '../facts/types.js';
import type { Plan } from '../plan/types.js';
import { freeBytes, mib } from '../util/bastion-fs.js';

/** The plan with its db copy (backup and wait steps) going to `<dir>/<run id>/<same file name>`. */
export function relocateBackup(plan: Plan, dir: string): Plan {
  const to = (p: string) => join(dir, plan.runId, basename(p));
  return {
    ...plan,
    steps: plan.steps.map((s) =>
      s.action.type === 'backup-db' || s.action.type === 'backup-wait' ? { ...s, action: { ...s.action, localPath: to(s.action.localPath) } } : s,
    ),
  };
}

/** A warning when the plan copies a db to a bastion file system with less room than the db needs. */
export function bastionRoomWarning(plan: Plan, facts: ClusterFacts, free: (path: string) => number | undefined = freeBytes): string | undefined {
  const step = plan.steps.find((s) => s.action.type === 'backup-db');
  if (!step || step.action.type !== 'backup-db') return undefined;
  const node = facts.nodes.find((n) => n.name === step.node);
  const need = node?.dataDir?.dbBytes ?? node?.endpoint?.dbSize;
  if (need === undefined) return undefined;
  const path = step.action.localPath;
  const room = free(path);
  if (room === undefined || room >= need) return undefined;
  return `the bastion has ${mib(room)} free where the survivor's db copy goes (${path}), and the db is ${mib(need)}: the copy will fail (exit 8) unless room is made first, or give --backup-dir on a file system with room (or --no-local-backup)`;
}

/** Adds the room warning to the plan's warnings (before it is shown, saved and sealed). */
export function warnBastionRoom(plan: Plan, facts: ClusterFacts): Plan {
  const w = bastionRoomWarning(plan, facts);
  return w ? { ...plan, warnings: [...plan.warnings, w] } : plan;
}
