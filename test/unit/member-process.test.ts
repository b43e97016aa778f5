/**
 * "This member's etcd, and only it": the shell functions every check uses, run in sh against a fake
 * systemctl and real processes named etcd (a copy of bash, so its command line and environment are
 * ours to set). Another cluster's etcd on the same host (kubespray's etcd-events) never counts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeSpec } from '../../src/inventory/types.js';
import { MEMBER_PID, memberFunctions, memberRunsScript } from '../../src/facts/member-process.js';
import { stopScript } from '../../src/plan/scripts.js';
import { nodeSpec } from '../support/facts.js';

let dir: string;
let bin: string;
const procs: ChildProcess[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-member-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
  // a process whose comm is "etcd": bash under that name, sleeping
  copyFileSync('/bin/bash', join(bin, 'etcd'));
  chmodSync(join(bin, 'etcd'), 0o755);
});
afterEach(() => {
  for (const p of procs.splice(0)) p.kill('SIGKILL');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** systemctl that says the unit's MainPID is `pid` (0: not running) */
function fakeSystemctl(pid: number): void {
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho ${pid}\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
}

/** a running "etcd" with these extra arguments and environment variables */
async function etcdProcess(args: string[], env: Record<string, string> = {}): Promise<number> {
  const p = spawn(join(bin, 'etcd'), ['-c', 'sleep 30; :', ...args], { env: { PATH: '/usr/bin:/bin', ...env }, stdio: 'ignore' });
  procs.push(p);
  await new Promise((r) => setTimeout(r, 100));
  return p.pid!;
}

function memberPid(n: NodeSpec): string {
  const r = spawnSync('sh', ['-c', `${memberFunctions(n)}\n${MEMBER_PID} || echo none`], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
  return r.stdout.trim();
}

/** node 5 of the test inventory with this data dir (unique: other etcd processes may run on this host) */
function member(dataDir: string, peerPort = 2380): NodeSpec {
  const n = nodeSpec(5);
  return { ...n, etcd: { ...n.etcd, dataDir, peerPort } };
}

describe("this member's etcd process", () => {
  it('is the unit main PID when the service manager names one', async () => {
    const pid = await etcdProcess([]);
    fakeSystemctl(pid);
    expect(memberPid(member(join(dir, 'main')))).toBe(String(pid));
  });

  it.each([
    ['--data-dir=<dir>', (d: string) => [`--data-dir=${d}`], {}],
    ['--data-dir <dir>/ (separate argument, trailing slash)', (d: string) => ['--data-dir', `${d}/`], {}],
    ['-data-dir=<dir>', (d: string) => [`-data-dir=${d}`], {}],
    ['ETCD_DATA_DIR in its environment (an EnvironmentFile)', () => [], (d: string) => ({ ETCD_DATA_DIR: d })],
  ] as const)('outside its unit, is the etcd whose data dir is the member\'s: %s', async (_label, args, env) => {
    fakeSystemctl(0);
    const d = join(dir, `by-hand-${Math.random().toString(36).slice(2)}`);
    const pid = await etcdProcess(args(d), typeof env === 'function' ? env(d) : env);
    expect(memberPid(member(d))).toBe(String(pid));
    // another cluster's data dir beside it (kubespray's /var/lib/etcd-events next to /var/lib/etcd)
    expect(memberPid(member(`${d}-events`))).toBe('none');
    expect(memberPid(member(d.slice(0, -1)))).toBe('none');
  });

  it("outside its unit, is the etcd listening on the member's own peer URL, and only that one", async () => {
    fakeSystemctl(0);
    const n = member(join(dir, 'peer-only'), 2392);
    const pid = await etcdProcess([], { ETCD_LISTEN_PEER_URLS: `https://127.0.0.9:2380,https://${n.address}:2392` });
    expect(memberPid(n)).toBe(String(pid));
    expect(memberPid({ ...n, etcd: { ...n.etcd, peerPort: 2393 } })).toBe('none');
  });

  it('is none when only another cluster runs, and the running check says so', async () => {
    fakeSystemctl(0);
    const d = join(dir, 'main2');
    await etcdProcess([`--data-dir=${d}-events`, '--listen-peer-urls=https://127.0.0.99:2382']);
    expect(memberPid(member(d))).toBe('none');
    const r = spawnSync('sh', ['-c', memberRunsScript(member(d))], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin` } });
    expect(r.stdout.trim()).toBe('etcd-dr:not-running');
  });
});

describe('the stop step', () => {
  /** a service manager whose unit is stopped and runs nothing */
  function stoppedUnit(): void {
    writeFileSync(join(bin, 'systemctl'), '#!/bin/sh\ncase $1 in show) echo 0 ;; is-active) echo inactive; exit 3 ;; esac\nexit 0\n');
    chmodSync(join(bin, 'systemctl'), 0o755);
  }
  const stop = (n: NodeSpec) => spawnSync('sh', ['-c', stopScript(n, 5)], { encoding: 'utf8', env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin` } });

  it("sends SIGTERM to this member's etcd running outside its unit (started by hand), then says stopped", async () => {
    stoppedUnit();
    const d = join(dir, 'by-hand-stop');
    const pid = await etcdProcess([`--data-dir=${d}`]);
    const r = stop(member(d));
    expect({ code: r.status, out: r.stdout.trim().split('\n').pop() }).toEqual({ code: 0, out: 'etcd-dr:stopped' });
    expect(r.stderr).toContain(`this member's etcd (pid ${pid}) runs outside etcd; sending it SIGTERM`);
  });

  it("neither waits for nor touches another cluster's etcd on the host", async () => {
    stoppedUnit();
    const d = join(dir, 'main-stop');
    const other = await etcdProcess([`--data-dir=${d}-events`]);
    const r = stop(member(d));
    expect({ code: r.status, out: r.stdout.trim(), err: r.stderr }).toEqual({ code: 0, out: 'etcd-dr:stopped', err: '' });
    expect(spawnSync('kill', ['-0', String(other)]).status).toBe(0);
  });
});
