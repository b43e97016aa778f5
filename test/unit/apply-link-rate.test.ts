import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { linkRateFromRuns, peerRateFromRuns } from '../../src/apply/link-rate.js';
import { RunDir } from '../../src/apply/rundir.js';

const MiB = 1048576;

describe('link rates measured by earlier runs', () => {
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'etcd-dr-link-rate-'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  interface RunOpts {
    cluster?: string;
    dbMiB?: number;
    /** each promote step's ms and outcome */
    promotes?: readonly (readonly [number, string])[];
    /** a copy to the bastion: MiB, ms */
    copy?: readonly [number, number];
    /** restore-all's send step: members sent to, MiB, ms, whether it followed the copy in */
    send?: readonly [number, number, number, boolean];
  }

  /** A run dir as a recovery leaves it: its plan (steps, the estimate's inputs) and its journal. */
  function run(id: string, o: RunOpts): void {
    const r = new RunDir(state, id);
    r.create();
    const promotes = (o.promotes ?? []).map((_, i) => `1${i}-promote-etcd${i + 2}`);
    writeFileSync(
      r.planPath,
      JSON.stringify({
        inventory: { cluster: o.cluster ?? 'main' },
        steps: [
          { id: '01-backup-etcd1', action: { type: 'backup-db' } },
          ...(o.send ? [{ id: '02-send-db', action: { type: 'send-db', to: Array.from({ length: o.send[0] }, (_, k) => ({ node: `etcd${k + 2}`, path: '/x' })) } }] : []),
          ...promotes.map((p) => ({ id: p, action: { type: 'promote' } })),
        ],
        ...(o.dbMiB ? { strategy: { name: 'rejoin', chosenBy: 'default', estimate: { inputs: { dbBytes: o.dbMiB * MiB } } } } : {}),
      }),
    );
    r.append({ event: 'run-start', runId: id, resumed: false, pid: 1 });
    if (o.copy) {
      const [mib, ms] = o.copy;
      r.append({ event: 'command', step: '01-backup-etcd1', node: 'etcd1', command: 'download /var/lib/etcd/member/snap/db', code: 0, signal: null, ms, timedOut: false, stdout: `${mib * MiB} bytes sha256 00`, stderr: '' });
    }
    if (o.send) {
      const [, mib, ms, followed] = o.send;
      r.append({ event: 'step-start', step: '02-send-db' });
      r.append({ event: 'step-done', step: '02-send-db', ms, outcome: 'done', data: { sha256: '00', bytes: mib * MiB, followed, ms } });
    }
    (o.promotes ?? []).forEach(([ms, outcome], i) => {
      r.append({ event: 'step-start', step: promotes[i]! });
      r.append({ event: 'step-done', step: promotes[i]!, ms, outcome });
    });
    r.append({ event: 'run-end', outcome: 'done', ms: 1 });
  }

  it.each([
    // [what, runs (oldest first), cluster, bytes/s or undefined, from]
    ['no run', [], 'main', undefined, undefined],
    ['two learners caught up on 2000 MiB in 8 and 12 s: the db over their mean', [{ dbMiB: 2000, promotes: [[8000, 'done'], [12000, 'done']] }], 'main', 200 * MiB, /^measured: 2 learners caught up on 2000 MiB in 10\.0 s each in run 20261206T010000Z-0000$/],
    ['a small db: its catch-up is mostly fixed costs, not measured', [{ dbMiB: 100, promotes: [[500, 'done']] }], 'main', undefined, undefined],
    ['a promote resumed as already done did not wait for a catch-up', [{ dbMiB: 2000, promotes: [[30, 'already'], [10000, 'done']] }], 'main', 200 * MiB, /1 learner caught up/],
    ['no estimate in the plan (no db size): not measured', [{ promotes: [[10000, 'done']] }], 'main', undefined, undefined],
    ['the newest run that measured it counts', [{ dbMiB: 1000, promotes: [[10000, 'done']] }, { dbMiB: 1000, promotes: [[5000, 'done']] }, { dbMiB: 50, promotes: [[900, 'done']] }], 'main', 200 * MiB, /in 5\.0 s each in run 20261206T010001Z-0000$/],
    ['another cluster\'s runs do not count', [{ dbMiB: 2000, promotes: [[10000, 'done']], cluster: 'events' }], 'main', undefined, undefined],
  ] as const)('peer link: %s', (_what, runs, cluster, bytesPerSec, from) => {
    runs.forEach((o, i) => run(`20261206T01000${i}Z-0000`, o));
    const got = peerRateFromRuns(state, cluster);
    expect(got?.bytesPerSec).toBe(bytesPerSec);
    if (from) expect(got!.from).toMatch(from);
  });

  it.each([
    ['restore-all whose 2 sends of 1000 MiB followed the copy in: the bytes sent out over their time', [1000, 20000] as const, [2, 1000, 10000, true] as const, 200 * MiB, /^measured: 2 sends of 1000 MiB alongside the copy in, in 10\.0 s by run /],
    ['restore-all resumed, its send from the complete copy: the copy counts', [1000, 5000] as const, [2, 1000, 4000, false] as const, 200 * MiB, /^measured: 1000 MiB copied in 5\.0 s/],
    ['restore-all of a small db: the copy in counts, as on any run', [500, 2500] as const, [2, 0.5, 100, true] as const, 200 * MiB, /^measured: 500 MiB copied/],
  ])('bastion link: %s', (_what, copy, send, bytesPerSec, from) => {
    run('20261206T010000Z-0000', { copy, send });
    const got = linkRateFromRuns(state, 'main');
    expect(got?.bytesPerSec).toBe(bytesPerSec);
    expect(got!.from).toMatch(from);
  });

  it('bastion link: the newest copy of at least 1 MiB, not the catch-ups', () => {
    run('20261206T010000Z-0000', { copy: [500, 2500] });
    run('20261206T010001Z-0000', { copy: [0.5, 100], dbMiB: 2000, promotes: [[10000, 'done']] });
    expect(linkRateFromRuns(state, 'main')).toEqual({ bytesPerSec: 200 * MiB, from: 'measured: 500 MiB copied in 2.5 s by run 20261206T010000Z-0000' });
    expect(linkRateFromRuns(state, 'events')).toBeUndefined();
  });
});
