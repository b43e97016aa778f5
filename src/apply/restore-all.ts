/**
 * The executor's restore-all steps (src/plan/restore-all.ts): the bastion's copy of the survivor's db sent
 * to every member at once, restored everywhere at once, every member started at once; and, when one of
 * those steps fails, the undoing of all of them and the switch to the plan's fallback (the survivor
 * restored alone, the others re-added one at a time). Each step checks before it acts, so a resumed run
 * repeats it safely; nothing is deleted.
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { moveAsideScript, receiveDbScript, restoreEnvScript, restoreScript, RESTORE_TIMEOUT_S, sentDbCheckScript, startScript, stopScript } from '../plan/scripts.js';
import { sealPlan } from '../plan/seal.js';
import type { Action, Plan, Step } from '../plan/types.js';
import type { NodeSpec } from '../inventory/types.js';
import type { ExecResult } from '../ssh/types.js';
import { ApplyError, RefusedError } from '../util/errors.js';
import { statusWord, type StepOutcome } from './executor.js';
import { writePrivateFile, type RunDir } from './rundir.js';

/** What these handlers need of the executor. */
export interface StepHost {
  readonly runId: string;
  readonly run: RunDir;
  spec(name: string): NodeSpec;
  /** runs a step script, journaled; throws an ApplyError quoting the node on failure */
  script(node: string, step: Step, script: string, timeoutSec: number, what: string): Promise<string>;
  /** runs a script with `stdin`, journaled, and returns its result */
  shIn(node: string, step: Step, script: string, timeoutSec: number, stdin: () => NodeJS.ReadableStream): Promise<ExecResult>;
  waitServes(name: string, step: Step): Promise<string>;
  keyCount(via: string): Promise<{ count: number; revision: number }>;
  note(step: Step, detail: string): void;
}

/** Every promise settled; the first failure thrown (a refusal first), else each node's word. */
async function all(nodes: string[], fn: (n: string) => Promise<string>): Promise<StepOutcome> {
  const results = await Promise.allSettled(nodes.map(fn));
  const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failed.length) throw failed.find((e) => e instanceof RefusedError) ?? failed[0];
  const words = results.map((r, i) => `${nodes[i]}:${(r as PromiseFulfilledResult<string>).value}`);
  return { outcome: words.every((w) => w.endsWith(':already')) ? 'already' : 'done', data: { nodes: words } };
}

/** The sha256 written beside the bastion's copy once it was complete (the backup step's own record). */
function recordedSha(localPath: string): string {
  const f = `${localPath}.sha256`;
  const sha = existsSync(f) ? (readFileSync(f, 'utf8').split(' ')[0] ?? '') : '';
  if (!/^[0-9a-f]{64}$/.test(sha) || !existsSync(localPath)) {
    throw new ApplyError(`the bastion's copy ${localPath} or its sha256 is missing`, 'the backup step makes it; resume the run so it runs again');
  }
  return sha;
}

export async function sendDb(h: StepHost, step: Step, a: Extract<Action, { type: 'send-db' }>): Promise<StepOutcome> {
  const sha = recordedSha(a.localPath);
  const t0 = Date.now();
  const out = await all(
    a.to.map((t) => t.node),
    async (n) => {
      const dst = a.to.find((t) => t.node === n)!.path;
      if ((await h.script(n, step, sentDbCheckScript(dst, sha), 120, 'check the copy of the db')) === 'already') return 'already';
      const r = await h.shIn(n, step, receiveDbScript(dst, sha), 3600, () => createReadStream(a.localPath, { highWaterMark: 1 << 20 }));
      const word = statusWord(r);
      if (r.code !== 0) throw new ApplyError(`${n}: receiving the db failed: ${(r.stderr.trim().split('\n').pop() ?? '').trim() || `exit ${r.code ?? r.signal}`}`, `check the room and the disk beside ${dst} on ${n}, then \`etcd-dr resume ${h.runId}\``);
      return word || 'done';
    },
  );
  return { ...out, data: { ...out.data, sha256: sha, ms: Date.now() - t0 } };
}

