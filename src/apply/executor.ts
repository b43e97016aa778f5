/**
 * Runs a plan, step by step, exactly as reviewed. Every step is journaled before and after; steps already
 * done in an earlier attempt of the same run are skipped (`resume`). Each action has one handler; the
 * remote scripts are the plan's own texts (src/plan/scripts.ts), so what ran is what was shown.
 *
 * Safety rules the handlers keep:
 * - nothing is deleted: data dirs and env files are moved aside or backed up;
 * - a dropped SSH connection during a step re-runs the step once (every step checks before it acts);
 * - a failed join is rolled back so the members already serving keep their quorum.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { clientUrl, peerUrl, type Inventory, type NodeSpec } from '../inventory/types.js';
import { hookScript, moveAsideScript, restartScript, serveCheckScript, restoreEnvScript, restoreScript, RESTORE_TIMEOUT_S, setAsideScript, startScript, stopScript, lockScript, unlockScript, waitHealthyScript, writeEnvScript } from '../plan/scripts.js';
import { repeatedOnResume } from '../plan/hooks.js';
import { hookFailure } from './hook-error.js';
import { memberRunsScript } from '../facts/member-process.js';
import type { Action, Plan, Step } from '../plan/types.js';
import { ConnectFailedError, ConnectionLostError } from '../ssh/errors.js';
import { shellQuote as q } from '../util/quote.js';
import type { ExecResult, NodeConnection } from '../ssh/types.js';
import type { Transport } from '../ssh/transport.js';
import { ApplyError, ExitError, RefusedError, VerificationError, EXIT } from '../util/errors.js';
import { BastionWriteError, withCopyHint } from '../util/bastion-fs.js';
import { sha256OfFile } from '../util/hash.js';
import type { Logger } from '../util/log.js';
import { checkRoomForCopy } from './backup-room.js';
import { EtcdCommandError, EtcdOps, memberByPeerUrl, retryEtcd } from './etcd-ops.js';
import type { ProgressSink } from './progress.js';
import { ensurePrivateDir, writePrivateFile, type JournalEvent, type RunDir } from './rundir.js';
import { fallBack, restoreAll, sendDb, startAll, type StepHost } from './restore-all.js';


export interface ExecutorDeps {
  inventory: Inventory;
  transport: Transport;
  log: Logger;
  run: RunDir;
  progress: ProgressSink;
  /** the signal received (SIGINT/SIGTERM), if any: the current step finishes, then the run stops */
  interrupted?: () => 'SIGINT' | 'SIGTERM' | undefined;
  /** seconds a joiner may take to catch up before its promote is given up (default 600) */
  catchUpTimeoutSec?: number;
  /** seconds a started member may take to serve (default 120) */
  healthyTimeoutSec?: number;
  /** run once every lock is taken, before any change (see under-lock.ts); a throw releases the locks */
  underLock?: () => Promise<void>;
}

export interface StepOutcome {
  /** the status word the step ended with: done, already, skipped, … */
  outcome: string;
  data?: Record<string, unknown>;
}

export interface RunResult {
  runId: string;
  outcome: 'done';
  ms: number;
  steps: { id: string; ms: number; outcome: string; resumed: boolean }[];
  verification?: Record<string, unknown>;
}

/** The `etcd-dr:` word a step script ended with (scripts print it as their last stdout line). */
export function statusWord(r: ExecResult): string {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('etcd-dr:'));
  return lines.length ? lines[lines.length - 1]!.slice('etcd-dr:'.length) : '';
}

/** Steps that count as done for a run: done, and not undone since by a rollback. */
export function doneStepsOf(events: JournalEvent[]): Map<string, JournalEvent & { event: 'step-done' }> {
  const done = new Map<string, JournalEvent & { event: 'step-done' }>();
  for (const e of events) {
    if (e.event === 'step-done') done.set(e.step, e);
    if (e.event === 'rollback') for (const s of e.undone ?? []) done.delete(s);
  }
  return done;
}

/** How a failed hook is named in the error: what state the cluster is in. */
const HOOK_WHAT = {
  beforeStop: 'the beforeStop hook (etcd was not stopped anywhere yet)',
  afterVerify: 'the afterVerify hook (the cluster is recovered and verified; the control plane is not restarted yet)',
} as const;

export class Executor {
  private readonly specs = new Map<string, NodeSpec>();
  private baseline?: { count: number; revision: number };
  /** when this run last started etcd on a joining member: etcd accepts the next member 5 s after that */
  private joinerStartedAt?: number;
  /** a serve check run in the background right after a promote, read by that member's wait step */
  private readonly serveSeen = new Map<string, Promise<{ word: string; at: number }>>();
  /** db copies to the bastion that `alongside` backup steps of this process started, by local path */
  private readonly copies = new Map<string, { step: string; done: Promise<DbCopy> }>();

  constructor(
    /** replaced by its fallback when a restore-all step fails (see restore-all.ts) */
    private plan: Plan,
    private readonly d: ExecutorDeps,
  ) {
    for (const n of d.inventory.nodes) this.specs.set(n.name, n);
  }

  private spec(name: string): NodeSpec {
    const s = this.specs.get(name);
    if (!s) throw new ExitError(`the plan names ${name}, which is not in the inventory`, EXIT.badInput, 'apply a plan with the inventory it was made from');
    return s;
  }

  private conn(name: string): Promise<NodeConnection> {
    return this.d.transport.connect(this.spec(name));
  }

  private async sh(node: string, step: Step, script: string, timeoutSec: number, stdin?: () => NodeJS.ReadableStream): Promise<ExecResult> {
    const c = await this.conn(node);
    const r = await c.sh(script, { timeout: timeoutSec, ...(stdin ? { stdin } : {}) });
    this.d.run.append({
      event: 'command',
      step: step.id,
      node,
      command: script.split('\n').find((l) => l && !l.startsWith('set ')) ?? script.slice(0, 200),
      code: r.code,
      signal: r.signal,
      ms: r.durationMs,
      timedOut: r.timedOut,
      stdout: r.stdout,
      stderr: r.stderr,
    });
    return r;
  }

