/**
 * Runs a plan, step by step, exactly as reviewed. Every step is journaled before and after; steps already
 * done in an earlier attempt of the same run are skipped (`resume`). Each action type has one handler
 * (handlers/index.ts); the remote scripts are the plan's own texts (src/plan/scripts.ts), so what ran is
 * what was shown. This module is the loop: the journal, progress and log hear of it through one event
 * stream (events.ts, sinks.ts); what steps hand to later steps is in the run state (run-state.ts).
 *
 * Safety rules the loop and the handlers keep:
 * - nothing is deleted: data dirs and env files are moved aside or backed up;
 * - a dropped SSH connection during a step re-runs the step once (every step checks before it acts);
 * - a failed join is rolled back so the members already serving keep their quorum (rollback.ts).
 */
import type { Inventory } from '../inventory/types.js';
import { repeatedOnResume } from '../plan/hooks.js';
import type { Plan, Step } from '../plan/types.js';
import { ConnectionLostError } from '../ssh/errors.js';
import type { Transport } from '../ssh/transport.js';
import { ExitError, RefusedError, EXIT } from '../util/errors.js';
import { BastionWriteError } from '../util/bastion-fs.js';
import type { Logger } from '../util/log.js';
import { EventStream } from './events.js';
import { handlerFor, isCopyFailure, settleCopies } from './handlers/index.js';
import type { ProgressSink } from './progress.js';
import { fallBack, joinFailure, rollbackJoin } from './rollback.js';
import type { JournalEvent, RunDir } from './rundir.js';
import { newRunState, type RunState } from './run-state.js';
import { journalSink, logSink, progressSink } from './sinks.js';
import { stepContext, type RunSettings, type StepContext, type StepOutcome } from './step-context.js';
import { title } from './titles.js';

export type { StepOutcome } from './step-context.js';

export interface ExecutorDeps extends RunSettings {
  inventory: Inventory;
  transport: Transport;
  log: Logger;
  run: RunDir;
  progress: ProgressSink;
  /** the signal received (SIGINT/SIGTERM), if any: the current step finishes, then the run stops */
  interrupted?: () => 'SIGINT' | 'SIGTERM' | undefined;
}

export interface RunResult {
  runId: string;
  outcome: 'done';
  ms: number;
  steps: { id: string; ms: number; outcome: string; resumed: boolean }[];
  verification?: Record<string, unknown>;
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

export class Executor {
  constructor(
    private readonly plan: Plan,
    private readonly d: ExecutorDeps,
  ) {}

  /** Runs every step not yet done. Throws ExitError subclasses on failure; the journal says where. */
  async run(opts: { resumed: boolean }): Promise<RunResult> {
    const t0 = Date.now();
    const { run } = this.d;
    const done = doneStepsOf(run.read());
    if (opts.resumed) for (const id of repeatedOnResume(this.plan, new Set(done.keys()))) done.delete(id);
    let baseline: { count: number; revision: number } | undefined;
    for (const [, e] of done) baseline = (e.data?.['baseline'] as typeof baseline) ?? baseline;
    const state = newRunState(this.plan, baseline);
    const events = new EventStream().subscribe(journalSink(run)).subscribe(progressSink(this.d.progress)).subscribe(logSink(this.d.log));
    const ctx = stepContext({ inventory: this.d.inventory, transport: this.d.transport, run, settings: this.d }, state, events);
    const runId = this.plan.runId;
    events.emit({ type: 'run-start', runId, resumed: opts.resumed, pid: process.pid, steps: this.plan.steps.map((s) => ({ id: s.id, title: title(s), done: done.has(s.id) })) });
    const results: RunResult['steps'] = [];
    let verification: Record<string, unknown> | undefined;
    try {
      for (let i = 0; i < state.plan.steps.length; i++) {
        const step = state.plan.steps[i]!;
        if (done.has(step.id)) {
          results.push({ id: step.id, ms: 0, outcome: 'done earlier', resumed: true });
          continue;
        }
        const signal = this.d.interrupted?.();
        if (signal) {
          throw new ExitError(`${signal}: stopped before step ${step.id}; every step before it is done`, signal === 'SIGTERM' ? EXIT.terminated : EXIT.interrupted, `continue with \`etcd-dr resume ${runId}\``);
        }
        const s0 = Date.now();
        events.emit({ type: 'step-start', step: step.id, title: title(step), node: step.node ?? step.nodes?.join(','), action: step.action.type });
        let out: StepOutcome;
        try {
          out = await runStep(ctx, state, step);
        } catch (err) {
          events.emit({ type: 'step-failed', step: step.id, ms: Date.now() - s0, error: err instanceof Error ? err.message : String(err) });
          if (step.join) {
            await rollbackJoin(ctx, step.join, step);
            throw joinFailure(state.plan, step, err);
          }
          // the bastion's own copy failing is no member's fault: the members are left as they are, and resume copies again
          if (step.allAtOnce && state.plan.fallback && !this.d.interrupted?.() && !isCopyFailure(err)) {
            state.plan = await fallBack(ctx, step, err);
            i = state.plan.steps.findIndex((s) => !done.has(s.id) && !results.some((r) => r.id === s.id)) - 1;
            continue;
          }
          throw err;
        }
        const ms = Date.now() - s0;
        events.emit({ type: 'step-done', step: step.id, ms, outcome: out.outcome, ...(out.data ? { data: out.data } : {}) });
        if (step.action.type === 'verify') verification = out.data;
        results.push({ id: step.id, ms, outcome: out.outcome, resumed: false });
      }
      // a plan whose copy has no wait step of its own (a hand-made one) still ends only with the copy made
      await settleCopies(state, events, true);
    } catch (err) {
      await settleCopies(state, events, false);
      const interrupted = err instanceof ExitError && (err.exitCode === EXIT.interrupted || err.exitCode === EXIT.terminated);
      // refused at its lock step before any step of it ran: the locks it took are released and nothing
      // changed, so there is nothing to resume (a later bare `resume` must not pick this run's old plan)
      const refused = err instanceof RefusedError && results.length === 0 && run.read().every((e) => e.event !== 'step-done');
      const outcome = interrupted ? 'interrupted' : refused ? 'refused' : 'failed';
      try {
        events.emit({ type: 'run-end', outcome, ms: Date.now() - t0, error: err instanceof Error ? err.message : String(err) });
      } catch (endErr) {
        // the journal cannot take the run's end (a full disk): the first error is the one to report
        if (!(endErr instanceof BastionWriteError)) throw endErr;
      }
      throw err;
    } finally {
      events.emit({ type: 'steps-over' });
    }
    const ms = Date.now() - t0;
    events.emit({ type: 'run-end', outcome: 'done', ms });
    return { runId, outcome: 'done', ms, steps: results, ...(verification ? { verification } : {}) };
  }
}

/** One step; a connection dropped mid-step re-runs it once, since every step checks before it acts. */
async function runStep(ctx: StepContext, state: RunState, step: Step): Promise<StepOutcome> {
  const handler = handlerFor(step.action.type);
  if (!handler) throw new ExitError(`this etcd-dr cannot run a "${step.action.type}" step`, EXIT.badInput, 'apply the plan with the etcd-dr version that made it');
  try {
    return await handler(ctx, state, step, step.action);
  } catch (err) {
    if (!(err instanceof ConnectionLostError)) throw err;
    // the journal keeps that the first attempt's outcome is unknown and that the step ran again
    ctx.emit({ type: 'step-retry', step: step.id, node: err.node, error: err.message });
    return handler(ctx, state, step, step.action);
  }
}
