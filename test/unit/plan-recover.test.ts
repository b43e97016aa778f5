import { MANUAL_HOOKS } from '../../src/plan/hooks.js';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { parseEnvFile, vars } from '../../src/etcd/envfile.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { editEnvText } from '../../src/plan/envedit.js';
import type { PlanContext } from '../../src/plan/context.js';
import { planRecover } from '../../src/plan/recover.js';
import { BUMP_REVISION } from '../../src/plan/restore-tool.js';
import { lockScript, moveAsideScript, restoreScript, stopScript, unlockScript, writeEnvScript } from '../../src/plan/scripts.js';
import { chooseSurvivor, dataRevision, evidenceRow } from '../../src/plan/survivor.js';
import type { Plan, RecoverIntent } from '../../src/plan/types.js';
import { clusterFacts, envFileText, initialCluster, inventory, node, nodeSpec, type NodeOpts } from '../support/facts.js';
import { LOCK, planContext, refusal, RUN, runSh, stepsOf as of } from '../support/plan-helpers.js';

function ctx(nodes: NodeFacts[], count = nodes.length): PlanContext {
  return planContext(inventory(count), clusterFacts(nodes));
}

function intent(over: Partial<RecoverIntent> = {}): RecoverIntent {
  return { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups', ...over };
}

/** Three stopped members (quorum lost), etcd2 with the freshest data. */
function stopped(o: NodeOpts = {}, per: Record<number, NodeOpts> = {}): NodeFacts[] {
  const revs = [1000, 1200, 1100];
  return [1, 2, 3].map((i) => node(i, { running: false, revision: revs[i - 1], version: '3.5.30', ...o, ...per[i] }));
}

const plan = (nodes: NodeFacts[], over: Partial<RecoverIntent> = {}, count?: number): Plan => planRecover(ctx(nodes, count), intent(over));
const outline = (p: Plan) => p.steps.map((s) => `${s.action.type} ${s.node ?? (s.nodes ?? []).join(',')}`);


describe('planRecover: the steps', () => {
  it('runs lock, stop, move-aside, backup started, restore, survivor up, joiners one by one, final env, backup awaited, verify, unlock', () => {
    const p = plan(stopped());
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd3',
      'stop-etcd etcd1,etcd2,etcd3',
      'move-data-dir etcd1',
      'move-data-dir etcd2',
      'move-data-dir etcd3',
      'backup-db etcd2',
      'restore-db etcd2',
      'write-env etcd2',
      'start-etcd etcd2',
      'member-add etcd1',
      'write-env etcd1',
      'start-etcd etcd1',
      'promote etcd1',
      'member-add etcd3',
      'write-env etcd3',
      'start-etcd etcd3',
      'promote etcd3',
      'wait-healthy etcd1',
      'wait-healthy etcd3',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'backup-wait etcd2',
      'verify etcd1,etcd2,etcd3',
      'unlock etcd1,etcd2,etcd3',
    ]);
    expect(p.steps.map((s) => s.phase)).toEqual([
      'lock',
      'stop',
      ...Array(4).fill('backup'),
      'restore',
      'first-member',
      'first-member',
      ...Array(10).fill('join'),
      ...Array(3).fill('finalize'),
      'backup',
      'verify',
      'unlock',
    ]);
    // ids are numbered in order and unique
    p.steps.forEach((s, i) => expect(s.id.startsWith(`${String(i + 1).padStart(2, '0')}-`)).toBe(true));
    expect(new Set(p.steps.map((s) => s.id)).size).toBe(p.steps.length);
    // every step of a join names it, so a failed join can be rolled back
    for (const s of p.steps.filter((x) => x.phase === 'join')) expect(s.join).toBe(s.node);
    expect(p.steps.filter((s) => s.phase !== 'join').every((s) => s.join === undefined)).toBe(true);
    for (const s of p.steps) {
      expect(s.why.length).toBeGreaterThan(10);
      expect(s.commands.length).toBeGreaterThan(0);
    }
  });

  it('describes itself: format, run, digest, survivor evidence, final members', () => {
    const nodes = stopped();
    const p = plan(nodes);
    expect(p).toMatchObject({
      format: 'etcd-dr/plan',
      version: 1,
      runId: RUN,
      createdAt: '2026-11-24T20:00:00.000Z',
      tool: { name: 'etcd-dr', version: '0.1.0' },
      inventory: { file: '/work/inventory.yaml', cluster: 'k2' },
      factsDigest: clusterFacts(nodes).digest,
      finalMembers: ['etcd1', 'etcd2', 'etcd3'],
      // no hooks in the inventory: the plan says what to do by hand about the apiservers
      warnings: [MANUAL_HOOKS],
    });
    expect(p.summary).toBe("Recover cluster k2 from etcd2's data, then re-add etcd1, etcd3 one at a time as learners.");
    expect(p.survivor!.name).toBe('etcd2');
    expect(p.survivor!.reason).toBe('highest revision: etcd2 1200 (others: etcd3 1100, etcd1 1000)');
    expect(p.survivor!.evidence.map((r) => [r.node, r.state, r.revision])).toEqual([
      ['etcd1', 'stopped', 1000],
      ['etcd2', 'stopped', 1200],
      ['etcd3', 'stopped', 1100],
    ]);
    // the plan is plain JSON
    expect(JSON.parse(JSON.stringify(p))).toEqual(p);
  });

  it('is a pure function of its inputs', () => {
    expect(plan(stopped())).toEqual(plan(stopped()));
  });

  it('moves every existing data dir aside under the run id, restores the survivor from its copy', () => {
    const p = plan(stopped());
    expect(of(p, 'move-data-dir').map((s) => s.action)).toEqual(
      ['etcd1', 'etcd2', 'etcd3'].map(() => ({ type: 'move-data-dir', from: '/var/lib/etcd', to: `/var/lib/etcd.etcd-dr-${RUN}` })),
    );
    // the copy to the bastion starts right after the moves and is waited for just before the verification
    const [backup] = of(p, 'backup-db');
    const [wait] = of(p, 'backup-wait');
    const db = `/var/lib/etcd.etcd-dr-${RUN}/member/snap/db`;
    expect(backup!.action).toEqual({ type: 'backup-db', remoteDb: db, localPath: `/root/.etcd-dr/backups/${RUN}/etcd2-db`, alongside: true });
    expect(wait!.action).toEqual({ type: 'backup-wait', remoteDb: db, localPath: `/root/.etcd-dr/backups/${RUN}/etcd2-db` });
    expect([backup!.node, wait!.node]).toEqual(['etcd2', 'etcd2']);
    const ids = p.steps.map((s) => s.id);
    expect(ids.indexOf(backup!.id)).toBe(ids.indexOf(of(p, 'restore-db')[0]!.id) - 1);
    expect(ids.indexOf(wait!.id)).toBe(ids.indexOf(of(p, 'verify')[0]!.id) - 1);
    const [restore] = of(p, 'restore-db');
    expect(restore!.action).toEqual({
      type: 'restore-db',
      tool: 'etcdutl',
      db: `/var/lib/etcd.etcd-dr-${RUN}/member/snap/db`,
      dataDir: '/var/lib/etcd',
      name: 'etcd2',
      peerUrl: 'https://10.0.0.2:2380',
      initialCluster: 'etcd2=https://10.0.0.2:2380',
      token: `etcd-dr-${RUN}`,
      bumpRevision: BUMP_REVISION,
      markCompacted: true,
    });
  });

  it('with --backup-before-restore, copies the db in its own step before the restore and has no wait step', () => {
    const p = plan(stopped(), { backupBeforeRestore: true });
    const [backup] = of(p, 'backup-db');
    expect(backup!.action).toEqual({ type: 'backup-db', remoteDb: `/var/lib/etcd.etcd-dr-${RUN}/member/snap/db`, localPath: `/root/.etcd-dr/backups/${RUN}/etcd2-db` });
    expect(backup!.why).toContain('before anything is restored');
    expect(of(p, 'backup-wait')).toEqual([]);
    expect(outline(p).slice(5, 7)).toEqual(['backup-db etcd2', 'restore-db etcd2']);
  });

  it('skips the move-aside of a member without a data dir, and the backup without --local-backup', () => {
    const p = plan(stopped({}, { 3: { hasDb: false } }), { localBackup: false });
    expect(of(p, 'move-data-dir').map((s) => s.node)).toEqual(['etcd1', 'etcd2']);
    expect(of(p, 'backup-db')).toEqual([]);
    expect(of(p, 'backup-wait')).toEqual([]);
    // etcd3 still rejoins
    expect(of(p, 'member-add').map((s) => s.node)).toEqual(['etcd1', 'etcd3']);
  });

  it('adds members as learners, promotes them through the survivor, waits for each before the next', () => {
    const p = plan(stopped());
    expect(of(p, 'member-add').map((s) => s.action)).toEqual([
      { type: 'member-add', via: 'etcd2', name: 'etcd1', peerUrl: 'https://10.0.0.1:2380', learner: true },
      { type: 'member-add', via: 'etcd2', name: 'etcd3', peerUrl: 'https://10.0.0.3:2380', learner: true },
    ]);
    expect(of(p, 'member-add')[0]!.commands[1]).toMatch(/ member add etcd1 --peer-urls=https:\/\/10\.0\.0\.1:2380 --learner /);
    expect(of(p, 'promote').map((s) => s.action)).toEqual([
      { type: 'promote', via: 'etcd2', name: 'etcd1' },
      { type: 'promote', via: 'etcd2', name: 'etcd3' },
    ]);
    expect(of(p, 'wait-healthy').map((s) => s.action)).toEqual([
      { type: 'wait-healthy', endpointOf: 'etcd1', publishVia: 'etcd2' },
      { type: 'wait-healthy', endpointOf: 'etcd3', publishVia: 'etcd2' },
    ]);
    // the plan shows the conditional restart that makes a promoted learner publish itself at once
    const wait = of(p, 'wait-healthy')[0]!.commands.join('\n');
    expect(wait).toMatch(/ member list -w json /);
    expect(wait).toMatch(/is it a voting member, and are there 3 or more/);
    expect(wait).toContain('systemctl restart --no-block etcd');
    expect(wait).toMatch(/ endpoint health/);
    expect(of(p, 'start-etcd').map((s) => [s.node, s.action.waitHealthy])).toEqual([
      ['etcd2', true],
      ['etcd1', false],
      ['etcd3', false],
    ]);
  });

  it('--no-learner: voting adds, no promote step', () => {
    const p = plan(stopped(), { learner: false });
    expect(of(p, 'promote')).toEqual([]);
    expect(of(p, 'member-add').every((s) => !s.action.learner && !s.commands.join('\n').includes('--learner'))).toBe(true);
    expect(p.summary).not.toContain('learners');
    // a voting member publishes itself when it starts: no restart is planned
    expect(of(p, 'wait-healthy').map((s) => s.action)).toEqual([
      { type: 'wait-healthy', endpointOf: 'etcd1' },
      { type: 'wait-healthy', endpointOf: 'etcd3' },
    ]);
    expect(of(p, 'wait-healthy').some((s) => s.commands.join('\n').includes('restart'))).toBe(false);
    expect(outline(p).filter((l) => l.endsWith('etcd1')).slice(-5)).toEqual(['member-add etcd1', 'write-env etcd1', 'start-etcd etcd1', 'wait-healthy etcd1', 'write-env etcd1']);
  });

  it('verifies every final member through the survivor, then unlocks', () => {
    const p = plan(stopped());
    const [verify] = of(p, 'verify');
    expect(verify!.action).toMatchObject({ type: 'verify', via: 'etcd2', members: ['etcd1', 'etcd2', 'etcd3'] });
    expect(verify!.commands[0]).toContain('--endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379,https://10.0.0.3:2379');
    expect(of(p, 'unlock')[0]!.commands).toEqual([unlockScript(LOCK, RUN)]);
    expect(of(p, 'lock')[0]!.commands).toEqual([lockScript(LOCK, RUN, 'ops@bastion')]);
  });

  it('IPv6 members get bracketed URLs everywhere, the verify endpoints included', () => {
    const inv = inventory(3);
    inv.nodes.forEach((n, k) => (n.address = `fd00::${k + 1}`));
    const p = planRecover({ ...ctx(stopped()), inventory: inv }, intent());
    const all = p.steps.flatMap((s) => s.commands).join('\n');
    expect(all).toContain('https://[fd00::2]:2380');
    expect(all).not.toMatch(/https:\/\/fd00/);
    expect(of(p, 'verify')[0]!.commands[0]).toContain('--endpoints=https://[fd00::1]:2379,https://[fd00::2]:2379,https://[fd00::3]:2379');
  });
});

