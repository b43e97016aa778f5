/** The settings a connection runs with (ConnectOptions with their defaults filled in), and the events it reports. */

/** Emitted once per remote command, whatever its outcome; `command` is already scrubbed. */
export interface ExecEvent {
  node: string;
  command: string;
  code: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** set when the command did not run to an exit status (the connection dropped) */
  error?: string;
}

export type ConnectionEvent =
  /** `via`: the route's hops, outermost first, joined with ` > ` (a ProxyCommand shows as `proxy: <command>`) */
  | { type: 'connected'; node: string; target: string; via?: string; attempt: number; reconnect: boolean }
  | { type: 'connect-attempt-failed'; node: string; attempt: number; retriesLeft: number; error: string }
  | { type: 'host-key-recorded'; node: string; host: string; port: number; keyType: string; fingerprint: string; file: string }
  | { type: 'connection-lost'; node: string; error?: string };

export interface Resolved {
  acceptNewHostKeys: boolean;
  passphrase: string | undefined;
  agent: string | undefined;
  onExec: (e: ExecEvent) => void;
  onEvent: (e: ConnectionEvent) => void;
  maxChannels: number;
  maxOutputBytes: number;
  connectAttempts: number;
  retryMinTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}
