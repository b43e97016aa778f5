import type { Writable } from 'node:stream';
import type { JsonOut } from './output.js';

/**
 * What a command needs from the process, passed in so that only main.ts touches `process`,
 * and tests can run a command in-process with their own streams.
 */
export interface CliContext {
  stdout: Writable;
  stderr: Writable;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** commands that end with a meaningful non-zero code without an error (e.g. `status`) set it here */
  exitCode: number;
  /** true when stdout is a terminal (tables, live progress) */
  isTTY: boolean;
  /** true when stderr is a terminal: progress is drawn live there */
  stderrIsTTY?: boolean;
  /** where confirmations are read (default process.stdin) */
  stdin?: NodeJS.ReadableStream;
  /** --json: the command's result goes to `out`, and main.ts prints it as the one JSON document */
  json: boolean;
  out: JsonOut;
}

/** Options every command accepts. */
export interface GlobalArgs {
  inventory?: string;
  json: boolean;
  'log-level': string;
  'accept-new-host-keys': boolean;
}