  /** Runs a step script and turns a failure into an ApplyError that quotes the node's own words. */
  private async script(node: string, step: Step, script: string, timeoutSec: number, what: string): Promise<string> {
    const r = await this.sh(node, step, script, timeoutSec);
    const word = statusWord(r);
    if (r.code === 0) return word || 'done';
    const said = (r.stderr.trim().split('\n').pop() ?? '').trim() || (r.timedOut ? `no answer within ${timeoutSec} s` : `exit ${r.code ?? r.signal}`);
    if (r.code === 3 && word.startsWith('held-by')) {
      throw new RefusedError(`${node}: the etcd-dr lock is held by run ${word.split(' ')[1] ?? '?'}`, 'wait for that run, or `etcd-dr resume` it');
    }
    if (r.code === 3 && word.startsWith('changed-since-plan')) {
      throw new RefusedError(`${node}: ${what}: the file changed since the plan was made (${word})`, 'make a new plan from the current state');
    }
    const resume = `\`etcd-dr resume ${this.plan.runId}\``;
    const hint = r.timedOut
      ? `the node did not answer in time; check it, then ${resume}`
      : word.startsWith('restore-failed')
        ? `fix that on ${node} (a full disk: make room, the incomplete restore dir may go), then ${resume} restores again; the data dirs moved aside${this.plan.steps.some((x) => x.action.type === 'backup-db') ? " and the bastion's copy of the db" : ''} are untouched`
        : `fix the cause on the node, then ${resume}`;
    throw new ApplyError(`${node}: ${what} failed: ${said}`, hint);
  }

  private ops(via: string): Promise<EtcdOps> {
    return this.conn(via).then((c) => new EtcdOps(this.spec(via), c));
  }

  /** Runs every step not yet done. Throws ExitError subclasses on failure; the journal says where. */
  async run(opts: { resumed: boolean }): Promise<RunResult> {
    const t0 = Date.now();
    const { run, progress, log } = this.d;
    const done = doneStepsOf(run.read());
    if (opts.resumed) for (const id of repeatedOnResume(this.plan, new Set(done.keys()))) done.delete(id);
    for (const [, e] of done) {
      const b = e.data?.['baseline'] as { count: number; revision: number } | undefined;
      if (b) this.baseline = b;
    }
    run.append({ event: 'run-start', runId: this.plan.runId, resumed: opts.resumed, pid: process.pid });
    progress.start(this.plan.steps.map((s) => ({ id: s.id, title: title(s), done: done.has(s.id) })));
    const results: RunResult['steps'] = [];
    let verification: Record<string, unknown> | undefined;
    try {
      for (let i = 0; i < this.plan.steps.length; i++) {
        const step = this.plan.steps[i]!;
        if (done.has(step.id)) {
          results.push({ id: step.id, ms: 0, outcome: 'done earlier', resumed: true });
          continue;
        }
        const signal = this.d.interrupted?.();
        if (signal) {
          throw new ExitError(
            `${signal}: stopped before step ${step.id}; every step before it is done`,
            signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted,
            `continue with \`etcd-dr resume ${this.plan.runId}\``,
          );
        }
        const s0 = Date.now();
        run.append({ event: 'step-start', step: step.id });
        progress.event({ type: 'step-start', step: step.id, title: title(step) });
        log.debug({ step: step.id, node: step.node ?? step.nodes?.join(','), action: step.action.type }, `step ${step.id} ${title(step)}`);
        let out: StepOutcome;
        try {
          out = await this.runStep(step);
        } catch (err) {
          const ms = Date.now() - s0;
          const msg = err instanceof Error ? err.message : String(err);
          run.append({ event: 'step-failed', step: step.id, ms, error: msg });
          progress.event({ type: 'step-failed', step: step.id, ms, detail: msg });
          log.debug({ step: step.id, error: msg }, `step ${step.id} failed`);
          if (step.join) {
            await this.rollbackJoin(step.join, step);
            throw this.joinFailure(step, err);
          }
          if (step.allAtOnce && this.plan.fallback && !this.d.interrupted?.()) {
            this.plan = await fallBack(this.host(), this.plan, step, err);
            i = this.plan.steps.findIndex((s) => !done.has(s.id) && !results.some((r) => r.id === s.id)) - 1;
            continue;
          }
          throw err;
        }
        const ms = Date.now() - s0;
        run.append({ event: 'step-done', step: step.id, ms, outcome: out.outcome, ...(out.data ? { data: out.data } : {}) });
        progress.event({ type: 'step-done', step: step.id, ms, detail: out.outcome === 'done' ? '' : out.outcome });
        log.debug({ step: step.id, ms, outcome: out.outcome }, `step ${step.id} ${out.outcome}`);
        if (step.action.type === 'verify') verification = out.data;
        results.push({ id: step.id, ms, outcome: out.outcome, resumed: false });
      }
      // a plan whose copy has no wait step of its own (a hand-made one) still ends only with the copy made
      await this.settleCopies(true);
    } catch (err) {
      await this.settleCopies(false);
      const interrupted = err instanceof ExitError && (err.exitCode === EXIT.interrupted || err.exitCode === EXIT.terminated);
      // refused at its lock step before any step of it ran: the locks it took are released and nothing
      // changed, so there is nothing to resume (a later bare `resume` must not pick this run's old plan)
      const refused = err instanceof RefusedError && results.length === 0 && run.read().every((e) => e.event !== 'step-done');
      const outcome = interrupted ? 'interrupted' : refused ? 'refused' : 'failed';
      try {
        run.append({ event: 'run-end', outcome, ms: Date.now() - t0, error: err instanceof Error ? err.message : String(err) });
      } catch (endErr) {
        // the journal cannot take the run's end (a full disk): the first error is the one to report
        if (!(endErr instanceof BastionWriteError)) throw endErr;
      }
      throw err;
    } finally {
      progress.stop();
    }
    const ms = Date.now() - t0;
    run.append({ event: 'run-end', outcome: 'done', ms });
    return { runId: this.plan.runId, outcome: 'done', ms, steps: results, ...(verification ? { verification } : {}) };
  }

