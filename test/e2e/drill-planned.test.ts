/**
 * The planned drills on the lab, etcd 3.4 and 3.5: one cluster of three members and a bare node goes
 * through scale-out (3 → 4, the bare node joins), scale-in (4 → 3, the leader leaves) and replace (the
 * last member powered off, wiped, rebuilt in place). Each drill must pass with its reports, and the
 * cluster is checked independently after each: members, env files, every key loaded at the start.
 */
import { readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DrillReport } from '../../src/drill/drill.js';
import { etcdctlInNode, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
/** temp dirs of this file (state dirs, reports), removed at the end */
const dirs: string[] = [];
const scratch = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A drill with its three reports; through the lab (power off and on) unless `withLab` is false. */
async function drill(lab: LabState, scenario: string, extra: string[] = [], withLab = true) {
  const dir = scratch();
  const files = { json: join(dir, 'drill.json'), junit: join(dir, 'drill.xml'), md: join(dir, 'drill.md') };
  const r = await runCli([
    'drill', '-i', lab.inventoryPath, '--scenario', scenario, '--yes', '--state-dir', join(dir, 'state'),
    '--report', files.json, '--junit', files.junit, '--markdown', files.md, ...(withLab ? ['--lab-dir', lab.dir] : []), ...extra,
  ]);
  const report = JSON.parse(readFileSync(files.json, 'utf8')) as DrillReport;
  return { ...r, report, files };
}

/** The member that leads, as etcd itself says (ids kept as text: they do not fit a double). */
async function leaderOf(lab: LabState, via: string): Promise<string> {
  const r = await etcdctlInNode(lab, via, ['endpoint', 'status', '--cluster', '-w', 'json'], { timeout: 60 });
  expect(r.code).toBe(0);
  const doc = JSON.parse(r.stdout.replace(/:(\d{15,})/g, ':"$1"')) as { Endpoint: string; Status: { header: { member_id: string }; leader: string } }[];
  const ep = doc.find((d) => d.Status.header.member_id === d.Status.leader)!.Endpoint;
  return lab.nodes.find((n) => ep.includes(`//${n.address}:`))!.name;
}

describe.each([
  ['3.4', e2eNet(70)],
  ['3.5', e2eNet(71)],
] as const)('planned drills on etcd %s', (version, base) => {
  let lab: LabState;
  let before: Map<string, string>;
  /** the members as the drills so far left them, inventory order */
  let members = ['etcd1', 'etcd2', 'etcd3'];

  /** members as the cluster and every member's env file see them, and no key lost or changed */
  async function expectCluster(want: string[]) {
    const list = await membersOf(lab, want[0]!);
    expect(list.map((m) => m.name).sort()).toEqual([...want].sort());
    expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
    const expected = lab.nodes.filter((n) => want.includes(n.name)).map((n) => `${n.name}=https://${n.address}:2380`).join(',');
    for (const m of want) {
      const env = await fileIn(lab, m, '/etc/etcd.env');
      expect(env).toContain(`ETCD_INITIAL_CLUSTER=${expected}\n`);
      expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
      expect(env).toContain(`ETCD_NAME=${m}\n`);
    }
    expect(lostOrChanged(before, await keysOf(lab, want[want.length - 1]!))).toEqual([]);
  }

  /** the drill passed, every check with it, and its three reports say so (private files) */
  function expectPass(r: Awaited<ReturnType<typeof drill>>, scenario: string) {
    expect({ failed: r.report.checks.filter((c) => !c.pass), error: r.report.error }).toEqual({ failed: [], error: undefined });
    expect(r.code).toBe(0);
    expect(r.report).toMatchObject({ pass: true, scenario, kind: 'planned' });
    expect(r.report.checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        `${scenario} completed`,
        'hashkv equal on every member',
        'membership as planned, one leader, no learner',
        'etcd-dr status after the change: healthy, members as planned',
        'env files agree with the membership',
        'no key written before the change is missing',
        'no value changed',
      ]),
    );
    expect(r.report.before!.keys).toBeGreaterThanOrEqual(before.size);
    expect(r.report.after!.keys).toBeGreaterThanOrEqual(r.report.before!.keys);
    for (const k of ['verifyMs', 'totalMs', 'captureBeforeMs', 'captureAfterMs'] as const) expect(r.report.timings[k]).toBeGreaterThan(0);
    expect(readFileSync(r.files.junit, 'utf8')).toMatch(/<testsuites name="etcd-dr drill" tests="\d+" failures="0"/);
    const md = readFileSync(r.files.md, 'utf8');
    expect(md).toContain(`\`${scenario}\` on \`k2\` — **PASS**`);
    expect(md).toContain('| total change |');
    for (const f of Object.values(r.files)) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(r.stdout).toMatch(new RegExp(`^drill ${scenario} on k2: PASS$`, 'm'));
  }

  beforeAll(async () => {
    lab = await startLab(base, { etcd: version, nodes: 4, members: 3 });
    await loadKeys(lab, { keys: 500, mb: 1 });
    before = await keysOf(lab, 'etcd1');
    expect(before.size).toBe(501);
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('scale-out: the bare node joins as a learner, is promoted, and every env file follows', async () => {
    const r = await drill(lab, 'scale-out');
    expectPass(r, 'scale-out');
    expect(r.report.target).toBe('etcd4');
    expect(r.report.members).toEqual({ before: ['etcd1', 'etcd2', 'etcd3'], after: ['etcd1', 'etcd2', 'etcd3', 'etcd4'] });
    expect(Object.keys(r.report.timings.joinsMs!)).toEqual(['etcd4']);
    expect(r.report.timings.joinsMs!['etcd4']).toBeGreaterThan(0);
    expect(r.report.timings.removesMs).toEqual({});
    expect(r.report.checks.find((c) => c.name === 'etcd4 joined: a voting member serving clients with its own env file')?.pass).toBe(true);
    // the capture after was read through the new member
    expect(r.report.after!.via).toBe('etcd4');
    members = ['etcd1', 'etcd2', 'etcd3', 'etcd4'];
    await expectCluster(members);

    if (version === '3.4') {
      // every node is a member now: a second scale-out drill is refused before anything is touched
      const again = await runCli(['drill', '-i', lab.inventoryPath, '--scenario', 'scale-out', '--yes', '--state-dir', scratch()]);
      expect(again.code).toBe(3);
      expect(again.stderr).toMatch(/the scale-out drill needs an inventory node that is not a member of cluster k2; every node of .* is one \(etcd1, etcd2, etcd3, etcd4\)/);
      expect(again.stderr).toMatch(/etcd-dr lab up --nodes 5 --members 4/);
    }
  }, T);

  it('scale-in: the leader leaves, leadership handed over first, its data dir set aside', async () => {
    const leader = await leaderOf(lab, members[0]!);
    const r = await drill(lab, 'scale-in');
    expectPass(r, 'scale-in');
    expect(r.report.target).toBe(leader);
    const stays = members.filter((m) => m !== leader);
    expect(r.report.members).toEqual({ before: members, after: stays });
    members = stays;
    expect(r.report.checks.find((c) => c.name === `leadership handed over before ${leader} was removed`)!.evidence).toMatch(new RegExp(`^${leader} led when the step ran: leadership moved before the removal; leader now etcd\\d$`));
    expect(r.report.checks.find((c) => c.name === `${leader} left: etcd stopped, data dir set aside`)?.pass).toBe(true);
    expect(Object.keys(r.report.timings.removesMs!)).toEqual([leader]);
    expect(r.report.timings.moveLeaderMs).toBeGreaterThan(0);
    expect(r.report.timings.removesMs![leader]).toBeGreaterThanOrEqual(r.report.timings.moveLeaderMs!);
    await expectCluster(stays);
    expect(await leaderOf(lab, stays[0]!)).not.toBe(leader);
    // the removed member, seen from inside its host: etcd stopped, its data kept beside the data dir
    const left = await labExec(lab, leader, ['sh', '-c', `systemctl is-active etcd; test -e /var/lib/etcd || echo no-data; test -f /var/lib/etcd.etcd-dr-${r.report.runId}/member/snap/db && echo kept`]);
    expect(left.stdout.trim().split('\n').slice(-2)).toEqual(['no-data', 'kept']);
    expect(left.stdout).not.toMatch(/^active/);
  }, T);

  // on 3.4 the leader is powered off (the others elect a new one before they serve), on 3.5 the default target
  it('replace: a member is powered off, comes back wiped, and is rebuilt in place', async () => {
    const ordered = members;
    const leader = await leaderOf(lab, ordered[0]!);
    const target = version === '3.4' ? leader : ordered[ordered.length - 1]!;
    const r = await drill(lab, 'replace', version === '3.4' ? ['--target', leader] : []);
    expectPass(r, 'replace');
    expect(r.report.target).toBe(target);
    expect(r.report.members).toEqual({ before: ordered, after: ordered });
    expect(r.report.notes.join('\n')).toMatch(new RegExp(`${target} powered off while serving`));
    expect(r.report.checks.find((c) => c.name === `the quorum held while ${target} was lost`)).toMatchObject({
      pass: true,
      evidence: expect.stringMatching(new RegExp(`^degraded: 2 of 3 voting members serve clients \\(down: ${target}\\); quorum 2 holds`)),
    });
    expect(r.report.checks.find((c) => c.name === `${target} replaced in place: a new member serving clients with its own env file`)!.evidence).toMatch(
      new RegExp(`^member [0-9a-f]{16} removed, ${target} back as member [0-9a-f]{16}, serving at revision \\d+`),
    );
    expect(Object.keys(r.report.timings.removesMs!)).toEqual([target]);
    expect(Object.keys(r.report.timings.joinsMs!)).toEqual([target]);
    expect(r.report.timings.injectMs).toBeGreaterThan(0);
    expect(r.report.timings.degradedMs).toBeGreaterThan(r.report.timings.totalMs!);
    await expectCluster(ordered);
    // the lost data dir is kept, and etcd is enabled at boot again
    const host = await labExec(lab, target, ['sh', '-c', 'ls -d /var/lib/etcd.etcd-dr-drill-*; systemctl is-enabled etcd; systemctl is-active etcd']);
    expect(host.stdout.trim().split('\n').slice(-2)).toEqual(['enabled', 'active']);
    expect(host.stdout).toMatch(/^\/var\/lib\/etcd\.etcd-dr-drill-[0-9a-z-]+$/m);
    expect((await runCli(['status', '-i', lab.inventoryPath])).code).toBe(0);
  }, T);

  if (version === '3.5') {
    it('replace --target without the lab: the member named loses its etcd and its data dir, and is rebuilt', async () => {
      const ordered = members;
      const target = ordered[0]!;
      const r = await drill(lab, 'replace', ['--target', target], false);
      expectPass(r, 'replace');
      expect(r.report.target).toBe(target);
      expect(r.report.notes.join('\n')).toMatch(new RegExp(`${target}'s etcd stopped \\(without --lab-dir`));
      expect(r.report.notes.join('\n')).not.toMatch(/powered off/);
      expect(r.report.checks.find((c) => c.name === `the quorum held while ${target} was lost`)?.pass).toBe(true);
      expect(r.report.checks.find((c) => c.name === `${target} replaced in place: a new member serving clients with its own env file`)?.pass).toBe(true);
      await expectCluster(ordered);
    }, T);
  }
});
