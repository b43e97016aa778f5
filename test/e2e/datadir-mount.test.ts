/**
 * A data dir that is its own mount point, as on a master whose /var/lib/etcd is a dedicated volume: every
 * lab node's data dir is an ext4 file system of its own (`lab up --data-dir-mount ext4`), which cannot be
 * renamed (EBUSY). On etcd 3.4 and 3.5, one lab of four nodes (three members) each: a plan without room
 * on that volume is refused with nothing touched; scale-out, scale-in, replace in place after a power cycle
 * and the all-down recovery complete; each is judged on the nodes (membership, env files, keys and values,
 * hashkv) and every old data set is found kept inside its mount, under the run that set it aside.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { breakAllDown, labDown, labExec, labUp, loadKeys, powerOff, powerOn, type LabState } from '../../src/lab/index.js';
import { runCli, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const DATA = '/var/lib/etcd';
const table = new FaultTable('datadir-mount', 'A data dir that is its own mount point (a dedicated volume)');
const suiteStart = Date.now();

afterAll(() => {
  table.save({
    etcd: '3.4.23 and 3.5.30 (one lab each)',
    lab: `4 nodes (3 members), each /var/lib/etcd a 512 MiB ext4 image loop-mounted in the node, on ${e2eNet(90)}x and ${e2eNet(91)}x`,
    data: '500 keys + 2 × 1 MiB values',
    'suite time': `${((Date.now() - suiteStart) / 1000).toFixed(1)} s`,
  });
});

interface Summary {
  runId: string;
  members: string[];
  verification: { hashkv: { hashes: Record<string, number> } };
}

// the drill runs on one version: its injection is the same script on both, and the file stays under 3 minutes
describe.each([
  ['3.4', e2eNet(90), false],
  ['3.5', e2eNet(91), true],
] as const)('a data dir that is a mount point, etcd %s', (version, base, withDrill) => {
  let lab: LabState | undefined;
  let before: Map<string, string>;
  const state = tempDir();
  const L = () => lab!;

  async function run(argv: string[]) {
    const r = await runCli([...argv, '-i', L().inventoryPath, '--state-dir', state, '--yes', '--json']);
    const at = r.stdout.lastIndexOf('\n{\n');
    return { ...r, summary: r.code === 0 ? (JSON.parse(r.stdout.slice(at + 1)) as Summary) : undefined };
  }

  async function sh(node: string, script: string) {
    return labExec(L(), node, ['sh', '-c', script]);
  }

  /** the data dir is still a mount point, holds no live data, and keeps the run's set-aside data dir whole */
  async function expectSetAsideInside(node: string, runId: string, o: { live: boolean }) {
    const r = await sh(node, `mountpoint -q ${DATA} && echo mount; test -e ${DATA}/member && echo live; test -f ${DATA}/etcd-dr-${runId}/member/snap/db && echo kept; ls -d ${DATA}.etcd-dr-* 2>/dev/null || true`);
    expect(r.stdout.trim().split('\n')).toEqual(['mount', ...(o.live ? ['live'] : []), 'kept']);
  }

  /** membership, every member's env file, every key and value, one hash */
  async function expectCluster(members: string[], s?: Summary) {
    const list = await membersOf(L(), members[0]!);
    expect(list.map((m) => m.name).sort()).toEqual([...members].sort());
    expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
    const expected = L().nodes.filter((n) => members.includes(n.name)).map((n) => `${n.name}=https://${n.address}:2380`).join(',');
    for (const m of members) {
      const env = await fileIn(L(), m, '/etc/etcd.env');
      expect(env).toContain(`ETCD_INITIAL_CLUSTER=${expected}\n`);
      expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
      expect(env).toContain(`ETCD_DATA_DIR=${DATA}\n`);
    }
    expect(lostOrChanged(before, await keysOf(L(), members[members.length - 1]!))).toEqual([]);
    if (s) {
      expect(s.members).toEqual(members);
      expect(Object.keys(s.verification.hashkv.hashes)).toHaveLength(members.length);
      expect(new Set(Object.values(s.verification.hashkv.hashes)).size).toBe(1);
    }
  }

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-e2e-'));
    lab = await labUp({ dir, addressBase: base, nodes: 4, members: 3, etcd: version, dataDirMount: { fs: 'ext4', sizeMiB: 512 }, log: () => undefined });
    await loadKeys(lab, { keys: 500, mb: 2 });
    before = await keysOf(lab, 'etcd1');
    expect(before.size).toBe(502);
  }, T);
  afterAll(async () => {
    if (lab) await labDown({ dir: lab.dir, purge: true, log: () => undefined });
  }, T);

  it('every data dir is its own ext4 mount; too little room on that volume, or a WAL dir apart, is refused before anything is stopped', async () => {
    for (const n of L().nodes) {
      const r = await sh(n.name, `mountpoint -q ${DATA} && df -PT ${DATA} | awk 'NR == 2 { print $2 }'`);
      expect(r.stdout.trim()).toBe('ext4');
    }
    // etcd4's volume is nearly full: its copy of the db from the leader cannot fit beside its WAL
    expect((await sh('etcd4', `fallocate -l 420M ${DATA}/filler-by-test`)).code).toBe(0);
    const r = await run(['scale-out', '--node', 'etcd4']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/etcd4: \/var\/lib\/etcd is a file system of its own \(ext4\) with \d+ MiB free, and its copy of the db from the leader needs about \d+ MiB there/);
    // nothing was done: three members, etcd4 stopped without an env file, no lock left
    await expectCluster(['etcd1', 'etcd2', 'etcd3']);
    expect((await sh('etcd4', 'systemctl is-active etcd; test -e /etc/etcd.env && echo env; test -e /var/lib/etcd-dr/lock && echo locked; true')).stdout.trim()).toBe('inactive');
    expect((await sh('etcd4', `rm ${DATA}/filler-by-test`)).code).toBe(0);
    // a WAL dir apart from the data dir is refused too, naming the line (an env file of the test's own on the bare node)
    expect((await sh('etcd4', 'printf "ETCD_NAME=etcd4\\nETCD_WAL_DIR=/var/lib/etcd-wal\\n" > /etc/etcd.env')).code).toBe(0);
    const wal = await run(['scale-out', '--node', 'etcd4']);
    expect(wal.code).toBe(3);
    expect(wal.stderr).toMatch(/etcd4: \/etc\/etcd\.env sets ETCD_WAL_DIR=\/var\/lib\/etcd-wal, a WAL dir apart from the data dir \/var\/lib\/etcd/);
    expect((await sh('etcd4', 'rm /etc/etcd.env')).code).toBe(0);
    table.add({
      fault: `etcd ${version}: etcd4's data dir is an ext4 volume of its own, 420 MiB of its 512 MiB taken by another file; \`scale-out --node etcd4\``,
      expected: 'the plan is refused (exit 3) naming the node, the volume, its free room and the room needed beside the data set aside; nothing is done on any node',
      seen: `exit ${r.code}: "${r.stderr.split('\n')[0]!.replace(/^etcd-dr: /, '')}"; members etcd1, etcd2, etcd3, 502 keys unchanged; etcd4 inactive, no env file, no lock`,
      pass: true,
    });
    table.add({
      fault: `etcd ${version}: etcd4's /etc/etcd.env sets ETCD_WAL_DIR=/var/lib/etcd-wal (a WAL apart from the data dir); \`scale-out --node etcd4\``,
      expected: 'the plan is refused (exit 3) naming the node, the file and the line, before anything is done',
      seen: `exit ${wal.code}: "${wal.stderr.split('\n')[0]!.replace(/^etcd-dr: /, '').slice(0, 160)}…"`,
      pass: true,
    });
  }, T);

  it('scale-out, then scale-in: the removed member\'s data is set aside inside its mount', async () => {
    const out = await run(['scale-out', '--node', 'etcd4']);
    expect({ code: out.code, err: out.code ? out.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3', 'etcd4'], out.summary);

    const plan = await runCli(['plan', 'scale-in', '--member', 'etcd4', '-i', L().inventoryPath]);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toMatch(/^etcd4 +\/var\/lib\/etcd +ext4, \d+ MiB free +inside: its own mount point +\/var\/lib\/etcd\/etcd-dr-[\w-]+\/member$/m);
    const inn = await run(['scale-in', '--member', 'etcd4']);
    expect({ code: inn.code, err: inn.code ? inn.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], inn.summary);
    expect((await sh('etcd4', 'systemctl is-active etcd || true')).stdout.trim()).toBe('inactive');
    await expectSetAsideInside('etcd4', inn.summary!.runId, { live: false });
    table.add({
      fault: `etcd ${version}: scale-out of etcd4 then scale-in of etcd4, its data dir an ext4 volume of its own (a rename of it fails with EBUSY)`,
      expected: 'both complete; the removed member\'s member/ is set aside inside its volume under the run id; the volume stays mounted',
      seen: `scale-out exit ${out.code}, members etcd1–etcd4, hashkv equal; scale-in exit ${inn.code}, members etcd1–etcd3, 502 keys unchanged; etcd4: ${DATA} still a mount point, no member/, ${DATA}/etcd-dr-${inn.summary!.runId}/member/snap/db kept`,
      pass: true,
    });
  }, T);

  it('replace in place after a power cycle: the mount and its data outlive it, the old data is set aside inside it', async () => {
    await powerOff(L(), 'etcd3');
    await powerOn(L(), 'etcd3');
    // the node came back with its volume mounted and its data on it; its etcd is then lost for good
    expect((await sh('etcd3', `systemctl stop etcd; mountpoint -q ${DATA} && test -f ${DATA}/member/snap/db && echo data-kept`)).stdout.trim()).toBe('data-kept');
    // the two others serve under a leader again (etcd3 may have led: an election follows its stop)
    const t0 = Date.now();
    let st = await runCli(['status', '-i', L().inventoryPath]);
    while (st.code !== 5 && Date.now() - t0 < 60_000) st = await runCli(['status', '-i', L().inventoryPath]);
    expect(st.code).toBe(5);
    const r = await run(['replace', '--member', 'etcd3']);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], r.summary);
    await expectSetAsideInside('etcd3', r.summary!.runId, { live: true });
    expect((await runCli(['status', '-i', L().inventoryPath, '--json'])).code).toBe(0);
    table.add({
      fault: `etcd ${version}: etcd3 powered off and on (its volume mounted again at boot), then its etcd lost; \`replace --member etcd3\``,
      expected: 'the volume and its data outlive the power cycle; replace completes; the old member/ is set aside inside the volume, the new one is beside it',
      seen: `after power-on: ${DATA} mounted with member/snap/db; replace exit ${r.code}, members etcd1–etcd3, hashkv equal, 502 keys unchanged; ${DATA}/etcd-dr-${r.summary!.runId}/member/snap/db kept; status exit 0`,
      pass: true,
    });
  }, T);

  it('recover from all members down: restored and rejoined inside the mounts, every earlier data set kept', async () => {
    await breakAllDown(L());
    const r = await run(['recover', '--exclude', 'etcd4']);
    expect({ code: r.code, err: r.code ? r.stderr : '' }).toEqual({ code: 0, err: '' });
    // the plan shown before it runs (on stderr with --json)
    expect(r.stdout + r.stderr).toMatch(/^Data dirs \(nothing is deleted/m);
    await expectCluster(['etcd1', 'etcd2', 'etcd3'], r.summary);
    const runId = r.summary!.runId;
    for (const n of ['etcd1', 'etcd2', 'etcd3']) await expectSetAsideInside(n, runId, { live: true });
    // the survivor's restored data carries the restore's marker; its scratch dir is gone (renamed into place)
    const survivor = (await sh('etcd1', `ls -A ${DATA}; ls -A ${DATA}/member`)).stdout;
    expect(survivor).toContain(`.etcd-dr-restored-${runId}`);
    expect(survivor).not.toContain('-restoring');
    // the data replace set aside on etcd3 is still there, beside this run's
    const earlier = (await sh('etcd3', `ls -d ${DATA}/etcd-dr-*/member/snap/db`)).stdout.trim().split('\n');
    expect(earlier).toHaveLength(2);
    expect((await runCli(['status', '-i', L().inventoryPath, '--json'])).code).toBe(0);
    table.add({
      fault: `etcd ${version}: every member down (quorum lost), every data dir an ext4 volume of its own (before this change: \`mv: cannot move '/var/lib/etcd' … Device or resource busy\` at the first move-aside, with etcd stopped everywhere)`,
      expected: 'the plan shows each data dir\'s layout; recover completes: member/ set aside inside each volume, the survivor restored into a scratch dir on its volume and renamed into place; every earlier set-aside data set kept',
      seen: `recover exit ${r.code}; members etcd1–etcd3, hashkv equal, 502 keys unchanged; on each node ${DATA}/etcd-dr-${runId}/member/snap/db kept and a live member/; the survivor's member/ has .etcd-dr-restored-${runId}, no scratch dir left; etcd3 keeps ${earlier.length} set-aside data sets`,
      pass: true,
    });
  }, T);

  if (withDrill) {
    it('the majority-lost drill: its injection sets two members\' data aside inside their mounts, and the drill passes', async () => {
      const dir = tempDir();
      const report = join(dir, 'drill.json');
      const r = await runCli(['drill', '-i', L().inventoryPath, '--scenario', 'majority-lost', '--yes', '--state-dir', join(dir, 'state'), '--report', report, '--lab-dir', L().dir]);
      const rep = JSON.parse(readFileSync(report, 'utf8')) as { pass: boolean; runId: string; checks: { pass: boolean }[] };
      expect(rep.checks.filter((c) => !c.pass)).toEqual([]);
      expect({ code: r.code, pass: rep.pass }).toEqual({ code: 0, pass: true });
      // the drill recovers every inventory node: etcd4, left with an emptied mount by scale-in, joins too
      await expectCluster(['etcd1', 'etcd2', 'etcd3', 'etcd4']);
      // etcd2 and etcd3 lost their data to the drill: it is kept inside their mounts, beside what the runs set aside
      for (const n of ['etcd2', 'etcd3']) {
        const kept = (await sh(n, `mountpoint -q ${DATA} && ls -d ${DATA}/etcd-dr-drill-*/member/snap/db`)).stdout.trim().split('\n');
        expect(kept).toHaveLength(1);
      }
      table.add({
        fault: `etcd ${version}: \`drill --scenario majority-lost\` on data dirs that are ext4 volumes of their own (the drill stops every member and sets two members' data aside)`,
        expected: 'the injection sets member/ aside inside each volume; the recovery completes and the drill passes with no key lost',
        seen: `drill exit ${r.code}, ${rep.checks.length} checks passed; members etcd1–etcd4 (etcd4 joined in its emptied mount), 502 keys unchanged; etcd2, etcd3: ${DATA}/etcd-dr-drill-*/member/snap/db kept`,
        pass: true,
      });
    }, T);
  }
});
