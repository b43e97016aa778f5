/**
 * `etcd-dr status` against the real lab: healthy, degraded, quorum lost (revisions read from the stopped
 * members' dbs), a changed host key, through a jump host, and as a non-root user with sudo; healthy and
 * quorum lost again on etcd 3.5, whose stopped dbs the probe reads with etcdutl.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify, parse } from 'yaml';
import { breakAllDown, loadKeys, powerOff, powerOn, labExec, type LabState } from '../../src/lab/index.js';
import { runFile } from '../../src/lab/run.js';
import type { ClusterFacts } from '../../src/facts/types.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { cutPeerTraffic } from '../support/partition.js';
import { e2eNet } from '../support/net.js';

const T = 180_000;
let lab: LabState;

beforeAll(async () => {
  lab = await startLab(e2eNet(12));
  await loadKeys(lab, { keys: 500 });
}, T);
afterAll(async () => stopLab(lab), T);

async function status(inventory = lab.inventoryPath, extra: string[] = []) {
  const r = await runCli(['status', '-i', inventory, '--json', ...extra]);
  const facts = r.stdout ? (JSON.parse(r.stdout) as ClusterFacts) : undefined;
  return { ...r, facts };
}

/** A copy of the lab inventory with `edit` applied to its YAML document. */
function inventoryWith(edit: (doc: Record<string, any>) => void): string {
  const doc = parse(readFileSync(lab.inventoryPath, 'utf8')) as Record<string, any>;
  edit(doc);
  const file = join(tempDir(), 'inventory.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

describe('status on the lab', () => {
  it('healthy: 3 voting members, one leader, ids as hex strings, exit 0', async () => {
    const r = await status();
    expect(r.code).toBe(0);
    const f = r.facts!;
    expect(f.assessment.verdict).toBe('healthy');
    expect(f.assessment.members).toHaveLength(3);
    expect(f.assessment.leader).toMatch(/^[0-9a-f]{16}$/);
    for (const n of f.nodes) {
      expect(n.reachable).toBe(true);
      expect(n.service).toBe('active');
      expect(n.endpoint?.memberId).toMatch(/^[0-9a-f]{16}$/);
      expect(n.endpoint?.clusterId).toBe(f.assessment.clusterId);
      expect(n.versions.etcd?.raw).toBe('3.4.23');
      expect(n.env?.vars.ETCD_INITIAL_CLUSTER?.split(',')).toHaveLength(3);
      expect(n.dataDir?.walClusterId).toBe(f.assessment.clusterId);
      expect(n.healthy).toBe(true);
    }
    // the table for people says the same
    const t = await runCli(['status', '-i', lab.inventoryPath]);
    expect(t.stdout).toContain('verdict: HEALTHY');
  }, T);

  /** Polls status until the cluster is healthy again (a powered-on member catching up), at most a minute. */
  async function untilHealthy() {
    const deadline = Date.now() + 60_000;
    let r = await status();
    while (r.code !== 0 && Date.now() < deadline) r = await status();
    expect(r.facts!.assessment.verdict).toBe('healthy');
  }

  /** The node of the member that leads now, and one that follows. */
  async function roles() {
    const r = await status();
    expect(r.code).toBe(0);
    const f = r.facts!;
    const leader = f.nodes.find((n) => n.endpoint?.memberId === f.assessment.leader)!;
    const follower = f.nodes.find((n) => n !== leader)!;
    return { leader: leader.name, follower: follower.name };
  }

  it('degraded with a follower powered off; the others are still probed; exit 5', async () => {
    const { follower } = await roles();
    await powerOff(lab, follower);
    try {
      const r = await status();
      expect(r.code).toBe(5);
      expect(r.facts!.assessment.verdict).toBe('degraded');
      const off = r.facts!.nodes.find((n) => n.name === follower)!;
      expect(off.reachable).toBe(false);
      expect(off.error).toMatch(/ECONNREFUSED|cannot reach/);
      expect(r.facts!.nodes.filter((n) => n.healthy)).toHaveLength(2);
      expect(r.facts!.assessment.reasons.join()).toContain(`down: ${follower}`);
      // the leader still leads: nothing to wait out
      expect(r.facts!.assessment.notes.join()).not.toContain('leader election');
      expect(r.facts!.assessment.electionWait).toBeUndefined();
    } finally {
      await powerOn(lab, follower);
    }
    await untilHealthy();
  }, T);

  it('degraded, not quorum-lost, right after the leader is powered off: status waits out the election, and a recovery is refused', async () => {
    const { leader } = await roles();
    await powerOff(lab, leader);
    try {
      // the lab's election timeout is kubespray's 5 s: the two members left cannot serve until they
      // notice the leader is gone and elect one of them, and this status starts well inside that time;
      // so does a recovery plan, which must not take the election for a lost quorum
      const [r, plan] = await Promise.all([status(), runCli(['plan', 'recover', '-i', lab.inventoryPath])]);
      expect(plan.code).toBe(3);
      expect(plan.stderr).toContain('the cluster is degraded, not quorum-lost');
      expect(r.code).toBe(5);
      const a = r.facts!.assessment;
      expect(a.verdict).toBe('degraded');
      expect(a.reasons.join()).toContain(`down: ${leader}`);
      expect(a.notes.join()).toMatch(/no quorum answered the first probe; degraded after \d+\.\d s waiting for a leader election \(\d+ more probes?\)/);
      expect(a.electionWait).toMatchObject({ limitMs: 12_000 });
      expect(a.electionWait!.probes).toBeGreaterThanOrEqual(1);
      expect(a.electionWait!.waitedMs).toBeLessThan(12_000 + 3_500);
      // and the person at the terminal was told why it takes longer (12 s at most: 2 × 5 s + 2 s)
      expect(r.stderr).toMatch(/run but too few serve: waiting up to 12 s for a leader election before calling the quorum lost/);
      const newLeader = r.facts!.nodes.find((n) => n.endpoint?.memberId === a.leader);
      expect(newLeader?.name).toBeDefined();
      expect(newLeader!.name).not.toBe(leader);
      expect(r.facts!.nodes.filter((n) => n.healthy)).toHaveLength(2);
    } finally {
      await powerOn(lab, leader);
    }
    await untilHealthy();
  }, T);

  it('quorum-lost when a majority runs but its peers are cut off: the election wait ends and says why; exit 6', async () => {
    await labExec(lab, 'etcd3', ['systemctl', 'stop', 'etcd']);
    const undo = await cutPeerTraffic([lab.nodes[0]!.address, lab.nodes[1]!.address]);
    try {
      const r = await status();
      expect(r.code).toBe(6);
      const a = r.facts!.assessment;
      expect(a.verdict).toBe('quorum-lost');
      // both answer their own endpoint status: running, but not serving
      for (const name of ['etcd1', 'etcd2']) {
        const n = r.facts!.nodes.find((x) => x.name === name)!;
        expect(n.endpoint?.memberId).toMatch(/^[0-9a-f]{16}$/);
        expect(n.healthy).toBe(false);
      }
      expect(a.reasons.join('\n')).toMatch(
        /a majority of the voting members runs, but 0 of the 2 needed served a read within \d+\.\d s \(\d+ more probes?\); that is longer than a leader election takes/,
      );
      // the wait is bounded by the env files' election timeout (kubespray's 5 s): 2 × 5 s + 2 s
      const waited = Number(a.reasons.join().match(/within (\d+\.\d) s/)![1]);
      expect(waited).toBeGreaterThanOrEqual(12);
      expect(a.electionWait).toMatchObject({ limitMs: 12_000 });
      expect(a.electionWait!.waitedMs).toBeGreaterThanOrEqual(12_000);
    } finally {
      await undo();
      await labExec(lab, 'etcd3', ['systemctl', 'start', '--no-block', 'etcd']);
    }
    await untilHealthy();
  }, T);

  it('quorum-lost with all etcd stopped: revisions and key counts come from the stopped dbs; exit 6', async () => {
    const before = await status();
    expect(before.code).toBe(0);
    const revision = before.facts!.nodes[0]!.endpoint!.revision;
    await breakAllDown(lab);
    try {
      const r = await status();
      expect(r.code).toBe(6);
      expect(r.facts!.assessment.verdict).toBe('quorum-lost');
      expect(r.facts!.assessment.reasons.join()).toContain('no etcd member is running');
      for (const n of r.facts!.nodes) {
        expect(n.service).toBe('inactive');
        expect(n.endpoint).toBeUndefined();
        expect(n.dataDir?.db?.revision).toBe(revision);
        expect(n.dataDir?.db?.totalKey).toBeGreaterThan(500);
        expect(n.dataDir?.walClusterId).toBe(before.facts!.assessment.clusterId);
      }
    } finally {
      await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, ['systemctl', 'start', '--no-block', 'etcd'])));
    }
    // back to healthy once every member serves again
    await untilHealthy();
  }, T);

  it('refuses a changed host key, naming both SHA256 fingerprints; exit 3', async () => {
    const dir = tempDir();
    const other = join(dir, 'other');
    const kg = await runFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other], { timeout: 30 });
    expect(kg.code).toBe(0);
    const fake = readFileSync(`${other}.pub`, 'utf8').trim().split(' ').slice(0, 2).join(' ');
    const known = readFileSync(lab.knownHostsFile, 'utf8')
      .split('\n')
      .map((l) => (l.startsWith(`${lab.nodes[1]!.address} `) ? `${lab.nodes[1]!.address} ${fake}` : l))
      .join('\n');
    const knownFile = join(dir, 'known_hosts');
    writeFileSync(knownFile, known);
    const inv = inventoryWith((d) => (d.ssh.knownHostsFile = knownFile));
    const r = await status(inv);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/etcd2/);
    expect((r.stderr.match(/SHA256:[A-Za-z0-9+/]{43}/g) ?? []).length).toBeGreaterThanOrEqual(2);
    // --accept-new-host-keys does not accept a changed key
    const again = await status(inv, ['--accept-new-host-keys']);
    expect(again.code).toBe(3);
  }, T);

  it('refuses an unknown host key unless --accept-new-host-keys, which records it', async () => {
    const knownFile = join(tempDir(), 'known_hosts');
    writeFileSync(knownFile, '');
    const inv = inventoryWith((d) => (d.ssh.knownHostsFile = knownFile));
    const r = await status(inv);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/--accept-new-host-keys/);
    const ok = await status(inv, ['--accept-new-host-keys']);
    expect(ok.code).toBe(0);
    const recorded = readFileSync(knownFile, 'utf8');
    for (const n of lab.nodes) expect(recorded).toContain(`${n.address} ssh-ed25519 `);
    expect((await status(inv)).code).toBe(0);
  }, T);

  it('works through a jump host (etcd1 as the bastion for the others)', async () => {
    const jump = lab.nodes[0]!.address;
    const inv = inventoryWith((d) => (d.ssh.jumpHost = `root@${jump}:22`));
    const r = await status(inv, ['--log-level', 'debug']);
    expect(r.code).toBe(0);
    expect(r.facts!.assessment.verdict).toBe('healthy');
    // every node's connection went through the jump host
    for (const n of lab.nodes) expect(r.stderr).toMatch(new RegExp(`${n.name}: connected .*via=root@${jump.replace(/\./g, '\\.')}`));
  }, T);

  it('works as a non-root user with passwordless sudo (become: true)', async () => {
    const inv = inventoryWith((d) => {
      d.ssh.user = 'ops';
      d.ssh.become = true;
    });
    const r = await status(inv);
    expect(r.code).toBe(0);
    // reading the admin keys and the data dir needs root: the probe ran through sudo
    expect(r.facts!.nodes.every((n) => n.healthy && n.dataDir?.hasDb)).toBe(true);
    // without become, the same user cannot read the TLS keys: etcdctl fails, and status says so
    const noBecome = inventoryWith((d) => (d.ssh.user = 'ops'));
    const r2 = await status(noBecome);
    expect(r2.code).not.toBe(0);
    expect(r2.facts!.nodes.some((n) => n.warnings.length > 0)).toBe(true);
  }, T);
});

