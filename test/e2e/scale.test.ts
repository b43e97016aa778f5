/**
 * Membership changes on the real lab, etcd 3.4 and 3.5: five nodes of which three form the cluster, data
 * loaded first and every key checked after each change. 3 → 5 → 3; the write-up's 3 → 1 → 3; a member
 * powered off, its disk wiped, replaced in place; a join that cannot succeed (the new node's member
 * certificate is missing) is rolled back with the quorum and every key kept, then finished by `resume`
 * once the certificate is back.
 */
import { labExec, loadKeys, powerOff, powerOn, type LabState } from '../../src/lab/index.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;

interface Summary {
  runId: string;
  members: string[];
  etcdServers: string;
  verification: { hashkv: { hashes: Record<string, number> }; leader: string };
}

async function run(lab: LabState, state: string, argv: string[]) {
  const r = await runCli([...argv, '-i', lab.inventoryPath, '--state-dir', state, '--yes', '--json']);
  // the plan is printed first, then the JSON summary: take the last JSON document
  const at = r.stdout.lastIndexOf('\n{\n');
  const summary = r.code === 0 ? (JSON.parse(r.stdout.slice(at + 1)) as Summary) : undefined;
  return { ...r, summary };
}

describe.each([
  ['3.4', e2eNet(15)],
  ['3.5', e2eNet(16)],
] as const)('membership changes on etcd %s', (version, base) => {
  let lab: LabState;
  let before: Map<string, string>;
  const state = tempDir();

  /** members as the cluster and every member's env file see them, and no key lost or changed */
  async function expectCluster(members: string[], s?: Summary) {
    const list = await membersOf(lab, members[0]!);
    expect(list.map((m) => m.name).sort()).toEqual([...members].sort());
    expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
    const expected = lab.nodes.filter((n) => members.includes(n.name)).map((n) => `${n.name}=https://${n.address}:2380`).join(',');
    for (const m of members) {
      const env = await fileIn(lab, m, '/etc/etcd.env');
      expect(env).toContain(`ETCD_INITIAL_CLUSTER=${expected}\n`);
      expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
      expect(env).toContain(`ETCD_NAME=${m}\n`);
    }
    expect(lostOrChanged(before, await keysOf(lab, members[members.length - 1]!))).toEqual([]);
    if (s) {
      expect(s.members).toEqual(members);
      expect(Object.keys(s.verification.hashkv.hashes)).toHaveLength(members.length);
      expect(new Set(Object.values(s.verification.hashkv.hashes)).size).toBe(1);
      expect(s.etcdServers).toBe(lab.nodes.filter((n) => members.includes(n.name)).map((n) => `https://${n.address}:2379`).join(','));
    }
  }

  beforeAll(async () => {
    lab = await startLab(base, { etcd: version, nodes: 5, members: 3 });
    await loadKeys(lab, { keys: 1000, mb: 2 });
    before = await keysOf(lab, 'etcd1');
    expect(before.size).toBe(1002);
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('3 → 5 → 3: bare nodes get an env file and join as learners; scale-in warns about fault tolerance', async () => {
    expect(await labExec(lab, 'etcd4', ['test', '-e', '/etc/etcd.env'])).toMatchObject({ code: 1 });
    const st = await runCli(['status', '-i', lab.inventoryPath]);
    expect(st.code).toBe(0);
    const out = await run(lab, state, ['scale-out', '--node', 'etcd4', '--node', 'etcd5']);
    expect({ code: out.code, err: out.code ? out.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(out.stdout).toMatch(/etcd4 has no \/etc\/etcd\.env: the plan writes one made from etcd1's/);
    await expectCluster(['etcd1', 'etcd2', 'etcd3', 'etcd4', 'etcd5'], out.summary);
    // the new member's env file is its own: its URLs and certificate files, nothing of etcd1's
    const env4 = await fileIn(lab, 'etcd4', '/etc/etcd.env');
    expect(env4).toContain(`ETCD_LISTEN_PEER_URLS=https://${base}4:2380\n`);
    expect(env4).toContain('ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-k2-master04.pem\n');
    expect(env4.replace(/^ETCD_INITIAL_CLUSTER=.*$/m, '')).not.toMatch(new RegExp(`${base.replace(/\./g, '\\.')}1:|master01`));

    const plan = await runCli(['plan', 'scale-in', '--member', 'etcd4', '--member', 'etcd5', '-i', lab.inventoryPath]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/WARNING: fault tolerance drops from 2 to 1/);
    const inn = await run(lab, state, ['scale-in', '--member', 'etcd4', '--member', 'etcd5']);
    expect({ code: inn.code, err: inn.code ? inn.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], inn.summary);
    // removed members: etcd stopped, data dir moved aside under the run id
    for (const n of ['etcd4', 'etcd5']) {
      const r = await labExec(lab, n, ['sh', '-c', `systemctl is-active etcd; test -e /var/lib/etcd || echo no-data; test -f /var/lib/etcd.etcd-dr-${inn.summary!.runId}/member/snap/db && echo kept`]);
      expect(r.stdout.trim().split('\n').slice(-2)).toEqual(['no-data', 'kept']);
      expect(r.stdout).not.toMatch(/^active/);
    }
  }, T);

  it("3 → 1 → 3, the write-up's path as planned operations", async () => {
    const one = await run(lab, state, ['scale-in', '--member', 'etcd2', '--member', 'etcd3']);
    expect({ code: one.code, err: one.code ? one.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(one.stdout).toMatch(/fault tolerance drops from 1 to 0/);
    await expectCluster(['etcd1'], one.summary);
    const three = await run(lab, state, ['scale-out', '--node', 'etcd2', '--node', 'etcd3']);
    expect({ code: three.code, err: three.code ? three.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], three.summary);
  }, T);

  it('replace a powered-off member in place after its disk is wiped', async () => {
    await powerOff(lab, 'etcd3');
    expect((await runCli(['status', '-i', lab.inventoryPath])).code).toBe(5);
    // the host comes back with an empty disk: whatever etcd did at boot is stopped and wiped
    await powerOn(lab, 'etcd3');
    const wipe = await labExec(lab, 'etcd3', ['sh', '-c', 'systemctl stop etcd; mv /var/lib/etcd /var/lib/etcd.wiped-by-test']);
    expect(wipe.code).toBe(0);
    const r = await run(lab, state, ['replace', '--member', 'etcd3']);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    expect(r.stdout).toMatch(/while etcd3 is replaced, fault tolerance drops from 1 to 0/);
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], r.summary);
    expect((await runCli(['status', '-i', lab.inventoryPath])).code).toBe(0);
  }, T);

  it('a join that cannot succeed is rolled back: quorum and every key kept; `resume` finishes it once the cause is fixed', async () => {
    // etcd5 is made a bare node again (no env file), and its member certificate goes missing
    const cert = '/etc/ssl/etcd/ssl/member-k2-master05.pem';
    expect((await labExec(lab, 'etcd5', ['sh', '-c', `mv ${cert} ${cert}.hidden && mv /etc/etcd.env /root/etcd.env.old`])).code).toBe(0);
    const r = await run(lab, state, ['scale-out', '--node', 'etcd5']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/rolled back etcd5: removed etcd5 from the membership; stopped etcd on etcd5; restored/);
    // the cluster is as it was: three started voters, no learner, env files untouched, every key
    await expectCluster(['etcd1', 'etcd2', 'etcd3']);
    expect((await runCli(['status', '-i', lab.inventoryPath])).code).toBe(0);
    // etcd5: not running, the env file this run wrote set aside (there was none), nothing in the data dir
    const left = await labExec(lab, 'etcd5', ['sh', '-c', 'systemctl is-active etcd; ls /etc/etcd.env* 2>/dev/null; test -e /var/lib/etcd && echo has-data || true']);
    expect(left.stdout).not.toMatch(/^active/m);
    expect(left.stdout).toMatch(/^\/etc\/etcd\.env\.etcd-dr-.*-rolled-back-\d+$/m);
    expect(left.stdout).not.toMatch(/^\/etc\/etcd\.env$/m);
    expect(left.stdout).not.toMatch(/has-data/);
    // the cause is fixed: the same run continues where it stopped and the join succeeds
    expect((await labExec(lab, 'etcd5', ['mv', `${cert}.hidden`, cert])).code).toBe(0);
    const res = await runCli(['resume', '-i', lab.inventoryPath, '--state-dir', state, '--json']);
    expect({ code: res.code, err: res.code ? res.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3', 'etcd5'], JSON.parse(res.stdout) as Summary);
  }, T);
});
