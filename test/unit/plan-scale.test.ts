import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseEnvFile, vars } from '../../src/etcd/envfile.js';
import type { NodeFacts } from '../../src/facts/types.js';
import type { PlanContext } from '../../src/plan/context.js';
import { envForNewNode } from '../../src/plan/new-node-env.js';
import { planReplace, planScaleIn, planScaleOut } from '../../src/plan/scale.js';
import { faultTolerance } from '../../src/plan/scale-checks.js';
import { EMPTY_SHA256, restoreEnvScript, writeEnvScript } from '../../src/plan/scripts.js';
import type { Plan } from '../../src/plan/types.js';
import { clusterFacts, envFileText, initialCluster, inventory, node, nodeSpec, type NodeOpts } from '../support/facts.js';
import { planContext, refusal, RUN, runSh, stepsOf as of } from '../support/plan-helpers.js';

function ctx(nodes: NodeFacts[], count = nodes.length): PlanContext {
  return planContext(inventory(count), clusterFacts(nodes));
}

/** A healthy cluster of `members` (etcd1 leads), plus bare nodes up to `count`: no env file, no data, etcd stopped. */
function cluster(members: number[] = [1, 2, 3], count = 5, per: Record<number, NodeOpts> = {}): NodeFacts[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    if (members.includes(i)) return node(i, { members, ...per[i] });
    return node(i, { running: false, hasDb: false, envText: null, ...per[i] });
  });
}

const outline = (p: Plan) => p.steps.map((s) => `${s.action.type} ${s.node ?? (s.nodes ?? []).join(',')}${s.join ? ` [join ${s.join}]` : ''}`);


describe('faultTolerance', () => {
  it.each([
    [1, 0],
    [2, 0],
    [3, 1],
    [4, 1],
    [5, 2],
    [7, 3],
  ])('%i members tolerate %i failures', (n, t) => expect(faultTolerance(n)).toBe(t));
});

