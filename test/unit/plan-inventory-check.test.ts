/**
 * A saved plan is checked against the inventory: a plan whose actions name a path, URL, member or node
 * the inventory does not give is refused (exit 2) even when its digest was recomputed after the edit.
 * Table of tampered plans, each sealed again as an attacker would.
 */
import type { NodeFacts } from '../../src/facts/types.js';
import { parsePlan } from '../../src/plan/load.js';
import { planRecover } from '../../src/plan/recover.js';
import { sealPlan } from '../../src/plan/seal.js';
import type { Plan } from '../../src/plan/types.js';
import { EXIT, ExitError } from '../../src/util/errors.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext } from '../support/plan-helpers.js';

const RUN = '20261205T230000Z-aaaa';
const inv = inventory(3);

function fresh(): Plan {
  const nodes: NodeFacts[] = [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
  return sealPlan(planRecover(planContext(inv, clusterFacts(nodes), RUN), { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups' }));
}

type Edit = (p: Plan) => void;
const step = (p: Plan, type: string, n = 0) => p.steps.filter((s) => s.action.type === type)[n]!.action as Record<string, unknown>;

const cases: [string, Edit, RegExp][] = [
  ['move-aside to a path outside the data dir', (p) => (step(p, 'move-data-dir').to = '/tmp/x'), /move-aside-etcd1\).action\.to: "\/tmp\/x" is not a set-aside name/],
  ['move-aside of another dir', (p) => (step(p, 'move-data-dir').from = '/etc'), /\.from: "\/etc" is not etcd1's data dir \/var\/lib\/etcd/],
  ['a set-aside name climbing out', (p) => (step(p, 'move-data-dir').to = `/var/lib/etcd.etcd-dr-x/../../../etc/etcd-dr-${RUN}`), /is not a set-aside name/],
  ['restore into another dir', (p) => (step(p, 'restore-db').dataDir = '/srv/etcd'), /\.dataDir: "\/srv\/etcd" is not etcd3's data dir/],
  ['restore from a db elsewhere', (p) => (step(p, 'restore-db').db = '/tmp/evil.db'), /\.db: "\/tmp\/evil.db" is not a db set aside/],
  ['restore with a foreign peer URL', (p) => (step(p, 'restore-db').peerUrl = 'https://10.9.9.9:2380'), /\.peerUrl: "https:\/\/10.9.9.9:2380" is not etcd3's peer URL/],
  ['restore with a foreign initial cluster', (p) => (step(p, 'restore-db').initialCluster = 'etcd3=https://10.9.9.9:2380'), /initialCluster: etcd3=https:\/\/10.9.9.9:2380 is not a node of the inventory/],
  ['restore under another name', (p) => (step(p, 'restore-db').name = 'evil'), /\.name: "evil" is not etcd3/],
  ['env file elsewhere', (p) => (step(p, 'write-env').path = '/etc/profile'), /\.path: "\/etc\/profile" is not etcd3's env file/],
  ['env backup elsewhere', (p) => (step(p, 'write-env').backup = '/etc/passwd'), /\.backup: "\/etc\/passwd" is not a backup name/],
  ['env content with a foreign member', (p) => (step(p, 'write-env').content = 'ETCD_INITIAL_CLUSTER=evil=https://10.9.9.9:2380\n'), /content ETCD_INITIAL_CLUSTER: evil=https:\/\/10.9.9.9:2380 is not a node/],
  ['env content with another data dir', (p) => (step(p, 'write-env').content = `${String(step(p, 'write-env').content)}ETCD_DATA_DIR=/tmp/d\n`), /ETCD_DATA_DIR=\/tmp\/d is not etcd3's data dir/],
  ['member add of a foreign peer URL', (p) => (step(p, 'member-add').peerUrl = 'https://10.9.9.9:2380'), /add-etcd1\).action\.peerUrl: "https:\/\/10.9.9.9:2380" is not etcd1's peer URL/],
  ['member add of an unknown member', (p) => (step(p, 'member-add').name = 'etcd9'), /\.name: "etcd9" is not a node of the inventory/],
  ['promote through an unknown node', (p) => (step(p, 'promote').via = 'etcd9'), /\.via: "etcd9" is not a node/],
  ['verify of an unknown member', (p) => (step(p, 'verify').members = ['etcd1', 'etcd9']), /members\[1\]: "etcd9" is not a node/],
  ['backup copied from elsewhere', (p) => (step(p, 'backup-db').remoteDb = '/etc/shadow'), /\.remoteDb: "\/etc\/shadow" is not a db set aside/],
  ['backup written elsewhere on the bastion', (p) => (step(p, 'backup-db').localPath = '/root/.ssh/authorized_keys'), /\.localPath: .* is not the run's backup path/],
  ['another lock file', (p) => (p.lockFile = '/tmp/lock'), /lockFile: "\/tmp\/lock" is not etcd-dr's lock file/],
  ['a final member the inventory lacks', (p) => p.finalMembers.push('etcd9'), /finalMembers\[3\]: "etcd9"/],
  ['a field of the wrong type', (p) => (step(p, 'write-env').backup = 42 as unknown as string), /malformed/],
];

describe('a saved plan is checked against the inventory, digest recomputed or not', () => {
  it('the plan etcd-dr made passes', () => {
    const p = fresh();
    expect(parsePlan(JSON.stringify(p), 'plan.json', inv).runId).toBe(RUN);
  });

  it.each(cases)('%s: refused, exit 2, naming the field', (_n, edit, want) => {
    const p = fresh();
    edit(p);
    delete p.digest;
    const resealed = sealPlan(p);
    let err: unknown;
    try {
      parsePlan(JSON.stringify(resealed), 'plan.json', inv);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.badInput);
    expect((err as ExitError).message).toMatch(/^plan\.json: the plan names what the inventory \/work\/inventory\.yaml does not give:/);
    expect((err as ExitError).message).toMatch(want);
  });
});
