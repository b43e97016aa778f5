/**
 * The SSH transport against real OpenSSH sshd processes on loopback: a node (127.0.20.1) and a bastion
 * (127.0.20.2) in front of it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { jest } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConnectFailedError,
  ConnectionLostError,
  HostKeyError,
  SudoPasswordError,
  Transport,
  connectNode,
  type ConnectOptions,
  type ConnectionEvent,
  type ExecEvent,
  type SshConnection,
} from '../../src/ssh/index.js';
import { ApplyError, EXIT } from '../../src/util/errors.js';
import { clearSecrets, registerSecret, scrub } from '../../src/util/secrets.js';
import { TestSshd, ensureTestUser, freePort, makeKey, nodeSpec, type KeyPair } from '../support/sshd.js';
import { dots, e2eNet } from '../support/net.js';

const NODE_ADDR = `${e2eNet(20)}1`;
const BASTION_ADDR = `${e2eNet(20)}2`;
const DEAD_ADDR = `${e2eNet(20)}3`;
const SUDO_USER = 'etcddr-test';
const PLAIN_USER = 'etcddr-nosudo';

let dir: string;
let key: KeyPair;
let encKey: KeyPair;
let strangerKey: KeyPair;
let node: TestSshd;
let bastion: TestSshd;
let knownHosts: string;
let sudoersFile: string | undefined;
const opened: SshConnection[] = [];

// real sshd logins, sudo and a 3 MB download: more than jest's 5 s default, far less than a minute
jest.setTimeout(60_000);

/** fast retries: the tests wait on sshd, not on back-off */
const FAST: ConnectOptions = { retryMinTimeoutMs: 50, env: {} };

function spec(ssh: Parameters<typeof nodeSpec>[2] = { knownHostsFile: knownHosts }, name = 'node1') {
  return nodeSpec(name, node, { identityFile: key.file, ...ssh });
}

async function open(s = spec(), opts: ConnectOptions = {}): Promise<SshConnection> {
  const c = await connectNode(s, { ...FAST, ...opts });
  opened.push(c);
  return c;
}

function fileWith(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text, { mode: 0o600 });
  return f;
}

