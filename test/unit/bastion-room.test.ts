import { bastionRoomWarning, relocateBackup, warnBastionRoom } from '../../src/apply/bastion-room.js';
import type { ClusterFacts } from '../../src/facts/types.js';
import type { Plan } from '../../src/plan/types.js';

const MiB = 1 << 20;
const plan = (steps: unknown[]): Plan => ({ runId: '20261206T000000Z-abcd', steps, warnings: ['earlier'] }) as unknown as Plan;
const facts = (dbBytes?: number, endpointDb?: number): ClusterFacts =>
  ({
    nodes: [{ name: 'etcd1', dataDir: dbBytes === undefined ? undefined : { dbBytes, movedAside: [] }, ...(endpointDb !== undefined ? { endpoint: { dbSize: endpointDb } } : {}) }],
  }) as unknown as ClusterFacts;
const backup = { id: '06-backup-db-etcd1', node: 'etcd1', action: { type: 'backup-db', remoteDb: '/var/lib/etcd.x/member/snap/db', localPath: '/state/backups/r/etcd1-db', alongside: true } };
const wait = { id: '21-backup-done-etcd1', node: 'etcd1', action: { type: 'backup-wait', remoteDb: '/var/lib/etcd.x/member/snap/db', localPath: '/state/backups/r/etcd1-db' } };

describe('the plan warns when the bastion lacks room for the db copy', () => {
  // [what, steps, db bytes (data dir), db bytes (endpoint), free bytes, warning expected]
  test.each([
    ['room enough', [backup], 10 * MiB, undefined, 20 * MiB, undefined],
    ['exactly the db', [backup], 10 * MiB, undefined, 10 * MiB, undefined],
    ['less room than the db', [backup], 10 * MiB, undefined, 3 * MiB, /the bastion has 3\.0 MiB free where the survivor's db copy goes \(\/state\/backups\/r\/etcd1-db\), and the db is 10\.0 MiB: the copy will fail \(exit 8\)/],
    ['db size from the running member only', [backup], undefined, 10 * MiB, 3 * MiB, /and the db is 10\.0 MiB/],
    ['db size unknown', [backup], undefined, undefined, 1, undefined],
    ['free room unknown', [backup], 10 * MiB, undefined, undefined, undefined],
    ['no copy in the plan (--no-local-backup)', [], 10 * MiB, undefined, 1, undefined],
  ] as const)('%s', (_what, steps, db, endpointDb, free, expected) => {
    const w = bastionRoomWarning(plan([...steps]), facts(db, endpointDb), () => free);
    if (expected) expect(w).toMatch(expected);
    else expect(w).toBeUndefined();
  });

  test('the warning is added after the plan’s own', () => {
    const p = warnBastionRoom(plan([backup]), facts(Number.MAX_SAFE_INTEGER));
    expect(p.warnings[0]).toBe('earlier');
    expect(p.warnings[1]).toMatch(/the copy will fail \(exit 8\)/);
  });
});

test('resume --backup-dir moves the copy and its wait step, nothing else', () => {
  const other = { id: '07-restore-etcd1', node: 'etcd1', action: { type: 'restore-db', localPath: 'untouched' } };
  const p = relocateBackup(plan([backup, other, wait]), '/roomy');
  expect(p.steps.map((s) => (s.action as { localPath?: string }).localPath)).toEqual(['/roomy/20261206T000000Z-abcd/etcd1-db', 'untouched', '/roomy/20261206T000000Z-abcd/etcd1-db']);
  expect((plan([backup]).steps[0]!.action as { localPath: string }).localPath).toBe('/state/backups/r/etcd1-db');
});