describe('status on an etcd 3.5 lab (etcdutl beside etcdctl)', () => {
  let lab35: LabState;
  beforeAll(async () => {
    lab35 = await startLab(e2eNet(75), { etcd: '3.5' });
    await loadKeys(lab35, { keys: 300 });
  }, T);
  afterAll(async () => stopLab(lab35), T);

  it('healthy with the three tools\' versions; all stopped: quorum-lost, revisions read from the stopped dbs', async () => {
    const healthy = await status(lab35.inventoryPath);
    expect(healthy.code).toBe(0);
    expect(healthy.facts!.assessment.verdict).toBe('healthy');
    for (const n of healthy.facts!.nodes) {
      expect([n.versions.etcd?.raw, n.versions.etcdctl?.raw, n.versions.etcdutl?.raw]).toEqual(['3.5.30', '3.5.30', '3.5.30']);
      expect(n.endpoint?.memberId).toMatch(/^[0-9a-f]{16}$/);
      expect(n.healthy).toBe(true);
    }
    const revision = healthy.facts!.nodes[0]!.endpoint!.revision;
    await breakAllDown(lab35);
    try {
      const r = await status(lab35.inventoryPath);
      expect(r.code).toBe(6);
      expect(r.facts!.assessment.verdict).toBe('quorum-lost');
      for (const n of r.facts!.nodes) {
        expect(n.service).toBe('inactive');
        expect(n.dataDir?.db?.revision).toBe(revision);
        expect(n.dataDir?.db?.totalKey).toBeGreaterThan(300);
        expect(n.dataDir?.walClusterId).toBe(healthy.facts!.assessment.clusterId);
      }
    } finally {
      await Promise.all(lab35.nodes.map((n) => labExec(lab35, n.name, ['systemctl', 'start', '--no-block', 'etcd'])));
    }
  }, T);
});
