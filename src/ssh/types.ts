import type { GrowingFile } from '../util/growing-file.js';

/** The result of one remote command. Failure is decided by `code`, never by stderr having text. */
export interface ExecResult {
  /** the command as sent (already quoted), with secrets scrubbed */
  command: string;
  /** exit status; null when the command was killed by a signal or timed out */
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  /** milliseconds */
  durationMs: number;
  timedOut: boolean;
  /** true when stdout went past the output cap and the rest was dropped (the command still ran to its end) */
  stdoutTruncated?: boolean;
  stderrTruncated?: boolean;
  /**
   * set when `timedOut`: false only when the command is known to be gone. etcd-dr asks sshd to KILL a
   * timed-out command, but sshd signals only in sessions of a non-root login, and as that user, so it
   * cannot reach a command run through sudo; a command of a root login or under sudo is left running
   * and its caller must treat it as possibly still at work.
   */
  mayStillRun?: boolean;
}

export interface ExecOptions {
  /** seconds; defaults to the node's `ssh.commandTimeout`; 0 for none */
  timeout?: number;
  /** written to the command's stdin, then closed; a function gives a stream (a large file), made anew for each attempt */
  stdin?: string | Buffer | (() => NodeJS.ReadableStream);
  /** run through `sudo -n` even if the node's `become` is false (or not, when false) */
  become?: boolean;
  /**
   * the caller declares the command idempotent (a read): if the connection drops while it runs, it is
   * run once more after reconnecting. Without it a dropped connection fails the command with
   * ConnectionLostError, because a change may or may not have happened on the node.
   */
  retryOnDisconnect?: boolean;
  /** bytes kept of stdout and of stderr each; more is dropped and flagged `…Truncated` (default 64 MiB) */
  maxOutputBytes?: number;
}

export type { GrowingFile };

export interface DownloadOptions {
  /** mode of the local file (default 0o600); it is created 0600 and changed only once complete */
  mode?: number;
  /** seconds; defaults to the node's `ssh.commandTimeout` */
  timeout?: number;
  /** read the file through `sudo -n` (default: the node's `become`) */
  become?: boolean;
  /** told of each attempt's file as it is written, so a reader can follow it (see GrowingFile) */
  onFile?: (f: GrowingFile) => void;
}


/** One open SSH connection to one node, reused for every command of a run. */
export interface NodeConnection {
  readonly node: string;
  /** run an argv (each element quoted by `shellQuote`) */
  exec(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  /** run a shell script text as `sh -c <script>` (the script is one quoted argument) */
  sh(script: string, opts?: ExecOptions): Promise<ExecResult>;
  /** copy a remote file to a local path (streamed); returns bytes and sha256 hex */
  download(remotePath: string, localPath: string, opts?: DownloadOptions): Promise<{ bytes: number; sha256: string }>;
  close(): Promise<void>;
}
