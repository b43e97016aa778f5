/**
 * Kubespray masters on the real lab (`lab up --profile kubespray`), etcd 3.4 and 3.5: every node runs the
 * events cluster (unit etcd-events, /etc/etcd-events.env, ports 2381/2382, the same etcd binary) beside
 * the main one, env files carry kubespray's lines of today, and etcd-dr logs in as ops with sudo. For each
 * cluster while the other serves: `status` shows a stopped member as stopped with its db revision,
 * `replace`, `scale-in`, `scale-out` and `recover` complete with every key kept, and the other cluster
 * is untouched (its etcd processes not restarted, same revision and hashkv, env files unchanged).
 * One lab per version, shared by all the tests of that version.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DrillReport } from '../../src/drill/drill.js';
import { etcdctlFlags, EVENTS_CLUSTER, labExec, loadKeys, MAIN_CLUSTER, type LabCluster, type LabState } from '../../src/lab/index.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { fileIn, lostOrChanged } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const table = new FaultTable('kubespray', 'Real kubespray masters: the events cluster runs beside the main one on every node (test/e2e/kubespray.test.ts)');
const t0 = Date.now();
afterAll(() => table.save({ lab: `3 nodes, profile kubespray (etcd + etcd-events on each, ops login with sudo), ${e2eNet(80)}x (3.4) and ${e2eNet(81)}x (3.5)`, data: '300 keys in each cluster', 'suite time': `${((Date.now() - t0) / 1000).toFixed(1)} s` }));

/** etcdctl in a node, aimed at that node's member of cluster `c` */
async function ctl(lab: LabState, node: string, c: LabCluster, args: string[], endpoints?: string) {
  const n = lab.nodes.find((x) => x.name === node)!;
  const flags = etcdctlFlags(n).map((f) => (f.startsWith('--endpoints=') ? `--endpoints=${endpoints ?? `https://${n.address}:${c.clientPort}`}` : f));
  const r = await labExec(lab, node, ['etcdctl', ...flags, ...args], { env: { ETCDCTL_API: '3' }, timeout: 120 });
  if (r.code !== 0) throw new Error(`etcdctl ${args.join(' ')} on ${node} (${c.service}) failed: ${r.stderr}`);
  return r.stdout;
}

async function keysOf(lab: LabState, node: string, c: LabCluster): Promise<Map<string, string>> {
  const doc = JSON.parse(await ctl(lab, node, c, ['get', '', '--prefix', '-w', 'json'])) as { kvs?: { key: string; value?: string }[] };
  return new Map((doc.kvs ?? []).map((kv) => [Buffer.from(kv.key, 'base64').toString('utf8'), createHash('sha256').update(Buffer.from(kv.value ?? '', 'base64')).digest('hex')]));
}

async function membersOf(lab: LabState, node: string, c: LabCluster) {
  const doc = JSON.parse(await ctl(lab, node, c, ['member', 'list', '-w', 'json'])) as { members: { name?: string; isLearner?: boolean; clientURLs?: string[] }[] };
  return doc.members.map((m) => ({ name: m.name ?? '', voter: m.isLearner !== true, started: (m.clientURLs ?? []).length > 0 }));
}

/** What must not change on a cluster while the other one is worked on. */
async function fingerprint(lab: LabState, c: LabCluster) {
  const endpoints = lab.nodes.map((n) => `https://${n.address}:${c.clientPort}`).join(',');
  const hashkv = (JSON.parse(await ctl(lab, lab.nodes[0]!.name, c, ['endpoint', 'hashkv', '-w', 'json'], endpoints)) as { Endpoint: string; HashKV: { header: { revision: number }; hash: number } }[])
    .map((h) => `${h.Endpoint} rev=${h.HashKV.header.revision} hash=${h.HashKV.hash}`)
    .sort();
  const nodes = await Promise.all(
    lab.nodes.map(async (n) => ({
      node: n.name,
      pid: (await labExec(lab, n.name, ['systemctl', 'show', '-p', 'MainPID', '--value', c.service])).stdout.trim(),
      active: (await labExec(lab, n.name, ['systemctl', 'is-active', c.service])).stdout.trim(),
      env: await fileIn(lab, n.name, c.envFile),
    })),
  );
  return { hashkv, nodes };
}

async function run(inventory: string, state: string, argv: string[]) {
  const r = await runCli([...argv, '-i', inventory, '--state-dir', state, '--yes', '--json']);
  return { code: r.code, err: r.code === 0 ? '' : `${r.stderr}\n${r.stdout.slice(-2000)}` };
}

describe.each([
  ['3.4', e2eNet(80)],
  ['3.5', e2eNet(81)],
] as const)('a kubespray master on etcd %s', (version, base) => {
  let lab: LabState;
  const state = tempDir();

  beforeAll(async () => {
    lab = await startLab(base, { etcd: version, profile: 'kubespray' });
    await loadKeys(lab, { keys: 300 });
    await loadKeys(lab, { keys: 300, prefix: '/registry/events/', clientPort: EVENTS_CLUSTER.clientPort });
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('has both clusters on every node, kubespray env lines, and inventories logging in as ops with sudo', async () => {
    for (const n of lab.nodes) {
      const pids = await Promise.all(['etcd', 'etcd-events'].map(async (s) => Number((await labExec(lab, n.name, ['systemctl', 'show', '-p', 'MainPID', '--value', s])).stdout.trim())));
      expect(pids.every((p) => p > 0) && pids[0] !== pids[1]).toBe(true);
      expect(await fileIn(lab, n.name, '/etc/etcd-events.env')).toContain(`ETCD_NAME=${n.name}-events\n`);
      // the main data dir is a volume of its own (a dedicated disk), the events one is not
      const mounts = await labExec(lab, n.name, ['sh', '-c', 'mountpoint -q /var/lib/etcd && echo etcd; mountpoint -q /var/lib/etcd-events && echo events; df -PT /var/lib/etcd | awk \'NR == 2 { print $2 }\'']);
      expect(mounts.stdout.trim().split('\n')).toEqual(['etcd', 'ext4']);
    }
    const env = await fileIn(lab, 'etcd1', '/etc/etcd.env');
    for (const line of ['ETCD_QUOTA_BACKEND_BYTES=', 'ETCD_MAX_REQUEST_BYTES=', 'ETCD_LOG_LEVEL=', 'ETCD_MAX_SNAPSHOTS=', 'ETCD_MAX_WALS=', 'ETCD_LISTEN_METRICS_URLS=', 'ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK=', 'ETCD_EXPERIMENTAL_WATCH_PROGRESS_NOTIFY_INTERVAL=', 'ETCDCTL_ENDPOINTS=https://127.0.0.1:2379\n', 'ETCDCTL_CERT=']) {
      expect(env).toContain(line);
    }
    expect(env).not.toMatch(/^ETCD_LISTEN_CLIENT_URLS=.*127\.0\.0\.1/m);
    for (const f of [lab.inventoryPath, lab.eventsInventoryPath!]) expect(readFileSync(f, 'utf8')).toMatch(/user: ops\n\s+become: true/);
  });

  describe.each([
    ['main', MAIN_CLUSTER, EVENTS_CLUSTER],
    ['events', EVENTS_CLUSTER, MAIN_CLUSTER],
  ] as const)('the %s cluster, while the other serves', (_label, c, other) => {
    const inv = () => (c.key === 'main' ? lab.inventoryPath : lab.eventsInventoryPath!);
    const m = (node: string) => `${node}${c.nameSuffix}`;
    let before: Map<string, string>;
    let otherBefore: Awaited<ReturnType<typeof fingerprint>>;

    /** every key still there, and these members as started voters */
    async function expectCluster(members: string[]) {
      const list = await membersOf(lab, members[0]!, c);
      expect(list.map((x) => x.name).sort()).toEqual(members.map(m).sort());
      expect(list.every((x) => x.voter && x.started)).toBe(true);
      expect(lostOrChanged(before, await keysOf(lab, members[members.length - 1]!, c))).toEqual([]);
    }

    beforeAll(async () => {
      before = await keysOf(lab, 'etcd1', c);
      expect(before.size).toBe(300);
      otherBefore = await fingerprint(lab, other);
    }, T);

    it('status shows a stopped member as stopped, with its db revision', async () => {
      expect((await labExec(lab, 'etcd1', ['systemctl', 'stop', c.service])).code).toBe(0);
      const r = await runCli(['status', '-i', inv(), '--json']);
      const facts = JSON.parse(r.stdout) as { nodes: { name: string; service: string; processRunning: boolean; dataDir?: { db?: { revision: number } } }[] };
      const n1 = facts.nodes.find((n) => n.name === m('etcd1'))!;
      expect({ service: n1.service, processRunning: n1.processRunning }).toEqual({ service: 'inactive', processRunning: false });
      expect(n1.dataDir?.db?.revision).toBeGreaterThan(1);
      table.add({
        fault: `etcd ${version}: ${m('etcd1')}'s unit ${c.service} stopped while ${other.service} runs on the same host (the same etcd binary)`,
        expected: 'status shows the member stopped and reads its db revision (the survivor choice keeps its evidence)',
        seen: `status: ${m('etcd1')} service ${n1.service}, process running ${n1.processRunning}, db revision ${n1.dataDir?.db?.revision}`,
        pass: true,
      });
    }, T);

    /** one row of the fault table for a change that completed, with its time */
    function row(what: string, expected: string, ms: number) {
      table.add({ fault: `etcd ${version}: ${what} on the ${c.key} cluster while ${other.service} serves on every node`, expected, seen: `exit 0 in ${(ms / 1000).toFixed(1)} s; members ${[1, 2, 3].map((i) => m(`etcd${i}`)).join(', ')} voting and started; 300 of 300 keys kept`, pass: true });
    }

    it('replace of the stopped member completes', async () => {
      const t = Date.now();
      expect(await run(inv(), state, ['replace', '--member', m('etcd1')])).toEqual({ code: 0, err: '' });
      await expectCluster(['etcd1', 'etcd2', 'etcd3']);
      row(`replace --member ${m('etcd1')} (stopped)`, 'the member is removed and added again; the other cluster untouched', Date.now() - t);
    }, T);

    it('scale-in of a member, then scale-out of its node, complete', async () => {
      const t = Date.now();
      expect(await run(inv(), state, ['scale-in', '--member', m('etcd3')])).toEqual({ code: 0, err: '' });
      await expectCluster(['etcd1', 'etcd2']);
      expect((await labExec(lab, 'etcd3', ['systemctl', 'is-active', c.service])).stdout.trim()).toBe('inactive');
      expect(await run(inv(), state, ['scale-out', '--node', m('etcd3')])).toEqual({ code: 0, err: '' });
      await expectCluster(['etcd1', 'etcd2', 'etcd3']);
      row(`scale-in --member ${m('etcd3')}, then scale-out --node ${m('etcd3')}`, `the stop step waits for this member's etcd only (before: "stop etcd failed" after 61 s, as ${other.service} runs there), then the node joins again`, Date.now() - t);
    }, T);

    it('recover of the whole cluster, every member stopped, completes', async () => {
      await Promise.all(lab.nodes.map(async (n) => expect((await labExec(lab, n.name, ['systemctl', 'stop', c.service])).code).toBe(0)));
      const t = Date.now();
      expect(await run(inv(), state, ['recover'])).toEqual({ code: 0, err: '' });
      await expectCluster(['etcd1', 'etcd2', 'etcd3']);
      row('every member stopped, then recover', 'the survivor is chosen from the stopped members\' db revisions (before: "the revision of no candidate\'s data could be read") and the cluster recovered', Date.now() - t);
    }, T);

    it('left the other cluster untouched: same processes, revision, hashkv and env files', async () => {
      const after = await fingerprint(lab, other);
      expect(after).toEqual(otherBefore);
      table.add({
        fault: `etcd ${version}: status, replace, scale-in, scale-out and recover of the ${c.key} cluster`,
        expected: `the ${other.key} cluster on the same hosts is untouched: its etcd processes not restarted, same revision and hashkv on every member, env files unchanged`,
        seen: `${other.service} main PIDs ${after.nodes.map((n) => n.pid).join(', ')} (unchanged); ${after.hashkv.join('; ')} (unchanged); ${other.envFile} unchanged on ${after.nodes.length} nodes`,
        pass: true,
      });
    }, T);
  });

  // the drill's injection (stop, move aside) and recovery, on one cluster per version while the other serves
  const drilled = version === '3.4' ? EVENTS_CLUSTER : MAIN_CLUSTER;
  const spared = drilled === MAIN_CLUSTER ? EVENTS_CLUSTER : MAIN_CLUSTER;
  it(`drill majority-lost on the ${drilled.key} cluster passes while the ${spared.key} one serves untouched`, async () => {
    const before = await fingerprint(lab, spared);
    const dir = tempDir();
    const report = join(dir, 'drill.json');
    const inventory = drilled === MAIN_CLUSTER ? lab.inventoryPath : lab.eventsInventoryPath!;
    const r = await runCli(['drill', '-i', inventory, '--scenario', 'majority-lost', '--yes', '--state-dir', join(dir, 'state'), '--report', report]);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as DrillReport;
    expect({ code: r.code, failed: rep.checks.filter((x) => !x.pass) }).toEqual({ code: 0, failed: [] });
    expect(rep.before!.keys).toBe(300);
    expect(await fingerprint(lab, spared)).toEqual(before);
    table.add({
      fault: `etcd ${version}: drill majority-lost on the ${drilled.key} cluster (its etcd stopped everywhere, all but one data dir moved aside) while ${spared.service} serves`,
      expected: `the drill passes: every key back, the ${spared.key} cluster untouched (processes, revision, hashkv, env files)`,
      seen: `drill exit 0, ${rep.checks.length} checks passed, ${rep.after!.keys} keys after (${rep.before!.keys} before), RTO ${((rep.timings.totalMs ?? 0) / 1000).toFixed(1)} s; ${spared.key} cluster unchanged`,
      pass: true,
    });
  }, T);
});
