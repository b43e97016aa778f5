import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, renameSync, writeFileSync, fsyncSync, chmodSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { scrub } from '../util/secrets.js';

/**
 * A run's files on the bastion: `.etcd-dr/runs/<id>/` with the plan, the journal (JSON lines, one event per
 * step and command) and the JSON log. Directories 0700, files 0600: the journal quotes remote output and
 * the backup sits beside it.
 */

/** `20261124T193012Z-3f9c`: sortable, unique enough, safe in file names and shell words. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export const RUN_ID_RE = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;

export function runsRoot(stateDir: string): string {
  return resolve(stateDir, 'runs');
}

export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Write a file atomically (temp + fsync + rename) with mode 0600. The temp file has a fresh random name
 * and is created exclusively: a file or symlink planted at a name someone could guess (`plan -o` into a
 * shared dir such as /tmp) is never written through, and never lends the plan its mode.
 */
export function writePrivateFile(path: string, content: string): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
  const fd = openSync(tmp, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(tmp, path);
}

export type JournalEvent =
  | { t: string; event: 'run-start'; runId: string; resumed: boolean; pid: number }
  | { t: string; event: 'step-start'; step: string }
  | { t: string; event: 'step-done'; step: string; ms: number; outcome: string; data?: Record<string, unknown> }
  | { t: string; event: 'step-failed'; step: string; ms: number; error: string }
  | { t: string; event: 'rollback'; step: string; detail: string; undone?: string[] }
  /** the connection to `node` dropped during the step, so its first attempt has an unknown outcome; the step ran again */
  | { t: string; event: 'step-retry'; step: string; node: string; error: string }
  /** `resume --exclude`: the rest of the run leaves these members out; the plan the run started with is kept beside */
  | { t: string; event: 'plan-amended'; exclude: string[]; previousPlan: string; changes: string[] }
  | {
      t: string;
      event: 'command';
      step: string;
      node: string;
      command: string;
      code: number | null;
      signal: string | null;
      ms: number;
      timedOut: boolean;
      stdout: string;
      stderr: string;
    }
  | { t: string; event: 'run-end'; outcome: 'done' | 'failed' | 'interrupted' | 'refused'; ms: number; error?: string };

type Without<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
export type JournalInput = Without<JournalEvent, 't'>;

const tail = (s: string, n = 4000) => (s.length > n ? `…${s.slice(-n)}` : s);

export class RunDir {
  readonly dir: string;
  readonly journalPath: string;
  readonly planPath: string;
  readonly logPath: string;

  constructor(stateDir: string, readonly runId: string) {
    this.dir = join(runsRoot(stateDir), runId);
    this.journalPath = join(this.dir, 'journal.jsonl');
    this.planPath = join(this.dir, 'plan.json');
    this.logPath = join(this.dir, 'log.jsonl');
  }

  create(): void {
    ensurePrivateDir(this.dir);
  }

  exists(): boolean {
    return existsSync(this.planPath);
  }

  /** Appends one event; every string is scrubbed of registered secrets and long outputs keep their tail. */
  append(e: JournalInput): void {
    const ev = { t: new Date().toISOString(), ...e } as JournalEvent;
    if (ev.event === 'command') {
      ev.stdout = tail(ev.stdout);
      ev.stderr = tail(ev.stderr);
    }
    appendFileSync(this.journalPath, `${scrub(JSON.stringify(ev))}\n`, { mode: 0o600 });
  }

  read(): JournalEvent[] {
    if (!existsSync(this.journalPath)) return [];
    const out: JournalEvent[] = [];
    for (const line of readFileSync(this.journalPath, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as JournalEvent);
      } catch {
        // a line cut by a crash mid-write is the last one; what it said is repeated on resume
      }
    }
    return out;
  }

  /** Steps that finished, in journal order. */
  doneSteps(): Set<string> {
    return new Set(this.read().flatMap((e) => (e.event === 'step-done' ? [e.step] : [])));
  }
}

/** Run ids under a state dir, newest last. */
export function listRuns(stateDir: string): string[] {
  const root = runsRoot(stateDir);
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => RUN_ID_RE.test(d))
    .sort();
}

/**
 * How a run of this state dir ended, when its journal's last `run-end` says `done`: a lock of that run still
 * on a node is stale (the node could not be reached when the run released its locks, e.g. it was excluded
 * after it lost power). Undefined for a run this bastion does not know, or one that may still go on
 * (failed or interrupted runs are resumed, and keep their locks).
 */
export function endedRun(stateDir: string, runId: string): string | undefined {
  if (!RUN_ID_RE.test(runId)) return undefined;
  const run = new RunDir(stateDir, runId);
  const end = run
    .read()
    .filter((e): e is Extract<JournalEvent, { event: 'run-end' }> => e.event === 'run-end')
    .pop();
  return end?.outcome === 'done' ? `finished on this bastion at ${end.t}` : undefined;
}
