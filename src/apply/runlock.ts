/**
 * The local lock of a run dir: one etcd-dr process at a time runs a run (two `resume` of the same run,
 * or a `resume` while the first process still ends its step, would both write the journal and both act
 * on the nodes).
 *
 * `runs/<id>/run.lock` is created exclusively and names its holder: pid, host, the process's start time
 * (so a pid reused by another process is not taken for the holder) and when it was taken. A lock whose
 * process is gone on this host is stale: it is moved beside (`run.lock.stale-<time>`) and taken. A lock
 * taken on another host (a state dir on a shared file system) cannot be checked from here and is refused.
 */
import { existsSync, readFileSync, renameSync, unlinkSync, writeFileSync, closeSync, openSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { RefusedError } from '../util/errors.js';
import { errCode, fsyncDir, onBastion } from '../util/bastion-fs.js';

export interface RunLockInfo {
  pid: number;
  host: string;
  /** the holder's start time in clock ticks since boot (Linux /proc/<pid>/stat), when known */
  startTicks?: number;
  since: string;
  command?: string;
}

/** A process's start time (field 22 of /proc/<pid>/stat), undefined when not on Linux or gone. */
export function processStart(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(fields[19]);
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) === 'EPERM';
  }
}

/** Is the process that took this lock still running (on this host)? undefined: cannot tell (another host). */
export function holderAlive(info: RunLockInfo, host = hostname()): boolean | undefined {
  if (info.host !== host) return undefined;
  if (!alive(info.pid)) return false;
  if (info.startTicks === undefined) return true;
  const now = processStart(info.pid);
  return now === undefined ? true : now === info.startTicks;
}

export function parseRunLock(text: string): RunLockInfo | undefined {
  try {
    const o = JSON.parse(text) as Partial<RunLockInfo>;
    if (typeof o.pid === 'number' && typeof o.host === 'string' && typeof o.since === 'string') return o as RunLockInfo;
  } catch {
    // empty or cut: a crash between the create and the write
  }
  return undefined;
}

export class RunLock {
  private held = false;
  readonly path: string;
  /** a stale lock this one replaced (its holder had died), for the operator's notes */
  replaced?: RunLockInfo | 'unreadable';

  constructor(
    readonly runDir: string,
    readonly runId: string,
  ) {
    this.path = join(runDir, 'run.lock');
  }

  /** Takes the lock or throws a RefusedError naming the holder. */
  acquire(command = process.argv.slice(2).join(' ')): void {
    const me: RunLockInfo = { pid: process.pid, host: hostname(), since: new Date().toISOString(), command };
    const start = processStart(process.pid);
    if (start !== undefined) me.startTicks = start;
    for (let attempt = 0; attempt < 3; attempt++) {
      let fd: number | undefined;
      try {
        fd = onBastion(this.path, "the run dir's lock", () => openSync(this.path, 'wx', 0o600));
      } catch (err) {
        if (errCode(err) !== 'EEXIST') throw err;
      }
      if (fd !== undefined) {
        onBastion(this.path, "the run dir's lock", () => {
          try {
            writeFileSync(fd, `${JSON.stringify(me)}\n`);
            fsyncSync(fd);
          } finally {
            closeSync(fd);
          }
          fsyncDir(this.runDir);
        });
        this.held = true;
        process.once('exit', () => this.release());
        return;
      }
      const text = existsSync(this.path) ? readFileSync(this.path, 'utf8') : '';
      let info = parseRunLock(text);
      if (!info && text === '') {
        // another process may be between its create and its write: give it a moment before calling the lock stale
        for (let i = 0; i < 10 && !info; i++) {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
          info = parseRunLock(existsSync(this.path) ? readFileSync(this.path, 'utf8') : '');
        }
      }
      if (info && info.pid === process.pid && info.host === me.host) {
        // this process took it already (apply checks the run dir before it runs)
        this.held = true;
        return;
      }
      if (info) {
        const live = holderAlive(info);
        if (live === true) {
          throw new RefusedError(
            `run ${this.runId} is being run by another etcd-dr process: pid ${info.pid} on ${info.host} since ${info.since}${info.command ? ` (etcd-dr ${info.command})` : ''}`,
            `wait for it to end (it finishes the step under way first); its lock is ${this.path}`,
          );
        }
        if (live === undefined) {
          throw new RefusedError(
            `run ${this.runId} is locked by pid ${info.pid} on another host, ${info.host}, since ${info.since}; this host cannot tell whether it still runs`,
            `make sure no etcd-dr runs it on ${info.host}, then move ${this.path} away and try again`,
          );
        }
      } else if (text.trim() !== '') {
        throw new RefusedError(`${this.path} is not a lock this etcd-dr wrote`, `make sure no etcd-dr runs run ${this.runId}, then move ${this.path} away and try again`);
      }
      // the holder died (or died between creating the file and writing it): set its lock beside, then retry
      this.replaced = info ?? 'unreadable';
      try {
        renameSync(this.path, `${this.path}.stale-${Date.now()}`);
      } catch (err) {
        if (errCode(err) !== 'ENOENT') throw err;
      }
    }
    throw new RefusedError(`could not take ${this.path}: other processes keep taking it`, 'make sure only one etcd-dr runs this run');
  }

  /** Removes the lock file if it still names this process (another RunDir of this process may have released it already). */
  release(): void {
    if (!this.held) return;
    this.held = false;
    try {
      const info = parseRunLock(readFileSync(this.path, 'utf8'));
      if (info && info.pid === process.pid && info.host === hostname()) unlinkSync(this.path);
    } catch {
      // gone already; a lock left behind is found stale by the next process
    }
  }
}
