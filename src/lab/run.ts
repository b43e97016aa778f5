/** Run a local program (argv, never a shell string) and collect its result. */
import { spawn } from 'node:child_process';
import type { ExecResult } from '../ssh/types.js';

export interface RunOptions {
  /** seconds; default 120 */
  timeout?: number;
  stdin?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** For display in messages: argv joined, each element single-quoted when it needs it. */
export function displayArgv(argv: readonly string[]): string {
  return argv.map((a) => (/^[A-Za-z0-9_./:=@%+,-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Resolves (never rejects on a non-zero exit) with code, signal, output, duration and timeout. */
export function runFile(file: string, args: readonly string[], opts: RunOptions = {}): Promise<ExecResult> {
  const started = Date.now();
  const command = displayArgv([file, ...args]);
  return new Promise((resolvePromise) => {
    const child = spawn(file, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => undefined); // the program may exit without reading it
      child.stdin.end(opts.stdin);
    }
    const timer = setTimeout(
      () => {
        timedOut = true;
        child.kill('SIGKILL');
      },
      (opts.timeout ?? 120) * 1000,
    );
    child.on('error', (e) => (spawnError = e));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({
        command,
        code: timedOut ? null : code,
        signal: signal ?? null,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8') + (spawnError ? `${spawnError.message}\n` : ''),
        durationMs: Date.now() - started,
        timedOut,
      });
    });
  });
}

/** The last `n` lines of a text, for error messages. */
export function tailLines(text: string, n: number): string {
  const lines = text.replace(/\n+$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

/** A one-line summary of a failed result plus its output, for error messages. */
export function describeFailure(r: ExecResult): string {
  const how = r.timedOut ? 'timed out' : r.signal ? `was killed by ${r.signal}` : `exited with ${String(r.code)}`;
  const output = tailLines(`${r.stderr}${r.stdout}`.trim(), 12);
  return `\`${r.command}\` ${how}${output ? `:\n${output.replace(/^/gm, '    ')}` : ''}`;
}
