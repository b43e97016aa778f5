/**
 * What a failed hook step leaves behind, said in its error: a failing beforeStop stopped the run before
 * any etcd was stopped; a failing afterVerify left a recovered, verified cluster whose control plane is
 * not restarted. Either way `resume` runs the hook again (on every node: hooks are idempotent).
 */
import type { HookName } from '../inventory/hooks.js';
import { ApplyError } from '../util/errors.js';

export function hookFailure(err: unknown, hook: HookName, runId: string): unknown {
  if (!(err instanceof ApplyError)) return err;
  const resume = `\`etcd-dr resume ${runId}\``;
  const hint =
    hook === 'beforeStop'
      ? `etcd was not stopped on any node; the hook may have run through on others (what it stops is stopped there). Fix the cause, then ${resume}: it runs the hook again on every node and goes on with the recovery`
      : `the cluster is recovered, verified and serving; the control plane was not restarted where the hook failed. Fix the cause, then ${resume}: it runs the hook again on every node and releases the locks (or restart the control plane by hand, with the hook's commands from the plan, then ${resume})`;
  return new ApplyError(err.message, hint);
}