describe('planScaleOut', () => {
  it('adds one node at a time as a learner, then rewrites every member env file to the new membership', () => {
    const p = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4', 'etcd5'] });
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd3,etcd4,etcd5',
      'member-add etcd4 [join etcd4]',
      'write-env etcd4 [join etcd4]',
      'start-etcd etcd4 [join etcd4]',
      'promote etcd4 [join etcd4]',
      'wait-healthy etcd4 [join etcd4]',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'member-add etcd5 [join etcd5]',
      'write-env etcd5 [join etcd5]',
      'start-etcd etcd5 [join etcd5]',
      'promote etcd5 [join etcd5]',
      'wait-healthy etcd5 [join etcd5]',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'write-env etcd4',
      'verify etcd1,etcd2,etcd3,etcd4,etcd5',
      'unlock etcd1,etcd2,etcd3,etcd4,etcd5',
    ]);
    expect(p.finalMembers).toEqual(['etcd1', 'etcd2', 'etcd3', 'etcd4', 'etcd5']);
    expect(p.intent).toEqual({ kind: 'scale-out', nodes: ['etcd4', 'etcd5'] });
    for (const s of of(p, 'member-add')) expect(s.action).toMatchObject({ via: 'etcd1', learner: true });
    for (const s of of(p, 'promote')) expect(s.action.via).toBe('etcd1');
    // a promoted learner that has not published itself is restarted (when the quorum holds without it)
    expect(of(p, 'wait-healthy').map((s) => s.action)).toEqual([
      { type: 'wait-healthy', endpointOf: 'etcd4', publishVia: 'etcd1' },
      { type: 'wait-healthy', endpointOf: 'etcd5', publishVia: 'etcd1' },
    ]);
    expect(of(p, 'verify')[0]!.action).toEqual({ type: 'verify', via: 'etcd1', members: ['etcd1', 'etcd2', 'etcd3', 'etcd4', 'etcd5'] });
    expect(new Set(p.steps.map((s) => s.id)).size).toBe(p.steps.length);
    expect(p.summary).toMatch(/Add etcd4, etcd5 .*3 → 5 members/);
  });

  it('env files: each member lists the membership of that moment, in inventory order, state existing', () => {
    const p = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd5', 'etcd4'] });
    const envs = of(p, 'write-env').map((s) => [s.node, vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER']]);
    expect(envs).toEqual([
      ['etcd5', initialCluster([1, 2, 3, 5])],
      ['etcd1', initialCluster([1, 2, 3, 5])],
      ['etcd2', initialCluster([1, 2, 3, 5])],
      ['etcd3', initialCluster([1, 2, 3, 5])],
      ['etcd4', initialCluster([1, 2, 3, 4, 5])],
      ['etcd1', initialCluster([1, 2, 3, 4, 5])],
      ['etcd2', initialCluster([1, 2, 3, 4, 5])],
      ['etcd3', initialCluster([1, 2, 3, 4, 5])],
      ['etcd5', initialCluster([1, 2, 3, 4, 5])],
    ]);
    // a member's second rewrite starts from its first
    const e1 = of(p, 'write-env').filter((s) => s.node === 'etcd1');
    expect(e1[1]!.action.beforeSha256).toBe(e1[0]!.action.afterSha256);
    // every other line of a member's file is kept
    const before = envFileText(1).split('\n');
    const after = e1[1]!.action.content.split('\n');
    expect(after.filter((l) => !before.includes(l))).toEqual([`ETCD_INITIAL_CLUSTER=${initialCluster([1, 2, 3, 4, 5])}`]);
  });

  it("a node without an env file gets one made from the first member's: its name, URLs, certificates; a warning says so", () => {
    const p = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4'] });
    const w = of(p, 'write-env').find((s) => s.node === 'etcd4')!;
    expect(w.action.beforeSha256).toBe(EMPTY_SHA256);
    expect(w.envDiff).toMatch(/^\(new file \/etc\/etcd\.env\)/);
    const v = vars(parseEnvFile(w.action.content));
    expect(v).toMatchObject({
      ETCD_NAME: 'etcd4',
      ETCD_DATA_DIR: '/var/lib/etcd',
      ETCD_ADVERTISE_CLIENT_URLS: 'https://10.0.0.4:2379',
      ETCD_INITIAL_ADVERTISE_PEER_URLS: 'https://10.0.0.4:2380',
      ETCD_LISTEN_CLIENT_URLS: 'https://10.0.0.4:2379,https://127.0.0.1:2379',
      ETCD_LISTEN_PEER_URLS: 'https://10.0.0.4:2380',
      ETCD_INITIAL_CLUSTER: initialCluster([1, 2, 3, 4]),
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
      ETCD_CERT_FILE: '/etc/ssl/etcd/ssl/member-k2-master04.pem',
      ETCD_TRUSTED_CA_FILE: '/etc/ssl/etcd/ssl/ca.pem',
      ETCD_ELECTION_TIMEOUT: '5000',
    });
    expect(w.action.content).toContain('# TLS settings\n');
    expect(w.action.content.replace(/^ETCD_INITIAL_CLUSTER=.*$/m, '')).not.toMatch(/10\.0\.0\.1:|master01/);
    expect(p.warnings).toContainEqual(expect.stringMatching(/^etcd4 has no \/etc\/etcd\.env: the plan writes one made from etcd1's/));
  });

  it("envForNewNode: host names are replaced only as whole names; a value naming the template member is reported", () => {
    const t = nodeSpec(1);
    const text = [
      'ETCD_NAME=etcd1',
      'ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380',
      'ETCD_CERT_FILE=/certs/member-k2-master01.pem',
      'ETCD_KEY_FILE=/certs/shared-key.pem',
      'ETCD_PEER_CERT_FILE=/certs/member-k2-master010.pem',
      'ETCD_EXTRA=https://10.0.0.1:9999',
      '',
    ].join('\n');
    const r = envForNewNode({ spec: t, text }, nodeSpec(4), initialCluster([1, 4]));
    const v = vars(parseEnvFile(r.text));
    expect(v['ETCD_CERT_FILE']).toBe('/certs/member-k2-master04.pem');
    expect(v['ETCD_PEER_CERT_FILE']).toBe('/certs/member-k2-master010.pem');
    expect(v['ETCD_KEY_FILE']).toBe('/certs/shared-key.pem');
    expect(r.warnings).toEqual([
      expect.stringMatching(/ETCD_KEY_FILE=\/certs\/shared-key\.pem .* does not name host k2-master01/),
      expect.stringMatching(/ETCD_PEER_CERT_FILE=\/certs\/member-k2-master010\.pem .* does not name host k2-master01/),
      expect.stringMatching(/ETCD_EXTRA=https:\/\/10\.0\.0\.1:9999 .* names etcd1/),
    ]);
  });

  it("a node's own env file is edited (membership, state), one written for another member is replaced with a warning", () => {
    const own = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { envText: envFileText(4, [4]).replace('=existing', '=new') } })), { kind: 'scale-out', nodes: ['etcd4'] });
    const w = of(own, 'write-env').find((s) => s.node === 'etcd4')!;
    expect(w.envDiff).toBe(
      ['@@ -5 +5 @@', '-ETCD_INITIAL_CLUSTER_STATE=new', '+ETCD_INITIAL_CLUSTER_STATE=existing', '@@ -12 +12 @@', `-ETCD_INITIAL_CLUSTER=${initialCluster([4])}`, `+ETCD_INITIAL_CLUSTER=${initialCluster([1, 2, 3, 4])}`].join('\n'),
    );
    expect(own.warnings.filter((x) => /env/.test(x))).toEqual([]);
    const other = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { envText: envFileText(2) } })), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(other.warnings).toContainEqual(expect.stringMatching(/etcd4's \/etc\/etcd\.env is written for another member \(ETCD_NAME=etcd2\)/));
    expect(vars(parseEnvFile(of(other, 'write-env').find((s) => s.node === 'etcd4')!.action.content))['ETCD_NAME']).toBe('etcd4');
  });

  it('takes over the lock a finished run left on a node it could not reach (the excluded node that came back); refuses a live one', () => {
    const OLD = '20261124-190000-0ld1';
    const per = { 4: { lock: { runId: OLD, holder: 'ops@bastion' } } };
    const pc = { ...ctx(cluster([1, 2, 3], 4, per)), runEnded: (id: string) => (id === OLD ? 'finished on this bastion at 2026-11-24T19:05:00.000Z' : undefined) };
    const p = planScaleOut(pc, { kind: 'scale-out', nodes: ['etcd4'] });
    expect(of(p, 'lock')[0]!.action).toEqual({ type: 'lock', breakRun: OLD });
    expect(p.warnings).toContainEqual(expect.stringMatching(/^etcd4 still holds the lock of run 20261124-190000-0ld1, which finished on this bastion at .*; this plan takes it over/));
    // without that knowledge (another bastion's run, or one that may go on) it stays refused, without a flag to name
    const e = refusal(() => planScaleOut(ctx(cluster([1, 2, 3], 4, per)), { kind: 'scale-out', nodes: ['etcd4'] }));
    expect(e.message).toBe('another etcd-dr run holds the lock: etcd4 by run 20261124-190000-0ld1 (ops@bastion)');
    expect(e.hint).toBe("wait for it to finish, or `etcd-dr resume 20261124-190000-0ld1` it");
  });

  it("warns when a new node lacks room for the leader's db and a 64 MB WAL", () => {
    const short = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { freeBytes: 10 * 1048576 } })), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(short.warnings).toContainEqual(expect.stringMatching(/^etcd4: \/var\/lib has 10 MiB free and its copy of the db from the leader needs about \d+ MiB/));
    const roomy = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { freeBytes: 10_000 * 1048576 } })), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(roomy.warnings.filter((w) => / MiB free and /.test(w))).toEqual([]);
  });

  it("moves a new node's old data dir aside first, outside the join (nothing to roll back)", () => {
    const p = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { hasDb: true, envText: envFileText(4) } })), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(outline(p).slice(0, 3)).toEqual(['lock etcd1,etcd2,etcd3,etcd4', 'move-data-dir etcd4', 'member-add etcd4 [join etcd4]']);
    expect(of(p, 'move-data-dir')[0]!.action).toEqual({ type: 'move-data-dir', from: '/var/lib/etcd', to: `/var/lib/etcd.etcd-dr-${RUN}` });
  });

  it('warns about an even member count and a different etcd version', () => {
    const p = planScaleOut(ctx(cluster([1, 2, 3], 4, { 4: { version: '3.5.30' } })), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(p.warnings).toContainEqual('4 members tolerate no more failures than 3 (1), and need 3 for a quorum');
    expect(p.warnings).toContainEqual(expect.stringMatching(/etcd4 has etcd 3\.5\.30, the cluster runs 3\.4\.23/));
  });

  it.each<[string, NodeFacts[], string[], RegExp]>([
    ['an empty list', cluster(), [], /name at least one node/],
    ['a name not in the inventory', cluster(), ['etcd9'], /not in the inventory: etcd9/],
    ['a name given twice', cluster(), ['etcd4', 'etcd4'], /named twice: etcd4/],
    ['a member', cluster(), ['etcd2'], /etcd2 is already a member/],
    ['an unreachable node', cluster([1, 2, 3], 4, { 4: { reachable: false } }), ['etcd4'], /cannot reach etcd4/],
    ['a node running etcd', cluster([1, 2, 3], 4, { 4: { running: true, members: [4], clusterId: 'cdf818194e3a8c32' } }), ['etcd4'], /./],
    ['a node without etcd', [...cluster([1, 2, 3], 3), { ...node(4, { running: false, hasDb: false, envText: null }), versions: {} }], ['etcd4'], /etcd4 has no etcd binary/],
    ['a degraded cluster', cluster([1, 2, 3], 4, { 3: { running: false } }), ['etcd4'], /not healthy: etcd3 does not run etcd/],
    ['a cluster without quorum', cluster([1, 2, 3], 4, { 2: { running: false }, 3: { running: false } }), ['etcd4'], /lost its quorum/],
    ['an inconsistent cluster', cluster([1, 2, 3], 4, { 3: { envCluster: [1, 2], envText: envFileText(3, [1, 2]) } }), ['etcd4'], /inconsistent/],
    ['a learner', cluster([1, 2, 3], 4, { 1: { learners: [3] }, 2: { learners: [3] }, 3: { learners: [3] } }), ['etcd4'], /etcd3 is a learner: a join left half done/],
    ['an alarm', cluster([1, 2, 3], 4, { 1: { alarms: ['NOSPACE'] } }), ['etcd4'], /alarms are raised: NOSPACE/],
    ['a lock of another run', cluster([1, 2, 3], 4, { 2: { lock: { runId: '20261124-190000-ffff', holder: 'bob@b' } } }), ['etcd4'], /another etcd-dr run holds the lock: etcd2 by run 20261124-190000-ffff \(bob@b\)/],
  ])('refuses %s', (_what, nodes, names, want) => {
    const e = refusal(() => planScaleOut(ctx(nodes), { kind: 'scale-out', nodes: names }));
    expect(e.message).toMatch(want);
    expect(e.hint).toBeTruthy();
  });

  it('refuses a cluster with a member that is not in the inventory, or whose address disagrees with it', () => {
    const four = [1, 2, 3, 4];
    const notInInventory = cluster(four, 4);
    const e = refusal(() => planScaleOut({ ...ctx(notInInventory, 3), facts: clusterFacts(notInInventory, ['etcd1', 'etcd2', 'etcd3']) }, { kind: 'scale-out', nodes: ['etcd3'] }));
    expect(e.message).toMatch(/already a member|etcd4 .* is not in the inventory/);
    const c = ctx(cluster([1, 2, 3], 4));
    c.inventory.nodes[1] = { ...c.inventory.nodes[1]!, address: '10.0.9.2' };
    expect(refusal(() => planScaleOut(c, { kind: 'scale-out', nodes: ['etcd4'] })).message).toMatch(/member etcd2 has peer URLs https:\/\/10\.0\.0\.2:2380, the inventory says https:\/\/10\.0\.9\.2:2380/);
  });
});

