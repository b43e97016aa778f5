/** What a caller can set for the connections of a run, and how the defaults are filled in. */
import { registerSecret } from '../util/secrets.js';
import type { ConnectionEvent, ExecEvent, Resolved } from './resolved.js';
import type { JumpConnections } from './route.js';

export type { ConnectionEvent, ExecEvent, Resolved } from './resolved.js';

export interface ConnectOptions {
  /** record host keys not yet in known_hosts instead of refusing them (a changed key is refused anyway) */
  acceptNewHostKeys?: boolean;
  /** passphrase of encrypted identity files; default: env ETCD_DR_SSH_PASSPHRASE. Never logged. */
  passphrase?: string;
  /** where SSH_AUTH_SOCK and ETCD_DR_SSH_PASSPHRASE are read; default process.env */
  env?: NodeJS.ProcessEnv;
  onExec?: (e: ExecEvent) => void;
  onEvent?: (e: ConnectionEvent) => void;
  /** concurrent channels per connection (default 8; OpenSSH's MaxSessions defaults to 10) */
  maxChannels?: number;
  /** default cap of stdout and of stderr per command, bytes (default 64 MiB) */
  maxOutputBytes?: number;
  /** connection attempts before giving up on a node (default 3) */
  connectAttempts?: number;
  /** first back-off between attempts, doubled each time (default 1000 ms) */
  retryMinTimeoutMs?: number;
  /** default 5000 ms */
  keepaliveIntervalMs?: number;
  /** unanswered keepalives before the connection counts as dead (default 3) */
  keepaliveCountMax?: number;
  /** connections to jump hosts shared by the nodes of one run; connectNode makes its own when absent */
  jumps?: JumpConnections;
}

const MIB = 1024 * 1024;

export function resolveOptions(o: ConnectOptions): Resolved {
  const env = o.env ?? process.env;
  const passphrase = o.passphrase ?? (env.ETCD_DR_SSH_PASSPHRASE || undefined);
  if (passphrase !== undefined) registerSecret(passphrase);
  return {
    acceptNewHostKeys: o.acceptNewHostKeys ?? false,
    passphrase,
    agent: env.SSH_AUTH_SOCK || undefined,
    onExec: o.onExec ?? (() => {}),
    onEvent: o.onEvent ?? (() => {}),
    maxChannels: o.maxChannels ?? 8,
    maxOutputBytes: o.maxOutputBytes ?? 64 * MIB,
    connectAttempts: o.connectAttempts ?? 3,
    retryMinTimeoutMs: o.retryMinTimeoutMs ?? 1000,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? 5000,
    keepaliveCountMax: o.keepaliveCountMax ?? 3,
  };
}
