/**
 * The local lab, for real: namespaces, overlays, sshd, etcd with TLS. Each suite builds its own lab
 * in a temp dir on its own addresses and removes it at the end, whatever happened.
 */
import { mkdtempSync, readFileSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import {
  breakAllDown, etcdctlInNode, labDown, labExec, labNodeProcesses, labStatus, labUp, loadKeys, powerOff, powerOn, type LabState,
} from '../../src/lab/index.js';
import { runFile } from '../../src/lab/run.js';
import { tcpAnswers } from '../../src/lab/node.js';
import { sleep } from '../../src/lab/procs.js';
import { e2eNet } from '../support/net.js';

const quietLog = () => undefined;
// jest's per-project testTimeout does not reach these tests, so every hook and test names its own
const T = 180_000;

/** The real OpenSSH client, strict about host keys, as a user of the lab would run it. */
async function ssh(s: LabState, address: string, command: string, user = 'root') {
  return runFile(
    'ssh',
    ['-i', s.identityFile, '-o', `UserKnownHostsFile=${s.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
      '-o', 'ConnectTimeout=5', `${user}@${address}`, command],
    { timeout: 120 },
  );
}

/** etcdctl as the operator types it on a node, with that host's admin certificate. */
function ctl(host: string, endpoints: string): string {
  return `ETCDCTL_API=3 etcdctl --endpoints=${endpoints} --cacert=/etc/ssl/etcd/ssl/ca.pem --cert=/etc/ssl/etcd/ssl/admin-${host}.pem --key=/etc/ssl/etcd/ssl/admin-${host}-key.pem`;
}

async function sshOk(s: LabState, address: string, command: string, user = 'root'): Promise<string> {
  const r = await ssh(s, address, command, user);
  if (r.code !== 0) throw new Error(`ssh ${user}@${address} '${command}' exited ${String(r.code)}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Poll until fn() resolves true (real signals only; no fixed sleeps). */
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Every trace of a lab on the host: processes naming its dir, processes in its nodes, host mounts from it. */
async function tracesOf(dir: string): Promise<string[]> {
  const traces: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmd = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(`${dir}/`) || cmd.includes(` ${dir} `)) traces.push(`pid ${name}: ${cmd}`);
    } catch {
      // gone
    }
  }
  for (const [host, procs] of labNodeProcesses(dir)) for (const p of procs) if (p.state !== 'Z') traces.push(`${host} pid ${p.pid} ${p.comm}`);
  const mounts = await runFile('findmnt', ['-rn', '-o', 'TARGET,FSTYPE,OPTIONS']);
  for (const line of mounts.stdout.split('\n')) if (line.includes(dir)) traces.push(`mount: ${line}`);
  return traces;
}

function capture() {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _e, cb) {
      text += chunk.toString('utf8');
      cb();
    },
  });
  return { stream, text: () => text };
}

async function cli(args: string[]) {
  const out = capture();
  const err = capture();
  const code = await main(args, { stdout: out.stream, stderr: err.stream, env: process.env, cwd: process.cwd(), isTTY: false });
  return { code, stdout: out.text(), stderr: err.text() };
}