describe('planRecover: env files', () => {
  const cluster = (ids: number[]) => initialCluster(ids);

  it('the survivor alone first, each joiner with the members so far, then everyone', () => {
    const p = plan(stopped());
    expect(of(p, 'write-env').map((s) => [s.id, vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER']])).toEqual([
      ['08-env-etcd2', cluster([2])],
      ['11-env-etcd1', 'etcd2=https://10.0.0.2:2380,etcd1=https://10.0.0.1:2380'],
      ['15-env-etcd3', 'etcd2=https://10.0.0.2:2380,etcd1=https://10.0.0.1:2380,etcd3=https://10.0.0.3:2380'],
      ['20-env-etcd1-final', cluster([1, 2, 3])],
      ['21-env-etcd2-final', cluster([1, 2, 3])],
      ['22-env-etcd3-final', cluster([1, 2, 3])],
    ]);
    for (const s of of(p, 'write-env')) expect(vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER_STATE']).toBe('existing');
  });

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('each rewrite keeps every other line byte for byte (%s)', (_name, eol) => {
    const nodes = stopped({}, Object.fromEntries([1, 2, 3].map((i) => [i, { envText: envFileText(i, [1, 2, 3], eol) }])));
    const p = plan(nodes);
    const current = new Map(nodes.map((n) => [n.name, n.env!.text as string]));
    for (const s of of(p, 'write-env')) {
      const before = current.get(s.node!)!;
      const after = s.action.content;
      expect(s.action).toMatchObject({
        path: '/etc/etcd.env',
        backup: `/etc/etcd.env.etcd-dr-${RUN}.bak`,
        beforeSha256: createHash('sha256').update(before).digest('hex'),
        afterSha256: createHash('sha256').update(after).digest('hex'),
      });
      const a = before.split(eol);
      const b = after.split(eol);
      expect(b).toHaveLength(a.length);
      b.forEach((line, i) => {
        if (!line.startsWith('ETCD_INITIAL_CLUSTER=')) expect(line).toBe(a[i]);
      });
      expect(after.endsWith(eol)).toBe(true);
      expect(s.envDiff).toBe(editEnvText(before, { ETCD_INITIAL_CLUSTER: vars(parseEnvFile(after))['ETCD_INITIAL_CLUSTER']!, ETCD_INITIAL_CLUSTER_STATE: 'existing' }).diff);
      expect(s.envDiff).toMatch(/^@@ -12 \+12 @@\n-ETCD_INITIAL_CLUSTER=.*\n\+ETCD_INITIAL_CLUSTER=.*$/);
      expect(s.commands).toEqual([writeEnvScript(s.action)]);
      current.set(s.node!, after);
    }
  });

  it('sets the state to existing where the file said new, and writes nothing that is already right', () => {
    const text = envFileText(1, [1, 2, 3]).replace('ETCD_INITIAL_CLUSTER_STATE=existing', 'ETCD_INITIAL_CLUSTER_STATE=new');
    const p = plan(stopped({}, { 1: { envText: text } }));
    const first = of(p, 'write-env').find((s) => s.node === 'etcd1')!;
    expect(first.envDiff).toContain('-ETCD_INITIAL_CLUSTER_STATE=new\n+ETCD_INITIAL_CLUSTER_STATE=existing');
    // a one-member cluster whose env already lists only itself: no env step at all
    const solo = planRecover(
      { ...ctx([node(1, { running: false, members: [1], envCluster: [1] })], 1) },
      intent(),
    );
    expect(of(solo, 'write-env')).toEqual([]);
    expect(outline(solo)).toEqual(['lock etcd1', 'stop-etcd etcd1', 'move-data-dir etcd1', 'backup-db etcd1', 'restore-db etcd1', 'start-etcd etcd1', 'backup-wait etcd1', 'verify etcd1', 'unlock etcd1']);
  });
});

describe('planRecover: versions', () => {
  it.each([
    ['3.5.30', 'etcdutl', true],
    ['3.5.9', 'etcdutl', false],
    ['3.4.27', 'etcdctl', true],
    ['3.4.23', 'etcdctl', false],
  ])('etcd %s restores with %s, bump-revision %s', (version, tool, bump) => {
    const p = plan(stopped({ version }));
    const [restore] = of(p, 'restore-db');
    expect(restore!.action.tool).toBe(tool);
    expect(restore!.action.markCompacted).toBe(bump);
    expect(restore!.action.bumpRevision).toBe(bump ? BUMP_REVISION : undefined);
    const script = restore!.commands[0]!;
    expect(script).toContain(tool === 'etcdutl' ? '\netcdutl snapshot restore ' : '\nETCDCTL_API=3 etcdctl snapshot restore ');
    expect(script.includes('--bump-revision=1000000000 --mark-compacted')).toBe(bump);
    const warning = p.warnings.find((w) => w.includes('--bump-revision'));
    if (bump) expect(warning).toBeUndefined();
    else expect(warning).toBe(
      `etcd2 runs etcd ${version}, which lacks --bump-revision/--mark-compacted (3.4.27+, 3.5.10+): after the restore, restart the kube-apiservers (and other watchers) so no watcher trusts revisions that went backwards`,
    );
  });

  it('3.5 without etcdutl on the survivor falls back to etcdctl', () => {
    const nodes = stopped();
    delete nodes[1]!.versions.etcdutl;
    expect(of(plan(nodes), 'restore-db')[0]!.action.tool).toBe('etcdctl');
  });

  it('the restore uses the survivor versions, not the others', () => {
    const p = plan(stopped({ version: '3.4.23' }, { 2: { version: '3.5.30' } }));
    expect(of(p, 'restore-db')[0]!.action).toMatchObject({ tool: 'etcdutl', markCompacted: true });
  });
});

describe('planRecover: refusals and warnings', () => {
  it('refuses a cluster that still has its quorum, unless forced', () => {
    const healthy = [node(1), node(2), node(3)];
    const e = refusal(() => plan(healthy));
    expect(e.message).toMatch(/^the cluster is healthy, not quorum-lost: /);
    expect(e.exitCode).toBe(3);
    expect(e.hint).toMatch(/--force/);
    const degraded = [node(1), node(2), node(3, { running: false })];
    expect(refusal(() => plan(degraded)).message).toMatch(/^the cluster is degraded, not quorum-lost/);
    const forced = plan(healthy, { force: true });
    expect(forced.survivor!.name).toBe('etcd1');
    expect(outline(forced)[0]).toBe('lock etcd1,etcd2,etcd3');
  });

  it('refuses an unreachable node unless it is excluded', () => {
    const nodes = [node(1, { running: false }), node(2, { running: false, revision: 2000 }), node(3, { reachable: false })];
    const e = refusal(() => plan(nodes));
    expect(e.message).toBe('cannot reach etcd3 (connect ETIMEDOUT)');
    expect(e.hint).toContain('--exclude etcd3');
    const p = plan(nodes, { exclude: ['etcd3'] });
    expect(p.finalMembers).toEqual(['etcd1', 'etcd2']);
    expect(p.warnings).toContain('etcd3 is excluded: the cluster comes back without it (2 members); add it later with scale-out');
    expect(p.summary).toContain('; etcd3 left out.');
    expect(outline(p)).not.toContain('member-add etcd3');
    expect(p.steps.some((s) => s.node === 'etcd3' || (s.nodes ?? []).includes('etcd3'))).toBe(false);
    expect(of(p, 'write-env').filter((s) => s.phase === 'finalize').map((s) => vars(parseEnvFile(s.action.content))['ETCD_INITIAL_CLUSTER'])).toEqual([
      initialCluster([1, 2]),
      initialCluster([1, 2]),
    ]);
    expect(p.survivor!.evidence.find((r) => r.node === 'etcd3')!.state).toBe('excluded');
  });

  it('--exclude of a reachable member shrinks the cluster too', () => {
    const p = plan(stopped(), { exclude: ['etcd1'] });
    expect(p.finalMembers).toEqual(['etcd2', 'etcd3']);
    expect(of(p, 'member-add').map((s) => s.node)).toEqual(['etcd3']);
    // it is still locked and stopped: it must not come back on its own
    expect(of(p, 'stop-etcd')[0]!.nodes).toEqual(['etcd1', 'etcd2', 'etcd3']);
    expect(of(p, 'move-data-dir').map((s) => s.node)).toEqual(['etcd2', 'etcd3']);
  });

  it('refuses while another run holds the lock; its own lock is fine', () => {
    const e = refusal(() => plan(stopped({}, { 3: { lock: { runId: 'other-run', holder: 'bob@bastion2' } } })));
    expect(e.message).toBe('another etcd-dr run holds the lock: etcd3 by run other-run (bob@bastion2)');
    expect(e.hint).toMatch(/resume|--break-lock/);
    expect(() => plan(stopped({}, { 3: { lock: { runId: RUN } } }))).not.toThrow();
  });

  describe('room for the new data dirs (the db and a 64 MB WAL beside the one moved aside)', () => {
    const MiB = 1048576;
    // the survivor etcd2's db is 20 000 000 bytes: a new data dir needs about 20 MB + 62 MiB ≈ 82 MiB
    it.each([
      ['unknown free space (no df): nothing said', {}, []],
      ['plenty everywhere', { 1: { freeBytes: 5000 * MiB }, 2: { freeBytes: 5000 * MiB }, 3: { freeBytes: 5000 * MiB } }, []],
      ['just enough on the survivor', { 2: { freeBytes: 20_000_000 + 62 * MiB } }, []],
      [
        'the survivor short of room for the restore',
        { 2: { freeBytes: 40 * MiB } },
        ['etcd2: /var/lib has 40 MiB free and the restore needs about 82 MiB (the db and a 64 MB WAL): make room there first, or that step fails (nothing is lost; `etcd-dr resume` goes on once there is room)'],
      ],
      [
        'a joiner short of room for the leader\'s copy',
        { 3: { freeBytes: 1 * MiB } },
        ["etcd3: /var/lib has 1 MiB free and its copy of the db from the leader needs about 82 MiB (the db and a 64 MB WAL): make room there first, or that step fails (nothing is lost; `etcd-dr resume` goes on once there is room)"],
      ],
    ] as const)('%s', (_what, per, expected) => {
      const p = plan(stopped({}, per as Record<number, NodeOpts>));
      expect(p.survivor!.name).toBe('etcd2');
      expect(p.warnings.filter((w) => / MiB free and /.test(w))).toEqual(expected);
    });
  });

  describe('a lock left by a run that finished on this bastion (a node it could not reach at its end)', () => {
    const OLD = '20261124-190000-0ld1';
    const ended = (id: string) => (id === OLD ? 'finished on this bastion at 2026-11-24T19:05:00.000Z' : undefined);
    const withEnded = (nodes: NodeFacts[], over: Partial<RecoverIntent> = {}) => planRecover({ ...ctx(nodes), runEnded: ended }, intent(over));

    it.each([
      ['one node', { 3: { lock: { runId: OLD, holder: 'ops@bastion' } } }, 'etcd3 still holds'],
      ['two nodes', { 2: { lock: { runId: OLD } }, 3: { lock: { runId: OLD } } }, 'etcd2, etcd3 still hold'],
    ])('on %s: the plan takes it over, says so, and its lock step breaks that run only', (_what, per, says) => {
      const p = withEnded(stopped({}, per));
      expect(of(p, 'lock')[0]!.action).toEqual({ type: 'lock', breakRun: OLD });
      expect(of(p, 'lock')[0]!.commands).toEqual([lockScript(LOCK, RUN, 'ops@bastion', OLD)]);
      expect(p.warnings).toContainEqual(`${says} the lock of run ${OLD}, which finished on this bastion at 2026-11-24T19:05:00.000Z: a node it could not reach at its end keeps it; this plan takes it over (the old lock is kept beside)`);
    });

    it.each([
      ['a run this bastion does not know', { 3: { lock: { runId: 'other-run', holder: 'bob@bastion2' } } }, 'another etcd-dr run holds the lock: etcd3 by run other-run (bob@bastion2)'],
      ['a known finished run and a live one', { 2: { lock: { runId: OLD } }, 3: { lock: { runId: 'other-run' } } }, 'another etcd-dr run holds the lock: etcd3 by run other-run'],
    ])('is still refused for %s', (_what, per, message) => {
      expect(refusal(() => withEnded(stopped({}, per))).message).toBe(message);
    });

    it('with --break-lock for the live run as well: two runs are one too many', () => {
      const e = refusal(() => withEnded(stopped({}, { 2: { lock: { runId: OLD } }, 3: { lock: { runId: 'other-run' } } }), { breakLock: true }));
      expect(e.message).toBe(`several runs hold locks (${OLD}, other-run); a plan takes over one run's lock at a time`);
    });
  });

  it.each([
    [{ survivor: 'etcd9' }, 'not in the inventory: etcd9'],
    [{ exclude: ['etcd7'] }, 'not in the inventory: etcd7'],
    [{ exclude: ['etcd7'], survivor: 'etcd8' }, 'not in the inventory: etcd7, etcd8'],
  ])('refuses unknown names %j', (over, msg) => {
    const e = refusal(() => plan(stopped(), over));
    expect(e.message).toBe(msg);
    expect(e.hint).toBe('members are: etcd1, etcd2, etcd3');
  });

  it('refuses a --survivor that is excluded or has no data', () => {
    expect(refusal(() => plan(stopped(), { survivor: 'etcd1', exclude: ['etcd1'] })).message).toBe(
      '--survivor etcd1 cannot be used: it is excluded, unreachable or has no db',
    );
    expect(refusal(() => plan(stopped({}, { 3: { hasDb: false } }), { survivor: 'etcd3' })).message).toMatch(/--survivor etcd3 cannot be used/);
  });

  it('refuses data dirs of different clusters: as an inconsistent cluster, and still when forced', () => {
    const nodes = stopped({}, { 3: { clusterId: 'aaaaaaaaaaaaaaaa' } });
    expect(refusal(() => plan(nodes)).message).toMatch(/^the cluster is inconsistent, not quorum-lost: members disagree on the cluster id/);
    const e = refusal(() => plan(nodes, { force: true }));
    expect(e.message).toBe('the data dirs belong to different clusters: etcd1, etcd2 → cluster cdf818194e3a8c32; etcd3 → cluster aaaaaaaaaaaaaaaa');
    expect(e.hint).toContain('--exclude');
    expect(plan(nodes, { force: true, exclude: ['etcd3'] }).survivor!.name).toBe('etcd2');
  });

  it('refuses when no member has data to recover from', () => {
    expect(refusal(() => plan(stopped({ hasDb: false }), { force: true })).message).toBe('no reachable member has a data dir with a db to recover from');
  });

  it('refuses a missing env file', () => {
    const e = refusal(() => plan(stopped({}, { 1: { envText: null } })));
    expect(e.message).toBe('etcd1: /etc/etcd.env is missing or unreadable');
  });

  it('--survivor that is not the freshest: planned, with a warning naming the loss', () => {
    const p = plan(stopped(), { survivor: 'etcd1' });
    expect(p.survivor!.name).toBe('etcd1');
    expect(p.survivor!.reason).toBe('chosen with --survivor (revision 1000)');
    expect(p.warnings).toContain(
      "--survivor etcd1 is NOT the freshest member: its data reaches revision 1000, etcd2's reaches 1200; writes after revision 1000 will be lost",
    );
    expect(of(p, 'restore-db')[0]!.node).toBe('etcd1');
    expect(of(p, 'member-add').map((s) => s.node)).toEqual(['etcd2', 'etcd3']);
    // the freshest one named as survivor: no warning
    expect(plan(stopped(), { survivor: 'etcd2' }).warnings).toEqual([MANUAL_HOOKS]);
  });
});

describe('chooseSurvivor', () => {
  it('ties go to the first in inventory order', () => {
    const c = chooseSurvivor(stopped({ revision: 500 }), { exclude: [] });
    expect(c.name).toBe('etcd1');
    expect(c.reason).toBe('highest revision: etcd1 500 (others: etcd2 500, etcd3 500); tied with etcd2, etcd3, first in inventory order wins');
  });

  it('a running member counts with the revision it serves', () => {
    const nodes = [node(1, { running: true, revision: 3000, leader: 0, healthy: false }), node(2, { running: false, revision: 2000 }), node(3, { running: false })];
    expect(dataRevision(nodes[0]!)).toBe(3000);
    expect(chooseSurvivor(nodes, { exclude: [] }).name).toBe('etcd1');
    expect(evidenceRow(nodes[0]!, false)).toMatchObject({ node: 'etcd1', state: 'running', revision: 3000, raftIndex: 5000, clusterId: 'cdf818194e3a8c32' });
    expect(evidenceRow(node(3, { reachable: false }), false)).toMatchObject({ state: 'unreachable', hasDb: false, note: 'connect ETIMEDOUT' });
  });

  it('refuses when no revision can be read, and names the db errors', () => {
    const nodes = stopped();
    for (const n of nodes) {
      delete n.dataDir!.db;
      n.dataDir!.dbError = 'snapshot status failed';
    }
    expect(() => chooseSurvivor(nodes, { exclude: [] })).toThrow(/the revision of no candidate's data could be read \(etcd1: snapshot status failed/);
    // with --survivor it is the operator's call
    expect(() => chooseSurvivor(nodes, { exclude: [], survivor: 'etcd2' })).toThrow(/revision of no candidate/);
  });
});

// ------------------------------------------------------------------ scripts, run for real

describe('step scripts are idempotent and delete nothing (run with sh twice)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-scripts-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sh = runSh;
  const tree = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true, recursive: true })
      .map((e) => join(e.parentPath ?? (e as unknown as { path: string }).path, e.name).slice(d.length))
      .sort();

  it('the plan runs exactly these scripts', () => {
    const p = plan(stopped());
    for (const s of of(p, 'move-data-dir')) expect(s.commands).toEqual([moveAsideScript(s.action.from, s.action.to)]);
    for (const s of of(p, 'write-env')) expect(s.commands).toEqual([writeEnvScript(s.action)]);
    const [r] = of(p, 'restore-db');
    const { type: _t, ...params } = r!.action;
    expect(r!.commands).toEqual([restoreScript({ ...params, runId: RUN })]);
  });

  it('moveAside: done, then already, data intact', () => {
    const data = join(dir, "etcd data's");
    mkdirSync(join(data, 'member', 'snap'), { recursive: true });
    writeFileSync(join(data, 'member', 'snap', 'db'), 'DB');
    const script = moveAsideScript(data, `${data}.etcd-dr-${RUN}`);
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    const after = tree(dir);
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    expect(tree(dir)).toEqual(after);
    expect(readFileSync(join(`${data}.etcd-dr-${RUN}`, 'member', 'snap', 'db'), 'utf8')).toBe('DB');
    expect(existsSync(data)).toBe(false);
    // a restored data dir that appeared in the old place meanwhile is not touched
    mkdirSync(data);
    expect(sh(script).out).toBe('etcd-dr:already');
    expect(existsSync(data)).toBe(true);
    // nothing there at all
    expect(sh(moveAsideScript(join(dir, 'none'), join(dir, 'none.aside')))).toEqual({ code: 0, out: 'etcd-dr:nothing', err: '' });
  });

  it('writeEnv: done, then already; backup kept once; a file changed since the plan is refused', () => {
    const p = plan(stopped());
    const step = of(p, 'write-env')[0]!;
    const path = join(dir, 'etcd.env');
    const backup = `${path}.etcd-dr-${RUN}.bak`;
    const before = stopped()[1]!.env!.text as string;
    writeFileSync(path, before, { mode: 0o640 });
    const script = writeEnvScript({ ...step.action, path, backup });
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(readFileSync(path, 'utf8')).toBe(step.action.content);
    expect(readFileSync(backup, 'utf8')).toBe(before);
    const files = tree(dir);
    expect(files).toEqual(['/etcd.env', `/etcd.env.etcd-dr-${RUN}.bak`]);
    expect(sh(script)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    expect(tree(dir)).toEqual(files);
    expect(readFileSync(backup, 'utf8')).toBe(before);
    // someone edits the file after the plan was made
    writeFileSync(path, `${before}ETCD_DEBUG=true\n`);
    const r = sh(script);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^etcd-dr:changed-since-plan /);
    expect(readFileSync(path, 'utf8')).toBe(`${before}ETCD_DEBUG=true\n`);
  });

  it('lock and unlock: done, then already; another run is refused; the released lock is kept', () => {
    const lock = join(dir, 'etcd-dr', 'lock');
    const take = lockScript(lock, RUN, 'ops@bastion');
    expect(sh(take)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(readFileSync(lock, 'utf8')).toBe(`run=${RUN}\nholder=ops@bastion\n`);
    expect(sh(take)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    expect(sh(lockScript(lock, 'other-run', 'bob'))).toEqual({ code: 3, out: '', err: `etcd-dr:held-by ${RUN}` });
    expect(sh(unlockScript(lock, 'other-run'))).toEqual({ code: 3, out: '', err: 'etcd-dr:held-by-other' });
    expect(existsSync(lock)).toBe(true);
    const release = unlockScript(lock, RUN);
    expect(sh(release)).toEqual({ code: 0, out: 'etcd-dr:done', err: '' });
    expect(sh(release)).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    expect(tree(join(dir, 'etcd-dr'))).toEqual([`/lock.released-${RUN}`]);
    expect(readFileSync(join(dir, 'etcd-dr', `lock.released-${RUN}`), 'utf8')).toBe(`run=${RUN}\nholder=ops@bastion\n`);
  });

  it('restore: already once its marker is in place; refuses a data dir that was not moved aside', () => {
    const data = join(dir, 'etcd');
    const params = {
      tool: 'etcdutl' as const,
      db: join(dir, 'aside', 'member', 'snap', 'db'),
      dataDir: data,
      name: 'etcd2',
      peerUrl: 'https://10.0.0.2:2380',
      initialCluster: 'etcd2=https://10.0.0.2:2380',
      token: `etcd-dr-${RUN}`,
      markCompacted: false,
      runId: RUN,
    };
    mkdirSync(data);
    writeFileSync(join(data, 'keep'), 'x');
    const r = sh(restoreScript(params));
    expect(r.code).toBe(1);
    expect(r.err).toBe(`etcd-dr:data-dir-exists ${data} (it should have been moved aside)`);
    expect(tree(dir)).toEqual(['/etcd', '/etcd/keep']);
    writeFileSync(join(data, `.etcd-dr-restored-${RUN}`), '');
    expect(sh(restoreScript(params))).toEqual({ code: 0, out: 'etcd-dr:already', err: '' });
    expect(tree(dir)).toEqual(['/etcd', `/etcd/.etcd-dr-restored-${RUN}`, '/etcd/keep']);
  });

  it.each(['127.0.0.1', '::1'])("stop: the peer-port check sees a port listening on %s (ss needs IPv6 in brackets)", async (address) => {
    const server = createServer();
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, address, () => resolve(true));
    });
    if (!listening) {
      expect(address).toBe('::1'); // only IPv6 may be missing on a machine
      return;
    }
    try {
      const port = (server.address() as AddressInfo).port;
      const spec = { ...nodeSpec(1), address, etcd: { ...nodeSpec(1).etcd, peerPort: port } };
      const line = stopScript(spec).split('\n').find((l) => l.includes('ss -Hltn'))!;
      const check = line.trim().replace(/^port=\$\((.*) 2>\/dev\/null \|\| true\)$/, '$1');
      const r = sh(check);
      expect(r.err).toBe('');
      expect(r.code).toBe(0);
      expect(r.out).toContain(`:${port}`);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('no script of a plan contains rm', () => {
    const p = plan(stopped());
    for (const s of p.steps) for (const c of s.commands) expect(c).not.toMatch(/(^|[\s;&|(])rm\s/m);
  });
});

describe('nodeSpec fixtures', () => {
  it('match the facts fixtures (names, addresses)', () => {
    expect(nodeSpec(2)).toMatchObject({ name: 'etcd2', address: '10.0.0.2' });
    expect(node(2).address).toBe(nodeSpec(2).address);
  });
});
