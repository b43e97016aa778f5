/** etcd's service on a node: stopped, started (and waited for until it serves), and a wait for a member to serve. */
import { peerUrl } from '../../inventory/types.js';
import { restartScript, serveCheckScript, startScript, stopScript } from '../../plan/scripts.js';
import type { Action, Step } from '../../plan/types.js';
import { memberByPeerUrl, retryEtcd } from '../etcd-ops.js';
import type { RunState } from '../run-state.js';
import { statusWord, type Handler, type StepContext } from '../step-context.js';
import { etcdRuns, fanOut, keyCount, nodeOf, waitServes } from './common.js';

export const stopEtcd: Handler<Extract<Action, { type: 'stop-etcd' }>> = (ctx, _state, step) =>
  fanOut(ctx, step, (n) => stopScript(ctx.spec(n), 60), 90, 'stop etcd');

export const startEtcd: Handler<Extract<Action, { type: 'start-etcd' }>> = async (ctx, state, step, a) => {
  const n = nodeOf(step);
  const word = await ctx.script(n, step, startScript(ctx.spec(n)), 60, 'start etcd');
  if (!a.waitHealthy) {
    if (word !== 'already') state.joinerStartedAt = Date.now();
    return { outcome: word };
  }
  await waitServes(ctx, n, step);
  if (!a.baseline) return { outcome: word };
  const k = await keyCount(ctx, n);
  state.baseline = k;
  return { outcome: word, data: { baseline: k } };
};

export const waitHealthy: Handler<Extract<Action, { type: 'wait-healthy' }>> = async (ctx, state, step, a) => {
  const restarted = a.publishVia ? await publishNow(ctx, state, step, a.endpointOf, a.publishVia) : false;
  const outcome = await waitServes(ctx, a.endpointOf, step);
  return restarted ? { outcome, data: { restartedToPublish: true } } : { outcome };
};

/**
 * A promoted learner serves clients only once its own publish request returns. One made while it was a
 * learner catching up from the leader's snapshot is not answered (the member list may already show its
 * name) and is retried only after etcd's request timeout: 5 s + 2 x election timeout, 15 s with
 * kubespray's settings. When the member fails one health check (0.5 s), restart its etcd so it
 * publishes as the voter it is now: about a second instead of up to the request timeout. Only when the
 * quorum holds without it: 3 or more voting members, and etcd running on every other one.
 */
async function publishNow(ctx: StepContext, state: RunState, step: Step, name: string, via: string): Promise<boolean> {
  const spec = ctx.spec(name);
  const seen = await state.serveSeen.get(name);
  state.serveSeen.delete(name);
  // a check from right after the promote counts while it is fresh (etcd's own publish retry comes 15 s
  // after the start at the earliest); otherwise look now
  let word = seen && Date.now() - seen.at < 5000 && (seen.word === 'healthy' || seen.word === 'not-serving') ? seen.word : undefined;
  if (word) ctx.note(step, `${name} was ${word === 'healthy' ? 'serving' : 'not serving'} when checked right after its promote (${((Date.now() - seen!.at) / 1000).toFixed(1)} s ago)`);
  word ??= statusWord(await ctx.sh(name, step, serveCheckScript(spec), 30));
  if (word === 'healthy') return false;
  const ops = await ctx.ops(via);
  const members = await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 });
  const me = memberByPeerUrl(members, peerUrl(spec));
  if (!me || me.isLearner) return false;
  const voters = members.filter((m) => !m.isLearner);
  if (voters.length < 3) {
    ctx.note(step, `${name} does not serve yet; with ${voters.length} voting members a restart would stop writes, so etcd-dr waits for etcd's own publish retry`);
    return false;
  }
  const others = voters.filter((o) => o.id !== me.id).map((o) => ({ o, node: ctx.nodes.find((s) => o.peerUrls.includes(peerUrl(s))) }));
  const runs = await Promise.all(others.map(({ node }) => (node ? etcdRuns(ctx, step, node.name) : Promise.resolve(false))));
  const down = others.find((_, i) => !runs[i]);
  if (down) {
    ctx.note(step, `${name} does not serve yet; etcd is not known to run on ${down.node?.name ?? `member ${down.o.id}`}, so a restart could cost the quorum: waiting for etcd's own publish retry`);
    return false;
  }
  ctx.note(step, `${name} is a voting member that does not serve yet (its publish request made as a learner waits out etcd's request timeout); restarting its etcd so it publishes now`);
  await ctx.script(name, step, restartScript(spec), 60, 'restart etcd so it publishes itself');
  return true;
}
