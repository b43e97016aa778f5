import { createHash } from 'node:crypto';
import { parseEnvFile, vars } from '../../src/etcd/envfile.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { checkExclude, excludeFromPlan } from '../../src/plan/exclude.js';
import { planRecover } from '../../src/plan/recover.js';
import type { Action, Plan, Step } from '../../src/plan/types.js';
import { ExitError } from '../../src/util/errors.js';
import { addr, clusterFacts, envFileText, inventory, node } from '../support/facts.js';
import { planContext, refusal as refused } from '../support/plan-helpers.js';

const RUN = '20261124T200000Z-ab12';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

/** Three stopped members, etcd2 the freshest: survivor etcd2, then etcd1 and etcd3 join in that order. */
function recoverPlan(): Plan {
  const nodes = [1, 2, 3].map((i) => node(i, { running: false, revision: [1000, 1200, 1100][i - 1], version: '3.5.30' }));
  return planRecover(
    planContext(inventory(3), clusterFacts(nodes), RUN),
    { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups' },
  );
}

/** The steps up to (not including) the first one matching `re`. */
function doneBefore(p: Plan, re: RegExp): Set<string> {
  const at = p.steps.findIndex((s) => re.test(s.id));
  expect(at).toBeGreaterThan(0);
  return new Set(p.steps.slice(0, at).map((s) => s.id));
}

/** The nodes as they are after the done steps: env files as the run left them, `down` unreachable. */
function nodesNow(p: Plan, done: Set<string>, down: number[], edit: (i: number, text: string) => string = (_i, t) => t): NodeFacts[] {
  return [1, 2, 3].map((i) => {
    if (down.includes(i)) return node(i, { reachable: false });
    let text = envFileText(i);
    for (const s of p.steps) if (done.has(s.id) && s.node === `etcd${i}` && s.action.type === 'write-env') text = s.action.content;
    return node(i, { envText: edit(i, text) });
  });
}

const envCluster = (s: Step) => vars(parseEnvFile((s.action as Extract<Action, { type: 'write-env' }>).content))['ETCD_INITIAL_CLUSTER'];
const cluster = (ids: number[]) => ids.map((i) => `etcd${i}=https://${addr(i)}:2380`).join(',');

describe('resume --exclude: the rest of a recovery without a member', () => {
  it('etcd3 lost during its join: its steps go, it is removed where it was added, env files and verify name etcd1 and etcd2', () => {
    const p = recoverPlan();
    const done = doneBefore(p, /-start-etcd3$/);
    const { plan, changes } = excludeFromPlan(p, ['etcd3'], { inventory: inventory(3), nodes: nodesNow(p, done, [3]), done });
    const rest = plan.steps.filter((s) => !done.has(s.id));
    // nothing of the rest runs on etcd3 or belongs to its join
    expect(rest.filter((s) => s.node === 'etcd3' || s.join === 'etcd3' || s.nodes?.includes('etcd3'))).toEqual([]);
    // the member-add of etcd3 was done: the removal follows it, through the survivor
    const leave = plan.steps.find((s) => s.action.type === 'member-remove')!;
    expect(leave.id).toMatch(/^\d+-leave-out-etcd3$/);
    expect(leave.action).toEqual({ type: 'member-remove', via: 'etcd2', name: 'etcd3', peerUrl: `https://${addr(3)}:2380` });
    expect(plan.steps.indexOf(leave)).toBe(plan.steps.findIndex((s) => /-add-etcd3$/.test(s.id)) + 1);
    // every env file still to be written names etcd1 and etcd2 (in inventory order), and each write starts where the last left off
    const writes = rest.filter((s) => s.action.type === 'write-env');
    expect(writes.map((s) => s.node).sort()).toEqual(['etcd1', 'etcd2']);
    for (const w of writes) expect(envCluster(w)).toBe(cluster([1, 2]));
    const now = nodesNow(p, done, [3]);
    for (const w of writes) {
      const a = w.action as Extract<Action, { type: 'write-env' }>;
      expect(a.beforeSha256).toBe(now.find((n) => n.name === w.node)!.env!.sha256);
      expect(a.afterSha256).toBe(sha(a.content));
      expect(w.commands[0]).toContain(a.afterSha256);
    }
    const verify = plan.steps.find((s) => s.action.type === 'verify')!;
    expect(verify.action).toMatchObject({ members: ['etcd1', 'etcd2'] });
    expect(verify.commands.join('\n')).not.toContain(addr(3));
    expect(plan.steps.find((s) => s.action.type === 'unlock')!.nodes).toEqual(['etcd1', 'etcd2']);
    expect(plan.finalMembers).toEqual(['etcd1', 'etcd2']);
    expect(plan.intent).toMatchObject({ kind: 'recover', exclude: ['etcd3'] });
    expect(plan.summary).toMatch(/etcd3 left out on resume\.$/);
    expect(plan.warnings.at(-1)).toMatch(/etcd3 is left out .* move this run's lock \/var\/lib\/etcd-dr\/lock aside on it .* scale-out --node etcd3/);
    expect(plan.digest).toBeUndefined();
    // the done steps are the run's history, untouched
    for (const s of p.steps.filter((x) => done.has(x.id))) expect(plan.steps).toContainEqual(s);
    expect(changes).toEqual(expect.arrayContaining([expect.stringMatching(/^added \d+-leave-out-etcd3/), expect.stringMatching(/-wait-etcd3$/), expect.stringMatching(/-verify: verifies etcd1, etcd2$/)]));
  });

  it('a member lost before its join: the later joiner joins a cluster that does not list it', () => {
    const p = recoverPlan();
    // etcd1 (the first joiner) died during its member-add; its join was rolled back
    const done = doneBefore(p, /-add-etcd1$/);
    const { plan } = excludeFromPlan(p, ['etcd1'], { inventory: inventory(3), nodes: nodesNow(p, done, [1]), done });
    const join3 = plan.steps.filter((s) => s.join === 'etcd3' && s.action.type === 'write-env');
    expect(join3).toHaveLength(1);
    expect(envCluster(join3[0]!)).toBe(cluster([2, 3]));
    // the final env files: etcd3's join already said it; etcd2's (survivor) is rewritten
    const finals = plan.steps.filter((s) => s.phase === 'finalize');
    for (const f of finals) expect(envCluster(f)).toBe(cluster([2, 3]));
    expect(plan.steps.filter((s) => !done.has(s.id) && (s.node === 'etcd1' || s.join === 'etcd1'))).toEqual([]);
    expect(plan.steps.find((s) => s.action.type === 'verify')!.action).toMatchObject({ members: ['etcd2', 'etcd3'] });
  });

  it('a member that can still be reached keeps its lock, stop and unlock steps; only its join goes', () => {
    const p = recoverPlan();
    const done = doneBefore(p, /-stop-etcd$/);
    const { plan } = excludeFromPlan(p, ['etcd3'], { inventory: inventory(3), nodes: nodesNow(p, done, []), done });
    expect(plan.steps.find((s) => s.action.type === 'stop-etcd')!.nodes).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(plan.steps.find((s) => s.action.type === 'unlock')!.nodes).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(plan.steps.some((s) => s.action.type === 'move-data-dir' && s.node === 'etcd3')).toBe(false);
  });

  it('refuses an env file changed since the run wrote it', () => {
    const p = recoverPlan();
    const done = doneBefore(p, /-start-etcd3$/);
    const nodes = nodesNow(p, done, [3], (i, t) => (i === 1 ? `${t}ETCD_DEBUG=true\n` : t));
    const e = refused(() => excludeFromPlan(p, ['etcd3'], { inventory: inventory(3), nodes, done }));
    expect(e.message).toMatch(/^etcd1: \/etc\/etcd\.env changed since run .* last wrote it/);
  });

  it('refuses when another remaining member cannot be reached either', () => {
    const p = recoverPlan();
    const done = doneBefore(p, /-start-etcd3$/);
    const e = refused(() => excludeFromPlan(p, ['etcd3'], { inventory: inventory(3), nodes: nodesNow(p, done, [1, 3]), done }));
    expect(e.message).toMatch(/^etcd1 cannot be reached/);
    expect(e.hint).toContain('--exclude etcd1');
  });

  it('refuses once the run verified the cluster', () => {
    const p = recoverPlan();
    const done = doneBefore(p, /-unlock$/);
    const e = refused(() => excludeFromPlan(p, ['etcd3'], { inventory: inventory(3), nodes: nodesNow(p, done, [3]), done }));
    expect(e.message).toMatch(/already verified the cluster/);
  });

  it('bad input: the survivor, a node the run does not bring back, a run that is not a recovery', () => {
    const p = recoverPlan();
    const bad = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ExitError);
        expect((e as ExitError).exitCode).toBe(2);
        return (e as ExitError).message;
      }
      throw new Error('expected bad input');
    };
    expect(bad(() => checkExclude(p, ['etcd2']))).toMatch(/etcd2 is the survivor/);
    expect(bad(() => checkExclude({ ...p, finalMembers: ['etcd1', 'etcd2'] }, ['etcd3']))).toMatch(/not one of the members/);
    expect(bad(() => checkExclude({ ...p, intent: { kind: 'scale-out', nodes: ['etcd3'] } }, ['etcd3']))).toMatch(/applies to recovery runs; run .* is a scale-out/);
  });
});

