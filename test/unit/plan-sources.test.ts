/**
 * The survivor choice weighs the data dirs earlier runs set aside like live ones (an interrupted run's
 * good copies are never passed over for a staler live data dir), refuses to start over an unfinished run
 * without --break-lock, and an empty lock file is refused until broken. Table-driven.
 */
import type { NodeFacts, SetAsideDir } from '../../src/facts/types.js';
import type { PlanContext } from '../../src/plan/context.js';
import { planRecover } from '../../src/plan/recover.js';
import { dataSources, rankSources, unfinishedRuns } from '../../src/plan/sources.js';
import type { Plan, RecoverIntent } from '../../src/plan/types.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext, refusal, stepsOf as of } from '../support/plan-helpers.js';

const X = '20261205T230000Z-aaaa';
const OLD = '20261101T100000Z-0bad';
const CID = 'cdf818194e3a8c32';

function aside(runId: string, revision: number | undefined, o: Partial<SetAsideDir> = {}): SetAsideDir {
  return {
    path: `/var/lib/etcd.etcd-dr-${runId}`,
    runId,
    at: '2026-12-05T23:00:05.000Z',
    dbBytes: 20_000_000,
    walClusterId: CID,
    ...(revision !== undefined ? { db: { revision, totalKey: 601, totalSize: 20_000_000, hash: 1 } } : {}),
    ...o,
  };
}

/** the case: run X moved etcd1's and etcd2's data dirs aside (rev 1601) and died; etcd3 is stale (1500) */
function interrupted(): NodeFacts[] {
  const nodes = [1, 2, 3].map((i) => node(i, { running: false, revision: 1500, version: '3.5.30', hasDb: i === 3 }));
  nodes[0]!.dataDir!.setAside = [aside(X, 1601)];
  nodes[1]!.dataDir!.setAside = [aside(X, 1601)];
  return nodes;
}

