/** The data dir and env file of one node: moved aside, restored from the db, rewritten. */
import { moveAsideScript, restoreScript, RESTORE_TIMEOUT_S, writeEnvScript } from '../../plan/scripts.js';
import type { Action } from '../../plan/types.js';
import type { Handler } from '../step-context.js';
import { nodeOf } from './common.js';

export const moveDataDir: Handler<Extract<Action, { type: 'move-data-dir' }>> = async (ctx, _state, step, a) => ({
  outcome: await ctx.script(nodeOf(step), step, moveAsideScript(a.from, a.to, a.inside), 60, `move ${a.from} aside`),
});

export const restoreDb: Handler<Extract<Action, { type: 'restore-db' }>> = async (ctx, _state, step, a) => ({
  outcome: await ctx.script(nodeOf(step), step, restoreScript({ ...a, runId: ctx.plan.runId }), RESTORE_TIMEOUT_S, 'restore the db'),
});

export const writeEnv: Handler<Extract<Action, { type: 'write-env' }>> = async (ctx, _state, step, a) => ({
  outcome: await ctx.script(nodeOf(step), step, writeEnvScript(a), 30, `rewrite ${a.path}`),
});