/** Kills the node-side processes a test started, found by their exact, unique command line. */
function killRemote(cmdline: string): void {
  for (const pid of spawnSync('pgrep', ['-fx', cmdline], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

const waitFor = async (cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-ssh-e2e-'));
  chmodSync(dir, 0o755);
  key = makeKey(dir, 'id_ed25519');
  encKey = makeKey(dir, 'id_encrypted', 'correct horse battery');
  strangerKey = makeKey(dir, 'id_stranger');
  // 8 sessions per connection at most, as the transport's own cap: a transport that opened more
  // channels would see the server refuse them (sshd frees a session a moment after closing it; the
  // transport asks again for a refused channel, which is what lets a cap equal to MaxSessions work)
  node = await TestSshd.start({ address: NODE_ADDR, authorizedKeys: [key.pub, encKey.pub], extraConfig: ['MaxSessions 8'] });
  bastion = await TestSshd.start({ address: BASTION_ADDR, authorizedKeys: [key.pub], extraConfig: ['AllowTcpForwarding yes'] });
  knownHosts = fileWith('known_hosts', node.knownHostsLine() + bastion.knownHostsLine());
  sudoersFile = ensureTestUser(SUDO_USER, true);
  ensureTestUser(PLAIN_USER, false);
});

afterEach(async () => {
  await Promise.all(opened.splice(0).map((c) => c.close()));
  clearSecrets();
});

afterAll(async () => {
  await node?.stop();
  await bastion?.stop();
  if (sudoersFile) rmSync(sudoersFile, { force: true });
  rmSync(dir, { recursive: true, force: true });
});

describe('exec', () => {
  test('exit codes, stdout and stderr apart, stdin, arguments arrive word for word', async () => {
    const c = await open();
    const r = await c.sh('echo out; echo err >&2; exit 3');
    expect(r).toMatchObject({ code: 3, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false, stdoutTruncated: false });
    expect(r.command).toBe("sh -c 'echo out; echo err >&2; exit 3'");
    expect(r.durationMs).toBeGreaterThanOrEqual(0);

    expect(await c.exec(['true'])).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect((await c.exec(['cat'], { stdin: 'line one\nline two\n' })).stdout).toBe('line one\nline two\n');
    expect((await c.exec(['wc', '-c'], { stdin: randomBytes(100_000) })).stdout.trim()).toBe('100000');
    // without stdin the command reads EOF at once instead of hanging
    expect((await c.exec(['cat'], { timeout: 5 })).timedOut).toBe(false);

    const weird = ["it's", '$(touch /tmp/etcd-dr-pwned)', 'a\nb', ' ', '', '*', 'ünï ✓', '\\', '"'];
    const echoed = await c.exec(['printf', '%s\\0', ...weird]);
    expect(echoed.stdout.split('\0').slice(0, -1)).toEqual(weird);

    const killed = await c.sh('kill -TERM $$');
    expect(killed).toMatchObject({ code: null, signal: 'SIGTERM', timedOut: false });
  });

  test('a timeout: sshd KILLs the command of a non-root login; the connection goes on', async () => {
    const c = await open(spec({ knownHostsFile: knownHosts, user: PLAIN_USER }));
    const marker = `30.${process.pid}1`;
    const r = await c.exec(['sleep', marker], { timeout: 1 });
    expect(r).toMatchObject({ timedOut: true, code: null, mayStillRun: false });
    expect(r.durationMs).toBeGreaterThanOrEqual(1000);
    expect(r.durationMs).toBeLessThan(3000);
    expect(spawnSync('pgrep', ['-fx', `sleep ${marker}`]).status).toBe(1);
    expect((await c.exec(['echo', 'after'])).stdout).toBe('after\n');
  });

  test('a timeout under a root login (sshd will not signal there): reported at once, flagged as maybe still running', async () => {
    const events: ExecEvent[] = [];
    const c = await open(spec(), { onExec: (e) => events.push(e) });
    const marker = `30.${process.pid}2`;
    const r = await c.exec(['sleep', marker], { timeout: 1 });
    try {
      expect(r).toMatchObject({ timedOut: true, code: null, mayStillRun: true });
      expect(r.durationMs).toBeLessThan(3000);
      expect(events[0]).toMatchObject({ timedOut: true, error: expect.stringContaining('may still be running') });
      expect((await c.exec(['echo', 'after'])).stdout).toBe('after\n');
    } finally {
      killRemote(`sleep ${marker}`);
    }
  });

  test('a timeout under sudo: reported at once, flagged as maybe still running (the login user cannot signal root)', async () => {
    const c = await open(spec({ knownHostsFile: knownHosts, user: SUDO_USER, become: true }));
    const marker = `30.${process.pid}3`;
    const r = await c.exec(['sleep', marker], { timeout: 1 });
    try {
      expect(r).toMatchObject({ timedOut: true, code: null, mayStillRun: true });
      expect(r.durationMs).toBeLessThan(3000);
      // which is the truth: the root sleep survived the KILL sent as the login user
      expect(spawnSync('pgrep', ['-fx', `sleep ${marker}`]).status).toBe(0);
    } finally {
      killRemote(`sleep ${marker}`);
    }
  });

  test('output past the cap is dropped and flagged; the command still completes', async () => {
    const c = await open(spec(), { maxOutputBytes: 1000 });
    const r = await c.sh('head -c 300000 /dev/zero; echo done >&2');
    expect(r).toMatchObject({ code: 0, stdoutTruncated: true, stderrTruncated: false, stderr: 'done\n' });
    expect(r.stdout).toHaveLength(1000);
    const r2 = await c.exec(['head', '-c', '5000', '/dev/zero'], { maxOutputBytes: 10_000 });
    expect(r2).toMatchObject({ stdoutTruncated: false });
    expect(r2.stdout).toHaveLength(5000);
  });

  test('every exec reaches the log hook with its command scrubbed', async () => {
    const events: ExecEvent[] = [];
    registerSecret('hunter2-passphrase');
    const c = await open(spec(), { onExec: (e) => events.push(e) });
    const r = await c.exec(['echo', 'hunter2-passphrase']);
    await c.sh('exit 4');
    expect(r.command).toBe('echo ***');
    // output is data, not a message: it is returned as the node printed it
    expect(r.stdout).toBe('hunter2-passphrase\n');
    expect(events).toEqual([
      expect.objectContaining({ node: 'node1', command: 'echo ***', code: 0, timedOut: false }),
      expect.objectContaining({ node: 'node1', command: "sh -c 'exit 4'", code: 4, signal: null, timedOut: false }),
    ]);
    expect(events[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('one connection per node', () => {
  test('is reused for many commands (sshd logs one login)', async () => {
    const before = node.acceptedLogins();
    const c = await open();
    for (let i = 0; i < 30; i++) expect((await c.exec(['echo', String(i)])).stdout).toBe(`${i}\n`);
    expect(node.acceptedLogins() - before).toBe(1);
    expect(c.connectCount).toBe(1);
  });

  test('logs in with its key at once: no "none" attempt first (a round trip saved)', async () => {
    const from = node.log().length;
    const c = await open();
    expect((await c.exec(['true'])).code).toBe(0);
    const methods = [...node.log().slice(from).matchAll(/userauth-request for user \S+ service ssh-connection method (\S+)/g)].map((m) => m[1]);
    expect(methods).toEqual(['publickey', 'publickey']); // the key offered, then signed
  });

  test('runs 20 concurrent commands, at most 8 channels at once, none refused by MaxSessions 8', async () => {
    const before = node.acceptedLogins();
    const c = await open();
    const t0 = Date.now();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => c.sh(`sleep 0.4; echo ${i}`)));
    expect(results.map((r) => [r.code, r.stdout])).toEqual(Array.from({ length: 20 }, (_, i) => [0, `${i}\n`]));
    expect(c.peakChannels).toBe(8);
    // three waves of at most 8
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    expect(node.acceptedLogins() - before).toBe(1);
  });

  test('without the cap sshd refuses sessions (the cap is what makes it work): a clear error, the command not run', async () => {
    const c = await open(spec(), { maxChannels: 16 });
    const results = await Promise.allSettled(Array.from({ length: 16 }, () => c.sh('sleep 3')));
    const refused = results.filter((r) => r.status === 'rejected');
    expect(refused.length).toBeGreaterThan(0);
    const reason = (refused[0] as PromiseRejectedResult).reason as Error;
    expect(reason).toBeInstanceOf(ApplyError);
    expect(reason.message).toMatch(/^node1: sshd refused to open a session for `sh -c 'sleep 3'` \(.*\), 4 times; the command did not run/);
    expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(8);
  });

  test('a Transport hands out one connection per node and opens all nodes in parallel, failures as values', async () => {
    const deadPort = await freePort(DEAD_ADDR);
    const events: ConnectionEvent[] = [];
    const t = new Transport({ ...FAST, connectAttempts: 2, onEvent: (e) => events.push(e) });
    const before = node.acceptedLogins();
    const nodes = [
      spec(),
      nodeSpec('dead', { address: DEAD_ADDR, port: deadPort }, { identityFile: key.file, knownHostsFile: knownHosts }),
      spec({ knownHostsFile: fileWith('kh-empty', '') }, 'stranger'),
    ];
    const m = await t.openConnections(nodes);
    expect([...m.keys()]).toEqual(['node1', 'dead', 'stranger']);
    const good = m.get('node1');
    const dead = m.get('dead');
    const stranger = m.get('stranger');
    expect(good).not.toBeInstanceOf(Error);
    expect(dead).toBeInstanceOf(ConnectFailedError);
    expect(dead).toMatchObject({ kind: 'unreachable', node: 'dead' });
    expect((dead as Error).message).toMatch(new RegExp(`^dead: cannot reach root@${DEAD_ADDR}:${deadPort}: .*ECONNREFUSED`));
    expect(stranger).toBeInstanceOf(HostKeyError);
    // the unreachable node was tried connectAttempts times; the refused host key only once
    expect(events.filter((e) => e.type === 'connect-attempt-failed' && e.node === 'dead').map((e) => e.type === 'connect-attempt-failed' && e.attempt)).toEqual([1, 2]);
    expect(events.filter((e) => e.type === 'connect-attempt-failed' && e.node === 'stranger')).toEqual([]);
    if (good instanceof Error || good === undefined) throw new Error('node1 should be connected');
    expect((await good.exec(['hostname'])).code).toBe(0);
    // asking again gives the same connection
    expect(await t.connect(nodes[0]!)).toBe(good);
    expect(node.acceptedLogins() - before).toBe(1);
    await t.closeAll();
    await expect(good.exec(['true'])).rejects.toThrow(/node1: the SSH connection was already closed/);
  });
});

describe('host keys', () => {
  test('an unknown host key is refused (exit 3) with host:port, the fingerprint and the fix; nothing is recorded', async () => {
    const kh = join(dir, 'kh-unknown');
    const events: ConnectionEvent[] = [];
    const t0 = Date.now();
    const err = await connectNode(spec({ knownHostsFile: kh }), { ...FAST, onEvent: (e) => events.push(e) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    const e = err as HostKeyError;
    expect(e.exitCode).toBe(EXIT.refused);
    expect(e.check.status).toBe('unknown');
    expect(e.message).toContain(`${NODE_ADDR}:${node.port} is not in ${kh}`);
    expect(e.message).toContain(node.hostKey.fingerprint);
    expect(e.hint).toContain('--accept-new-host-keys');
    expect(e.hint).toContain(`ssh-keyscan -p ${node.port} ${NODE_ADDR}`);
    // a refusal is not retried
    expect(events.filter((x) => x.type === 'connect-attempt-failed')).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(() => statSync(kh)).toThrow();
  });

  test('with acceptNewHostKeys an unknown key is recorded (0600 file, [host]:port line) and later matches', async () => {
    const sub = join(dir, 'fresh-home', '.ssh');
    const kh = join(sub, 'known_hosts');
    const events: ConnectionEvent[] = [];
    const c = await open(spec({ knownHostsFile: kh }), { acceptNewHostKeys: true, onEvent: (e) => events.push(e) });
    expect((await c.exec(['echo', 'ok'])).stdout).toBe('ok\n');
    expect(readFileSync(kh, 'utf8')).toBe(node.knownHostsLine());
    expect(statSync(kh).mode & 0o777).toBe(0o600);
    expect(statSync(sub).mode & 0o777).toBe(0o700);
    expect(events).toContainEqual({
      type: 'host-key-recorded',
      node: 'node1',
      host: NODE_ADDR,
      port: node.port,
      keyType: 'ssh-ed25519',
      fingerprint: node.hostKey.fingerprint,
      file: kh,
    });
    // the recorded key is trusted from now on, without the option
    const again = await open(spec({ knownHostsFile: kh }));
    expect((await again.exec(['true'])).code).toBe(0);
    expect(readFileSync(kh, 'utf8')).toBe(node.knownHostsLine());
    // and OpenSSH itself agrees with the line written
    const viaOpenSsh = spawnSync('ssh', [
      '-i', key.file, '-p', String(node.port), '-o', `UserKnownHostsFile=${kh}`, '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes', '-o', 'GlobalKnownHostsFile=/dev/null', `root@${NODE_ADDR}`, 'echo', 'openssh-ok',
    ], { encoding: 'utf8' });
    expect(viaOpenSsh.stdout).toBe('openssh-ok\n');
  });

  test('a changed key is always refused, even with acceptNewHostKeys: both fingerprints and file:line', async () => {
    const other = makeKey(dir, 'other_host_key');
    const kh = fileWith('kh-changed', `# header\n[${NODE_ADDR}]:${node.port} ${other.type} ${other.base64}\n`);
    const err = await connectNode(spec({ knownHostsFile: kh }), { ...FAST, acceptNewHostKeys: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    const e = err as HostKeyError;
    expect(e.exitCode).toBe(EXIT.refused);
    expect(e.message).toContain(`the host key of ${NODE_ADDR}:${node.port} has CHANGED`);
    expect(e.message).toContain(`${kh}:2 holds ${other.fingerprint}`);
    expect(e.message).toContain(`presented ${node.hostKey.fingerprint}`);
    expect(e.hint).toContain(`ssh-keygen -R '[${NODE_ADDR}]:${node.port}' -f ${kh}`);
    // nothing was appended
    expect(readFileSync(kh, 'utf8').split('\n').filter(Boolean)).toHaveLength(2);
  });

  test('a host offering another key type than the one on record is refused even with acceptNewHostKeys', async () => {
    const ecdsa = makeKey(dir, 'ecdsa_host_key', '', 'ecdsa');
    const kh = fileWith('kh-other-type', `[${NODE_ADDR}]:${node.port} ${ecdsa.type} ${ecdsa.base64}\n`);
    const err = await connectNode(spec({ knownHostsFile: kh }), { ...FAST, acceptNewHostKeys: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as Error).message).toContain(`presented a ${node.hostKey.fingerprint} key of a type ${kh} has no key of for it, while it records ecdsa-sha2-nistp256 keys`);
    expect(readFileSync(kh, 'utf8').split('\n').filter(Boolean)).toHaveLength(1);
  });

  test('a @revoked key is refused', async () => {
    const kh = fileWith('kh-revoked', `@revoked * ${node.hostKey.type} ${node.hostKey.base64}\n${node.knownHostsLine()}`);
    const err = await connectNode(spec({ knownHostsFile: kh }), FAST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as HostKeyError).message).toContain(`@revoked in ${kh}:1`);
  });

  test('an entry hashed by ssh-keygen -H matches', async () => {
    const kh = fileWith('kh-hashed', node.knownHostsLine());
    execFileSync('ssh-keygen', ['-H', '-f', kh], { stdio: 'ignore' });
    const text = readFileSync(kh, 'utf8');
    expect(text).toMatch(/^\|1\|[^ ]+ ssh-ed25519 /);
    expect(text).not.toContain(NODE_ADDR);
    const c = await open(spec({ knownHostsFile: kh }));
    expect((await c.exec(['echo', 'hashed'])).stdout).toBe('hashed\n');
  });
});

describe('authentication', () => {
  test('a key the server does not accept fails as auth, without retries', async () => {
    const events: ConnectionEvent[] = [];
    const err = await connectNode(spec({ knownHostsFile: knownHosts, identityFile: strangerKey.file }), { ...FAST, onEvent: (e) => events.push(e) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectFailedError);
    expect(err).toMatchObject({ kind: 'auth', exitCode: EXIT.failed });
    expect((err as Error).message).toContain(`node1: root@${NODE_ADDR}:${node.port} refused authentication as root (tried key ${strangerKey.file})`);
    expect(events.filter((x) => x.type === 'connect-attempt-failed')).toEqual([]);
  });

  test('an encrypted key needs its passphrase (option or ETCD_DR_SSH_PASSPHRASE), which is registered as a secret', async () => {
    const s = spec({ knownHostsFile: knownHosts, identityFile: encKey.file });
    const err = await connectNode(s, FAST).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'key-file' });
    expect((err as Error).message).toContain(`identity file ${encKey.file} is encrypted and no passphrase was given`);
    expect((err as ConnectFailedError).hint).toContain('ETCD_DR_SSH_PASSPHRASE');

    const wrong = await connectNode(s, { ...FAST, passphrase: 'wrong' }).catch((e: unknown) => e);
    expect((wrong as Error).message).toContain(`the passphrase does not decrypt identity file ${encKey.file}`);

    const c = await open(s, { env: { ETCD_DR_SSH_PASSPHRASE: 'correct horse battery' } });
    expect((await c.exec(['echo', 'unlocked'])).stdout).toBe('unlocked\n');
    expect(scrub('pass: correct horse battery')).toBe('pass: ***');
  });

  test('ssh-agent via SSH_AUTH_SOCK, with no identity file', async () => {
    const sock = join(dir, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-a', sock, '-s'], { encoding: 'utf8' });
    const agentPid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)![1]);
    try {
      execFileSync('ssh-add', [key.file], { env: { ...process.env, SSH_AUTH_SOCK: sock }, stdio: 'ignore' });
      const s = spec({ knownHostsFile: knownHosts, identityFile: undefined });
      const noAgent = await connectNode(s, FAST).catch((e: unknown) => e);
      expect(noAgent).toMatchObject({ kind: 'auth' });
      expect((noAgent as Error).message).toContain('no identity file is set and SSH_AUTH_SOCK is empty');
      const c = await open(s, { env: { SSH_AUTH_SOCK: sock } });
      expect((await c.exec(['echo', 'agent'])).stdout).toBe('agent\n');
    } finally {
      process.kill(agentPid, 'SIGTERM');
    }
  });
});

describe('jump host', () => {
  test('reaches the node through the bastion (forwardOut), both host keys verified', async () => {
    const bastionBefore = bastion.log();
    const events: ConnectionEvent[] = [];
    const s = spec({ knownHostsFile: knownHosts, jumpHost: { user: 'root', host: BASTION_ADDR, port: bastion.port, identityFile: key.file } });
    const c = await open(s, { onEvent: (e) => events.push(e) });
    expect((await c.exec(['echo', 'through'])).stdout).toBe('through\n');
    const newLog = bastion.log().slice(bastionBefore.length);
    expect(newLog).toMatch(/Accepted publickey for root/);
    expect(newLog).toContain(`target ${NODE_ADDR} port ${node.port}`);
    expect(events).toContainEqual(expect.objectContaining({ type: 'connected', node: 'node1', via: `root@${BASTION_ADDR}:${bastion.port}` }));
  });

  test('nodes behind one bastion share its connection', async () => {
    const t = new Transport(FAST);
    const before = bastion.acceptedLogins();
    const jumpHost = { user: 'root', host: BASTION_ADDR, port: bastion.port, identityFile: key.file };
    const m = await t.openConnections([spec({ knownHostsFile: knownHosts, jumpHost }, 'a'), spec({ knownHostsFile: knownHosts, jumpHost }, 'b')]);
    for (const c of m.values()) {
      if (c instanceof Error) throw c;
      expect((await c.exec(['true'])).code).toBe(0);
    }
    expect(bastion.acceptedLogins() - before).toBe(1);
    await t.closeAll();
  });

  test('an unknown bastion key is refused and named as the jump host', async () => {
    const kh = fileWith('kh-node-only', node.knownHostsLine());
    const s = spec({ knownHostsFile: kh, jumpHost: { user: 'root', host: BASTION_ADDR, port: bastion.port, identityFile: key.file } });
    const err = await connectNode(s, FAST).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostKeyError);
    expect((err as HostKeyError).viaJump).toBe(true);
    expect((err as Error).message).toContain(`node1: the host key of jump host ${BASTION_ADDR}:${bastion.port} (in front of node1) is not in ${kh}`);
    expect((err as Error).message).toContain(bastion.hostKey.fingerprint);
  });

  test('a node the bastion cannot reach is reported as unreachable through it', async () => {
    const deadPort = await freePort(DEAD_ADDR);
    const s = nodeSpec('dead', { address: DEAD_ADDR, port: deadPort }, {
      identityFile: key.file,
      knownHostsFile: knownHosts,
      jumpHost: { user: 'root', host: BASTION_ADDR, port: bastion.port, identityFile: key.file },
    });
    const err = await connectNode(s, { ...FAST, connectAttempts: 2 }).catch((e: unknown) => e);
    expect(err).toMatchObject({ kind: 'unreachable' });
    expect((err as Error).message).toContain(`dead: jump host root@${BASTION_ADDR}:${bastion.port} cannot open a connection to ${DEAD_ADDR}:${deadPort}`);
  });
});

describe('become', () => {
  test('a NOPASSWD user runs commands as root through sudo -n sh -c', async () => {
    const c = await open(spec({ knownHostsFile: knownHosts, user: SUDO_USER, become: true }));
    const r = await c.exec(['id', '-un']);
    expect(r).toMatchObject({ code: 0, stdout: 'root\n' });
    expect(r.command).toBe("sudo -n sh -c 'id -un'");
    expect((await c.sh('echo "$(id -un)" > /dev/stderr; exit 5')).stderr).toBe('root\n');
    expect((await c.exec(['id', '-un'], { become: false })).stdout).toBe(`${SUDO_USER}\n`);
    expect((await c.exec(['cat'], { stdin: 'via sudo\n' })).stdout).toBe('via sudo\n');
  });

  test('a user without sudo rights gets the clear passwordless-sudo error', async () => {
    const c = await open(spec({ knownHostsFile: knownHosts, user: PLAIN_USER, become: true }));
    const err = await c.exec(['id', '-u']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SudoPasswordError);
    expect((err as Error).message).toMatch(
      new RegExp(`^node1: sudo wants a password for ${PLAIN_USER}; etcd-dr needs passwordless sudo \\(NOPASSWD\\) .*see SECURITY\\.md`),
    );
    // the same user without become works
    expect((await c.exec(['id', '-un'], { become: false })).stdout).toBe(`${PLAIN_USER}\n`);
  });
});

describe('download', () => {
  test('streams a root-only file through sudo: sha256 and size right, 0600, no temp file left (nor one a killed download left)', async () => {
    const remoteDir = join(dir, 'root-only');
    mkdirSync(remoteDir, { mode: 0o700 });
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const remote = join(remoteDir, 'snapshot.db');
    writeFileSync(remote, content, { mode: 0o600 });
    const localDir = mkdtempSync(join(tmpdir(), 'etcd-dr-dl-'));
    try {
      const c = await open(spec({ knownHostsFile: knownHosts, user: SUDO_USER, become: true }));
      const local = join(localDir, 'snapshot.db');
      const r = await c.download(remote, local);
      expect(r).toEqual({ bytes: content.length, sha256: createHash('sha256').update(content).digest('hex') });
      expect(readFileSync(local).equals(content)).toBe(true);
      expect(statSync(local).mode & 0o777).toBe(0o600);
      expect(readdirSync(localDir)).toEqual(['snapshot.db']);

      // the temp file a killed download to this destination left is replaced; another file's is not
      writeFileSync(join(localDir, '.copy.db.0a1b2c3d4e5f.part'), 'half a copy');
      writeFileSync(join(localDir, '.other.db.0a1b2c3d4e5f.part'), 'not ours');
      const withMode = await c.download(remote, join(localDir, 'copy.db'), { mode: 0o640 });
      expect(readdirSync(localDir).filter((f) => f.endsWith('.part'))).toEqual(['.other.db.0a1b2c3d4e5f.part']);
      rmSync(join(localDir, '.other.db.0a1b2c3d4e5f.part'));
      expect(withMode.sha256).toBe(r.sha256);
      expect(statSync(join(localDir, 'copy.db')).mode & 0o777).toBe(0o640);

      // the same file without sudo is unreadable for the user: a clear error, nothing left behind
      const denied = await c.download(remote, join(localDir, 'denied.db'), { become: false }).catch((e: unknown) => e);
      expect(denied).toBeInstanceOf(ApplyError);
      expect((denied as Error).message).toMatch(new RegExp(`^node1: downloading ${remote} failed: \`cat -- ${remote}\` exited 1: cat: .*Permission denied`));
      const missing = await c.download('/nonexistent/file', join(localDir, 'missing.db')).catch((e: unknown) => e);
      expect((missing as Error).message).toContain('No such file or directory');
      expect(readdirSync(localDir).sort()).toEqual(['copy.db', 'snapshot.db']);
    } finally {
      rmSync(localDir, { recursive: true, force: true });
    }
  });
});

describe('a dropped connection', () => {
  test('fails a running command with "connection lost", reconnects, and does not rerun it', async () => {
    const events: ConnectionEvent[] = [];
    const c = await open(spec(), { onEvent: (e) => events.push(e) });
    const marker = join(dir, `ran-${Date.now()}`);
    const sleeper = `sleep 20.${process.pid}4`;
    // appends a line each time it starts: a rerun would show as a second line
    const running = c.sh(`echo start >> ${marker}; ${sleeper}`).catch((e: unknown) => e);
    await waitFor(() => {
      try {
        return readFileSync(marker, 'utf8') !== '';
      } catch {
        return false;
      }
    });
    expect(node.dropConnections()).toBeGreaterThan(0);
    const err = await running;
    expect(err).toBeInstanceOf(ConnectionLostError);
    expect(err).toMatchObject({ reconnected: true, node: 'node1', exitCode: EXIT.failed });
    expect((err as Error).message).toContain(`node1: connection lost while running \`sh -c 'echo start >> ${marker}; ${sleeper}'\``);
    killRemote(sleeper);
    expect((err as Error).message).toContain('reconnected, but the command was not run again');
    expect(readFileSync(marker, 'utf8')).toBe('start\n');
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['connection-lost', 'connected']));
    expect(events).toContainEqual(expect.objectContaining({ type: 'connected', reconnect: true }));
    // the new connection serves the next commands
    expect(c.connectCount).toBe(2);
    expect((await c.exec(['echo', 'back'])).stdout).toBe('back\n');
    // a drop while idle costs nothing: the next command simply reconnects
    node.dropConnections();
    await waitFor(() => events.filter((e) => e.type === 'connection-lost').length === 2);
    expect((await c.exec(['echo', 'again'])).stdout).toBe('again\n');
    expect(c.connectCount).toBe(3);
  });

  test('reruns a command declared idempotent once after reconnecting', async () => {
    const c = await open();
    const marker = join(dir, `read-${Date.now()}`);
    const running = c.sh(`echo start >> ${marker}; sleep 1; echo read-ok`, { retryOnDisconnect: true });
    await waitFor(() => {
      try {
        return readFileSync(marker, 'utf8') !== '';
      } catch {
        return false;
      }
    });
    node.dropConnections();
    const r = await running;
    expect(r).toMatchObject({ code: 0, stdout: 'read-ok\n' });
    expect(readFileSync(marker, 'utf8')).toBe('start\nstart\n');
    expect(c.connectCount).toBe(2);
  });

  test('when the node stays away, the error says reconnecting failed too', async () => {
    const spare = await TestSshd.start({ address: `${e2eNet(20)}4`, authorizedKeys: [key.pub] });
    try {
      const kh = fileWith('kh-spare', spare.knownHostsLine());
      const c = await open(nodeSpec('spare', spare, { identityFile: key.file, knownHostsFile: kh }), { connectAttempts: 2 });
      const sleeper = `sleep 20.${process.pid}5`;
      const running = c.sh(sleeper).catch((e: unknown) => e);
      await waitFor(() => spawnSync('pgrep', ['-fx', sleeper]).status === 0);
      await spare.stop();
      const err = await running;
      killRemote(sleeper);
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect(err).toMatchObject({ reconnected: false });
      expect((err as Error).message).toContain('reconnecting failed too');
      // later commands try to connect again and say why they cannot
      await expect(c.exec(['true'])).rejects.toThrow(new RegExp(`spare: cannot reach root@${dots(e2eNet(20))}4`));
    } finally {
      await spare.stop();
    }
  });
});
