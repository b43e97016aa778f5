/**
 * Security on the real lab (etcd 3.4, nodes on 127.0.67.*, a jump host sshd on 127.0.68.1), with an
 * encrypted SSH key whose passphrase, and an etcd password, sit in etcd-dr's environment throughout:
 *
 * - host keys: the jump host's unknown key is refused unless --accept-new-host-keys, a changed one always,
 *   with both fingerprints, before logging in; a changed node key refuses even `recover --yes
 *   --accept-new-host-keys`, and nothing on any node is touched;
 * - remote output that is not what etcd prints (a fake etcdctl first on one node's PATH: garbage, wrong
 *   JSON, 50 MB, terminal escape sequences): `status` reports that node's facts as unreadable (exit 5, no
 *   crash, nothing on the terminal acts), and `plan recover` will not guess a survivor past an unreadable db;
 * - the lock: a second `recover` while one runs is refused with the holder's run id and pid; two started at
 *   once leave exactly one holder; a holder killed with SIGKILL leaves a lock only --break-lock takes over;
 * - modes: with a umask of 000, every dir etcd-dr makes on the bastion is 0700 and every file 0600 (run
 *   files, db backup, its sha256, `plan -o`); a planted symlink at a plan's temp name is not written
 *   through; on the nodes every data dir, moved-aside dir and restore result is closed to group and others,
 *   even one that was world-readable before, and nothing else written there is world-readable but the lock;
 * - secrets: no passphrase, etcd password or private key line in any stdout, stderr, plan (text, markdown,
 *   JSON, saved), journal, log, summary or error message of the whole suite, nor in the db backup.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRuns, RunDir, type JournalEvent } from '../../src/apply/rundir.js';
import { breakAllDown, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import type { ClusterFacts } from '../../src/facts/types.js';
import { runCli, startLab, stopLab, tempDir, type CliRun } from '../support/cli.js';
import { keysOf, lostOrChanged } from '../support/keys.js';
import { TestSshd, makeKey } from '../support/sshd.js';
import { dots, e2eNet } from '../support/net.js';

const T = 300_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const tag = randomBytes(4).toString('hex');
// quotes, $, backslash and non-ASCII: every written form (as is, sh-quoted, JSON-escaped) is looked for
const PASSPHRASE = `pa$$ 'phrase' "x" \\ ü-${tag}`;
const ETCD_PASSWORD = `etcd-S3cret-'${tag}'-pw`;
const ENV = { ETCD_DR_SSH_PASSPHRASE: PASSPHRASE, ETCDCTL_USER: `root:${ETCD_PASSWORD}`, ETCDCTL_PASSWORD: ETCD_PASSWORD, SSH_AUTH_SOCK: '' };
/** What a terminal acts on: C0 controls but tab and newline, DEL, C1 controls, bidirectional overrides. */
const TERMINAL_ACTS_ON = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

let lab: LabState;
let work: string;
let inventory: string;
let keyBody: string[];
let jump: TestSshd;
let before: Map<string, string>;
/** every output etcd-dr gave in this suite, checked for secrets as it comes and listed for the last test */
const seen: { where: string; text: string }[] = [];
const children: ChildProcess[] = [];

function leakForms(secret: string): string[] {
  return [secret, secret.replaceAll("'", "'\\''"), JSON.stringify(secret).slice(1, -1), secret.slice(-12)];
}

function expectNoSecret(where: string, text: string | Buffer): void {
  const has = (f: string) => (typeof text === 'string' ? text.includes(f) : text.includes(Buffer.from(f)));
  for (const s of [PASSPHRASE, ETCD_PASSWORD]) for (const f of leakForms(s)) expect({ where, leaked: has(f) ? f : null }).toEqual({ where, leaked: null });
  for (const line of keyBody) expect({ where, keyLine: has(line) }).toEqual({ where, keyLine: false });
}

