/**
 * Where one connection attempt goes (the node, or a jump host in front of it), and the one factory that
 * makes every error of that attempt: it knows the node, the endpoint and whether it is a jump host, so
 * the code that connects passes none of them down just to build messages.
 */
import { ConnectFailedError, HostKeyError, type ConnectFailureKind, type SshTarget } from './errors.js';
import type { HostKeyCheck } from './knownhosts.js';

/** What one connection attempt needs to know about where it goes. */
export interface Endpoint extends SshTarget {
  /** keys to offer, in order; empty when only ssh-agent is used */
  identityFiles: string[];
  /** known_hosts files checked, in order; new keys are recorded in the first */
  knownHostsFiles: string[];
  /** the name host keys are looked up under instead of host:port (ssh's HostKeyAlias) */
  hostKeyAlias?: string;
  /** seconds */
  connectTimeout: number;
  /** how the endpoint is reached: through a jump host, through a command's stdio, or directly */
  jump?: Endpoint;
  proxyCommand?: string;
}

export function endpointLabel(user: string, host: string, port: number): string {
  return `${user}@${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** The route in front of an endpoint, outermost first, for messages and events (`a > b`). */
export function routeLabel(ep: Endpoint): string | undefined {
  if (ep.proxyCommand !== undefined) return `proxy: ${ep.proxyCommand}`;
  if (!ep.jump) return undefined;
  const before = routeLabel(ep.jump);
  return before ? `${before} > ${ep.jump.label}` : ep.jump.label;
}

export class AttemptErrors {
  /** what the endpoint's ProxyCommand wrote on stderr so far, when it goes through one */
  proxyOutput?: () => string;

  constructor(
    readonly node: string,
    readonly ep: Endpoint,
    /** the endpoint is a jump host in front of `node` */
    readonly viaJump: boolean,
  ) {}

  fail(kind: Exclude<ConnectFailureKind, 'host-key'>, detail: string, hint?: string): ConnectFailedError {
    const said = this.proxyOutput?.();
    const more = said ? ` (its ProxyCommand \`${this.ep.proxyCommand}\` said: ${said.split('\n').slice(-3).join(' / ')})` : '';
    return new ConnectFailedError(this.node, kind, detail + more, hint, this.viaJump);
  }

  hostKey(check: HostKeyCheck & { status: 'unknown' | 'changed' | 'revoked' }, file: string): HostKeyError {
    return new HostKeyError(this.node, this.ep, check, file, this.viaJump);
  }

  keyFile(file: string, why: 'unreadable' | 'encrypted' | 'passphrase' | 'invalid', detail = ''): ConnectFailedError {
    const what = this.viaJump ? 'the jump host identity file' : 'identity file';
    switch (why) {
      case 'unreadable':
        return this.fail('key-file', `cannot read ${what} ${file}: ${detail}`, 'fix ssh.identityFile in the inventory (or leave it out to use ssh-agent)');
      case 'encrypted':
        return this.fail(
          'key-file',
          `${what} ${file} is encrypted and no passphrase was given`,
          'set ETCD_DR_SSH_PASSPHRASE in the environment, or load the key into ssh-agent (ssh-add) and leave identityFile out',
        );
      case 'passphrase':
        return this.fail('key-file', `the passphrase does not decrypt ${what} ${file}`, 'check ETCD_DR_SSH_PASSPHRASE');
      default:
        return this.fail('key-file', `${what} ${file} is not a private key etcd-dr can use: ${detail}`, 'point ssh.identityFile at an OpenSSH or PEM private key');
    }
  }

  /** an ssh2 error of the handshake, as the user should read it */
  classify(err: Error & { level?: string }, usedKeys: readonly string[], usedAgent: boolean): ConnectFailedError {
    const ep = this.ep;
    const what = this.viaJump ? `jump host ${ep.label}` : ep.label;
    if (err.level === 'client-authentication') {
      const tried = [usedKeys.length > 0 ? `key ${usedKeys.join(', ')}` : undefined, usedAgent ? 'the keys in ssh-agent' : undefined].filter(Boolean).join(' and ');
      return this.fail(
        'auth',
        `${what} refused authentication as ${ep.user} (tried ${tried})`,
        `make sure the matching public key is in ~${ep.user}/.ssh/authorized_keys on ${ep.host} and that ${ep.user} may log in`,
      );
    }
    if (err.level === 'client-timeout') {
      return this.fail('timeout', `no SSH handshake with ${what} within ${ep.connectTimeout} s`, `check that sshd runs on ${ep.host}:${ep.port}, or raise ssh.connectTimeout`);
    }
    if (err.level === 'client-socket') {
      return this.fail('unreachable', `cannot reach ${what}: ${err.message}`, `check that ${ep.host} is up and sshd listens on port ${ep.port}`);
    }
    return this.fail('protocol', `SSH with ${what} failed: ${err.message}`);
  }
}