describe('planScaleIn', () => {
  it('moves leadership away, removes, stops, moves the data aside, rewrites the remaining env files; one member at a time', () => {
    const p = planScaleIn(ctx(cluster([1, 2, 3, 4, 5], 5)), { kind: 'scale-in', members: ['etcd5', 'etcd4'] });
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd3,etcd4,etcd5',
      'move-leader etcd1',
      'member-remove etcd1',
      'stop-etcd etcd4',
      'move-data-dir etcd4',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'write-env etcd5',
      'move-leader etcd1',
      'member-remove etcd1',
      'stop-etcd etcd5',
      'move-data-dir etcd5',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'verify etcd1,etcd2,etcd3',
      'unlock etcd1,etcd2,etcd3,etcd4,etcd5',
    ]);
    const [ml] = of(p, 'move-leader');
    expect(ml!.action).toEqual({ type: 'move-leader', via: 'etcd1', from: 'etcd4', members: ['etcd4', 'etcd1', 'etcd2', 'etcd3'] });
    expect(of(p, 'member-remove')[0]!.action).toEqual({ type: 'member-remove', via: 'etcd1', name: 'etcd4', peerUrl: 'https://10.0.0.4:2380' });
    expect(p.steps.some((s) => s.join)).toBe(false);
    expect(p.finalMembers).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(p.warnings[0]).toBe('fault tolerance drops from 2 to 1: 3 members survive 1 member failure');
    expect(p.warnings).toContainEqual(expect.stringMatching(/etcd on etcd4 stays enabled at boot/));
    const last = of(p, 'write-env').slice(-3);
    for (const s of last) expect(vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER']).toBe(initialCluster([1, 2, 3]));
  });

  it('works through a member that stays: removing etcd1 goes through etcd2', () => {
    const p = planScaleIn(ctx(cluster([1, 2, 3], 3)), { kind: 'scale-in', members: ['etcd1'] });
    expect(of(p, 'member-remove')[0]!.action.via).toBe('etcd2');
    expect(of(p, 'move-leader')[0]!.action).toMatchObject({ via: 'etcd2', from: 'etcd1', members: ['etcd1', 'etcd2', 'etcd3'] });
    expect(of(p, 'verify')[0]!.action).toEqual({ type: 'verify', via: 'etcd2', members: ['etcd2', 'etcd3'] });
    expect(p.warnings[0]).toBe('fault tolerance drops from 1 to 0: 2 members survive no member failure (every member is needed for a quorum)');
  });

  it('3 → 1, as in the write-up; 4 → 3 keeps the fault tolerance and warns only about the boot', () => {
    const one = planScaleIn(ctx(cluster([1, 2, 3], 3)), { kind: 'scale-in', members: ['etcd2', 'etcd3'] });
    expect(one.finalMembers).toEqual(['etcd1']);
    expect(of(one, 'verify')[0]!.action.members).toEqual(['etcd1']);
    expect(vars(parseEnvFile(of(one, 'write-env').at(-1)!.action.content))['ETCD_INITIAL_CLUSTER']).toBe(initialCluster([1]));
    const four = planScaleIn(ctx(cluster([1, 2, 3, 4], 4)), { kind: 'scale-in', members: ['etcd4'] });
    expect(four.warnings.filter((w) => /fault tolerance/.test(w))).toEqual([]);
  });

  it.each<[string, NodeFacts[], string[], RegExp]>([
    ['an empty list', cluster(), [], /name at least one member/],
    ['a name not in the inventory', cluster(), ['etcd9'], /not in the inventory: etcd9/],
    ['a node that is not a member', cluster(), ['etcd4'], /not a member of the cluster: etcd4/],
    ['removing every member', cluster([1, 2, 3], 3), ['etcd1', 'etcd2', 'etcd3'], /would leave no member/],
    ['removing the last member', cluster([1], 3), ['etcd1'], /would leave no member/],
    ['a degraded cluster, even to remove the member that is down', cluster([1, 2, 3], 3, { 3: { running: false } }), ['etcd3'], /not healthy: etcd3 does not run etcd/],
    ['an unreachable member', cluster([1, 2, 3], 3, { 2: { reachable: false } }), ['etcd3'], /not healthy: etcd2 is unreachable/],
    ['a member that does not serve', cluster([1, 2, 3], 3, { 2: { healthy: false } }), ['etcd3'], /not healthy: etcd2 does not serve clients/],
    ['a cluster without quorum', cluster([1, 2, 3], 3, { 1: { running: false }, 2: { running: false } }), ['etcd3'], /lost its quorum/],
  ])('refuses %s', (_what, nodes, names, want) => {
    const e = refusal(() => planScaleIn(ctx(nodes), { kind: 'scale-in', members: names }));
    expect(e.message).toMatch(want);
    expect(e.hint).toBeTruthy();
  });

  it('the hint for a single member down points to replace', () => {
    const e = refusal(() => planScaleIn(ctx(cluster([1, 2, 3], 3, { 3: { running: false } })), { kind: 'scale-in', members: ['etcd2'] }));
    expect(e.hint).toBe('bring etcd3 back, or replace it: etcd-dr replace --member etcd3');
  });
});

