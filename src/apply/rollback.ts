/**
 * Undoing what a failed step group did, so the members already serving keep their quorum and a resumed
 * run starts clean: a failed join is rolled back (rollbackJoin, then the error the run ends with,
 * joinFailure); a failed restore-all step sets every member back and the run goes on with the plan's
 * fallback (fallBack). Each part is tried even when another fails; the journal records what was done.
 */
import { join } from 'node:path';
import { peerUrl } from '../inventory/types.js';
import { moveAsideScript, restoreEnvScript, setAsideScript, stopScript } from '../plan/scripts.js';
import { sealPlan } from '../plan/seal.js';
import type { Action, Plan, Step } from '../plan/types.js';
import { ConnectFailedError, ConnectionLostError } from '../ssh/errors.js';
import { ApplyError } from '../util/errors.js';
import { memberByPeerUrl } from './etcd-ops.js';
import { writePrivateFile } from './rundir.js';
import type { StepContext } from './step-context.js';
import { title } from './titles.js';

/** Runs parts one after another, each even when an earlier one failed; `did` says what each did. */
function parts(): { did: string[]; attempt: (what: string, fn: () => Promise<unknown>) => Promise<void> } {
  const did: string[] = [];
  const attempt = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
      did.push(what);
    } catch (err) {
      did.push(`${what} FAILED: ${(err as Error).message}`);
    }
  };
  return { did, attempt };
}

/**
 * Undo a member's join: remove it from the membership (learner or not), stop its etcd, restore its env
 * file from this run's backup, set its data dir aside.
 */
export async function rollbackJoin(ctx: StepContext, member: string, failed: Step): Promise<void> {
  const { runId } = ctx.plan;
  const spec = ctx.spec(member);
  const steps = ctx.plan.steps.filter((s) => s.join === member);
  const via = steps.map((s) => s.action).find((x): x is Extract<Action, { type: 'member-add' }> => x.type === 'member-add')?.via;
  const env = steps.map((s) => s.action).find((x): x is Extract<Action, { type: 'write-env' }> => x.type === 'write-env');
  const { did, attempt } = parts();
  ctx.emit({ type: 'rollback-start', step: failed.id, member });
  if (via) {
    await attempt(`removed ${member} from the membership`, async () => {
      const ops = await ctx.ops(via);
      const m = memberByPeerUrl(await ops.memberList(), peerUrl(spec));
      if (m) await ops.memberRemove(m.id);
    });
  }
  await attempt(`stopped etcd on ${member}`, () => ctx.script(member, failed, stopScript(spec, 60), 90, 'stop etcd'));
  if (env) await attempt(`restored ${env.path} from ${env.backup}`, () => ctx.script(member, failed, restoreEnvScript(env.path, env.backup, runId), 30, 'restore the env file'));
  // beside it, or inside it when it is a mount point, as the node's disk is now
  await attempt(`set ${spec.etcd.dataDir} aside`, () => ctx.script(member, failed, setAsideScript(spec.etcd.dataDir, `etcd-dr-${runId}-failed-join-${Date.now()}`), 60, 'set the data dir aside'));
  ctx.emit({ type: 'rollback', step: failed.id, detail: did.join('; '), undone: steps.map((s) => s.id), member, did });
}

/**
 * The error a failed join ends the run with, once it is rolled back. A joiner that cannot be reached at
 * all (powered off, network gone) is said to be so, with both ways on: bring it back, or leave it out.
 */
