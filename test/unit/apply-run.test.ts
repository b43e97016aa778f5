/**
 * How a run ended, as the fields of its JSON document (docs/json.md): runSummary is pure, so its fields
 * and their order are checked here; the e2e suites check the same document end to end.
 */
import type { RunResult } from '../../src/apply/executor.js';
import { runSummary, type Run } from '../../src/apply/run.js';
import type { RunDir } from '../../src/apply/rundir.js';
import type { RunSession } from '../../src/apply/session.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { planRecover } from '../../src/plan/recover.js';
import type { RecoverIntent } from '../../src/plan/types.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext } from '../support/plan-helpers.js';

const RUN_ID = '20261205T230000Z-aaaa';
const inv = inventory(3);
const down = (): NodeFacts[] => [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
const intent: RecoverIntent = { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/b' };

function runOf(localBackup: boolean): Run {
  const plan = planRecover(planContext(inv, clusterFacts(down()), RUN_ID), { ...intent, localBackup });
  return { plan, run: { dir: `/state/runs/${RUN_ID}` } as RunDir, session: { inventory: inv } as RunSession, resumed: false, settings: {} };
}

const result = (verification?: Record<string, unknown>): RunResult => ({
  runId: RUN_ID,
  outcome: 'done',
  ms: 1500,
  steps: [{ id: 's1', ms: 10, outcome: 'done', resumed: false }],
  ...(verification ? { verification } : {}),
});

describe('runSummary', () => {
  it('names the run, its members and the --etcd-servers value, in the document order', () => {
    const r = runOf(true);
    const s = runSummary(r, result({ members: 3 }));
    expect(Object.keys(s)).toEqual(['runId', 'outcome', 'seconds', 'runDir', 'members', 'etcdServers', 'backup', 'steps', 'verification', 'warnings']);
    expect(s.seconds).toBe(1.5);
    expect(s.runDir).toBe(`/state/runs/${RUN_ID}`);
    expect(s.members).toEqual(r.plan.finalMembers);
    expect(s.etcdServers.split(',')).toHaveLength(r.plan.finalMembers.length);
    expect(s.backup).toMatch(/^\/b\//);
    expect(s.warnings).toBe(r.plan.warnings);
  });

  it('leaves out the backup without a copy to the bastion, and the verification when there was none', () => {
    const s = runSummary(runOf(false), result());
    expect(s).not.toHaveProperty('backup');
    expect(s).not.toHaveProperty('verification');
  });
});