describe('planReplace', () => {
  /** etcd3 is down: powered on again with a wiped disk (no data), its env file still there */
  const wiped = () => cluster([1, 2, 3], 3, { 3: { running: false, hasDb: false } });

  it('in place: removes the member first, stops it, then adds it back empty as a learner; env files follow each change', () => {
    const p = planReplace(ctx(wiped()), { kind: 'replace', member: 'etcd3' });
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd3',
      'move-leader etcd1',
      'member-remove etcd1',
      'stop-etcd etcd3',
      'write-env etcd1',
      'write-env etcd2',
      'member-add etcd3 [join etcd3]',
      'start-etcd etcd3 [join etcd3]',
      'promote etcd3 [join etcd3]',
      'wait-healthy etcd3 [join etcd3]',
      'write-env etcd1',
      'write-env etcd2',
      'verify etcd1,etcd2,etcd3',
      'unlock etcd1,etcd2,etcd3',
    ]);
    expect(of(p, 'write-env').map((s) => vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER'])).toEqual([
      initialCluster([1, 2]),
      initialCluster([1, 2]),
      initialCluster([1, 2, 3]),
      initialCluster([1, 2, 3]),
    ]);
    expect(p.warnings[0]).toBe('while etcd3 is replaced, fault tolerance drops from 1 to 0: 2 members survive no member failure (every member is needed for a quorum)');
    expect(p.summary).toMatch(/in place/);
  });

  it("in place with its old data still there: moved aside once, after the stop", () => {
    const p = planReplace(ctx(cluster([1, 2, 3], 3, { 3: { running: false } })), { kind: 'replace', member: 'etcd3' });
    expect(outline(p).slice(3, 5)).toEqual(['stop-etcd etcd3', 'move-data-dir etcd3']);
    expect(of(p, 'move-data-dir')).toHaveLength(1);
  });

  it('a running member (a host to rebuild) is replaced the same way; leadership moves first if it leads', () => {
    const p = planReplace(ctx(cluster([1, 2, 3], 3)), { kind: 'replace', member: 'etcd1' });
    expect(of(p, 'move-leader')[0]!.action).toEqual({ type: 'move-leader', via: 'etcd2', from: 'etcd1', members: ['etcd1', 'etcd2', 'etcd3'] });
    expect(of(p, 'member-add')[0]!.action).toMatchObject({ via: 'etcd2', name: 'etcd1' });
  });

  it('with another node: the unreachable member is removed (with a warning), the new node joins', () => {
    const nodes = cluster([1, 2, 3], 4, { 3: { reachable: false } });
    const p = planReplace(ctx(nodes), { kind: 'replace', member: 'etcd3', with: 'etcd4' });
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd4',
      'move-leader etcd1',
      'member-remove etcd1',
      'write-env etcd1',
      'write-env etcd2',
      'member-add etcd4 [join etcd4]',
      'write-env etcd4 [join etcd4]',
      'start-etcd etcd4 [join etcd4]',
      'promote etcd4 [join etcd4]',
      'wait-healthy etcd4 [join etcd4]',
      'write-env etcd1',
      'write-env etcd2',
      'verify etcd1,etcd2,etcd4',
      'unlock etcd1,etcd2,etcd4',
    ]);
    expect(p.finalMembers).toEqual(['etcd1', 'etcd2', 'etcd4']);
    expect(p.warnings).toContainEqual(expect.stringMatching(/etcd3 is unreachable: its etcd is not stopped and its data dir is not moved aside/));
  });

  it.each<[string, NodeFacts[], { member: string; with?: string }, RegExp]>([
    ['a node that is not a member', cluster([1, 2, 3], 4), { member: 'etcd4' }, /etcd4 is not a member/],
    ['a name not in the inventory', cluster([1, 2, 3], 3), { member: 'etcd9' }, /not in the inventory: etcd9/],
    ['the only member', cluster([1], 2), { member: 'etcd1', with: 'etcd2' }, /etcd1 is the only member/],
    ['an unreachable member in place', cluster([1, 2, 3], 3, { 3: { reachable: false } }), { member: 'etcd3' }, /etcd3 is unreachable .*cannot be rebuilt in place/],
    ['while another member is down too', cluster([1, 2, 3, 4, 5], 5, { 3: { running: false }, 4: { running: false } }), { member: 'etcd3' }, /not healthy: etcd4 does not run etcd/],
    ['with a node that is a member', cluster([1, 2, 3], 3, { 3: { running: false } }), { member: 'etcd3', with: 'etcd2' }, /etcd2 is already a member/],
    ['with an unreachable node', cluster([1, 2, 3], 4, { 3: { running: false }, 4: { reachable: false } }), { member: 'etcd3', with: 'etcd4' }, /cannot reach etcd4/],
    ['a two-member cluster with one down (no quorum to remove it)', cluster([1, 2], 2, { 2: { running: false } }), { member: 'etcd2' }, /lost its quorum/],
    ['a learner in the cluster', cluster([1, 2, 3], 3, { 1: { learners: [2] }, 2: { learners: [2] }, 3: { learners: [2] } }), { member: 'etcd3' }, /etcd2 is a learner/],
  ])('refuses %s', (_what, nodes, o, want) => {
    const e = refusal(() => planReplace(ctx(nodes), { kind: 'replace', ...o }));
    expect(e.message).toMatch(want);
    expect(e.hint).toBeTruthy();
  });
});