  /** One step; a connection dropped mid-step re-runs it once, since every step checks before it acts. */
  private async runStep(step: Step): Promise<StepOutcome> {
    try {
      return await this.dispatch(step);
    } catch (err) {
      if (!(err instanceof ConnectionLostError)) throw err;
      this.d.log.warn({ step: step.id, error: err.message }, 'connection lost during the step; checking the node and repeating the step');
      this.d.progress.event({ type: 'note', step: step.id, detail: 'connection lost; repeating the step after reconnecting' });
      // the journal keeps that the first attempt's outcome is unknown and that the step ran again
      this.d.run.append({ event: 'step-retry', step: step.id, node: err.node, error: err.message });
      return this.dispatch(step);
    }
  }

  private dispatch(step: Step): Promise<StepOutcome> {
    const a = step.action;
    switch (a.type) {
      case 'lock':
        return this.takeLocks(step, a.breakRun, a.breakEmpty);
      case 'unlock':
        return this.fanOut(step, () => unlockScript(this.lockFile(), this.plan.runId), 30, 'release the lock', n0(step));
      case 'stop-etcd':
        return this.fanOut(step, (n) => stopScript(this.spec(n), 60), 90, 'stop etcd', n0(step));
      case 'move-data-dir':
        return this.single(step, moveAsideScript(a.from, a.to, a.inside), 60, `move ${a.from} aside`);
      case 'backup-db':
        return this.backupDb(step, a);
      case 'backup-wait':
        return this.backupWait(step, a);
      case 'restore-db':
        return this.single(step, restoreScript({ ...a, runId: this.plan.runId }), RESTORE_TIMEOUT_S, 'restore the db');
      case 'write-env':
        return this.single(step, writeEnvScript(a), 30, `rewrite ${a.path}`);
      case 'send-db':
        return sendDb(this.host(), step, a);
      case 'restore-all':
        return restoreAll(this.host(), step, a);
      case 'start-all':
        return startAll(this.host(), step, a).then(({ baseline, ...out }) => {
          this.baseline = baseline;
          return out;
        });
      case 'start-etcd':
        return this.start(step, a);
      case 'member-add':
        return this.memberAdd(step, a);
      case 'promote':
        return this.promote(step, a);
      case 'member-remove':
        return this.memberRemove(step, a);
      case 'move-leader':
        return this.moveLeader(step, a);
      case 'wait-healthy':
        return this.waitHealthy(step, a);
      case 'verify':
        return this.verify(step, a);
      case 'hook':
        return this.fanOut(step, (n) => hookScript(a.hook, a.run[n] ?? []), a.timeoutSec, HOOK_WHAT[a.hook], n0(step)).catch((e: unknown) => {
          throw hookFailure(e, a.hook, this.plan.runId);
        });
      default:
        return Promise.reject(new ExitError(`this etcd-dr cannot run a "${(a as Action).type}" step`, EXIT.badInput, 'apply the plan with the etcd-dr version that made it'));
    }
  }

  /** What the restore-all handlers use of this executor. */
  private host(): StepHost {
    return {
      runId: this.plan.runId,
      run: this.d.run,
      spec: (n) => this.spec(n),
      script: (n, st, sc, t, w) => this.script(n, st, sc, t, w),
      shIn: (n, st, sc, t, stdin) => this.sh(n, st, sc, t, stdin),
      waitServes: (n, st) => this.waitServes(n, st),
      keyCount: async (via) => {
        const ops = await this.ops(via);
        return retryEtcd(() => ops.keyCount(), { deadlineMs: 30_000 });
      },
      note: (st, d) => this.note(st, d),
    };
  }

  private lockFile(): string {
    return this.plan.lockFile;
  }

  private holder(): string {
    return this.plan.holder;
  }

  private async single(step: Step, script: string, timeoutSec: number, what: string): Promise<StepOutcome> {
    return { outcome: await this.script(node(step), step, script, timeoutSec, what) };
  }

  /** The same script on several nodes at once; every node's result is journaled, the first failure thrown. */
  /**
   * Takes the lock node by node, in the plan's order, so two runs racing for one cluster meet on its first
   * node and only one goes on. A run that cannot take every lock releases the ones it took (a lock of
   * another run is left alone): a lost race never leaves the cluster locked by a run that stopped.
   */
  private async takeLocks(step: Step, breakRun?: string, breakEmpty?: boolean): Promise<StepOutcome> {
    const nodes = n0(step);
    const words: string[] = [];
    for (const [i, n] of nodes.entries()) {
      try {
        words.push(`${n}:${await this.script(n, step, lockScript(this.lockFile(), this.plan.runId, this.holder(), breakRun, breakEmpty), 30, 'take the lock')}`);
      } catch (err) {
        await Promise.allSettled(nodes.slice(0, i + 1).map((m) => this.sh(m, step, unlockScript(this.lockFile(), this.plan.runId), 30)));
        throw err;
      }
    }
    try {
      await this.d.underLock?.();
    } catch (err) {
      await Promise.allSettled(nodes.map((m) => this.sh(m, step, unlockScript(this.lockFile(), this.plan.runId), 30)));
      throw err;
    }
    return { outcome: words.every((w) => w.endsWith(':already')) ? 'already' : 'done', data: { nodes: words } };
  }

  private async fanOut(step: Step, script: (node: string) => string, timeoutSec: number, what: string, nodes: string[]): Promise<StepOutcome> {
    const results = await Promise.allSettled(nodes.map((n) => this.script(n, step, script(n), timeoutSec, what)));
    const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    if (failed.length) {
      const refused = failed.find((e) => e instanceof RefusedError);
      throw refused ?? failed[0];
    }
    const words = results.map((r, i) => `${nodes[i]}:${(r as PromiseFulfilledResult<string>).value}`);
    return { outcome: words.every((w) => w.endsWith(':already')) ? 'already' : 'done', data: { nodes: words } };
  }