export function restoreAll(h: StepHost, step: Step, a: Extract<Action, { type: 'restore-all' }>): Promise<StepOutcome> {
  const { members, type: _t, ...flags } = a;
  return all(
    members.map((m) => m.node),
    (n) => {
      const m = members.find((x) => x.node === n)!;
      return h.script(n, step, restoreScript({ ...flags, db: m.db, dataDir: m.dataDir, name: m.name, peerUrl: m.peerUrl, runId: h.runId }), RESTORE_TIMEOUT_S, 'restore the db');
    },
  );
}

/** Start every member at once, wait until each serves, then count the keys: the verification's floor. */
export async function startAll(h: StepHost, step: Step, a: Extract<Action, { type: 'start-all' }>): Promise<StepOutcome & { baseline: { count: number; revision: number } }> {
  const nodes = step.nodes ?? [];
  const started = await all(nodes, (n) => h.script(n, step, startScript(h.spec(n)), 60, 'start etcd'));
  const t0 = Date.now();
  await all(nodes, (n) => h.waitServes(n, step));
  const baseline = await h.keyCount(a.baselineVia);
  return { outcome: started.outcome, data: { ...started.data, servedMs: Date.now() - t0, baseline }, baseline };
}

/**
 * A restore-all step failed: every member's part is undone (etcd stopped, the restored data dir set aside
 * under `<dataDir>.etcd-dr-<run>-restore-all-<time>`, the env file put back from this run's backup), and the
 * run's plan becomes its fallback: the steps done so far, then the survivor-then-rejoin path. The plan the
 * run started with is kept beside; the journal says so (`rollback`, `plan-amended`), so `resume` goes on
 * with the fallback.
 */
export async function fallBack(h: StepHost, plan: Plan, failed: Step, err: unknown): Promise<Plan> {
  const group = plan.steps.filter((s) => s.allAtOnce);
  const first = plan.steps.indexOf(group[0]!);
  const restoreStep = group.map((s) => s.action).find((x): x is Extract<Action, { type: 'restore-all' }> => x.type === 'restore-all');
  const envs = group.flatMap((s) => (s.action.type === 'write-env' ? [{ node: s.node, a: s.action }] : []));
  const nodes = restoreStep?.members.map((m) => m.node) ?? [];
  const reason = err instanceof Error ? err.message : String(err);
  h.note(failed, `restore-all failed (${reason}); setting every member back, then the survivor is restored alone and the others re-added one at a time`);
  const t = Date.now();
  const did = await Promise.all(
    nodes.map(async (n) => {
      const spec = h.spec(n);
      const parts: string[] = [];
      const attempt = async (what: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
          parts.push(what);
        } catch (e) {
          parts.push(`${what} FAILED: ${(e as Error).message}`);
        }
      };
      await attempt(`stopped etcd on ${n}`, () => h.script(n, failed, stopScript(spec, 60), 90, 'stop etcd'));
      await attempt(`set ${spec.etcd.dataDir} aside`, () => h.script(n, failed, moveAsideScript(spec.etcd.dataDir, `${spec.etcd.dataDir}.etcd-dr-${h.runId}-restore-all-${t}`), 60, 'set the data dir aside'));
      const env = envs.find((e) => e.node === n)?.a;
      if (env) await attempt(`restored ${env.path} from ${env.backup}`, () => h.script(n, failed, restoreEnvScript(env.path, env.backup, h.runId), 30, 'restore the env file'));
      return parts;
    }),
  );
  h.run.append({ event: 'rollback', step: failed.id, detail: did.flat().join('; '), undone: group.map((s) => s.id) });
  const { fallback: _f, ...rest } = plan;
  const amended = sealPlan({
    ...rest,
    steps: [...plan.steps.slice(0, first), ...(plan.fallback ?? [])],
    ...(plan.strategy ? { strategy: { ...plan.strategy, name: 'rejoin' as const } } : {}),
    warnings: [...plan.warnings, `restore-all failed in step ${failed.id} (${reason}); every member was set back and the run went on with the survivor-then-rejoin path`],
  });
  const previousPlan = join(h.run.dir, `plan.before-fallback-${t}.json`);
  writePrivateFile(previousPlan, `${JSON.stringify(plan, null, 2)}\n`);
  writePrivateFile(h.run.planPath, `${JSON.stringify(amended, null, 2)}\n`);
  h.run.append({ event: 'plan-amended', exclude: [], previousPlan, changes: [`restore-all failed in step ${failed.id}: ${reason}`, ...did.flat(), 'the run goes on with the survivor-then-rejoin path'] });
  return amended;
}