describe('planners are pure', () => {
  it('the same facts and intent give the same plan', () => {
    const a = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4'] });
    const b = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4'] });
    expect(a).toEqual(b);
    expect(a.inventory.fingerprint).toMatch(/^sha256:/);
    expect(a.factsDigest).toBe(clusterFacts(cluster()).digest);
  });
});

describe('env scripts for a file that does not exist yet (run with sh)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-scale-scripts-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const sh = runSh;

  it('writeEnv creates it (0640) with a .absent marker instead of a backup; restoreEnv sets it aside, never deletes', () => {
    const p = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4'] });
    const step = of(p, 'write-env').find((s) => s.node === 'etcd4')!;
    const path = join(dir, 'etcd.env');
    const backup = `${path}.etcd-dr-${RUN}.bak`;
    const script = writeEnvScript({ ...step.action, path, backup });
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(readFileSync(path, 'utf8')).toBe(step.action.content);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir).sort()).toEqual(['etcd.env', `etcd.env.etcd-dr-${RUN}.bak.absent`]);
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    const restore = restoreEnvScript(path, backup, RUN);
    expect(sh(restore)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(existsSync(path)).toBe(false);
    const aside = readdirSync(dir).find((f) => f.startsWith(`etcd.env.etcd-dr-${RUN}-rolled-back-`))!;
    expect(readFileSync(join(dir, aside), 'utf8')).toBe(step.action.content);
    expect(sh(restore)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    // the join tried again (resume): the file is created again
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
  });

  it('a file that appeared since the plan was made is refused, not overwritten', () => {
    const p = planScaleOut(ctx(cluster()), { kind: 'scale-out', nodes: ['etcd4'] });
    const step = of(p, 'write-env').find((s) => s.node === 'etcd4')!;
    const path = join(dir, 'etcd.env');
    writeFileSync(path, 'ETCD_NAME=someone\n');
    const r = sh(writeEnvScript({ ...step.action, path, backup: `${path}.bak` }));
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^etcd-dr:changed-since-plan /);
    expect(readFileSync(path, 'utf8')).toBe('ETCD_NAME=someone\n');
  });

  it('restoreEnv puts an existing backup back', () => {
    const path = join(dir, 'etcd.env');
    writeFileSync(path, 'NEW=1\n');
    writeFileSync(`${path}.bak`, 'OLD=1\n');
    expect(sh(restoreEnvScript(path, `${path}.bak`, RUN))).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(readFileSync(path, 'utf8')).toBe('OLD=1\n');
    expect(sh(restoreEnvScript(join(dir, 'none'), join(dir, 'none.bak'), RUN)).out).toBe('etcd-dr:no-backup');
  });
});
