/**
 * A ProxyCommand's own way to the host (on a bastion, an ssh login to a jump host) and the handshake with
 * the host each get `ssh.connectTimeout`, as each hop of a ProxyJump chain does: a loaded bastion that
 * is slow to log the command in does not eat the node's handshake time (a timed-out attempt logs in
 * again). No host is contacted: the commands here are shell stand-ins.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNode } from '../../src/ssh/connection.js';
import { ConnectFailedError } from '../../src/ssh/errors.js';
import type { NodeSpec } from '../../src/inventory/types.js';
import { nodeSpec } from '../support/facts.js';

let dir: string;
let key: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-proxy-'));
  key = join(dir, 'id_ed25519');
  expect(spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]).status).toBe(0);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function viaProxy(proxyCommand: string, connectTimeout: number): NodeSpec {
  const s = nodeSpec(1);
  return { ...s, ssh: { ...s.ssh, sshHost: '127.0.0.1', identityFile: key, knownHostsFile: join(dir, 'known_hosts'), connectTimeout, proxyCommand } };
}

async function failure(spec: NodeSpec): Promise<{ err: ConnectFailedError; ms: number }> {
  const t0 = Date.now();
  const err = await connectNode(spec, { connectAttempts: 1, env: {} }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectFailedError);
  return { err: err as ConnectFailedError, ms: Date.now() - t0 };
}

describe('a ProxyCommand route', () => {
  it('a command that passes nothing within connectTimeout fails as a timeout of the command, and is ended', async () => {
    // a command line of its own, to look for it afterwards
    const marker = `sleep 30.${process.pid}${Date.now() % 100000}`;
    const { err } = await failure(viaProxy(`sh -c 'exec ${marker}'`, 1));
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe('etcd1: the ProxyCommand passed nothing from 127.0.0.1:22 within 1 s');
    // SIGTERMed: gone a moment later
    const until = Date.now() + 5000;
    while (spawnSync('pgrep', ['-fx', marker]).status === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(spawnSync('pgrep', ['-fx', marker]).status).toBe(1);
  }, 20_000);

  it('a command that ends at once is reported with what it said', async () => {
    const { err } = await failure(viaProxy(`sh -c 'echo "connect to bastion port 22: Connection refused" >&2; exit 255'`, 5));
    expect(err.kind).toBe('protocol');
    expect(err.message).toMatch(/^etcd1: SSH with root@127\.0\.0\.1:22 failed: .* \(its ProxyCommand `.*` said: connect to bastion port 22: Connection refused\)$/);
  }, 20_000);

  it('the handshake gets its connectTimeout once the banner came through: the two budgets do not add up to one', async () => {
    // the banner after 1 s (within the command's 2 s), then silence: the handshake times out 2 s after the banner
    const { err, ms } = await failure(viaProxy(`sh -c 'sleep 1; printf "SSH-2.0-OpenSSH_9.2\\r\\n"; exec sleep 30'`, 2));
    expect(err.kind).toBe('timeout');
    expect(err.message).toMatch(/^etcd1: no SSH handshake with root@127\.0\.0\.1:22 within 2 s/);
    expect(ms).toBeGreaterThanOrEqual(2900);
  }, 20_000);
});