export function joinFailure(plan: Plan, step: Step, err: unknown): unknown {
  const m = step.join!;
  const lost = (err instanceof ConnectFailedError && err.node === m && !err.permanent) || (err instanceof ConnectionLostError && err.node === m && !err.reconnected);
  const id = plan.runId;
  if (!lost) {
    // any other cause: say what the rollback means for what comes next
    if (!(err instanceof ApplyError)) return err;
    const next = `the join of ${m} was rolled back: once that is fixed, \`etcd-dr resume ${id}\` runs it again${plan.intent.kind === 'recover' ? ` (\`--exclude ${m}\` finishes without it)` : ''}`;
    return new ApplyError(err.message, err.hint ? `${err.hint}; ${next}` : next);
  }
  const why = err instanceof ConnectFailedError ? err.detail : 'the connection dropped and could not be made again';
  return new ApplyError(
    `${m} cannot be reached (${why}) in step ${step.id} (${title(step)}); its join was rolled back as far as the node allowed, the members that serve keep serving`,
    plan.intent.kind === 'recover'
      ? `bring ${m} back, then \`etcd-dr resume ${id}\`; or finish without it: \`etcd-dr resume ${id} --exclude ${m}\``
      : `bring ${m} back, then \`etcd-dr resume ${id}\``,
  );
}

/**
 * A restore-all step failed: every member's part is undone (etcd stopped, the restored data dir set aside
 * under `<dataDir>.etcd-dr-<run>-restore-all-<time>`, the env file put back from this run's backup), and the
 * run's plan becomes its fallback: the steps done so far, then the survivor-then-rejoin path. The plan the
 * run started with is kept beside; the journal says so (`rollback`, `plan-amended`), so `resume` goes on
 * with the fallback.
 */
export async function fallBack(ctx: StepContext, failed: Step, err: unknown): Promise<Plan> {
  const plan = ctx.plan;
  const runId = plan.runId;
  const group = plan.steps.filter((s) => s.allAtOnce);
  const first = plan.steps.indexOf(group[0]!);
  const restoreStep = group.map((s) => s.action).find((x): x is Extract<Action, { type: 'restore-all' }> => x.type === 'restore-all');
  const envs = group.flatMap((s) => (s.action.type === 'write-env' ? [{ node: s.node, a: s.action }] : []));
  const nodes = restoreStep?.members.map((m) => m.node) ?? [];
  const reason = err instanceof Error ? err.message : String(err);
  ctx.note(failed, `restore-all failed (${reason}); setting every member back, then the survivor is restored alone and the others re-added one at a time`);
  const t = Date.now();
  const did = await Promise.all(
    nodes.map(async (n) => {
      const spec = ctx.spec(n);
      const { did: part, attempt } = parts();
      await attempt(`stopped etcd on ${n}`, () => ctx.script(n, failed, stopScript(spec, 60), 90, 'stop etcd'));
      await attempt(`set ${spec.etcd.dataDir} aside`, () => ctx.script(n, failed, moveAsideScript(spec.etcd.dataDir, `${spec.etcd.dataDir}.etcd-dr-${runId}-restore-all-${t}`), 60, 'set the data dir aside'));
      const env = envs.find((e) => e.node === n)?.a;
      if (env) await attempt(`restored ${env.path} from ${env.backup}`, () => ctx.script(n, failed, restoreEnvScript(env.path, env.backup, runId), 30, 'restore the env file'));
      return part;
    }),
  );
  ctx.emit({ type: 'rollback', step: failed.id, detail: did.flat().join('; '), undone: group.map((s) => s.id) });
  const { fallback: _f, ...rest } = plan;
  const amended = sealPlan({
    ...rest,
    steps: [...plan.steps.slice(0, first), ...(plan.fallback ?? [])],
    ...(plan.strategy ? { strategy: { ...plan.strategy, name: 'rejoin' as const } } : {}),
    warnings: [...plan.warnings, `restore-all failed in step ${failed.id} (${reason}); every member was set back and the run went on with the survivor-then-rejoin path`],
  });
  const previousPlan = join(ctx.run.dir, `plan.before-fallback-${t}.json`);
  writePrivateFile(previousPlan, `${JSON.stringify(plan, null, 2)}\n`);
  writePrivateFile(ctx.run.planPath, `${JSON.stringify(amended, null, 2)}\n`);
  ctx.emit({ type: 'plan-amended', exclude: [], previousPlan, changes: [`restore-all failed in step ${failed.id}: ${reason}`, ...did.flat(), 'the run goes on with the survivor-then-rejoin path'] });
  return amended;
}