  /**
   * Copies the db to the bastion. An `alongside` step only starts the copy and is done once it runs: the
   * next steps go on meanwhile (the restore only reads the db, which stays kept aside on the node), and
   * the plan's `backup-wait` step waits for it. A copy that a stopping run leaves running is waited for
   * (settleCopies), so a failed run still leaves the bastion its copy.
   */
  private async backupDb(step: Step, a: Extract<Action, { type: 'backup-db' }>): Promise<StepOutcome> {
    const c = await this.conn(node(step));
    if (!a.alongside) {
      const r = await this.copyDb(c, step, a.remoteDb, a.localPath);
      return { outcome: 'done', data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256 } };
    }
    const done = this.copyDb(c, step, a.remoteDb, a.localPath);
    // awaited by the wait step, or by settleCopies when the run stops first: never left unhandled
    done.catch(() => undefined);
    this.copies.set(a.localPath, { step: step.id, done });
    return { outcome: 'started', data: { localPath: a.localPath } };
  }

  /** The copy an `alongside` backup step started: awaited, found complete on the bastion, or made now. */
  private async backupWait(step: Step, a: Extract<Action, { type: 'backup-wait' }>): Promise<StepOutcome> {
    const inFlight = this.copies.get(a.localPath);
    if (inFlight) {
      // a failed copy is not awaited twice: the step's repeat (a lost connection) copies again below
      this.copies.delete(a.localPath);
      const w0 = Date.now();
      const r = await inFlight.done;
      return {
        outcome: 'done',
        data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256, copyMs: r.ms, waitedMs: Date.now() - w0, alongside: inFlight.step, copyEndedAt: r.endedAt },
      };
    }
    const earlier = await completeCopy(a.localPath);
    if (earlier) return { outcome: 'already', data: { localPath: a.localPath, bytes: earlier.bytes, sha256: earlier.sha256 } };
    // (the download removes the temp file a killed process's copy left)
    const r = await this.copyDb(await this.conn(node(step)), step, a.remoteDb, a.localPath);
    return { outcome: 'done', data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256, copyMs: r.ms } };
  }

  /** Streams the remote db into a 0600 file under a 0700 dir, writes its sha256 beside it, journals it. */
  private async copyDb(c: NodeConnection, step: Step, remoteDb: string, localPath: string): Promise<DbCopy> {
    ensurePrivateDir(dirname(localPath));
    await checkRoomForCopy(c, remoteDb, localPath, this.plan.runId);
    const t0 = Date.now();
    const { bytes, sha256 } = await c.download(remoteDb, localPath, { mode: 0o600, timeout: 3600 }).catch((err: unknown) => {
      throw err instanceof BastionWriteError ? withCopyHint(err, this.plan.runId, remoteDb) : err;
    });
    // the sha256 is what tells a complete copy from a cut one: written whole, after the copy
    writePrivateFile(`${localPath}.sha256`, `${sha256}  ${basename(localPath)}\n`, 'the sha256 of the db copy');
    const endedAt = Date.now();
    this.d.run.append({ event: 'command', step: step.id, node: c.node, command: `download ${remoteDb}`, code: 0, signal: null, ms: endedAt - t0, timedOut: false, stdout: `${bytes} bytes sha256 ${sha256}`, stderr: '' });
    return { bytes, sha256, ms: endedAt - t0, endedAt };
  }

  /**
   * Waits for the copies still running. When the run stops early (`strict` false: a failed step, a
   * signal) the bastion keeps what they copy, and a failed one is only logged, since the wait step
   * copies again on resume; at the run's end (`strict`) a failed copy fails the run.
   */
  private async settleCopies(strict: boolean): Promise<void> {
    for (const [path, c] of [...this.copies]) {
      this.copies.delete(path);
      if (strict) {
        await c.done;
        continue;
      }
      this.d.progress.event({ type: 'note', step: c.step, detail: `waiting for the db copy to ${path} to end before stopping` });
      try {
        await c.done;
      } catch (err) {
        this.d.log.warn({ step: c.step, error: (err as Error).message }, 'the db copy to the bastion failed; the wait step copies it again on resume');
      }
    }
  }

  private async start(step: Step, a: Extract<Action, { type: 'start-etcd' }>): Promise<StepOutcome> {
    const n = node(step);
    const spec = this.spec(n);
    const word = await this.script(n, step, startScript(spec), 60, 'start etcd');
    if (!a.waitHealthy) {
      if (word !== 'already') this.joinerStartedAt = Date.now();
      return { outcome: word };
    }
    await this.waitServes(n, step);
    if (!a.baseline) return { outcome: word };
    const ops = await this.ops(n);
    const k = await retryEtcd(() => ops.keyCount(), { deadlineMs: 30_000 });
    this.baseline = k;
    return { outcome: word, data: { baseline: k } };
  }

  private async memberAdd(step: Step, a: Extract<Action, { type: 'member-add' }>): Promise<StepOutcome> {
    const ops = await this.ops(a.via);
    const existing = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), a.peerUrl);
    if (existing) {
      if (existing.name !== '' && existing.name !== a.name) {
        throw new RefusedError(`${a.peerUrl} already belongs to member ${existing.name} (${existing.id})`, `remove that member first, or give ${a.name} another address`);
      }
      return { outcome: 'already', data: { id: existing.id, learner: existing.isLearner } };
    }
    const m = await retryEtcd(() => ops.memberAdd(a.name, a.peerUrl, a.learner), {
      deadlineMs: 60_000,
      maxPauseMs: 500,
      retryOn: new Set(['unhealthy-cluster', 'leader-changed', 'no-leader', 'timeout']),
      // "unhealthy cluster": etcd counts 5 s from the moment the last joiner connected, which is just after
      // this run started it; sleep until then, then look often, since the recovery waits on this add
      pauseFor: (e) => (e.code === 'unhealthy-cluster' ? addPause(this.joinerStartedAt, Date.now()) : undefined),
      onRetry: (e, i) => {
        if (i === 1 || i % 10 === 0) this.note(step, `attempt ${i}: ${e.code}: etcd needs every member connected for 5 s before it accepts a new one; retrying`);
      },
    }).catch(async (err: unknown) => {
      // an add whose answer was lost (timed out, the connection dropped) may have been applied: look before failing
      const again = memberByPeerUrl(await ops.memberList().catch(() => []), a.peerUrl);
      if (!again) throw err;
      this.note(step, `the answer to the member add was lost (${String((err as Error).message ?? err).split('\n')[0]}); the member list shows ${a.name} added as ${again.id}: going on`);
      return again;
    });
    return { outcome: 'done', data: { id: m.id, learner: a.learner } };
  }

  private async promote(step: Step, a: Extract<Action, { type: 'promote' }>): Promise<StepOutcome> {
    const ops = await this.ops(a.via);
    const spec = this.spec(a.name);
    const started = Date.now();
    const deadline = started + (this.d.catchUpTimeoutSec ?? 600) * 1000;
    const gone = () => new ApplyError(`${a.name} is no longer a member (it was added earlier in this run)`, 'check `etcd-dr status`, then make a new plan');
    const m = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), peerUrl(spec));
    if (!m) throw gone();
    if (!m.isLearner) return { outcome: 'already', data: { id: m.id, attempts: 0 } };
    // the recovery waits on this catch-up: look often at first (a small db is sent in well under a second),
    // then less often for a large one
    let pause = 150;
    let checkedAt = started;
    let notedAt = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await ops.memberPromote(m.id);
        this.checkServesSoon(a.name, step);
        return { outcome: 'done', data: { id: m.id, attempts: attempt } };
      } catch (err) {
        if (!(err instanceof EtcdCommandError)) throw err;
        if (err.code === 'member-not-learner') return { outcome: 'already', data: { id: m.id, attempts: attempt } };
        if (err.code === 'member-not-found') throw gone();
        if (err.code !== 'learner-not-ready' && !err.retryable) throw err;
        if (Date.now() + pause > deadline) {
          throw new ApplyError(`${a.name} did not catch up with the leader within ${this.d.catchUpTimeoutSec ?? 600} s: ${err.message}`, `check etcd on ${a.name} (journalctl -u ${spec.etcd.service})`);
        }
        // a learner whose etcd died will never catch up: say so now rather than at the deadline
        if (Date.now() - checkedAt >= 2000) {
          await this.assertRunning(step, a.name);
          checkedAt = Date.now();
        }
        if (Date.now() - notedAt >= 5000) {
          this.note(step, `${a.name} is catching up (etcd: ${err.code}); promote attempt ${attempt}`);
          notedAt = Date.now();
        }
        await sleep(pause);
        pause = Math.min(Math.round(pause * 1.25), 1000);
      }
    }
  }

  /**
   * After a promote, one serve check of the new voter in the background, while the run goes on with the
   * next join: its wait step then knows at once whether it must restart it to publish (see publishNow)
   * instead of spending its own 0.5 s check then. The check is journaled under the promote step.
   */
  private checkServesSoon(name: string, step: Step): void {
    if (!this.plan.steps.some((s) => s.action.type === 'wait-healthy' && s.action.endpointOf === name && s.action.publishVia)) return;
    this.serveSeen.set(
      name,
      this.sh(name, step, serveCheckScript(this.spec(name)), 30).then(
        (r) => ({ word: statusWord(r), at: Date.now() }),
        () => ({ word: 'unknown', at: Date.now() }),
      ),
    );
  }

  private async memberRemove(step: Step, a: Extract<Action, { type: 'member-remove' }>): Promise<StepOutcome> {
    const ops = await this.ops(a.via);
    const m = memberByPeerUrl(await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 }), a.peerUrl);
    if (!m) return { outcome: 'already' };
    await retryEtcd(() => ops.memberRemove(m.id), {
      deadlineMs: 60_000,
      retryOn: new Set(['unhealthy-cluster', 'leader-changed', 'no-leader']),
      onRetry: (e, i) => this.note(step, `attempt ${i}: ${e.code}; retrying the remove`),
    }).catch(async (err: unknown) => {
      // a remove that timed out may have been applied: look before failing
      if (!memberByPeerUrl(await ops.memberList().catch(() => [m]), a.peerUrl)) return;
      throw err;
    });
    return { outcome: 'done', data: { id: m.id } };
  }

  private async moveLeader(step: Step, a: Extract<Action, { type: 'move-leader' }>): Promise<StepOutcome> {
    const ops = await this.ops(a.via);
    const specs = a.members.map((m) => this.spec(m));
    const endpoints = specs.map(clientUrl);
    const from = this.spec(a.from);
    const members = await ops.memberList();
    const fromMember = memberByPeerUrl(members, peerUrl(from));
    // who leads, as the member we talk through sees it: asking every member would wait out the command
    // timeout of one that is down (the member being replaced usually is), and a down member leads nothing
    const seen = (await ops.endpointStatus([clientUrl(this.spec(a.via))])).statuses[0]?.leader;
    if (!fromMember || !seen || seen !== fromMember.id) return { outcome: 'already', data: { leader: seen } };
    const st = await ops.endpointStatus(endpoints);
    const candidates = st.statuses
      .filter((s) => s.memberId !== fromMember.id && !s.isLearner)
      .sort((x, y) => y.raftAppliedIndex - x.raftAppliedIndex);
    const toId = a.to ? memberByPeerUrl(members, peerUrl(this.spec(a.to)))?.id : candidates[0]?.memberId;
    if (!toId) throw new ApplyError(`no voting member to hand leadership to from ${a.from}`, 'the cluster needs another healthy voting member first');
    await retryEtcd(() => ops.moveLeader(toId, endpoints), { deadlineMs: 30_000 });
    return { outcome: 'done', data: { from: fromMember.id, to: toId } };
  }

  /** Does this member's etcd run on the node (whatever its service manager says; never another cluster's etcd)? */
  private async etcdRuns(step: Step, name: string): Promise<boolean> {
    return statusWord(await this.sh(name, step, memberRunsScript(this.spec(name)), 20)) === 'running';
  }

  private async assertRunning(step: Step, name: string): Promise<void> {
    const spec = this.spec(name);
    if (!(await this.etcdRuns(step, name))) {
      const svc = q(spec.etcd.service);
      // its last log lines (journald, else what the service manager shows), and whether the binary runs at all
      const logs = await this.sh(
        name,
        step,
        [
          `out=$(journalctl -u ${svc} -n 20 --no-pager 2>/dev/null || true)`,
          `case "$out" in '' | '-- No entries --') out=$(systemctl status ${svc} 2>&1 | tail -n 20 || true) ;; esac`,
          `printf '%s\\n' "$out"`,
          'rc=0; v=$(etcd --version 2>&1) || rc=$?',
          'if [ "$rc" -ne 0 ]; then sig=; [ "$rc" -gt 128 ] && sig=" (SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"; echo "etcd-dr:binary-fails exit $rc$sig $(printf %s "$v" | head -n 1)"; fi',
        ].join('\n'),
        20,
      );
      const lines = `${logs.stdout}${logs.stderr}`.trim().split('\n');
      const broken = lines.find((l) => l.startsWith('etcd-dr:binary-fails '))?.slice('etcd-dr:binary-fails '.length).trim();
      const tail = lines.filter((l) => l.trim() && !l.startsWith('etcd-dr:')).slice(-5).join(' | ');
      throw new ApplyError(
        `${name}: etcd is not running (it exited after the start)${broken ? `; \`etcd --version\` fails there too (${broken}): the etcd binary on ${name} is broken` : ''}${tail ? `; ${tail}` : ''}`,
        broken ? `reinstall etcd on ${name} (the same version as the other members)` : `look at etcd's log on ${name}: journalctl -u ${spec.etcd.service}`,
      );
    }
  }

  private async waitHealthy(step: Step, a: Extract<Action, { type: 'wait-healthy' }>): Promise<StepOutcome> {
    const restarted = a.publishVia ? await this.publishNow(step, a.endpointOf, a.publishVia) : false;
    const outcome = await this.waitServes(a.endpointOf, step);
    return restarted ? { outcome, data: { restartedToPublish: true } } : { outcome };
  }

  /**
   * A promoted learner serves clients only once its own publish request returns. One made while it was a
   * learner catching up from the leader's snapshot is not answered (the member list may already show its
   * name) and is retried only after etcd's request timeout: 5 s + 2 x election timeout, 15 s with
   * kubespray's settings. When the member fails one health check (0.5 s), restart its etcd so it
   * publishes as the voter it is now: about a second instead of up to the request timeout. Only when the
   * quorum holds without it: 3 or more voting members, and etcd running on every other one.
   */
  private async publishNow(step: Step, name: string, via: string): Promise<boolean> {
    const spec = this.spec(name);
    const seen = await this.serveSeen.get(name);
    this.serveSeen.delete(name);
    // a check from right after the promote counts while it is fresh (etcd's own publish retry comes 15 s
    // after the start at the earliest); otherwise look now
    let word = seen && Date.now() - seen.at < 5000 && (seen.word === 'healthy' || seen.word === 'not-serving') ? seen.word : undefined;
    if (word) this.note(step, `${name} was ${word === 'healthy' ? 'serving' : 'not serving'} when checked right after its promote (${((Date.now() - seen!.at) / 1000).toFixed(1)} s ago)`);
    word ??= statusWord(await this.sh(name, step, serveCheckScript(spec), 30));
    if (word === 'healthy') return false;
    const ops = await this.ops(via);
    const members = await retryEtcd(() => ops.memberList(), { deadlineMs: 30_000 });
    const me = memberByPeerUrl(members, peerUrl(spec));
    if (!me || me.isLearner) return false;
    const voters = members.filter((m) => !m.isLearner);
    if (voters.length < 3) {
      this.note(step, `${name} does not serve yet; with ${voters.length} voting members a restart would stop writes, so etcd-dr waits for etcd's own publish retry`);
      return false;
    }
    const others = voters.filter((o) => o.id !== me.id).map((o) => ({ o, node: [...this.specs.values()].find((s) => o.peerUrls.includes(peerUrl(s))) }));
    const runs = await Promise.all(others.map(({ node }) => (node ? this.etcdRuns(step, node.name) : Promise.resolve(false))));
    const down = others.find((_, i) => !runs[i]);
    if (down) {
      this.note(step, `${name} does not serve yet; etcd is not known to run on ${down.node?.name ?? `member ${down.o.id}`}, so a restart could cost the quorum: waiting for etcd's own publish retry`);
      return false;
    }
    this.note(step, `${name} is a voting member that does not serve yet (its publish request made as a learner waits out etcd's request timeout); restarting its etcd so it publishes now`);
    await this.script(name, step, restartScript(spec), 60, 'restart etcd so it publishes itself');
    return true;
  }

  /** Waits until the member on `name` serves; a member that does not within the timeout fails the step, naming both. */
  private async waitServes(name: string, step: Step): Promise<string> {
    const t = this.d.healthyTimeoutSec ?? 120;
    try {
      return await this.script(name, step, waitHealthyScript(this.spec(name), t), t + 30, 'wait until etcd serves');
    } catch (err) {
      const said = err instanceof ApplyError ? /etcd-dr:timeout after \d+ s; its last answer: (.*)$/.exec(err.message)?.[1] : undefined;
      if (said === undefined) throw err;
      throw new ApplyError(
        `${name}: etcd did not serve within ${t} s; step ${step.id} (${title(step)}) gave up; its last answer: ${said.trim() || '(none)'}`,
        `etcd on ${name} may still be starting (a large db, a slow disk): look at \`systemctl status ${this.spec(name).etcd.service}\` and its log there; ` +
          `once it serves, continue with \`etcd-dr resume ${this.plan.runId}\` (--healthy-timeout gives a slow member more time)`,
      );
    }
  }

  /**
   * The error a failed join ends the run with, once it is rolled back. A joiner that cannot be reached at
   * all (powered off, network gone) is said to be so, with both ways on: bring it back, or leave it out.
   */
  private joinFailure(step: Step, err: unknown): unknown {
    const m = step.join!;
    const lost = (err instanceof ConnectFailedError && err.node === m && !err.permanent) || (err instanceof ConnectionLostError && err.node === m && !err.reconnected);
    const id = this.plan.runId;
    if (!lost) {
      // any other cause: say what the rollback means for what comes next
      if (!(err instanceof ApplyError)) return err;
      const next = `the join of ${m} was rolled back: once that is fixed, \`etcd-dr resume ${id}\` runs it again${this.plan.intent.kind === 'recover' ? ` (\`--exclude ${m}\` finishes without it)` : ''}`;
      return new ApplyError(err.message, err.hint ? `${err.hint}; ${next}` : next);
    }
    const why = err instanceof ConnectFailedError ? err.detail : 'the connection dropped and could not be made again';
    return new ApplyError(
      `${m} cannot be reached (${why}) in step ${step.id} (${title(step)}); its join was rolled back as far as the node allowed, the members that serve keep serving`,
      this.plan.intent.kind === 'recover'
        ? `bring ${m} back, then \`etcd-dr resume ${id}\`; or finish without it: \`etcd-dr resume ${id} --exclude ${m}\``
        : `bring ${m} back, then \`etcd-dr resume ${id}\``,
    );
  }

  private async verify(step: Step, a: Extract<Action, { type: 'verify' }>): Promise<StepOutcome> {
    const ops = await this.ops(a.via);
    const specs = a.members.map((m) => this.spec(m));
    const endpoints = specs.map(clientUrl);
    const problems: string[] = [];
    const deadline = Date.now() + 60_000;
    // members that just joined may still be applying: the checks are repeated until they agree or time runs out
    for (;;) {
      problems.length = 0;
      // the reads are independent: status, membership and alarms at once, then hash, keys and env files
      const [st, members, allAlarms] = await Promise.all([ops.endpointStatus(endpoints), ops.memberList(), ops.alarms()]);
      for (const f of st.failures) problems.push(`${f.endpoint}: no status (${f.error})`);
      const leaders = new Set(st.statuses.map((s) => s.leader));
      const isLeader = st.statuses.filter((s) => s.isLeader);
      if (isLeader.length !== 1 || leaders.size !== 1) problems.push(`expected exactly one leader, members report ${[...leaders].join(', ') || 'none'}`);
      for (const s of st.statuses) {
        if (s.isLearner) problems.push(`${s.endpoint} is still a learner`);
        if (s.errors.length) problems.push(`${s.endpoint}: ${s.errors.join('; ')}`);
      }
      const names = members.map((m) => m.name).sort();
      if (names.join(',') !== [...a.members].sort().join(',')) problems.push(`members are [${names.join(', ')}], expected [${[...a.members].sort().join(', ')}]`);
      for (const m of members) if (m.isLearner) problems.push(`member ${m.name || m.id} is a learner`);
      for (const x of allAlarms.filter((y) => y.alarm !== 'NONE')) problems.push(`alarm ${x.alarm} on member ${x.memberId}`);
      let hash: { revision: number; hashes: Record<string, number> } | undefined;
      let keys: { count: number; revision: number } | undefined;
      if (!problems.length) {
        const rev = Math.min(...st.statuses.map((s) => s.revision));
        const expected = specs.map((s) => `${s.name}=${peerUrl(s)}`).sort().join(',');
        const [hk, kc, envProblems] = await Promise.all([
          ops.hashKv(endpoints, rev).then(
            (v) => ({ v }),
            (err: unknown) => ({ err: err as Error }),
          ),
          ops.keyCount(),
          // env files: every member's lists exactly the final membership, state existing
          Promise.all(
            specs.map(async (s) => {
              const r = await (await this.conn(s.name)).exec(['cat', s.etcd.envFile], { timeout: 20, retryOnDisconnect: true });
              const v = vars(parseEnvFile(r.stdout));
              const out: string[] = [];
              const got = (v['ETCD_INITIAL_CLUSTER'] ?? '').split(',').sort().join(',');
              if (got !== expected) out.push(`${s.name}: ${s.etcd.envFile} has ETCD_INITIAL_CLUSTER=${v['ETCD_INITIAL_CLUSTER'] ?? ''}`);
              if (v['ETCD_INITIAL_CLUSTER_STATE'] !== 'existing') out.push(`${s.name}: ${s.etcd.envFile} has ETCD_INITIAL_CLUSTER_STATE=${v['ETCD_INITIAL_CLUSTER_STATE'] ?? ''}`);
              return out;
            }),
          ),
        ]);
        if ('err' in hk) problems.push(`hashkv at revision ${rev}: ${hk.err.message}`);
        else {
          const hashes = Object.fromEntries(hk.v.map((h) => [h.endpoint, h.hash]));
          if (new Set(hk.v.map((h) => h.hash)).size !== 1 || hk.v.length !== endpoints.length) problems.push(`hashkv at revision ${rev} differs: ${JSON.stringify(hashes)}`);
          hash = { revision: rev, hashes };
        }
        keys = kc;
        if (this.baseline && kc.count < this.baseline.count) problems.push(`${kc.count} keys, fewer than the ${this.baseline.count} the restored survivor served`);
        problems.push(...envProblems.flat());
      }
      if (!problems.length) {
        const leader = st.statuses.find((s) => s.isLeader)!;
        return {
          outcome: 'verified',
          data: {
            members: a.members,
            leader: members.find((m) => m.id === leader.memberId)?.name ?? leader.memberId,
            hashkv: hash,
            keys,
            baseline: this.baseline,
          },
        };
      }
      if (Date.now() > deadline) break;
      this.note(step, `not yet: ${problems[0]}`);
      await sleep(1000);
    }
    throw new VerificationError(`verification failed: ${problems.join('; ')}`, 'the cluster is up but not as planned; see `etcd-dr status` and the run journal');
  }

  /**
   * Undo a member's join: remove it from the membership (learner or not), stop its etcd, restore its env
   * file from this run's backup, set its data dir aside. Each part is tried even when another fails; the
   * journal records what was done.
   */
  private async rollbackJoin(member: string, failed: Step): Promise<void> {
    const spec = this.spec(member);
    const steps = this.plan.steps.filter((s) => s.join === member);
    const via = steps.map((s) => s.action).find((x): x is Extract<Action, { type: 'member-add' }> => x.type === 'member-add')?.via;
    const env = steps.map((s) => s.action).find((x): x is Extract<Action, { type: 'write-env' }> => x.type === 'write-env');
    const did: string[] = [];
    this.d.progress.event({ type: 'note', step: failed.id, detail: `rolling back the join of ${member}` });
    const attempt = async (what: string, fn: () => Promise<void>) => {
      try {
        await fn();
        did.push(what);
      } catch (err) {
        did.push(`${what} FAILED: ${(err as Error).message}`);
      }
    };
    if (via) {
      await attempt(`removed ${member} from the membership`, async () => {
        const ops = await this.ops(via);
        const m = memberByPeerUrl(await ops.memberList(), peerUrl(spec));
        if (m) await ops.memberRemove(m.id);
      });
    }
    await attempt(`stopped etcd on ${member}`, async () => {
      await this.script(member, failed, stopScript(spec, 60), 90, 'stop etcd');
    });
    if (env) {
      await attempt(`restored ${env.path} from ${env.backup}`, async () => {
        await this.script(member, failed, restoreEnvScript(env.path, env.backup, this.plan.runId), 30, 'restore the env file');
      });
    }
    await attempt(`set ${spec.etcd.dataDir} aside`, async () => {
      // beside it, or inside it when it is a mount point, as the node's disk is now
      await this.script(member, failed, setAsideScript(spec.etcd.dataDir, `etcd-dr-${this.plan.runId}-failed-join-${Date.now()}`), 60, 'set the data dir aside');
    });
    const undone = steps.map((s) => s.id);
    this.d.run.append({ event: 'rollback', step: failed.id, detail: did.join('; '), undone });
    this.d.log.warn({ member, did }, `rolled back the join of ${member}`);
    this.d.progress.event({ type: 'note', step: failed.id, detail: `rolled back ${member}: ${did.join('; ')}` });
  }

  private note(step: Step, detail: string): void {
    this.d.progress.event({ type: 'note', step: step.id, detail });
    this.d.log.debug({ step: step.id }, detail);
  }
}

