/** The membership: a member added (as a learner), promoted once caught up, removed; leadership moved away. */
import { clientUrl, peerUrl } from '../../inventory/types.js';
import { etcdExitedScript, serveCheckScript } from '../../plan/scripts.js';
import type { Action, Step } from '../../plan/types.js';
import { ApplyError, RefusedError } from '../../util/errors.js';
import { EtcdCommandError, memberByPeerUrl, retryEtcd } from '../etcd-ops.js';
import type { RunState } from '../run-state.js';
import { statusWord, type Handler, type StepContext } from '../step-context.js';
import { etcdRuns, sleep } from './common.js';

/**
 * The pause before the next `member add` that etcd refused as "unhealthy cluster": etcd accepts it once
 * every voting member has been connected for 5 s, which counts from just after the last joiner's start.
 * Sleep until about then (at most 1 s at a time), then look every 100 ms.
 */
export function addPause(joinerStartedAt: number | undefined, now: number): number {
  if (joinerStartedAt === undefined) return 250;
  const left = joinerStartedAt + 5000 - now;
  return left > 100 ? Math.min(left, 1000) : 100;
}

export const memberAdd: Handler<Extract<Action, { type: 'member-add' }>> = async (ctx, state, step, a) => {
  const ops = await ctx.ops(a.via);
  const existing = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), a.peerUrl);
  if (existing) {
    if (existing.name !== '' && existing.name !== a.name) {
      throw new RefusedError(`${a.peerUrl} already belongs to member ${existing.name} (${existing.id})`, `remove that member first, or give ${a.name} another address`);
    }
    return { outcome: 'already', data: { id: existing.id, learner: existing.isLearner } };
  }
  const m = await retryEtcd(() => ops.memberAdd(a.name, a.peerUrl, a.learner), {
    deadlineMs: 60_000,
    maxPauseMs: 500,
    retryOn: new Set(['unhealthy-cluster', 'leader-changed', 'no-leader', 'timeout']),
    // "unhealthy cluster": etcd counts 5 s from the moment the last joiner connected, which is just after
    // this run started it; sleep until then, then look often, since the recovery waits on this add
    pauseFor: (e) => (e.code === 'unhealthy-cluster' ? addPause(state.joinerStartedAt, Date.now()) : undefined),
    onRetry: (e, i) => {
      if (i === 1 || i % 10 === 0) ctx.note(step, `attempt ${i}: ${e.code}: etcd needs every member connected for 5 s before it accepts a new one; retrying`);
    },
  }).catch(async (err: unknown) => {
    // an add whose answer was lost (timed out, the connection dropped) may have been applied: look before failing
    const again = memberByPeerUrl(await ops.memberList().catch(() => []), a.peerUrl);
    if (!again) throw err;
    ctx.note(step, `the answer to the member add was lost (${String((err as Error).message ?? err).split('\n')[0]}); the member list shows ${a.name} added as ${again.id}: going on`);
    return again;
  });
  return { outcome: 'done', data: { id: m.id, learner: a.learner } };
};

export const promote: Handler<Extract<Action, { type: 'promote' }>> = async (ctx, state, step, a) => {
  const ops = await ctx.ops(a.via);
  const spec = ctx.spec(a.name);
  const started = Date.now();
  const deadline = started + (ctx.settings.catchUpTimeoutSec ?? 600) * 1000;
  const gone = () => new ApplyError(`${a.name} is no longer a member (it was added earlier in this run)`, 'check `etcd-dr status`, then make a new plan');
  const m = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), peerUrl(spec));
  if (!m) throw gone();
  if (!m.isLearner) return { outcome: 'already', data: { id: m.id, attempts: 0 } };
  // the recovery waits on this catch-up: look often at first (a small db is sent in well under a second),
  // then less often for a large one
  let pause = 150;
  let checkedAt = started;
  let notedAt = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await ops.memberPromote(m.id);
      checkServesSoon(ctx, state, a.name, step);
      return { outcome: 'done', data: { id: m.id, attempts: attempt } };
    } catch (err) {
      if (!(err instanceof EtcdCommandError)) throw err;
      if (err.code === 'member-not-learner') return { outcome: 'already', data: { id: m.id, attempts: attempt } };
      if (err.code === 'member-not-found') throw gone();
      if (err.code !== 'learner-not-ready' && !err.retryable) throw err;
      if (Date.now() + pause > deadline) {
        throw new ApplyError(`${a.name} did not catch up with the leader within ${ctx.settings.catchUpTimeoutSec ?? 600} s: ${err.message}`, `check etcd on ${a.name} (journalctl -u ${spec.etcd.service})`);
      }
      // a learner whose etcd died will never catch up: say so now rather than at the deadline
      if (Date.now() - checkedAt >= 2000) {
        await assertRunning(ctx, step, a.name);
        checkedAt = Date.now();
      }
      if (Date.now() - notedAt >= 5000) {
        ctx.note(step, `${a.name} is catching up (etcd: ${err.code}); promote attempt ${attempt}`);
        notedAt = Date.now();
      }
      await sleep(pause);
      pause = Math.min(Math.round(pause * 1.25), 1000);
    }
  }
};

