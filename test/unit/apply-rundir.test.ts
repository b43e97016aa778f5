import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { endedRun, RunDir } from '../../src/apply/rundir.js';

describe('endedRun: is a lock of this run stale?', () => {
  let state: string;
  beforeAll(() => {
    state = mkdtempSync(join(tmpdir(), 'etcd-dr-rundir-'));
  });
  afterAll(() => rmSync(state, { recursive: true, force: true }));

  const runWith = (id: string, ends: Array<'done' | 'failed' | 'interrupted' | 'refused'>) => {
    const r = new RunDir(state, id);
    r.create();
    r.append({ event: 'run-start', runId: id, resumed: false, pid: 1 });
    for (const outcome of ends) r.append({ event: 'run-end', outcome, ms: 10 });
    return id;
  };

  test.each([
    ['finished', ['done'], true],
    ['failed, then resumed to the end', ['failed', 'done'], true],
    ['failed (it may be resumed)', ['failed'], false],
    ['interrupted', ['interrupted'], false],
    ['done, then a resume that was interrupted', ['done', 'interrupted'], false],
    ['still running (no run-end yet)', [], false],
  ] as const)('%s → stale: %s', (_what, ends, stale) => {
    const id = runWith(`20261124T19000${ends.length}Z-${Math.random().toString(16).slice(2, 6).padEnd(4, '0')}`, [...ends]);
    const how = endedRun(state, id);
    if (stale) expect(how).toMatch(/^finished on this bastion at \d{4}-\d\d-\d\dT/);
    else expect(how).toBeUndefined();
  });

  test.each([
    ['a run this bastion never had', '20261124T190000Z-beef'],
    ['not a run id (a lock file written by hand)', '../../etc'],
  ])('%s → not stale', (_what, id) => {
    expect(endedRun(state, id)).toBeUndefined();
  });
});
