/** lock and unlock: the etcd-dr lock file on every node of the plan. */
import { lockScript, unlockScript } from '../../plan/scripts.js';
import type { Action } from '../../plan/types.js';
import type { Handler } from '../step-context.js';
import { fanOut, nodesOf } from './common.js';

/**
 * Takes the lock node by node, in the plan's order, so two runs racing for one cluster meet on its first
 * node and only one goes on. A run that cannot take every lock releases the ones it took (a lock of
 * another run is left alone): a lost race never leaves the cluster locked by a run that stopped.
 */
export const lock: Handler<Extract<Action, { type: 'lock' }>> = async (ctx, _state, step, a) => {
  const { lockFile, runId, holder } = ctx.plan;
  const nodes = nodesOf(step);
  const release = (upTo: number) => Promise.allSettled(nodes.slice(0, upTo).map((m) => ctx.sh(m, step, unlockScript(lockFile, runId), 30)));
  const words: string[] = [];
  for (const [i, n] of nodes.entries()) {
    try {
      words.push(`${n}:${await ctx.script(n, step, lockScript(lockFile, runId, holder, a.breakRun, a.breakEmpty), 30, 'take the lock')}`);
    } catch (err) {
      await release(i + 1);
      throw err;
    }
  }
  try {
    await ctx.settings.underLock?.();
  } catch (err) {
    await release(nodes.length);
    throw err;
  }
  return { outcome: words.every((w) => w.endsWith(':already')) ? 'already' : 'done', data: { nodes: words } };
};

export const unlock: Handler<Extract<Action, { type: 'unlock' }>> = (ctx, _state, step) =>
  fanOut(ctx, step, () => unlockScript(ctx.plan.lockFile, ctx.plan.runId), 30, 'release the lock');
