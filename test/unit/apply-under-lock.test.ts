/**
 * The check under the lock compares the facts a plan was made from with those read once every lock is
 * taken, the locks left out (this run holds them all now). Table of what may happen in between.
 */
import { changedUnderLock, underLockCheck } from '../../src/apply/under-lock.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { planRecover } from '../../src/plan/recover.js';
import { RefusedError } from '../../src/util/errors.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext } from '../support/plan-helpers.js';

const RUN = '20261205T230000Z-aaaa';
const down = (): NodeFacts[] => [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
const plan = planRecover(planContext(inventory(3), clusterFacts(down()), RUN), { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/b' });

const cases: [string, (n: NodeFacts[]) => void, RegExp | null][] = [
  ['nothing changed', () => undefined, null],
  ['this run now holds every lock', (n) => n.forEach((x) => (x.lock = { runId: RUN, holder: 'me' })), null],
  ['the db grew (its size is not a fact a plan depends on)', (n) => void (n[0]!.dataDir!.dbBytes = 1), null],
  ['a member crash-loops: running at one probe, not at the next', (n) => Object.assign(n[0]!, node(1, { running: true, version: '3.5.30', leader: 0, healthy: false })), null],
  [
    'another bastion recovered it: new cluster id in the WAL, members running',
    (n) => n.forEach((x, i) => Object.assign(x, node(i + 1, { running: true, version: '3.5.30', clusterId: 'aaaaaaaaaaaaaaaa' }))),
    /^etcd1: dataDir was .*"cdf818194e3a8c32".*, now .*"aaaaaaaaaaaaaaaa"/,
  ],
  ['an env file was rewritten', (n) => void (n[1]!.env!.sha256 = 'f'.repeat(64)), /^etcd2: env was "[0-9a-f]+", now "f+"$/],
  ['a data dir was moved aside', (n) => Object.assign(n[2]!.dataDir!, { exists: false, hasDb: false }), /^etcd3: dataDir was .*"exists":true.*, now .*"exists":false/],
];

describe('the check under the lock', () => {
  it.each(cases)('%s', (_n, change, want) => {
    const now = down();
    change(now);
    const changes = changedUnderLock(plan, clusterFacts(now));
    if (want === null) expect(changes).toEqual([]);
    else expect(changes).toContainEqual(expect.stringMatching(want));
  });

  it('refuses with the list of changes and says nothing was changed and the locks are released', async () => {
    const now = down();
    now[0]!.env!.sha256 = '0'.repeat(64);
    const check = underLockCheck(plan, async () => clusterFacts(now));
    const err = await check().then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).message).toMatch(/^the cluster changed since the plan was made \(.*\), before this run took its locks: another bastion or a person changed it in between\n {2}- etcd1: env was/);
    expect((err as RefusedError).hint).toContain('its locks are released');
    await expect(underLockCheck(plan, async () => clusterFacts(down()))()).resolves.toBeUndefined();
  });
});