function node(step: Step): string {
  if (!step.node) throw new ExitError(`step ${step.id} names no node`, EXIT.badInput, 'the plan file is damaged; make a new plan');
  return step.node;
}

function n0(step: Step): string[] {
  return step.nodes ?? (step.node ? [step.node] : []);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A short title for progress lines. */
export function title(s: Step): string {
  const a = s.action;
  const on = s.node ? ` on ${s.node}` : s.nodes ? ` on ${s.nodes.join(', ')}` : '';
  switch (a.type) {
    case 'lock':
      return `take the lock${on}`;
    case 'unlock':
      return `release the lock${on}`;
    case 'stop-etcd':
      return `stop etcd${on}`;
    case 'move-data-dir':
      return `move ${a.from} aside${on}`;
    case 'backup-db':
      return a.alongside ? `start copying ${s.node}'s db to the bastion (runs alongside the next steps)` : `copy ${s.node}'s db to the bastion`;
    case 'backup-wait':
      return `wait for ${s.node}'s db copy on the bastion`;
    case 'restore-db':
      return `restore ${a.name} as a one-member cluster (${a.tool})`;
    case 'send-db':
      return `send the survivor's db to ${a.to.map((t) => t.node).join(', ')} at once`;
    case 'restore-all':
      return `restore the db on ${a.members.map((m) => m.node).join(', ')} at once (${a.tool})`;
    case 'start-all':
      return `start etcd${on} at once and wait until each serves`;
    case 'write-env':
      return `rewrite ${a.path}${on}`;
    case 'start-etcd':
      return `start etcd${on}${a.waitHealthy ? ' and wait until it serves' : ''}`;
    case 'member-add':
      return `add ${a.name}${a.learner ? ' as a learner' : ''}`;
    case 'promote':
      return `promote ${a.name} once caught up`;
    case 'wait-healthy':
      return `wait until ${a.endpointOf} serves`;
    case 'member-remove':
      return `remove member ${a.name}`;
    case 'move-leader':
      return `move leadership away from ${a.from}`;
    case 'verify':
      return `verify ${a.members.join(', ')}`;
    case 'hook':
      return `run the ${a.hook} hook${on}`;
    default:
      return (a as Action).type;
  }
}

/**
 * The pause before the next `member add` that etcd refused as "unhealthy cluster": etcd accepts it once
 * every voting member has been connected for 5 s, which counts from just after the last joiner's start.
 * Sleep until about then (at most 1 s at a time), then look every 100 ms.
 */
export function addPause(joinerStartedAt: number | undefined, now: number): number {
  if (joinerStartedAt === undefined) return 250;
  const left = joinerStartedAt + 5000 - now;
  return left > 100 ? Math.min(left, 1000) : 100;
}

interface DbCopy {
  bytes: number;
  sha256: string;
  ms: number;
  endedAt: number;
}

/**
 * A copy an earlier process of the run finished: the file and the sha256 written beside it once the
 * file was complete, and the file still hashing to it. The db it came from is the one kept aside on the
 * node under this run's id, which nothing changes.
 */
async function completeCopy(localPath: string): Promise<{ bytes: number; sha256: string } | undefined> {
  const shaFile = `${localPath}.sha256`;
  if (!existsSync(localPath) || !existsSync(shaFile)) return undefined;
  const recorded = readFileSync(shaFile, 'utf8').split(' ')[0] ?? '';
  const file = await sha256OfFile(localPath);
  return file.sha256 === recorded ? file : undefined;
}
