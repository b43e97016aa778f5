/**
 * The planned drills' pure parts over fixture facts: which scenario takes which option, which node each
 * scenario acts on and every refusal (made before anything changes), per-phase timings of a change, the
 * checks judged from the probe after a change, and how the reports show them.
 */
import type { RunResult } from '../../src/apply/executor.js';
import type { DrillReport } from '../../src/drill/drill.js';
import { changeTimings, pickTarget, plannedChecks } from '../../src/drill/planned.js';
import { flatTimings, reportJunit, reportMarkdown, reportSummary, timingRows } from '../../src/drill/report.js';
import { checkDrillOptions, isPlanned, PLANNED_SCENARIOS, RECOVERY_SCENARIOS, SCENARIOS } from '../../src/drill/scenarios.js';
import type { ClusterFacts, NodeFacts } from '../../src/facts/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import type { PlanContext } from '../../src/plan/context.js';
import { planReplace, planScaleIn, planScaleOut } from '../../src/plan/scale.js';
import type { Plan } from '../../src/plan/types.js';
import { EXIT, ExitError } from '../../src/util/errors.js';
import { clusterFacts, inventory, node, type NodeOpts } from '../support/facts.js';
import { planContext, refusal, RUN } from '../support/plan-helpers.js';


/** A healthy cluster of `members` (the leader given), plus bare nodes up to `count`. */
function cluster(members: number[] = [1, 2, 3], count = 4, per: Record<number, NodeOpts> = {}, leader = members[0]!): NodeFacts[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    if (members.includes(i)) return node(i, { members, leader, ...per[i] });
    return node(i, { running: false, hasDb: false, envText: null, ...per[i] });
  });
}

const inv = (count: number): Inventory => ({ ...inventory(count), cluster: { name: 'k2', disposable: true } });

function ctx(nodes: NodeFacts[]): PlanContext {
  return planContext(inv(nodes.length), clusterFacts(nodes));
}

/** Every step of the plan done in `ms` ms (a move-leader step ends `leader`), as the executor reports it. */
function ran(plan: Plan, ms = 100, leader: 'done' | 'already' = 'done'): RunResult {
  const steps = plan.steps.map((s) => ({ id: s.id, ms, outcome: s.action.type === 'move-leader' ? leader : 'done', resumed: false }));
  return { runId: plan.runId, outcome: 'done', ms: ms * steps.length + 7, steps };
}


/** The same facts with member `name` under a new member id (what a member removed and added back gets). */
function renumber(nodes: NodeFacts[], name: string, id: string): NodeFacts[] {
  const old = nodes.find((n) => n.name === name)!.endpoint!.memberId;
  return nodes.map((n) => ({
    ...n,
    ...(n.endpoint ? { endpoint: { ...n.endpoint, memberId: n.endpoint.memberId === old ? id : n.endpoint.memberId, leader: n.endpoint.leader === old ? id : n.endpoint.leader } } : {}),
    ...(n.members ? { members: n.members.map((m) => (m.name === name ? { ...m, id } : m)) } : {}),
  }));
}

const facts = (nodes: NodeFacts[]): ClusterFacts => clusterFacts(nodes);