function intent(over: Partial<RecoverIntent> = {}): RecoverIntent {
  return { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups', ...over };
}

function ctx(nodes: NodeFacts[], over: Partial<PlanContext> = {}): PlanContext {
  return { ...planContext(inventory(3), clusterFacts(nodes)), ...over };
}

const plan = (nodes: NodeFacts[], over: Partial<RecoverIntent> = {}, c: Partial<PlanContext> = {}): Plan => planRecover(ctx(nodes, c), intent(over));

describe('the survivor choice weighs set-aside data dirs', () => {
  const cases: { name: string; nodes: () => NodeFacts[]; intent: Partial<RecoverIntent>; survivor: string; db: string }[] = [
    { name: 'the interrupted run: the freshest data is beside etcd1\'s data dir, not stale etcd3', nodes: interrupted, intent: { breakLock: true }, survivor: 'etcd1', db: `/var/lib/etcd.etcd-dr-${X}/member/snap/db` },
    { name: '--exclude etcd1: etcd2\'s set-aside copy, still not etcd3', nodes: interrupted, intent: { breakLock: true, exclude: ['etcd1'] }, survivor: 'etcd2', db: `/var/lib/etcd.etcd-dr-${X}/member/snap/db` },
    { name: '--survivor etcd2: etcd2\'s freshest data, which is set aside', nodes: interrupted, intent: { breakLock: true, survivor: 'etcd2' }, survivor: 'etcd2', db: `/var/lib/etcd.etcd-dr-${X}/member/snap/db` },
    { name: '--survivor etcd3: the operator\'s word, live data', nodes: interrupted, intent: { breakLock: true, survivor: 'etcd3' }, survivor: 'etcd3', db: `/var/lib/etcd.etcd-dr-${'20261124-200000-ab12'}/member/snap/db` },
    {
      name: 'a set-aside dir as fresh as a live one: the live one wins',
      nodes: () => {
        const n = [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
        n[0]!.dataDir!.setAside = [aside(X, 1003)];
        return n;
      },
      intent: { breakLock: true },
      survivor: 'etcd3',
      db: '/var/lib/etcd.etcd-dr-20261124-200000-ab12/member/snap/db',
    },
    {
      name: 'an earlier cluster\'s set-aside dir (a finished recovery gave a new cluster id) is history, however high its revision',
      nodes: () => {
        const n = [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
        n[0]!.dataDir!.setAside = [aside(OLD, 9999, { walClusterId: 'aaaaaaaaaaaaaaaa' })];
        return n;
      },
      intent: {},
      survivor: 'etcd3',
      db: '/var/lib/etcd.etcd-dr-20261124-200000-ab12/member/snap/db',
    },
    {
      name: 'a finished run\'s set-aside dir (its lock released) is weighed, and no run is unfinished',
      nodes: () => {
        const n = [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
        n[1]!.dataDir!.setAside = [aside(X, 1500)];
        n[1]!.releasedRuns = [X];
        return n;
      },
      intent: {},
      survivor: 'etcd2',
      db: `/var/lib/etcd.etcd-dr-${X}/member/snap/db`,
    },
  ];
  it.each(cases)('$name', (c) => {
    const p = plan(c.nodes(), c.intent);
    expect(p.survivor!.name).toBe(c.survivor);
    const restore = of(p, 'restore-db')[0]!;
    expect(restore.node).toBe(c.survivor);
    expect(restore.action.db).toBe(c.db);
    expect(restore.commands[0]).toContain(c.db);
    const backup = of(p, 'backup-db')[0]!;
    expect(backup.action.remoteDb).toBe(c.db);
    // the plan says where the data comes from, and marks exactly one evidence row
    const fromAside = !c.db.includes('20261124-200000-ab12');
    expect(Boolean(p.survivor!.source)).toBe(fromAside);
    if (fromAside) {
      expect(p.summary).toContain(`set aside by run ${X} (/var/lib/etcd.etcd-dr-${X})`);
      expect(p.warnings.join('\n')).toContain(`in /var/lib/etcd.etcd-dr-${X}, set aside by run ${X}`);
    }
    expect(p.survivor!.evidence.filter((r) => r.chosen)).toHaveLength(1);
    // never deleted, never written: no step moves or touches a set-aside dir
    for (const s of of(p, 'move-data-dir')) expect(s.action.from).toBe('/var/lib/etcd');
  });

  it('in the interrupted case only etcd3 has a data dir left to move aside; --survivor etcd3 warns of the loss', () => {
    const p = plan(interrupted(), { breakLock: true });
    expect(of(p, 'move-data-dir').map((s) => s.node)).toEqual(['etcd3']);
    expect(p.survivor!.reason).toBe(`highest revision: etcd1 (/var/lib/etcd.etcd-dr-${X}, set aside by run ${X}) 1601 (others: etcd2 (/var/lib/etcd.etcd-dr-${X}, set aside by run ${X}) 1601, etcd3 1500); tied with etcd2 (/var/lib/etcd.etcd-dr-${X}, set aside by run ${X}), first in inventory order wins`);
    const stale = plan(interrupted(), { breakLock: true, survivor: 'etcd3' });
    expect(stale.warnings).toContainEqual(expect.stringMatching(/^--survivor etcd3 is NOT the freshest member: its data reaches revision 1500, etcd1 \(\/var\/lib\/etcd\.etcd-dr-.*\)'s reaches 1601/));
  });

  it('ranks by revision, then live before set-aside, then inventory order', () => {
    const n = interrupted();
    n[2]!.dataDir!.setAside = [aside(OLD, 1601)];
    const ranked = rankSources(dataSources(n, []).candidates).map((s) => `${s.node}:${s.live ? 'live' : s.runId}:${s.revision}`);
    expect(ranked).toEqual([`etcd1:${X}:1601`, `etcd2:${X}:1601`, `etcd3:${OLD}:1601`, 'etcd3:live:1500']);
  });

  it('a set-aside db of this cluster whose revision could not be read is refused as a live one is', () => {
    const n = interrupted();
    n[1]!.dataDir!.setAside = [aside(X, undefined, { dbError: 'snapshot status failed: bad db' })];
    const e = refusal(() => plan(n, { breakLock: true }));
    expect(e.message).toContain(`the revision of the data of etcd2 (/var/lib/etcd.etcd-dr-${X}, set aside by run ${X}) could not be read`);
    expect(e.hint).toContain('--exclude etcd2');
  });
});

describe('an unfinished run is said first and resumed, not started over', () => {
  it('refused without --break-lock, pointing to resume (its journal here or on the bastion that started it)', () => {
    const here = refusal(() => plan(interrupted(), {}, { runHere: (id) => id === X }));
    expect(here.message).toBe(`an earlier recovery is unfinished: run ${X} set the data dirs of etcd1, etcd2 aside and did not finish. A new recovery would start over from data that run already moved`);
    expect(here.hint).toContain(`finish it with \`etcd-dr resume ${X}\` (its journal is in this state dir)`);
    const elsewhere = refusal(() => plan(interrupted()));
    expect(elsewhere.hint).toContain('on the bastion (or --state-dir) that started it');
    expect(elsewhere.hint).toContain('--break-lock');
  });

  it('goes on with --break-lock, saying so; a run this bastion saw finish is not unfinished', () => {
    expect(plan(interrupted(), { breakLock: true }).warnings).toContainEqual(expect.stringMatching(new RegExp(`^--break-lock: run ${X} set the data dirs of etcd1, etcd2 aside and did not finish`)));
    const n = interrupted();
    expect(unfinishedRuns(n, dataSources(n, []).candidates, (id) => (id === X ? 'finished on this bastion' : undefined))).toEqual([]);
    expect(plan(interrupted(), {}, { runEnded: (id) => (id === X ? 'finished' : undefined) }).survivor!.name).toBe('etcd1');
  });

  it('a lock still held by the run is said by the lock check, naming the run to resume', () => {
    const n = interrupted();
    for (const x of n) x.lock = { runId: X, holder: 'ops@other' };
    const e = refusal(() => plan(n, {}, { runHere: () => false }));
    expect(e.message).toMatch(/^another etcd-dr run holds the lock: etcd1 by run 20261205T230000Z-aaaa/);
    expect(e.hint).toBe(`wait for it to finish, or \`etcd-dr resume ${X}\` it on the bastion that started it; a lock left by a run that is dead is broken with --break-lock`);
    const p = plan(n, { breakLock: true });
    expect(of(p, 'lock')[0]!.action).toEqual({ type: 'lock', breakRun: X });
    expect(p.survivor!.name).toBe('etcd1');
  });
});

describe('an empty lock file', () => {
  const withEmpty = () => {
    const n = [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
    n[1]!.lockEmpty = true;
    return n;
  };
  it('is refused, naming the node and --break-lock', () => {
    const e = refusal(() => plan(withEmpty()));
    expect(e.message).toBe('the etcd-dr lock file on etcd2 is empty: a run crashed between creating and writing it, so no run can release it');
    expect(e.hint).toContain('--break-lock');
  });
  it('with --break-lock the lock step sets it aside (never deletes it)', () => {
    const p = plan(withEmpty(), { breakLock: true });
    const lock = of(p, 'lock')[0]!;
    expect(lock.action).toEqual({ type: 'lock', breakEmpty: true });
    expect(lock.commands[0]).toContain(`mv -f "$f" "$f".empty-broken-by-`);
    expect(p.warnings).toContain('--break-lock: the empty lock file on etcd2 is set aside by the lock step');
  });
});

describe('resume --exclude of the survivor', () => {
  it('is bad input that points to a new recovery without it, which takes the data this run set aside on another member', async () => {
    const { checkExclude } = await import('../../src/plan/exclude.js');
    const p = plan(interrupted(), { breakLock: true });
    let err: unknown;
    try {
      checkExclude(p, ['etcd1']);
    } catch (e) {
      err = e;
    }
    expect((err as { hint?: string }).hint).toContain('`etcd-dr recover --break-lock --exclude etcd1`');
    const without = plan(interrupted(), { breakLock: true, exclude: ['etcd1'] });
    expect(without.survivor).toMatchObject({ name: 'etcd2', source: { path: `/var/lib/etcd.etcd-dr-${X}` } });
  });
});
