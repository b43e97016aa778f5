/** hook: the inventory's hook commands, on every node of the step at once. */
import { hookScript } from '../../plan/scripts.js';
import type { Action } from '../../plan/types.js';
import { hookFailure } from '../hook-error.js';
import type { Handler } from '../step-context.js';
import { fanOut } from './common.js';

/** How a failed hook is named in the error: what state the cluster is in. */
const HOOK_WHAT = {
  beforeStop: 'the beforeStop hook (etcd was not stopped anywhere yet)',
  afterVerify: 'the afterVerify hook (the cluster is recovered and verified; the control plane is not restarted yet)',
} as const;

export const hook: Handler<Extract<Action, { type: 'hook' }>> = (ctx, _state, step, a) =>
  fanOut(ctx, step, (n) => hookScript(a.hook, a.run[n] ?? []), a.timeoutSec, HOOK_WHAT[a.hook]).catch((e: unknown) => {
    throw hookFailure(e, a.hook, ctx.plan.runId);
  });
