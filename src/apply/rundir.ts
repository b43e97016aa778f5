import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, renameSync, writeFileSync, fsyncSync, chmodSync, truncateSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { RefusedError } from '../util/errors.js';
import { scrub } from '../util/secrets.js';
import { appendDurably, fsyncDir, onBastion } from '../util/bastion-fs.js';
import { RunLock } from './runlock.js';
import { RUN_ID_RE } from '../plan/run-id.js';
import { encodeHead, encodeLine, parseHead, parseJournal, type JournalHead, type ParsedJournal } from './journal-format.js';

/**
 * A run's files on the bastion: `.etcd-dr/runs/<id>/` with the plan, the journal (JSON lines, one event per
 * step and command) and the JSON log. Directories 0700, files 0600: the journal quotes remote output and
 * the backup sits beside it.
 */

// run ids are the plan's (a plan is made for one run); re-exported for the run dir's importers

export function runsRoot(stateDir: string): string {
  return resolve(stateDir, 'runs');
}

export function ensurePrivateDir(dir: string): void {
  onBastion(dir, 'a directory', () => {
    const first = mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    // every directory this made is synced into its parent, so a run dir survives a crash of the bastion
    if (first !== undefined) {
      for (let d = dir; ; d = dirname(d)) {
        fsyncDir(dirname(d));
        if (d === first || dirname(d) === d) break;
      }
    }
  });
}

/**
 * Write a file atomically (temp + fsync + rename) with mode 0600. The temp file has a fresh random name
 * and is created exclusively: a file or symlink planted at a name someone could guess (`plan -o` into a
 * shared dir such as /tmp) is never written through, and never lends the plan its mode.
 */
export function writePrivateFile(path: string, content: string, what = 'a file', where: { runDir?: string; runId?: string } = {}): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  onBastion(
    path,
    what,
    () => {
      try {
        writeFileSync(tmp, content, { mode: 0o600, flag: 'wx' });
        const fd = openSync(tmp, 'r');
        fsyncSync(fd);
        closeSync(fd);
        renameSync(tmp, path);
      } catch (err) {
        // a temp file cut short by a full disk is never left to look like a whole one
        try {
          unlinkSync(tmp);
        } catch {
          // not created
        }
        throw err;
      }
      fsyncDir(dirname(path));
    },
    { needBytes: Buffer.byteLength(content), ...where },
  );
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

  /** the journal's head file: the last line written durably (seq, sum), to tell a truncated journal */
  readonly headPath: string;
  /** where this process's next line goes in the chain; loaded (and a torn last line set aside) on the first append */
  private head: JournalHead | undefined;

  constructor(stateDir: string, readonly runId: string) {
    this.dir = join(runsRoot(stateDir), runId);
    this.journalPath = join(this.dir, 'journal.jsonl');
    this.headPath = join(this.dir, 'journal.head');
    this.planPath = join(this.dir, 'plan.json');
    this.logPath = join(this.dir, 'log.jsonl');
  }

  create(): void {
    ensurePrivateDir(this.dir);
  }

  private runLock: RunLock | undefined;

  /** Takes the run dir's local lock (one process per run; released when the process ends), or refuses. */
  lock(): RunLock {
    this.create();
    const l = (this.runLock ??= new RunLock(this.dir, this.runId));
    l.acquire();
    return l;
  }

  unlock(): void {
    this.runLock?.release();
  }

  exists(): boolean {
    return existsSync(this.planPath);
  }

  /**
   * Appends one event, durably (the line is fsynced before this returns, the directory when the file is
   * new), with its sequence number and checksum; then records the new head. Every string is scrubbed of
   * registered secrets and long outputs keep their tail. A failed write is a BastionWriteError.
   */
  append(e: JournalInput): void {
    const ev = { t: new Date().toISOString(), ...e } as JournalEvent;
    if (ev.event === 'command') {
      ev.stdout = tail(ev.stdout);
      ev.stderr = tail(ev.stderr);
    }
    const head = (this.head ??= this.openForAppend());
    const { line, sum } = encodeLine(head.seq + 1, head.sum, scrub(JSON.stringify(ev)));
    const opts = { runDir: this.dir, runId: this.runId };
    onBastion(this.journalPath, "the run's journal", () => appendDurably(this.journalPath, `${line}\n`), { ...opts, needBytes: line.length + 1 });
    this.head = { seq: head.seq + 1, sum };
    writePrivateFile(this.headPath, encodeHead(this.head), "the run's journal head", opts);
  }

  /**
   * The journal as read from disk, checked: its events, and the problems that make it untrustworthy
   * (see journal-format.ts). A journal that does not exist is empty and fine.
   */
  check(): ParsedJournal<JournalEvent> & { headFile: 'ok' | 'missing' | 'damaged' } {
    const text = existsSync(this.journalPath) ? readFileSync(this.journalPath, 'utf8') : '';
    const headText = existsSync(this.headPath) ? readFileSync(this.headPath, 'utf8') : undefined;
    const recorded = headText !== undefined ? parseHead(headText) : undefined;
    const parsed = parseJournal<JournalEvent>(text, recorded);
    const headFile = headText === undefined ? 'missing' : recorded ? 'ok' : 'damaged';
    if (headFile === 'damaged') parsed.problems.push({ message: `${this.headPath} is damaged (it is only ever replaced whole)` });
    return { ...parsed, headFile };
  }

  /** The events of the journal's intact lines (up to the first damaged one). */
  read(): JournalEvent[] {
    return this.check().events;
  }

  /** Continue the chain after the journal's last intact line; a torn last line is moved aside first. */
  private openForAppend(): JournalHead {
    const j = this.check();
    if (j.problems.length) {
      throw new RefusedError(`the journal of run ${this.runId} is damaged: ${j.problems.map((p) => (p.line ? `line ${p.line}: ${p.message}` : p.message)).join('; ')}`, `nothing more is written to ${this.journalPath}`);
    }
    if (!existsSync(this.journalPath)) return j.head;
    const size = readFileSync(this.journalPath).length;
    if (j.tornTail !== undefined) {
      // kept for the record, beside the journal, before the journal is cut back to its last whole line
      writePrivateFile(join(this.dir, `journal.torn-${Date.now()}`), j.tornTail, "the journal's torn last line");
      onBastion(this.journalPath, "the run's journal", () => {
        truncateSync(this.journalPath, j.intactBytes);
        const fd = openSync(this.journalPath, 'r+');
        fsyncSync(fd);
        closeSync(fd);
      });
    } else if (size > j.intactBytes || (size > 0 && !readFileSync(this.journalPath, 'utf8').endsWith('\n'))) {
      // a whole last line whose newline was not written
      onBastion(this.journalPath, "the run's journal", () => appendDurably(this.journalPath, '\n'));
    }
    return j.head;
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