describe('lab with etcd 3.4 (3 nodes)', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'etcd-dr-lab-e2e-')), 'lab');
  let s: LabState;
  let coldMs = 0;

  beforeAll(async () => {
    const t0 = Date.now();
    s = await labUp({ dir, nodes: 3, etcd: '3.4', addressBase: e2eNet(11), log: quietLog });
    coldMs = Date.now() - t0;
  }, T);

  afterAll(async () => {
    await labDown({ dir, purge: true, log: quietLog });
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }, T);

  it('comes up as a healthy 3-member TLS cluster reachable over SSH, in seconds', async () => {
    expect(coldMs).toBeLessThan(30_000);
    expect(s.nodes.map((n) => [n.name, n.host, n.address, n.poweredOn])).toEqual([
      ['etcd1', 'k2-master01', `${e2eNet(11)}1`, true],
      ['etcd2', 'k2-master02', `${e2eNet(11)}2`, true],
      ['etcd3', 'k2-master03', `${e2eNet(11)}3`, true],
    ]);
    const table = await sshOk(s, `${e2eNet(11)}1`, `${ctl('k2-master01', `https://${e2eNet(11)}1:2379`)} member list -w table`);
    for (const n of s.nodes) expect(table).toMatch(new RegExp(`\\| started \\| ${n.name} \\| https://${n.address.replace(/\./g, '\\.')}:2380 `));
    expect(table.match(/\| started \|/g)).toHaveLength(3);

    const all = s.nodes.map((n) => `https://${n.address}:2379`).join(',');
    const health = await ssh(s, `${e2eNet(11)}2`, `${ctl('k2-master02', all)} endpoint health`);
    expect(health.code).toBe(0);
    expect(`${health.stdout}${health.stderr}`.match(/is healthy/g)).toHaveLength(3);

    // plain http and a client without a certificate are refused: it really is kubespray's TLS setup
    const noCert = await ssh(s, `${e2eNet(11)}1`, `ETCDCTL_API=3 etcdctl --endpoints=https://${e2eNet(11)}1:2379 --cacert=/etc/ssl/etcd/ssl/ca.pem --command-timeout=3s get /x`);
    expect(noCert.code).not.toBe(0);

    const env = await sshOk(s, `${e2eNet(11)}3`, 'hostname; cat /etc/etcd.env; stat -c %a /var/lib/etcd');
    expect(env).toMatch(/^k2-master03\n/);
    expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
    expect(env).toContain(`ETCD_LISTEN_CLIENT_URLS=https://${e2eNet(11)}3:2379\n`);
    expect(env).toContain(`ETCD_INITIAL_CLUSTER=etcd1=https://${e2eNet(11)}1:2380,etcd2=https://${e2eNet(11)}2:2380,etcd3=https://${e2eNet(11)}3:2380\n`);
    expect(env.trim().endsWith('700')).toBe(true);

    const inventory = readFileSync(s.inventoryPath, 'utf8');
    expect(inventory).toContain(`identityFile: ${dir}/id_ed25519`);
    expect(inventory).toContain(`    host: k2-master02\n    address: ${e2eNet(11)}2\n`);
    expect(readFileSync(s.knownHostsFile, 'utf8').trim().split('\n').map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(
      s.nodes.map((n) => `${n.address} ssh-ed25519`),
    );
  }, T);

  it('gives ops passwordless sudo, and sudo and ssh sessions the lab etcd first on PATH', async () => {
    const out = await sshOk(s, `${e2eNet(11)}1`, 'id -un; sudo -n id -u; sudo -n etcdctl version | head -n 1; command -v etcd', 'ops');
    expect(out.split('\n').slice(0, 4)).toEqual(['ops', '0', 'etcdctl version: 3.4.23', '/usr/local/bin/etcd']);
    expect(await sshOk(s, `${e2eNet(11)}1`, 'systemctl is-active etcd; sudo -n systemctl is-active etcd', 'ops')).toBe('active\nactive\n');
    // like systemctl without polkit: only root changes a unit
    const denied = await ssh(s, `${e2eNet(11)}1`, 'systemctl stop etcd', 'ops');
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain('Access denied');
  }, T);

  it('gives every node its own disk: rm -rf of the data dir and sed -i on a stopped member touch no other node', async () => {
    const before = await sshOk(s, `${e2eNet(11)}3`, [
      'systemctl stop etcd', 'systemctl is-active etcd || true',
      'cp -a /var/lib/etcd /root/etcd-keep', 'cp -p /etc/etcd.env /root/etcd.env-keep',
      'rm -rf /var/lib/etcd', "sed -i 's/^ETCD_SNAPSHOT_COUNT=.*/ETCD_SNAPSHOT_COUNT=777/' /etc/etcd.env",
      'test ! -e /var/lib/etcd && echo data-gone', 'grep ^ETCD_SNAPSHOT_COUNT= /etc/etcd.env',
    ].join(' && '));
    expect(before).toBe('inactive\ndata-gone\nETCD_SNAPSHOT_COUNT=777\n');
    for (const a of [`${e2eNet(11)}1`, `${e2eNet(11)}2`]) {
      expect(await sshOk(s, a, 'test -d /var/lib/etcd/member/wal && echo data-here; grep ^ETCD_SNAPSHOT_COUNT= /etc/etcd.env; test -e /root/etcd-keep || echo root-is-private')).toBe(
        'data-here\nETCD_SNAPSHOT_COUNT=10000\nroot-is-private\n',
      );
    }
    // the host itself is untouched too
    expect(existsSync('/etc/etcd.env')).toBe(false);
    expect(existsSync('/etc/ssl/etcd')).toBe(false);

    // put the member back (rename over, across mounts) and start it the way an operator would
    await sshOk(s, `${e2eNet(11)}3`, 'mv /root/etcd-keep /var/lib/etcd && mv /root/etcd.env-keep /etc/etcd.env && systemctl start etcd && systemctl is-active etcd');
    const list = await sshOk(s, `${e2eNet(11)}3`, `${ctl('k2-master03', `https://${e2eNet(11)}3:2379`)} member list`);
    expect(list.match(/, started, /g)).toHaveLength(3);
    expect(await sshOk(s, `${e2eNet(11)}3`, 'grep ^ETCD_SNAPSHOT_COUNT= /etc/etcd.env')).toBe('ETCD_SNAPSHOT_COUNT=10000\n');
  }, T);

  it('keeps a node\'s data across power-off and power-on, and the member rejoins', async () => {
    expect((await etcdctlInNode(s, 'etcd1', ['put', '/e2e/power', 'before'])).code).toBe(0);
    const dbBefore = await sshOk(s, `${e2eNet(11)}2`, 'ls /var/lib/etcd/member/snap/db');

    s = await powerOff(s, 'etcd2');
    expect(s.nodes[1]!.poweredOn).toBe(false);
    expect(labNodeProcesses(dir).get('k2-master02')).toBeUndefined();
    expect(await tcpAnswers(`${e2eNet(11)}2`, 22)).toBe(false);
    expect(await tcpAnswers(`${e2eNet(11)}2`, 2379)).toBe(false);
    expect((await ssh(s, `${e2eNet(11)}2`, 'true')).code).not.toBe(0);
    // quorum holds with two of three (after an election if etcd2 led); a write while it is off must reach it later
    await until('a write with etcd2 off', async () => (await etcdctlInNode(s, 'etcd3', ['put', '/e2e/while-off', 'yes'], { timeout: 20 })).code === 0);

    s = await powerOn(s, 'k2-master02');
    expect(s.nodes[1]!.poweredOn).toBe(true);
    // same host key: the strict ssh client still trusts it
    expect(await sshOk(s, `${e2eNet(11)}2`, 'ls /var/lib/etcd/member/snap/db')).toBe(dbBefore);
    await until('etcd2 to serve again', async () => (await etcdctlInNode(s, 'etcd2', ['endpoint', 'health'], { timeout: 10 })).code === 0);
    const local = await etcdctlInNode(s, 'etcd2', ['get', '--consistency=s', '--print-value-only', '/e2e/power']);
    expect(local.stdout).toBe('before\n');
    await until('etcd2 to catch up', async () => (await etcdctlInNode(s, 'etcd2', ['get', '--consistency=s', '--print-value-only', '/e2e/while-off'])).stdout === 'yes\n');
    expect(await sshOk(s, `${e2eNet(11)}2`, 'systemctl is-active etcd')).toBe('active\n');
  }, T);

  it('loads 2000 keys and 1 MiB values fast', async () => {
    const r = await loadKeys(s, { keys: 2000, mb: 2 });
    expect(r.keys).toBe(2000);
    expect(r.durationMs).toBeLessThan(5000);
    const keys = await etcdctlInNode(s, 'etcd3', ['get', '--prefix', '--keys-only', '/registry/lab/']);
    expect(keys.stdout.split('\n').filter(Boolean)).toHaveLength(2000);
    expect(keys.stdout).toContain('/registry/lab/key-000001\n');
    expect(keys.stdout).toContain('/registry/lab/key-002000\n');
    const blob = await etcdctlInNode(s, 'etcd1', ['get', '-w', 'json', '/registry/lab-blobs/blob-0002']);
    const kv = (JSON.parse(blob.stdout) as { kvs: { value: string }[] }).kvs[0]!;
    expect(Buffer.from(kv.value, 'base64').length).toBe(1024 * 1024);
    const rev = await etcdctlInNode(s, 'etcd1', ['endpoint', 'status', '-w', 'json']);
    expect(rev.stdout).toContain(`"revision":${r.revision}`);
  }, T);

  it('is idempotent: lab up on a running lab changes nothing and is fast', async () => {
    const t0 = Date.now();
    const again = await labUp({ dir, log: quietLog });
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(again.nodes.map((n) => n.sshdPid)).toEqual(s.nodes.map((n) => n.sshdPid));
  }, T);

  it('is driven by the CLI: status, exec, and a clear refusal of other parameters', async () => {
    const st = await cli(['lab', 'status', '--dir', dir, '--json']);
    expect(st.code).toBe(0);
    const parsed = JSON.parse(st.stdout) as { nodes: { name: string; etcd: string; sshdUp: boolean }[] };
    expect(parsed.nodes.map((n) => [n.name, n.etcd, n.sshdUp])).toEqual([
      ['etcd1', 'active', true],
      ['etcd2', 'active', true],
      ['etcd3', 'active', true],
    ]);
    const ex = await cli(['lab', 'exec', 'k2-master02', '--dir', dir, '--', 'sh', '-c', 'hostname; exit 3']);
    expect([ex.code, ex.stdout]).toEqual([3, 'k2-master02\n']);
    const other = await cli(['lab', 'up', '--dir', dir, '--nodes', '5']);
    expect(other.code).toBe(2);
    expect(other.stderr).toContain(`etcd-dr lab down --purge --dir ${dir}`);
    const unknown = await cli(['lab', 'power-off', 'etcd9', '--dir', dir]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no node "etcd9"/);
  }, T);

  it('break --scenario all-down stops etcd on every node', async () => {
    const r = await breakAllDown(s);
    expect(r.nodes.map((n) => n.etcd)).toEqual(['inactive', 'inactive', 'inactive']);
    const over = await ssh(s, `${e2eNet(11)}1`, 'systemctl is-active etcd');
    expect([over.code, over.stdout]).toEqual([3, 'inactive\n']);
    const st = await labStatus(s);
    expect(st.nodes.every((n) => n.poweredOn && n.sshdUp && n.etcd === 'inactive' && n.etcdPid === null)).toBe(true);
  }, T);

  it('lab down leaves nothing behind; lab up boots the same disks again, also after a crash', async () => {
    await labDown({ dir, log: quietLog });
    expect(await tracesOf(dir)).toEqual([]);
    expect(existsSync(join(dir, 'nodes', 'k2-master01', 'upper', 'var-lib', 'etcd', 'member'))).toBe(true);
    await labDown({ dir, log: quietLog }); // idempotent

    const t0 = Date.now();
    s = await labUp({ dir, log: quietLog });
    const warmMs = Date.now() - t0;
    expect(warmMs).toBeLessThan(30_000);
    // the count of a range is the total, whatever the limit
    const count = await etcdctlInNode(s, 'etcd2', ['get', '--prefix', '--keys-only', '--limit=1', '-w', 'json', '/registry/lab/']);
    expect(count.stdout).toContain('"count":2000');

    // a crash: every node's init killed behind the lab's back; lab.json still says on
    for (const n of s.nodes) process.kill(n.sshdPid!, 'SIGKILL');
    await until('the nodes to be gone', async () => labNodeProcesses(dir).size === 0, 10_000);
    expect((await labStatus({ dir })).nodes.map((n) => n.poweredOn)).toEqual([false, false, false]);
    s = await labUp({ dir, log: quietLog });
    expect(await sshOk(s, `${e2eNet(11)}1`, `${ctl('k2-master01', `https://${e2eNet(11)}1:2379`)} get --print-value-only /e2e/power`)).toBe('before\n');
    const ran = await labExec(s, `${e2eNet(11)}3`, ['cat', '/proc/1/comm']);
    expect(ran.stdout).toBe('sshd\n');
  }, T);
});

describe('lab with etcd 3.5', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'etcd-dr-lab35-e2e-')), 'lab');
  let s: LabState;

  beforeAll(async () => {
    s = await labUp({ dir, nodes: 3, etcd: '3.5', addressBase: e2eNet(26), log: quietLog });
  }, T);

  afterAll(async () => {
    await labDown({ dir, purge: true, log: quietLog });
    expect(await tracesOf(dir)).toEqual([]);
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }, T);

  it('runs etcd, etcdctl and etcdutl 3.5 in every node', async () => {
    expect(s.version).toBe('3.5');
    const out = await sshOk(s, `${e2eNet(26)}2`, 'etcd --version | head -n 1; etcdutl version | head -n 1; etcdctl version | head -n 1; sudo -n etcdutl version | head -n 1');
    expect(out).toBe('etcd Version: 3.5.30\netcdutl version: 3.5.30\netcdctl version: 3.5.30\netcdutl version: 3.5.30\n');
    const list = await sshOk(s, `${e2eNet(26)}1`, `${ctl('k2-master01', `https://${e2eNet(26)}1:2379`)} member list`);
    expect(list.match(/, started, /g)).toHaveLength(3);
    const st = await labStatus(s);
    expect(st.nodes.map((n) => n.etcd)).toEqual(['active', 'active', 'active']);
  }, T);
});