/** What every run must satisfy, whatever it did: no secret, no crash, nothing that acts on a terminal. */
function checkRun(where: string, r: CliRun): CliRun {
  seen.push({ where: `${where}: stdout`, text: r.stdout }, { where: `${where}: stderr`, text: r.stderr });
  expectNoSecret(`${where}: stdout`, r.stdout);
  expectNoSecret(`${where}: stderr`, r.stderr);
  expect({ where, crash: /internal error|\n\s+at \S+ \(/.test(r.stderr) }).toEqual({ where, crash: false });
  expect({ where, stdout: TERMINAL_ACTS_ON.test(r.stdout), stderr: TERMINAL_ACTS_ON.test(r.stderr) }).toEqual({ where, stdout: false, stderr: false });
  return r;
}

async function cli(argv: string[]): Promise<CliRun> {
  return checkRun(argv.slice(0, 2).join(' '), await runCli(argv, ENV));
}

/** etcd-dr in a process of its own (as a second operator would run it), optionally under another umask. */
function startChild(argv: string[], umask?: string): { proc: ChildProcess; result: Promise<CliRun> } {
  const [cmd, ...args] = umask ? ['sh', '-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, BIN, ...argv] : [process.execPath, BIN, ...argv];
  const proc = spawn(cmd!, args, { env: { ...process.env, CI: 'true', ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const result = new Promise<CliRun>((resolve) => proc.on('close', (code, signal) => resolve({ code: code ?? (signal === 'SIGKILL' ? 137 : -1), stdout, stderr })));
  return { proc, result };
}

/** Polls until `f` gives a value (a real signal: a journal line, a file), failing after `ms`. */
async function until<V>(what: string, f: () => V | undefined, ms = 120_000): Promise<V> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const journal = (state: string, runId: string): JournalEvent[] => new RunDir(state, runId).read();
const runIds = (state: string) => listRuns(state);
/** the run (and its pid) whose lock step is done, once one is */
const lockedRun = (state: string) => {
  for (const id of runIds(state)) {
    const j = journal(state, id);
    if (j.some((e) => e.event === 'step-done' && /^\d+-lock$/.test(e.step ?? ''))) return { id, pid: j.find((e) => e.event === 'run-start')!.pid! };
  }
  return undefined;
};

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [join(dir, e.name), ...filesUnder(join(dir, e.name))] : [join(dir, e.name)]));
}
const modeOf = (p: string) => (statSync(p).mode & 0o777).toString(8);

/** SHA256 fingerprint of a known_hosts key, as ssh-keygen -l prints it. */
const fingerprint = (base64: string) => `SHA256:${createHash('sha256').update(Buffer.from(base64, 'base64')).digest('base64').replace(/=+$/, '')}`;

let inventories = 0;
/** A copy of the inventory with another known_hosts file (and optionally a jump host for every node). */
function inventoryWith(knownHosts: string, jumpHost?: string): string {
  const file = join(work, `inventory-${++inventories}.yaml`);
  let text = readFileSync(inventory, 'utf8').replace(/^ {2}knownHostsFile: .*$/m, `  knownHostsFile: ${knownHosts}`);
  if (jumpHost) text = text.replace(/^ssh:\n/m, `ssh:\n  jumpHost: ${jumpHost}\n`);
  writeFileSync(file, text);
  return file;
}

/** What a refused command must leave as it was on a node: no etcd-dr dir, the env file, the data dir, etcd running. */
const untouched = (node: string) => inNode(node, 'ls -A /var/lib; ls -A /var/lib/etcd; sha256sum /etc/etcd.env; systemctl is-active etcd || true');

async function inNode(node: string, script: string, stdin?: string): Promise<string> {
  const r = await labExec(lab, node, ['sh', '-c', script], stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw new Error(`${node}: ${script}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const lastJson = <V>(stdout: string): V => JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1)) as V;

describe('security on the lab', () => {
  beforeAll(async () => {
    work = tempDir('etcd-dr-security-');
    lab = await startLab(e2eNet(67), { etcd: '3.4' });
    await loadKeys(lab, { keys: 300 });
    // an encrypted identity, authorised for root on every node and on the jump host
    const key = join(work, 'id_encrypted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'etcd-dr security test', '-f', key]);
    keyBody = readFileSync(key, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    const pub = readFileSync(`${key}.pub`, 'utf8');
    for (const n of lab.nodes) await inNode(n.name, 'umask 077; mkdir -p /root/.ssh && cat >> /root/.ssh/authorized_keys', pub);
    inventory = join(work, 'inventory.yaml');
    writeFileSync(inventory, readFileSync(lab.inventoryPath, 'utf8').replace(/^ {2}identityFile: .*$/m, `  identityFile: ${key}`));
    expect(readFileSync(inventory, 'utf8')).toContain(`identityFile: ${key}`);
    jump = await TestSshd.start({ address: `${e2eNet(68)}1`, authorizedKeys: [pub], extraConfig: ['AllowTcpForwarding yes'] });
    before = await keysOf(lab, 'etcd1');
    expect(before.size).toBeGreaterThanOrEqual(300);
  }, T);

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await jump?.stop();
    await stopLab(lab);
    if (work) rmSync(work, { recursive: true, force: true });
  }, T);

  it('the leak check finds each secret and a key line', () => {
    for (const s of [PASSPHRASE, ETCD_PASSWORD, JSON.stringify(PASSPHRASE), keyBody[1]!]) expect(() => expectNoSecret('self-test', `x${s}x`)).toThrow();
  });

  it('the jump host: unknown is refused unless --accept-new-host-keys; changed is refused always, with both fingerprints, before logging in', async () => {
    const known = join(work, 'known_hosts_nodes_only');
    writeFileSync(known, readFileSync(lab.knownHostsFile, 'utf8'));
    const inv = inventoryWith(known, `root@${e2eNet(68)}1:${jump.port}`);
    const logins = jump.acceptedLogins();

    const unknown = await cli(['status', '-i', inv]);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain(`the host key of jump host ${e2eNet(68)}1:${jump.port}`);
    expect(unknown.stderr).toContain(jump.hostKey.fingerprint);
    expect(unknown.stderr).toContain('--accept-new-host-keys');
    expect(readFileSync(known, 'utf8')).toBe(readFileSync(lab.knownHostsFile, 'utf8'));
    expect(jump.acceptedLogins()).toBe(logins);

    const accepted = await cli(['status', '-i', inv, '--accept-new-host-keys', '--json']);
    expect(accepted.code).toBe(0);
    expect(accepted.stderr).toMatch(/new host key recorded/);
    expect(readFileSync(known, 'utf8')).toContain(jump.knownHostsLine());
    expect(jump.acceptedLogins()).toBeGreaterThan(logins);
    expect((await cli(['status', '-i', inv])).code).toBe(0);

    // the jump host now presents a key other than the one recorded
    const other = makeKey(work, 'other_jump_key');
    const changed = join(work, 'known_hosts_jump_changed');
    writeFileSync(changed, `${readFileSync(lab.knownHostsFile, 'utf8')}[${e2eNet(68)}1]:${jump.port} ${other.type} ${other.base64}\n`);
    const invChanged = inventoryWith(changed, `root@${e2eNet(68)}1:${jump.port}`);
    const atChange = jump.acceptedLogins();
    for (const extra of [[], ['--accept-new-host-keys']]) {
      const r = await cli(['status', '-i', invChanged, ...extra]);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(`jump host ${e2eNet(68)}1:${jump.port}`);
      expect(r.stderr).toMatch(/CHANGED/);
      expect(r.stderr).toContain(other.fingerprint);
      expect(r.stderr).toContain(jump.hostKey.fingerprint);
    }
    expect(readFileSync(changed, 'utf8').split('\n').filter(Boolean)).toHaveLength(lab.nodes.length + 1);
    expect(jump.acceptedLogins()).toBe(atChange);
  }, T);

  it('a node key: changed refuses even `recover --yes --accept-new-host-keys`, unknown refuses `recover --yes`; no node is touched', async () => {
    const fp = await Promise.all(lab.nodes.map((n) => untouched(n.name)));
    const lines = readFileSync(lab.knownHostsFile, 'utf8').split('\n').filter(Boolean);
    const etcd3 = lab.nodes[2]!;
    const real = lines.find((l) => l.startsWith(`${etcd3.address} `))!.split(' ')[2]!;
    const other = makeKey(work, 'other_node_key');
    const changed = join(work, 'known_hosts_node_changed');
    writeFileSync(changed, `${lines.map((l) => (l.startsWith(`${etcd3.address} `) ? `${etcd3.address} ${other.type} ${other.base64}` : l)).join('\n')}\n`);
    const state = join(work, 'state-refused');
    const r = await cli(['recover', '-i', inventoryWith(changed), '--state-dir', state, '--yes', '--force', '--accept-new-host-keys']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`etcd3: the host key of ${dots(e2eNet(67))}3:22 has CHANGED`));
    expect(r.stderr).toContain(other.fingerprint);
    expect(r.stderr).toContain(fingerprint(real));

    const unknown = join(work, 'known_hosts_node_unknown');
    writeFileSync(unknown, `${lines.filter((l) => !l.startsWith(`${lab.nodes[1]!.address} `)).join('\n')}\n`);
    const u = await cli(['recover', '-i', inventoryWith(unknown), '--state-dir', state, '--yes', '--force']);
    expect(u.code).toBe(3);
    expect(u.stderr).toMatch(new RegExp(`etcd2: the host key of ${dots(e2eNet(67))}2:22 is not in`));
    expect(u.stderr).toContain('--accept-new-host-keys');
    expect(readFileSync(unknown, 'utf8').split('\n').filter(Boolean)).toHaveLength(lab.nodes.length - 1);

    // nothing happened on any node: no lock, same files, etcd still running
    expect(await Promise.all(lab.nodes.map((n) => untouched(n.name)))).toEqual(fp);
    for (const n of lab.nodes) expect(await inNode(n.name, 'ls /var/lib/etcd-dr 2>/dev/null || true')).toBe('');
  }, T);

  describe('remote output that is not what etcd prints (a fake etcdctl first on etcd2\'s PATH)', () => {
    // etcd-dr's probe puts /usr/local/sbin before the lab's etcdctl in /usr/local/bin; a tmpfs mounted in
    // etcd2's own mount namespace holds the fake, so no other node and not the host sees it
    const FAKE = [
      '#!/bin/sh',
      '# prints what etcd never does; `etcdctl version` and mode real run the real etcdctl',
      'mode=$(cat /root/etcdctl-mode 2>/dev/null || echo real)',
      'for a in "$@"; do [ "$a" = version ] && exec /usr/local/bin/etcdctl "$@"; done',
      'case "$mode" in',
      `garbage) head -c 3000 /dev/urandom; printf '\\n\\033[31m}{"not": etcd\\n'; exit 0 ;;`,
      `json) printf '%s\\n' '[{"Endpoint":"x","Status":{"header":{"cluster_id":"zzz","member_id":-1,"revision":"many"},"version":5,"raftIndex":{}}}]'; exit 0 ;;`,
      // base64 in the probe makes this more than the 64 MiB cap on a command's output
      "huge) head -c 52000000 /dev/zero | tr '\\0' A; exit 0 ;;",
      `escape) printf 'Error: \\033]2;owned\\007\\033[2J\\302\\2332J\\342\\200\\256 context deadline exceeded\\n' >&2; exit 1 ;;`,
      '*) exec /usr/local/bin/etcdctl "$@" ;;',
      'esac',
      '',
    ].join('\n');
    const setMode = (mode: string) => inNode('etcd2', `printf %s ${mode} > /root/etcdctl-mode`);

    beforeAll(async () => {
      await inNode('etcd2', 'mount -t tmpfs -o size=1m,mode=0755 etcd-dr-fake /usr/local/sbin');
      await inNode('etcd2', 'cat > /usr/local/sbin/etcdctl && chmod 0755 /usr/local/sbin/etcdctl', FAKE);
      await setMode('real');
      // the host's /usr/local/sbin does not have it
      expect(existsSync('/usr/local/sbin/etcdctl') && readFileSync('/usr/local/sbin/etcdctl', 'utf8') === FAKE).toBe(false);
    }, T);
    afterAll(async () => {
      await setMode('real');
      await inNode('etcd2', 'umount /usr/local/sbin');
    }, T);

    it.each([
      ['garbage (random bytes)', 'garbage', /^endpoint status: unexpected output from etcdctl endpoint status -w json: not JSON/],
      ['JSON of the wrong shape', 'json', /^endpoint status: unexpected output from etcdctl endpoint status -w json: entry 0\.Status\.header: "member_id" is not an unsigned 64-bit id/],
      ['an error with terminal escape sequences', 'escape', /^etcd runs but endpoint status failed: Error: .*context deadline exceeded$/],
      ['50 MB of output', 'huge', /^the probe's output passed the SSH output cap and was cut off \(last section read: endpoint_status\)/],
    ])('%s: status reports etcd2 as unreadable (exit 5); no crash; nothing acts on the terminal', async (_what, mode, warning) => {
      await setMode(mode);
      const j = await cli(['status', '-i', inventory, '--json']);
      expect(j.code).toBe(5);
      const f = JSON.parse(j.stdout) as ClusterFacts;
      expect(f.assessment.verdict).toBe('degraded');
      const n2 = f.nodes.find((n) => n.name === 'etcd2')!;
      expect(n2.reachable).toBe(true);
      expect(n2.endpoint).toBeUndefined();
      expect(n2.warnings).toContainEqual(expect.stringMatching(warning));
      for (const w of n2.warnings) expect(w.length).toBeLessThan(10_000);
      for (const n of f.nodes.filter((x) => x.name !== 'etcd2')) expect({ n: n.name, healthy: n.healthy, warnings: n.warnings }).toEqual({ n: n.name, healthy: true, warnings: [] });
      if (mode === 'huge') return; // one pass of 50 MB is enough
      const t = await cli(['status', '-i', inventory]);
      expect(t.code).toBe(5);
      expect(t.stdout).toMatch(/verdict: DEGRADED/);
      expect(t.stdout).toMatch(/^ {2}- etcd2: (endpoint status: unexpected output|etcd runs but endpoint status failed)/m);
      if (mode === 'escape') expect(t.stdout).toContain('Error: \\u001b]2;owned\\u0007\\u001b[2J\\u009b2J\\u202e context deadline exceeded');
    }, T);

    it('`plan recover` on a quorum-lost cluster will not guess past etcd2\'s unreadable db; with --survivor it plans, warning about it', async () => {
      await breakAllDown(lab);
      await setMode('garbage');
      const state = join(work, 'state-plans');
      const r = await cli(['plan', 'recover', '-i', inventory, '--state-dir', state]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/the revision of the data of etcd2 could not be read, so the freshest member is not known/);
      expect(r.stderr).toMatch(/→ check etcd2 .*--survivor NAME, or leave it out with --exclude etcd2/);
      const planFile = join(work, 'plan-survivor.json');
      const m = await cli(['plan', 'recover', '-i', inventory, '--state-dir', state, '--survivor', 'etcd1', '--format', 'markdown', '-o', planFile]);
      expect(m.code).toBe(0);
      expect(m.stdout).toContain('## Survivor');
      expect(m.stdout).toMatch(/etcd2: snapshot status: unexpected output from (etcdctl )?snapshot status -w json/);
      expect(modeOf(planFile)).toBe('600');
      seen.push({ where: 'plan -o (survivor etcd1)', text: readFileSync(planFile, 'utf8') });
      expectNoSecret('plan -o (survivor etcd1)', readFileSync(planFile, 'utf8'));
      // read-only: no run dir was made
      expect(runIds(state)).toEqual([]);
    }, T);
  });

  describe('locks, modes and secrets over real recoveries', () => {
    const state = () => join(work, 'state'); // not there yet: etcd-dr makes it, under a umask of 000
    let runA: { id: string; pid: number };
    let aResult: CliRun;

    it('plans under a umask of 000 are saved 0600, and a symlink planted at the temp name is not written through', async () => {
      await breakAllDown(lab); // already down; says so again for a test run on its own
      const p = startChild(['plan', 'recover', '-i', inventory, '--state-dir', state(), '--format', 'text', '-o', join(work, 'plan-umask.json'), '--log-level', 'trace'], '000');
      const r = checkRun('plan recover (umask 000)', await p.result);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/Recover cluster k2/);
      expect(modeOf(join(work, 'plan-umask.json'))).toBe('600');
      expect(existsSync(state())).toBe(false);
      // this process's pid is the one a predictable temp name would use
      const planFile = join(work, 'plan-planted.json');
      const victim = join(work, 'victim');
      writeFileSync(victim, 'precious\n');
      symlinkSync(victim, `${planFile}.tmp-${process.pid}`);
      const q = await cli(['plan', 'recover', '-i', inventory, '--state-dir', state(), '--format', 'json', '-o', planFile]);
      expect(q.code).toBe(0);
      expect(readFileSync(victim, 'utf8')).toBe('precious\n');
      expect(modeOf(planFile)).toBe('600');
      for (const f of [join(work, 'plan-umask.json'), planFile]) {
        seen.push({ where: f, text: readFileSync(f, 'utf8') });
        expectNoSecret(f, readFileSync(f, 'utf8'));
      }
    }, T);

    it('a second recover while one runs is refused with the holder\'s run id and pid (exit 3); the first finishes', async () => {
      // a node whose data dir was left world-readable: what etcd-dr sets aside of it must not stay so
      await inNode('etcd2', 'chmod 0755 /var/lib/etcd');
      for (const n of lab.nodes) await inNode(n.name, 'touch /tmp/etcd-dr-security-marker');
      const a = startChild(['recover', '-i', inventory, '--state-dir', state(), '--yes', '--json', '--log-level', 'trace'], '000');
      runA = await until('run A to hold the lock', () => {
        if (a.proc.exitCode !== null) throw new Error(`run A ended before it held the lock (exit ${a.proc.exitCode})`);
        return lockedRun(state());
      });
      expect(runA.pid).toBe(a.proc.pid);
      const b = await cli(['recover', '-i', inventory, '--state-dir', state(), '--yes']);
      // A was still at work while B was refused
      expect(a.proc.exitCode).toBeNull();
      expect(journal(state(), runA.id).some((e) => e.event === 'run-end')).toBe(false);
      expect(b.code).toBe(3);
      expect(b.stderr).toMatch(/^etcd-dr: another etcd-dr run holds the lock: etcd1 by run /m);
      expect(b.stderr).toContain(`by run ${runA.id} (`);
      expect(b.stderr).toContain(` pid ${runA.pid})`);
      expect(b.stderr).toMatch(/--break-lock/);

      aResult = checkRun('recover A (umask 000, trace)', await a.result);
      expect(aResult.code).toBe(0);
      expect(lastJson<{ runId: string }>(aResult.stdout).runId).toBe(runA.id);
      expect(lostOrChanged(before, await keysOf(lab, 'etcd2'))).toEqual([]);
      // A released its lock: no lock left, its history beside
      for (const n of lab.nodes) expect(await inNode(n.name, 'ls /var/lib/etcd-dr')).toBe(`lock.released-${runA.id}\n`);
    }, T);

    it('on the bastion, under a umask of 000: every dir etcd-dr made is 0700, every file 0600 (run files, db backup, sha256)', () => {
      const summary = lastJson<{ runDir: string; backup: string }>(aResult.stdout);
      const all = [state(), ...filesUnder(state())];
      const rel = all.map((p) => p.slice(state().length) || '/');
      expect(rel).toEqual(expect.arrayContaining(['/', '/runs', `/runs/${runA.id}`, `/runs/${runA.id}/plan.json`, `/runs/${runA.id}/journal.jsonl`, `/runs/${runA.id}/log.jsonl`, '/backups', `/backups/${runA.id}`]));
      expect(summary.backup.startsWith(join(state(), 'backups', runA.id))).toBe(true);
      expect(all).toEqual(expect.arrayContaining([summary.backup, `${summary.backup}.sha256`]));
      const wrong = all.filter((p) => modeOf(p) !== (statSync(p).isDirectory() ? '700' : '600')).map((p) => `${modeOf(p)} ${p}`);
      expect(wrong).toEqual([]);
    });

    it('on the nodes: data dirs, moved-aside dirs and the restored db are closed to group and others; nothing else written is world-readable', async () => {
      for (const n of lab.nodes) {
        const modes = (await inNode(n.name, "stat -c '%a %n' /var/lib/etcd /var/lib/etcd.* /var/lib/etcd/member/snap/db")).trim().split('\n');
        expect(modes).toContainEqual(`700 /var/lib/etcd.etcd-dr-${runA.id}`);
        const open = modes.filter((l) => !/^[0-7]00 /.test(l));
        expect({ node: n.name, open }).toEqual({ node: n.name, open: [] });
        expect(modes.some((l) => l.endsWith('-restoring'))).toBe(false);
        // written since the run began and readable by a user with no rights at all: only etcd-dr's lock bookkeeping
        const world = (
          await inNode(n.name, 'setpriv --reuid=65534 --regid=65534 --clear-groups find /var/lib /etc /root /tmp -xdev -newer /tmp/etcd-dr-security-marker -type f -readable 2>/dev/null; true')
        )
          .trim()
          .split('\n')
          .filter(Boolean);
        expect({ node: n.name, world: world.filter((f) => !f.startsWith('/var/lib/etcd-dr/lock')) }).toEqual({ node: n.name, world: [] });
      }
    }, T);

    it('two recovers started at once: one holds the lock, the other is refused naming it; killed, its lock stays until --break-lock', async () => {
      await breakAllDown(lab);
      const s2 = join(work, 'state-race');
      const x = startChild(['recover', '-i', inventory, '--state-dir', s2, '--yes']);
      const y = startChild(['recover', '-i', inventory, '--state-dir', s2, '--yes']);
      const winner = await until('one of the two runs to hold every lock', () => lockedRun(s2));
      const [w, l] = winner.pid === x.proc.pid ? [x, y] : [y, x];
      expect(winner.pid).toBe(w.proc.pid);
      // the holder dies at once, as with a power cut of the bastion
      w.proc.kill('SIGKILL');
      const [wr, lr] = await Promise.all([w.result, l.result]);
      expect(wr.code).toBe(137);
      checkRun('recover (lost the race)', lr);
      expect(lr.code).toBe(3);
      expect(lr.stderr).toContain(`run ${winner.id}`);
      // refused when it planned (the winner's locks it saw then: the winner takes them on every node in
      // parallel, so any of them) or when it went for a lock itself (both planned at once)
      expect(lr.stderr).toMatch(/^etcd-dr: (another etcd-dr run holds the lock: etcd\d by run|etcd\d: the etcd-dr lock is held by run) /m);
      // a loser refused at its lock step changed nothing: its journal ends "refused", so a bare `resume`
      // never picks its plan (only the dead winner's run is unfinished)
      for (const id of readdirSync(join(s2, 'runs')).filter((d) => d !== winner.id)) {
        const j = join(s2, 'runs', id, 'journal.jsonl');
        if (!existsSync(j)) continue;
        const ends = readFileSync(j, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string; outcome?: string }).filter((e) => e.event === 'run-end');
        expect(ends.at(-1)?.outcome).toBe('refused');
      }
      // every lock is the dead winner's; the loser holds none
      for (const n of lab.nodes) expect(await inNode(n.name, 'cat /var/lib/etcd-dr/lock')).toContain(`run=${winner.id}\n`);

      const refused = await cli(['recover', '-i', inventory, '--state-dir', s2, '--yes']);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain(`etcd1 by run ${winner.id} (`);
      expect(refused.stderr).toContain(` pid ${winner.pid})`);
      expect(refused.stderr).toContain('a lock left by a run that is dead is broken with --break-lock');
      expect((await cli(['plan', 'recover', '-i', inventory, '--state-dir', s2])).code).toBe(3);

      const broke = await cli(['recover', '-i', inventory, '--state-dir', s2, '--yes', '--break-lock', '--json', '--log-level', 'debug']);
      expect(broke.code).toBe(0);
      expect(broke.stdout).toContain(`--break-lock: the lock of run ${winner.id}`);
      const e = lastJson<{ runId: string; backup: string }>(broke.stdout);
      for (const n of lab.nodes) {
        expect(await inNode(n.name, `cat /var/lib/etcd-dr/lock.broken-by-${e.runId}`)).toContain(`run=${winner.id}\n`);
        expect(await inNode(n.name, 'test ! -e /var/lib/etcd-dr/lock && echo free')).toBe('free\n');
      }
      expect(lostOrChanged(before, await keysOf(lab, 'etcd3'))).toEqual([]);
      for (const f of [state(), s2].flatMap((d) => filesUnder(d))) {
        if (statSync(f).isDirectory()) continue;
        expect(modeOf(f)).toBe('600');
        expectNoSecret(f, readFileSync(f));
      }
    }, T);

    it('no secret anywhere: every output of this suite and every file it left on the bastion', () => {
      expect(seen.length).toBeGreaterThan(30);
      for (const s of seen) expectNoSecret(s.where, s.text);
      const files = [work].flatMap((d) => filesUnder(d)).filter((f) => !f.includes('id_encrypted') && !statSync(f).isDirectory());
      expect(files.length).toBeGreaterThan(10);
      for (const f of files) expectNoSecret(f, readFileSync(f));
      // the run logs did record the remote commands at trace level (so they were a real test of what is kept)
      expect(readFileSync(join(state(), 'runs', runA.id, 'log.jsonl'), 'utf8')).toMatch(/"msg":"remote command"/);
    });
  });
});