describe('scenarios and their options', () => {
  it('lists the recovery scenarios, then the planned ones', () => {
    expect(SCENARIOS).toEqual(['all-down', 'majority-lost', 'survivor-stale', 'node-lost', 'scale-out', 'scale-in', 'replace']);
    expect(PLANNED_SCENARIOS.every(isPlanned)).toBe(true);
    expect(RECOVERY_SCENARIOS.some(isPlanned)).toBe(false);
  });

  it.each(PLANNED_SCENARIOS)('%s takes --target, not --survivor (bad input, exit 2)', (s) => {
    expect(() => checkDrillOptions(s, { target: 'etcd2' })).not.toThrow();
    let err: unknown;
    try {
      checkDrillOptions(s, { survivor: 'etcd1' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.badInput);
    expect((err as ExitError).message).toMatch(/--survivor applies to the recovery scenarios/);
  });

  it.each(RECOVERY_SCENARIOS)('%s takes --survivor, not --target (bad input, exit 2)', (s) => {
    expect(() => checkDrillOptions(s, { survivor: 'etcd1' })).not.toThrow();
    expect(() => checkDrillOptions(s, {})).not.toThrow();
    expect(() => checkDrillOptions(s, { target: 'etcd4' })).toThrow(expect.objectContaining({ exitCode: EXIT.badInput, message: expect.stringMatching(/--target applies to the planned scenarios/) }));
  });
});

describe('pickTarget', () => {
  it('scale-out: the first inventory node that is not a member and can join', () => {
    const p = pickTarget('scale-out', inv(5), facts(cluster([1, 2, 3], 5)));
    expect(p).toMatchObject({ target: 'etcd4', members: ['etcd1', 'etcd2', 'etcd3'], leader: 'etcd1' });
    expect(p.description).toMatch(/etcd4 joins the healthy cluster k2 \(3 → 4 members\) as a learner/);
    // etcd4 cannot be reached: etcd5 is taken
    expect(pickTarget('scale-out', inv(5), facts(cluster([1, 2, 3], 5, { 4: { reachable: false } }))).target).toBe('etcd5');
  });

  it('scale-out: a cluster with no node to add is refused, naming what the drill needs', () => {
    const r = refusal(() => pickTarget('scale-out', inv(3), facts(cluster([1, 2, 3], 3))));
    expect(r.message).toBe('the scale-out drill needs an inventory node that is not a member of cluster k2; every node of /work/inventory.yaml is one (etcd1, etcd2, etcd3)');
    expect(r.hint).toMatch(/add a node with etcd installed and not running to \/work\/inventory\.yaml \(on the built-in lab: etcd-dr lab up --nodes 4 --members 3\)/);
    expect(r.hint).toMatch(/--scenario scale-in/);
  });

  it('scale-out: non-members that cannot join are refused with the reason for each', () => {
    const nodes = cluster([1, 2, 3], 5, { 4: { reachable: false } });
    nodes[4] = { ...nodes[4]!, versions: {} };
    const r = refusal(() => pickTarget('scale-out', inv(5), facts(nodes)));
    expect(r.message).toMatch(/needs an inventory node that can join cluster k2: etcd4 is unreachable \(connect ETIMEDOUT\); etcd5 has no etcd binary on its PATH$/);
    // a non-member running etcd of its own is no candidate either
    const running = cluster([1, 2, 3], 4);
    running[3] = { ...running[3]!, processRunning: true, service: 'active' };
    expect(refusal(() => pickTarget('scale-out', inv(4), facts(running))).message).toMatch(/etcd4 runs etcd/);
  });

  it('scale-out: --target is taken as given, but never a member', () => {
    expect(pickTarget('scale-out', inv(5), facts(cluster([1, 2, 3], 5)), 'etcd5').target).toBe('etcd5');
    const r = refusal(() => pickTarget('scale-out', inv(5), facts(cluster([1, 2, 3], 5)), 'etcd2'));
    expect(r.message).toBe('etcd2 is already a member of cluster k2: scale-out adds a node that is not one');
  });

  it('scale-in: the leader by default, or the member named', () => {
    const f = facts(cluster([1, 2, 3, 4], 4, {}, 2));
    const p = pickTarget('scale-in', inv(4), f);
    expect(p).toMatchObject({ target: 'etcd2', leader: 'etcd2' });
    expect(p.description).toBe('etcd2, the leader, is removed from the healthy cluster k2 (4 → 3 members), leadership handed over first, while its data stays put');
    const q = pickTarget('scale-in', inv(4), f, 'etcd4');
    expect(q.target).toBe('etcd4');
    expect(q.description).not.toMatch(/leader/);
  });

  it('scale-in: refuses a one-member cluster and a --target that is not a member', () => {
    expect(refusal(() => pickTarget('scale-in', inv(3), facts(cluster([1], 3)))).message).toMatch(/^the scale-in drill needs at least 2 members: removing the only member of cluster k2 \(etcd1\) would leave none$/);
    expect(refusal(() => pickTarget('scale-in', inv(4), facts(cluster([1, 2, 3], 4)), 'etcd4')).message).toBe('etcd4 is not a member of cluster k2: the scale-in drill acts on a member');
  });

  it('replace: the last member by default; needs 3 members so the others keep the quorum', () => {
    expect(pickTarget('replace', inv(4), facts(cluster([1, 2, 3], 4))).target).toBe('etcd3');
    expect(pickTarget('replace', inv(4), facts(cluster([1, 2, 3], 4)), 'etcd1').target).toBe('etcd1');
    const r = refusal(() => pickTarget('replace', inv(3), facts(cluster([1, 2], 3))));
    expect(r.message).toBe('the replace drill needs at least 3 members: while one is lost the others must keep the quorum, and cluster k2 has 2 (etcd1, etcd2)');
    expect(r.hint).toMatch(/--scenario scale-out/);
    expect(refusal(() => pickTarget('replace', inv(4), facts(cluster([1, 2, 3], 4)), 'etcd4')).message).toMatch(/etcd4 is not a member/);
  });
});

describe('changeTimings', () => {
  it('scale-in: the removal (handover included) and the verification add up to the plan', () => {
    const plan = planScaleIn(ctx(cluster([1, 2, 3], 3)), { kind: 'scale-in', members: ['etcd1'] });
    const t = changeTimings(plan, ran(plan));
    const removeSteps = plan.steps.filter((s) => s.phase === 'remove').length;
    expect(removeSteps).toBeGreaterThanOrEqual(4);
    expect(t).toEqual({ removesMs: { etcd1: 100 * removeSteps }, joinsMs: {}, moveLeaderMs: 100, envSyncMs: 0, verifyMs: 100, totalMs: 100 * plan.steps.length + 7 });
  });

  it('scale-out: the join holds every step of the joiner, env files of the others are their own phase', () => {
    const plan = planScaleOut(ctx(cluster([1, 2, 3], 4)), { kind: 'scale-out', nodes: ['etcd4'] });
    const t = changeTimings(plan, ran(plan));
    // add, env file, start, promote, wait (a bare node has no data dir to set aside)
    expect(t.joinsMs).toEqual({ etcd4: 500 });
    expect(t.removesMs).toEqual({});
    expect(t.moveLeaderMs).toBeUndefined();
    expect(t.envSyncMs).toBe(300);
  });

  it('replace: one removal and one join of the same node, the data dir set aside counted in the join', () => {
    const nodes = cluster([1, 2, 3], 4);
    const plan = planReplace(ctx(nodes), { kind: 'replace', member: 'etcd3' });
    const t = changeTimings(plan, ran(plan, 10));
    expect(Object.keys(t.removesMs)).toEqual(['etcd3']);
    expect(Object.keys(t.joinsMs)).toEqual(['etcd3']);
    const joinSteps = plan.steps.filter((s) => s.phase === 'join').length;
    expect(t.joinsMs['etcd3']).toBe(10 * joinSteps);
    expect(t.removesMs['etcd3']! + t.joinsMs['etcd3']! + t.envSyncMs + t.verifyMs + 20).toBe(10 * plan.steps.length);
  });
});

describe('plannedChecks', () => {
  const byName = (cs: { name: string; pass: boolean; evidence: string }[]) => Object.fromEntries(cs.map((c) => [c.name, c]));

  it('scale-out passes when the new node serves as a voting member with its own env file, and every env file lists it', () => {
    const start = cluster([1, 2, 3], 4);
    const plan = planScaleOut(ctx(start), { kind: 'scale-out', nodes: ['etcd4'] });
    const pick = pickTarget('scale-out', inv(4), facts(start));
    const after = facts(cluster([1, 2, 3, 4], 4));
    const checks = plannedChecks({ pick, inventory: inv(4), plan, result: ran(plan), before: facts(start), after });
    expect(checks.filter((c) => !c.pass)).toEqual([]);
    expect(checks.map((c) => c.name)).toEqual([
      'etcd-dr status after the change: healthy, members as planned',
      'env files agree with the membership',
      'etcd4 joined: a voting member serving clients with its own env file',
    ]);
    expect(byName(checks)['env files agree with the membership']!.evidence).toBe(
      'etcd1, etcd2, etcd3, etcd4: ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380,etcd3=https://10.0.0.3:2380,etcd4=https://10.0.0.4:2380, state existing, each its own ETCD_NAME',
    );
    expect(checks[2]!.evidence).toMatch(/^member 8e9e05c521646944, serving at revision 1000; \/etc\/etcd\.env names etcd4 and its own URLs$/);
  });

  it('scale-out fails when an env file lags, the new member is a learner, or its env file is another member\'s', () => {
    const start = cluster([1, 2, 3], 4);
    const plan = planScaleOut(ctx(start), { kind: 'scale-out', nodes: ['etcd4'] });
    const pick = pickTarget('scale-out', inv(4), facts(start));
    const after = cluster([1, 2, 3, 4], 4, { 2: { envCluster: [1, 2, 3] } });
    after[3] = { ...after[3]!, env: { ...after[3]!.env!, vars: { ...after[3]!.env!.vars, ETCD_NAME: 'etcd1', ETCD_ADVERTISE_CLIENT_URLS: 'https://10.0.0.1:2379' } } };
    for (const n of after) if (n.members) n.members = n.members.map((m) => (m.name === 'etcd4' ? { ...m, isLearner: true } : m));
    const c = byName(plannedChecks({ pick, inventory: inv(4), plan, result: ran(plan), before: facts(start), after: facts(after) }));
    expect(c['etcd-dr status after the change: healthy, members as planned']!.pass).toBe(false);
    expect(c['env files agree with the membership']).toMatchObject({ pass: false, evidence: expect.stringMatching(/etcd2: ETCD_INITIAL_CLUSTER=etcd1=https:\/\/10\.0\.0\.1:2380,etcd2=.*,etcd3=https:\/\/10\.0\.0\.3:2380(;|$)/) });
    expect(c['env files agree with the membership']!.evidence).toMatch(/etcd4: ETCD_NAME=etcd1/);
    expect(c['etcd4 joined: a voting member serving clients with its own env file']).toMatchObject({
      pass: false,
      evidence: 'still a learner; env file: ETCD_NAME=etcd1; env file: ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.1:2379',
    });
  });

  function scaleIn(afterPer: Record<number, NodeOpts> = {}, leaderOutcome: 'done' | 'already' = 'done', movedAside = true) {
    const start = cluster([1, 2, 3], 3);
    const plan = planScaleIn(ctx(start), { kind: 'scale-in', members: ['etcd1'] });
    const pick = pickTarget('scale-in', inv(3), facts(start));
    const after = [node(1, { running: false, hasDb: false, ...afterPer[1] }), node(2, { members: [2, 3], leader: 2, ...afterPer[2] }), node(3, { members: [2, 3], leader: 2, ...afterPer[3] })];
    const to = `/var/lib/etcd.etcd-dr-${RUN}`;
    if (movedAside) after[0]!.dataDir!.movedAside = [to];
    return { checks: byName(plannedChecks({ pick, inventory: inv(3), plan, result: ran(plan, 100, leaderOutcome), before: facts(start), after: facts(after) })), to };
  }

  it('scale-in passes when leadership was handed over and the removed member is stopped with its data dir set aside', () => {
    const { checks, to } = scaleIn();
    expect(Object.values(checks).filter((c) => !c.pass)).toEqual([]);
    expect(checks['leadership handed over before etcd1 was removed']!.evidence).toBe('etcd1 led when the step ran: leadership moved before the removal; leader now etcd2');
    expect(checks['etcd1 left: etcd stopped, data dir set aside']!.evidence).toBe(`not a member; etcd inactive; /var/lib/etcd kept as ${to}`);
    expect(checks['env files agree with the membership']!.evidence).toMatch(/^etcd2, etcd3: /);
  });

  it('scale-in: a leader change before the step is said so, and still passes', () => {
    const { checks } = scaleIn({}, 'already');
    expect(checks['leadership handed over before etcd1 was removed']).toEqual({
      name: 'leadership handed over before etcd1 was removed',
      pass: true,
      evidence: 'etcd1 did not lead when the step ran (leadership changed after the drill picked it): nothing to hand over; leader now etcd2',
    });
  });

  it('scale-in fails when the removed member still runs etcd or its data dir was not set aside', () => {
    const running = scaleIn({ 1: { running: true, members: [1], leader: 1 } }).checks['etcd1 left: etcd stopped, data dir set aside']!;
    expect(running.pass).toBe(false);
    expect(running.evidence).toMatch(/etcd still runs \(service active\)/);
    const kept = scaleIn({ 1: { hasDb: true } }, 'done', false).checks['etcd1 left: etcd stopped, data dir set aside']!;
    expect(kept).toMatchObject({ pass: false, evidence: `/var/lib/etcd is still there; /var/lib/etcd.etcd-dr-${RUN} not found (set aside: none)` });
  });

  it('replace passes only when the node is back as a new member', () => {
    const start = cluster([1, 2, 3], 3);
    const pick = pickTarget('replace', inv(3), facts(start));
    const plan = planReplace(ctx(start), { kind: 'replace', member: 'etcd3' });
    const fresh = plannedChecks({ pick, inventory: inv(3), plan, result: ran(plan), before: facts(start), after: facts(renumber(cluster([1, 2, 3], 3), 'etcd3', 'a1b2c3d4e5f60718')) });
    expect(fresh.filter((c) => !c.pass)).toEqual([]);
    expect(fresh[2]).toEqual({
      name: 'etcd3 replaced in place: a new member serving clients with its own env file',
      pass: true,
      evidence: 'member 8e9e05c521646943 removed, etcd3 back as member a1b2c3d4e5f60718, serving at revision 1000; /etc/etcd.env names etcd3 and its own URLs',
    });
    const same = plannedChecks({ pick, inventory: inv(3), plan, result: ran(plan), before: facts(start), after: facts(cluster([1, 2, 3], 3)) });
    expect(same[2]).toMatchObject({ pass: false, evidence: 'still member 8e9e05c521646943: not a new member' });
  });
});

describe('reports of a planned drill', () => {
  const report: DrillReport = {
    tool: { name: 'etcd-dr', version: '0.1.0' },
    cluster: 'k2',
    inventory: '/work/inventory.yaml',
    scenario: 'replace',
    kind: 'planned',
    description: "etcd3's host is lost and comes back with its data dir gone",
    pass: true,
    startedAt: '2026-11-24T20:00:00.000Z',
    finishedAt: '2026-11-24T20:00:30.000Z',
    target: 'etcd3',
    members: { before: ['etcd1', 'etcd2', 'etcd3'], after: ['etcd1', 'etcd2', 'etcd3'] },
    excluded: [],
    checks: [{ name: 'replace completed', pass: true, evidence: 'run x: 20 steps in 9.0 s' }],
    timings: { injectMs: 4000, moveLeaderMs: 20, removesMs: { etcd3: 1500 }, joinsMs: { etcd3: 6000 }, envSyncMs: 300, verifyMs: 700, totalMs: 9000, degradedMs: 16000, captureBeforeMs: 50 },
    missingKeys: [],
    changedKeys: [],
    notes: [],
  };

  it('the timings table shows the change, not a recovery', () => {
    expect(timingRows(report)).toEqual([
      ['host lost and back wiped (injection)', '4.00 s'],
      ['leadership handover', '0.02 s'],
      ['remove etcd3 (handover, member remove, stop, data dir aside, env files)', '1.50 s'],
      ['join etcd3 (learner add, env file, start, promote, serving)', '6.00 s'],
      ['env files to the new membership', '0.30 s'],
      ['verification', '0.70 s'],
      ['total change', '9.00 s'],
      ['a member short (host lost → replacement verified)', '16.00 s'],
    ]);
    expect(timingRows({ ...report, scenario: 'scale-out', timings: { joinsMs: { etcd4: 5000 }, removesMs: {}, envSyncMs: 100, verifyMs: 200, totalMs: 5400 } }).map(([p]) => p)).toEqual([
      'join etcd4 (learner add, env file, start, promote, serving)',
      'env files to the new membership',
      'verification',
      'total change',
    ]);
    // a removal rewrites the env files within its own steps: no separate row
    expect(timingRows({ ...report, scenario: 'scale-in', timings: { moveLeaderMs: 400, removesMs: { etcd1: 2400 }, joinsMs: {}, envSyncMs: 0, verifyMs: 300, totalMs: 2900 } }).map(([p]) => p)).toEqual([
      'leadership handover',
      'remove etcd1 (handover, member remove, stop, data dir aside, env files)',
      'verification',
      'total change',
    ]);
  });

  it('JUnit properties name removals and joins apart', () => {
    expect(flatTimings(report)).toMatchObject({ 'remove.etcd3.ms': 1500, 'join.etcd3.ms': 6000, totalMs: 9000, degradedMs: 16000 });
    const xml = reportJunit(report);
    expect(xml).toContain('<property name="remove.etcd3.ms" value="1500"/>');
    expect(xml).toContain('<testcase classname="etcd-dr.drill.replace" name="replace completed">');
  });

  it('markdown and the summary name the target, the membership and the change time', () => {
    const md = reportMarkdown(report);
    expect(md).toContain('; target **etcd3**');
    expect(md).toContain('- members: etcd1, etcd2, etcd3 → etcd1, etcd2, etcd3');
    expect(md).toContain('| a member short (host lost → replacement verified) | 16.00 s |');
    expect(reportSummary(report).split('\n')[2]).toBe(
      '  change 9.00 s (host lost and back wiped 4.00 s, leadership handover 0.02 s, remove etcd3 1.50 s, join etcd3 6.00 s, env files to the new membership 0.30 s, verification 0.70 s, a member short 16.00 s)',
    );
  });
});