/**
 * After a promote, one serve check of the new voter in the background, while the run goes on with the
 * next join: its wait step then knows at once whether it must restart it to publish (see publishNow)
 * instead of spending its own 0.5 s check then. The check is journaled under the promote step.
 */
function checkServesSoon(ctx: StepContext, state: RunState, name: string, step: Step): void {
  if (!ctx.plan.steps.some((s) => s.action.type === 'wait-healthy' && s.action.endpointOf === name && s.action.publishVia)) return;
  state.serveSeen.set(
    name,
    ctx.sh(name, step, serveCheckScript(ctx.spec(name)), 30).then(
      (r) => ({ word: statusWord(r), at: Date.now() }),
      () => ({ word: 'unknown', at: Date.now() }),
    ),
  );
}

export const memberRemove: Handler<Extract<Action, { type: 'member-remove' }>> = async (ctx, _state, step, a) => {
  const ops = await ctx.ops(a.via);
  const m = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), a.peerUrl);
  if (!m) return { outcome: 'already' };
  await retryEtcd(() => ops.memberRemove(m.id), {
    deadlineMs: 60_000,
    retryOn: new Set(['unhealthy-cluster', 'leader-changed', 'no-leader']),
    onRetry: (e, i) => ctx.note(step, `attempt ${i}: ${e.code}; retrying the remove`),
  }).catch(async (err: unknown) => {
    // a remove that timed out may have been applied: look before failing
    if (!memberByPeerUrl(await ops.memberList().catch(() => [m]), a.peerUrl)) return;
    throw err;
  });
  return { outcome: 'done', data: { id: m.id } };
};

export const moveLeader: Handler<Extract<Action, { type: 'move-leader' }>> = async (ctx, _state, _step, a) => {
  const ops = await ctx.ops(a.via);
  const specs = a.members.map((m) => ctx.spec(m));
  const endpoints = specs.map(clientUrl);
  const from = ctx.spec(a.from);
  const members = await ops.memberList();
  const fromMember = memberByPeerUrl(members, peerUrl(from));
  // who leads, as the member we talk through sees it: asking every member would wait out the command
  // timeout of one that is down (the member being replaced usually is), and a down member leads nothing
  const seen = (await ops.endpointStatus([clientUrl(ctx.spec(a.via))])).statuses[0]?.leader;
  if (!fromMember || !seen || seen !== fromMember.id) return { outcome: 'already', data: { leader: seen } };
  const st = await ops.endpointStatus(endpoints);
  const candidates = st.statuses
    .filter((s) => s.memberId !== fromMember.id && !s.isLearner)
    .sort((x, y) => y.raftAppliedIndex - x.raftAppliedIndex);
  const toId = a.to ? memberByPeerUrl(members, peerUrl(ctx.spec(a.to)))?.id : candidates[0]?.memberId;
  if (!toId) throw new ApplyError(`no voting member to hand leadership to from ${a.from}`, 'the cluster needs another healthy voting member first');
  await retryEtcd(() => ops.moveLeader(toId, endpoints), { deadlineMs: 30_000 });
  return { outcome: 'done', data: { from: fromMember.id, to: toId } };
};

/** A learner whose etcd died will never catch up: what its node says about why, as an ApplyError. */
async function assertRunning(ctx: StepContext, step: Step, name: string): Promise<void> {
  const spec = ctx.spec(name);
  if (await etcdRuns(ctx, step, name)) return;
  const logs = await ctx.sh(name, step, etcdExitedScript(spec), 20);
  const lines = `${logs.stdout}${logs.stderr}`.trim().split('\n');
  const broken = lines.find((l) => l.startsWith('etcd-dr:binary-fails '))?.slice('etcd-dr:binary-fails '.length).trim();
  const tail = lines.filter((l) => l.trim() && !l.startsWith('etcd-dr:')).slice(-5).join(' | ');
  throw new ApplyError(
    `${name}: etcd is not running (it exited after the start)${broken ? `; \`etcd --version\` fails there too (${broken}): the etcd binary on ${name} is broken` : ''}${tail ? `; ${tail}` : ''}`,
    broken ? `reinstall etcd on ${name} (the same version as the other members)` : `look at etcd's log on ${name}: journalctl -u ${spec.etcd.service}`,
  );
}
