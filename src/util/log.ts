import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { onBastion } from './bastion-fs.js';
import { terminalSafe } from './terminal.js';

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type Logger = pino.Logger;

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'v']);

/**
 * One JSON log record as a readable line: `12:03:04.512 INFO  etcd2: started (ms=812)`. Fields may quote
 * what a node printed, so the line is made terminal-safe.
 */
export function formatLogLine(rec: Record<string, unknown>): string {
  const t = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const lvl = (LEVEL_NAMES[Number(rec.level)] ?? String(rec.level)).padEnd(5);
  const node = typeof rec.node === 'string' ? `${rec.node}: ` : '';
  const extras = Object.entries(rec)
    .filter(([k]) => !HIDDEN.has(k) && k !== 'node')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return terminalSafe(`${t} ${lvl} ${node}${String(rec.msg ?? '')}${extras ? ` (${extras})` : ''}`);
}

/** A stream that turns pino's JSON lines into readable lines on another stream (stderr). */
export function readableStream(out: NodeJS.WritableStream): Writable {
  let buf = '';
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      buf += chunk.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          out.write(`${formatLogLine(JSON.parse(line) as Record<string, unknown>)}\n`);
        } catch {
          out.write(`${terminalSafe(line)}\n`);
        }
      }
      cb();
    },
  });
}

export interface LoggerOptions {
  /** readable lines at this level go to `stderr` */
  level: LogLevel;
  stderr: NodeJS.WritableStream;
  /** JSON lines at debug level (or `level` if lower) go to this file, created 0600 */
  file?: string;
  /** scrubs registered secrets out of every message and field before it is written */
  scrub?: (s: string) => string;
}

export function createLogger(opts: LoggerOptions): Logger {
  const streams: pino.StreamEntry[] = [];
  if (opts.level !== 'silent') streams.push({ level: opts.level, stream: readableStream(opts.stderr) });
  if (opts.file) {
    const file = opts.file;
    const fd = onBastion(file, "the run's log", () => {
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      return openSync(file, 'a', 0o600);
    });
    const fileLevel = opts.level === 'trace' ? 'trace' : 'debug';
    const dest = pino.destination({ fd, sync: true });
    // a failed write of the log (a full disk) is said once on stderr; it never crashes the run, whose journal is its record
    let told = false;
    dest.on('error', (err: NodeJS.ErrnoException) => {
      if (told) return;
      told = true;
      opts.stderr.write(`etcd-dr: cannot write the log ${opts.file}: ${err.code ?? err.message}; lines are missing from it from here on (make room on its file system)\n`);
    });
    streams.push({ level: fileLevel, stream: dest });
  }
  const scrub = opts.scrub;
  return pino(
    {
      level: opts.level === 'trace' ? 'trace' : opts.file ? 'debug' : opts.level,
      base: undefined,
      formatters: scrub
        ? {
            log: (obj) => JSON.parse(scrub(JSON.stringify(obj))) as Record<string, unknown>,
          }
        : undefined,
      hooks: scrub
        ? {
            logMethod(args, method) {
              const scrubbed = args.map((a) => (typeof a === 'string' ? scrub(a) : a)) as Parameters<typeof method>;
              return method.apply(this, scrubbed);
            },
          }
        : undefined,
    },
    pino.multistream(streams.length ? streams : [{ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) }]),
  );
}
