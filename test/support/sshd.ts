/**
 * A real OpenSSH sshd for transport tests, on a loopback address of its own: host key and client key made
 * with ssh-keygen in a temp dir, no PAM, authorized keys from the temp dir, verbose log in the temp dir.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { NodeSpec } from '../../src/inventory/types.js';
import { kubesprayEtcd } from './facts.js';

export const SSHD = '/usr/sbin/sshd';

/** A key pair made by ssh-keygen. */
export interface KeyPair {
  file: string;
  pub: string;
  /** `ssh-ed25519` */
  type: string;
  /** the public key blob, base64 */
  base64: string;
  /** `SHA256:…` as ssh-keygen -l prints it */
  fingerprint: string;
}

export function makeKey(dir: string, name: string, passphrase = '', type = 'ed25519'): KeyPair {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', passphrase, '-C', name, '-f', file]);
  return readKeyPair(file);
}

export function readKeyPair(file: string): KeyPair {
  const pub = readFileSync(`${file}.pub`, 'utf8').trim();
  const [type, base64] = pub.split(' ') as [string, string];
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-f', `${file}.pub`], { encoding: 'utf8' }).split(' ')[1]!;
  return { file, pub, type, base64, fingerprint };
}

/** A TCP port nothing listens on at `address` right now. */
export async function freePort(address: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, address, () => {
      const a = srv.address();
      const port = typeof a === 'object' && a ? a.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function parentOf(pid: number): number | undefined {
  try {
    // the comm field may hold spaces and parentheses; the fields after its last ')' are fixed
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function commOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Every live descendant of `root`. */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const pid = Number(d);
    const pp = parentOf(pid);
    if (pp === undefined) continue;
    children.set(pp, [...(children.get(pp) ?? []), pid]);
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length) {
    for (const c of children.get(queue.shift()!) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

export interface SshdOptions {
  /** a 127.x.y.z address */
  address: string;
  /** public keys allowed to log in (any user) */
  authorizedKeys: string[];
  /** more sshd_config lines */
  extraConfig?: string[];
}

export class TestSshd {
  private proc: ChildProcess | undefined;

  private constructor(
    readonly address: string,
    readonly port: number,
    readonly dir: string,
    readonly hostKey: KeyPair,
    readonly logFile: string,
  ) {}

  /** Starts sshd -D and waits until it listens. */
  static async start(opts: SshdOptions): Promise<TestSshd> {
    // sshd refuses to start without its privilege separation directory
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-sshd-'));
    // non-root test users read authorized_keys from here (sshd reads it as the user)
    chmodSync(dir, 0o755);
    const hostKey = makeKey(dir, 'ssh_host_ed25519_key');
    const port = await freePort(opts.address);
    const authorized = join(dir, 'authorized_keys');
    writeFileSync(authorized, opts.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), { mode: 0o644 });
    chmodSync(authorized, 0o644);
    const cfg = join(dir, 'sshd_config');
    writeFileSync(
      cfg,
      [
        `ListenAddress ${opts.address}:${port}`,
        `HostKey ${hostKey.file}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        `AuthorizedKeysFile ${authorized}`,
        'UsePAM no',
        'StrictModes no',
        'PermitRootLogin prohibit-password',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'LogLevel DEBUG1',
        'MaxStartups 100',
        ...(opts.extraConfig ?? []),
        '',
      ].join('\n'),
    );
    const logFile = join(dir, 'sshd.log');
    const s = new TestSshd(opts.address, port, dir, hostKey, logFile);
    s.proc = spawn(SSHD, ['-D', '-f', cfg, '-E', logFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    s.proc.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const deadline = Date.now() + 10_000;
    while (!s.log().includes('Server listening on')) {
      if (s.proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`sshd on ${opts.address}:${port} did not start: ${stderr}\n${s.log()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return s;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }

  /** successful logins so far (one per SSH connection) */
  acceptedLogins(): number {
    return (this.log().match(/Accepted publickey for /g) ?? []).length;
  }

  /** the known_hosts line for this server */
  knownHostsLine(): string {
    return `[${this.address}]:${this.port} ${this.hostKey.type} ${this.hostKey.base64}\n`;
  }

  /**
   * Kills (SIGKILL) the sshd processes serving the open connections, as a crash or a network cut would:
   * the client sees its TCP connection end with no SSH goodbye. Commands they started are left alone.
   */
  dropConnections(): number {
    const victims = descendants(this.pid).filter((p) => commOf(p) === 'sshd');
    for (const p of victims) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    return victims.length;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      this.dropConnections();
      p.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A NodeSpec for a test sshd (etcd settings are placeholders: the transport never reads them). */
export function nodeSpec(name: string, sshd: { address: string; port: number }, ssh: Partial<NodeSpec['ssh']> & { knownHostsFile: string }): NodeSpec {
  return {
    name,
    host: name,
    address: sshd.address,
    ssh: {
      sshHost: sshd.address,
      user: 'root',
      port: sshd.port,
      become: false,
      connectTimeout: 5,
      commandTimeout: 30,
      ...ssh,
    },
    etcd: kubesprayEtcd(name),
  };
}

function userExists(user: string): boolean {
  try {
    execFileSync('id', ['-u', user], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Makes a local user that can log in with a key (its password field `*`: no password, but not locked,
 * which sshd without PAM would refuse), and gives it passwordless sudo when `sudo` is true. Returns
 * the sudoers file written, for removal after the tests.
 */
export function ensureTestUser(user: string, sudo: boolean): string | undefined {
  if (!userExists(user)) execFileSync('useradd', ['-m', '-s', '/bin/sh', user]);
  execFileSync('usermod', ['-p', '*', user]);
  if (!sudo) return undefined;
  const file = `/etc/sudoers.d/${user}`;
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, `${user} ALL=(root) NOPASSWD: ALL\n`, { mode: 0o440 });
  execFileSync('visudo', ['-cf', tmp], { stdio: 'ignore' });
  renameSync(tmp, file);
  return file;
}
