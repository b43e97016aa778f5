import { ApplyError, EXIT, ExitError, RefusedError } from '../util/errors.js';
import { scrub } from '../util/secrets.js';
import type { HostKeyCheck } from './knownhosts.js';

/** Why a connection could not be made. Host-key refusals, auth and key-file problems are never retried. */
export type ConnectFailureKind = 'host-key' | 'auth' | 'key-file' | 'known-hosts' | 'unreachable' | 'timeout' | 'protocol';

/** Where a connection went: the node itself, or the jump host in front of it. */
export interface SshTarget {
  /** `user@host:port`, for messages */
  label: string;
  host: string;
  port: number;
  user: string;
}

/** The host presented a key that known_hosts does not vouch for (exit 3: refused for safety). */
export class HostKeyError extends RefusedError {
  readonly kind = 'host-key' as const;
  constructor(
    readonly node: string,
    readonly target: SshTarget,
    readonly check: HostKeyCheck & { status: 'unknown' | 'changed' | 'revoked' },
    readonly knownHostsFile: string,
    /** set when the target is the jump host in front of `node` */
    readonly viaJump: boolean,
  ) {
    const { message, hint } = hostKeyMessage(node, target, check, knownHostsFile, viaJump);
    super(scrub(message), scrub(hint));
  }

  /** the same refusal reported for another node (nodes behind one jump host share its connection) */
  forNode(node: string): HostKeyError {
    return new HostKeyError(node, this.target, this.check, this.knownHostsFile, this.viaJump);
  }
}

/** Any other failure to connect (exit 1): unreachable, timed out, authentication, key file. */
export class ConnectFailedError extends ExitError {
  constructor(
    readonly node: string,
    readonly kind: Exclude<ConnectFailureKind, 'host-key'>,
    /** what happened, without the node name (the message is `<node>: <detail>`) */
    readonly detail: string,
    hint?: string,
    /** true when the target that failed is the jump host in front of `node` */
    readonly viaJump = false,
  ) {
    super(scrub(`${node}: ${detail}`), EXIT.failed, hint === undefined ? undefined : scrub(hint));
  }

  /** the same failure reported for another node (nodes behind one jump host share its connection) */
  forNode(node: string): ConnectFailedError {
    return new ConnectFailedError(node, this.kind, this.detail, this.hint, this.viaJump);
  }

  /** retrying cannot help: the same key, passphrase or file would fail the same way */
  get permanent(): boolean {
    return this.kind === 'auth' || this.kind === 'key-file' || this.kind === 'known-hosts';
  }
}

/** What `openConnections` gives for a node it could not reach (a value, not a throw). */
export type ConnectError = HostKeyError | ConnectFailedError;

export function isConnectError(x: unknown): x is ConnectError {
  return x instanceof HostKeyError || x instanceof ConnectFailedError;
}

/**
 * The connection dropped while a command ran. The command may or may not have taken effect on the node,
 * so it is not run again (unless its caller declared it idempotent with `retryOnDisconnect`).
 */
export class ConnectionLostError extends ApplyError {
  constructor(
    readonly node: string,
    /** the command as sent, scrubbed */
    readonly command: string,
    /** whether a new connection was made after the loss (later commands can go on) */
    readonly reconnected: boolean,
    detail: string,
  ) {
    super(
      scrub(
        `${node}: connection lost while running \`${command}\` (${detail}); ` +
          (reconnected ? 'reconnected, but the command was not run again' : 'reconnecting failed too'),
      ),
      reconnected
        ? 'the command may or may not have taken effect on the node: check its effect there before running it again'
        : `check that ${node} is up and sshd answers; the command may or may not have taken effect`,
    );
  }
}

/** `sudo -n` wanted a password: the SSH user lacks passwordless sudo on the node. */
export class SudoPasswordError extends ApplyError {
  constructor(
    readonly node: string,
    readonly user: string,
    readonly command: string,
  ) {
    super(
      scrub(
        `${node}: sudo wants a password for ${user}; etcd-dr needs passwordless sudo (NOPASSWD) for ${user} ` +
          `on ${node} to run its commands as root (it was running \`${command}\`), see SECURITY.md`,
      ),
      `add a sudoers rule such as "${user} ALL=(root) NOPASSWD: ALL" on ${node} (visudo -f /etc/sudoers.d/etcd-dr), or connect as root with become: false`,
    );
  }
}

function hostKeyMessage(
  node: string,
  t: SshTarget,
  check: HostKeyCheck,
  file: string,
  viaJump: boolean,
): { message: string; hint: string } {
  const what = viaJump ? `jump host ${t.host}:${t.port} (in front of ${node})` : `${t.host}:${t.port}`;
  const portOpt = t.port === 22 ? '' : ` -p ${t.port}`;
  const name = t.port === 22 ? t.host : `[${t.host}]:${t.port}`;
  switch (check.status) {
    case 'unknown': {
      if (check.otherKnownTypes?.length) {
        return {
          message:
            `${node}: ${what} presented a ${check.presentedFingerprint} key of a type ${file} has no key of for it, ` +
            `while it records ${check.otherKnownTypes.join(', ')} keys for it; refusing to connect (the host may have ` +
            `been reinstalled, or someone else may be answering)`,
          hint:
            `verify the host's keys on its console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); if they changed, remove ` +
            `the old entries (ssh-keygen -R '${name}' -f ${file}) and connect again with --accept-new-host-keys`,
        };
      }
      return {
        message:
          `${node}: the host key of ${what} is not in ${file}; refusing to connect to an unknown host. ` +
          `It presented ${check.presentedFingerprint}`,
        hint:
          `if that fingerprint is the host's, run again with --accept-new-host-keys to trust and record it; ` +
          `or fetch it with \`ssh-keyscan${portOpt} ${t.host}\`, compare \`ssh-keygen -lf\` of it with the fingerprint ` +
          `shown on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), and append it to ${file}`,
      };
    }
    case 'changed':
      return {
        message:
          `${node}: the host key of ${what} has CHANGED: ${file}:${check.line} holds ${check.knownFingerprint}, ` +
          `the host presented ${check.presentedFingerprint}. Refusing to connect: someone may be intercepting ` +
          `the connection, or the host was reinstalled`,
        hint:
          `verify the new fingerprint on the host's console (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub); only if ` +
          `the change is expected, remove line ${check.line} of ${file} (ssh-keygen -R '${name}' -f ${file}) and ` +
          `connect again. --accept-new-host-keys never overrides a changed key`,
      };
    case 'revoked':
      return {
        message: `${node}: ${what} presented ${check.presentedFingerprint}, a key marked @revoked in ${file}:${check.line}; refusing to connect`,
        hint: `the host must be given a new host key; a revoked key is never accepted`,
      };
    default:
      return { message: `${node}: host key of ${what} is fine`, hint: '' };
  }
}
