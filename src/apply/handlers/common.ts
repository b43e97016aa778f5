/** What several step handlers share: the nodes a step names, one script on many nodes, the serve wait. */
import { waitHealthyScript } from '../../plan/scripts.js';
import { memberRunsScript } from '../../facts/member-process.js';
import type { Step } from '../../plan/types.js';
import { ApplyError, ExitError, RefusedError, EXIT } from '../../util/errors.js';
import { retryEtcd } from '../etcd-ops.js';
import { statusWord, type StepContext, type StepOutcome } from '../step-context.js';
import { title } from '../titles.js';

/** The one node a single-node step runs on. */
export function nodeOf(step: Step): string {
  if (!step.node) throw new ExitError(`step ${step.id} names no node`, EXIT.badInput, 'the plan file is damaged; make a new plan');
  return step.node;
}

/** The nodes a step runs on (`nodes`, else its one `node`). */
export function nodesOf(step: Step): string[] {
  return step.nodes ?? (step.node ? [step.node] : []);
}

/** `fn` on every node at once; every promise settled, the first failure thrown (a refusal first), else each node's word. */
export async function onEvery(nodes: string[], fn: (n: string) => Promise<string>): Promise<StepOutcome> {
  const results = await Promise.allSettled(nodes.map(fn));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length) throw failed.find((e) => e instanceof RefusedError) ?? failed[0];
  const words = results.map((r, i) => `${nodes[i]}:${(r as PromiseFulfilledResult<string>).value}`);
  return { outcome: words.every((w) => w.endsWith(':already')) ? 'already' : 'done', data: { nodes: words } };
}

/** The same script on several nodes at once; every node's result is journaled, the first failure thrown. */
export function fanOut(ctx: StepContext, step: Step, script: (node: string) => string, timeoutSec: number, what: string): Promise<StepOutcome> {
  return onEvery(nodesOf(step), (n) => ctx.script(n, step, script(n), timeoutSec, what));
}

/** Waits until the member on `name` serves; a member that does not within the timeout fails the step, naming both. */
export async function waitServes(ctx: StepContext, name: string, step: Step): Promise<string> {
  const t = ctx.settings.healthyTimeoutSec ?? 120;
  try {
    return await ctx.script(name, step, waitHealthyScript(ctx.spec(name), t), t + 30, 'wait until etcd serves');
  } catch (err) {
    const said = err instanceof ApplyError ? /etcd-dr:timeout after \d+ s; its last answer: (.*)$/.exec(err.message)?.[1] : undefined;
    if (said === undefined) throw err;
    throw new ApplyError(
      `${name}: etcd did not serve within ${t} s; step ${step.id} (${title(step)}) gave up; its last answer: ${said.trim() || '(none)'}`,
      `etcd on ${name} may still be starting (a large db, a slow disk): look at \`systemctl status ${ctx.spec(name).etcd.service}\` and its log there; ` +
        `once it serves, continue with \`etcd-dr resume ${ctx.plan.runId}\` (--healthy-timeout gives a slow member more time)`,
    );
  }
}

/** Live keys and their revision, read through `via`: the verification's floor. */
export async function keyCount(ctx: StepContext, via: string): Promise<{ count: number; revision: number }> {
  const ops = await ctx.ops(via);
  return retryEtcd(() => ops.keyCount(), { deadlineMs: 30_000 });
}

/** Does this member's etcd run on the node (whatever its service manager says; never another cluster's etcd)? */
export async function etcdRuns(ctx: StepContext, step: Step, name: string): Promise<boolean> {
  return statusWord(await ctx.sh(name, step, memberRunsScript(ctx.spec(name)), 20)) === 'running';
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
