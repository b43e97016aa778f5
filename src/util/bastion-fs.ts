/**
 * Writes on the bastion (journal, db copy, logs, reports) that say what failed instead of crashing.
 *
 * A full file system (ENOSPC, EDQUOT), a read-only one (EROFS) or a permission problem become a
 * BastionWriteError (exit 8) that names the path, the room needed when known, and how to go on: the run
 * dir holds everything `resume` needs, so the run goes on once room is made, or from a copy of the run
 * dir in another state dir.
 */
import { appendFileSync, closeSync, existsSync, fsyncSync, openSync, statSync, statfsSync, truncateSync } from 'node:fs';
import { dirname } from 'node:path';
import { EXIT, ExitError } from './errors.js';

const ROOM_CODES = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);
const WRITE_CODES = new Set([...ROOM_CODES, 'EROFS', 'EACCES', 'EPERM', 'EIO', 'ENOENT', 'ENOTDIR', 'EISDIR']);

export function errCode(err: unknown): string | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'string' ? c : undefined;
}

/** Is this a failed write on the bastion (as opposed to a bug)? */
export function isWriteFailure(err: unknown): boolean {
  return WRITE_CODES.has(errCode(err) ?? '');
}

export function mib(bytes: number): string {
  return bytes >= 1 << 20 ? `${(bytes / (1 << 20)).toFixed(1)} MiB` : `${bytes} bytes`;
}

/** Free bytes for an unprivileged writer on the file system holding `path` (its nearest existing dir). */
export function freeBytes(path: string): number | undefined {
  let p = path;
  for (let i = 0; i < 64; i++) {
    try {
      const s = statfsSync(p);
      return Number(s.bavail) * Number(s.bsize);
    } catch {
      const up = dirname(p);
      if (up === p) return undefined;
      p = up;
    }
  }
  return undefined;
}

export class BastionWriteError extends ExitError {
  constructor(
    readonly path: string,
    readonly code: string,
    what: string,
    readonly opts: { needBytes?: number; runDir?: string; runId?: string; detail?: string; copyOf?: string } = {},
  ) {
    const free = freeBytes(path);
    const room = ROOM_CODES.has(code);
    const need = opts.needBytes !== undefined ? `; it needs ${mib(opts.needBytes)}` : '';
    const has = free !== undefined ? `, ${mib(free)} free there` : '';
    const why = room ? `${code === 'ENOSPC' && free !== undefined && free > 0 ? 'not enough room' : 'the file system is full'} (${code}${has}${need})` : `${code}${opts.detail ? `: ${opts.detail}` : ''}`;
    const resume = opts.runId ? `etcd-dr resume ${opts.runId}` : 'etcd-dr resume';
    const elsewhere = opts.copyOf
      ? `, or \`${resume} --backup-dir <a dir with room>\`; the incomplete copy was removed and ${opts.copyOf} stays kept aside on the node`
      : opts.runDir
        ? `, or copy ${opts.runDir} into <other state dir>/runs/ and run \`${resume} --state-dir <other state dir>\``
        : '';
    super(
      `cannot write ${what} on the bastion: ${path}: ${why}`,
      EXIT.bastionWrite,
      `${room ? `make room on the file system of ${path}${opts.needBytes !== undefined ? ` (at least ${mib(opts.needBytes)})` : ''}` : `make ${path} writable`}, then \`${resume}\`${elsewhere}; nothing done on the nodes is lost and no incomplete file is taken for a complete one`,
    );
  }
}

/** Runs a write; a failed write on the bastion becomes a BastionWriteError, anything else is rethrown. */
export function onBastion<T>(path: string, what: string, fn: () => T, opts: ConstructorParameters<typeof BastionWriteError>[3] = {}): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ExitError || !isWriteFailure(err)) throw err;
    throw new BastionWriteError(path, errCode(err)!, what, { ...opts, detail: (err as Error).message });
  }
}

/** fsync a directory, so a file created or renamed in it survives a crash of the bastion. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Appends bytes and fsyncs them before returning; syncs the directory too when the file is new. A write
 * cut short (a full disk) is cut back off, so the next append never follows half a line. (appendFileSync
 * by path: the fault suites' step hook watches it.)
 */
export function appendDurably(path: string, data: string, mode = 0o600): void {
  const created = !existsSync(path);
  const before = created ? 0 : statSync(path).size;
  try {
    appendFileSync(path, data, { mode });
    const fd = openSync(path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    try {
      truncateSync(path, before);
    } catch {
      // the reader drops an unterminated last line anyway
    }
    throw err;
  }
  if (created) fsyncDir(dirname(path));
}

/** The same failure, told as a failed db copy of run `runId` (resume can put the copy elsewhere). */
export function withCopyHint(err: BastionWriteError, runId: string, remoteDb: string): BastionWriteError {
  return new BastionWriteError(err.path, err.code, err.message.replace(/^cannot write (.*?) on the bastion: .*$/s, '$1'), { ...err.opts, runId, copyOf: remoteDb });
}
