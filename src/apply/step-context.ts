/**
 * What a step handler gets from the run: the inventory's nodes, scripts run over SSH and journaled, etcd
 * calls through a node, remarks for the view and the log, and the run's settings. A handler is
 * `(ctx, state, step, action) => StepOutcome`; what it hands to later steps goes into the run state.
 */
import type { Inventory, NodeSpec } from '../inventory/types.js';
import type { Action, Plan, Step } from '../plan/types.js';
import type { ExecResult, NodeConnection } from '../ssh/types.js';
import type { Transport } from '../ssh/transport.js';
import { ApplyError, ExitError, RefusedError, EXIT } from '../util/errors.js';
import { EtcdOps } from './etcd-ops.js';
import type { EventStream, RunEvent } from './events.js';
import type { RunDir } from './rundir.js';
import type { RunState } from './run-state.js';

export interface StepOutcome {
  /** the status word the step ended with: done, already, skipped, … */
  outcome: string;
  data?: Record<string, unknown>;
}

export interface StepContext {
  /** the plan being run (its fallback once a restore-all step failed) */
  readonly plan: Plan;
  /** the run's directory (the plan file, the journal read back) */
  readonly run: RunDir;
  readonly settings: RunSettings;
  /** the inventory's nodes */
  readonly nodes: readonly NodeSpec[];
  spec(name: string): NodeSpec;
  conn(name: string): Promise<NodeConnection>;
  ops(via: string): Promise<EtcdOps>;
  /** runs a script (with `stdin` if given), journals it, and returns its result */
  sh(node: string, step: Step, script: string, timeoutSec: number, stdin?: () => NodeJS.ReadableStream): Promise<ExecResult>;
  /** runs a step script, journaled; its status word, or an ApplyError that quotes the node's own words */
  script(node: string, step: Step, script: string, timeoutSec: number, what: string): Promise<string>;
  emit(e: RunEvent): void;
  /** a remark on the step in progress, for the view and the log */
  note(step: Step, detail: string): void;
}

export type Handler<A extends Action> = (ctx: StepContext, state: RunState, step: Step, a: A) => Promise<StepOutcome>;

export interface RunSettings {
  /** seconds a joiner may take to catch up before its promote is given up (default 600) */
  catchUpTimeoutSec?: number;
  /** seconds a started member may take to serve (default 120) */
  healthyTimeoutSec?: number;
  /** run once every lock is taken, before any change (see under-lock.ts); a throw releases the locks */
  underLock?: () => Promise<void>;
}

/** The `etcd-dr:` word a step script ended with (scripts print it as their last stdout line). */
export function statusWord(r: ExecResult): string {
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').map((l) => l.trim()).filter((l) => l.startsWith('etcd-dr:'));
  return lines.length ? lines[lines.length - 1]!.slice('etcd-dr:'.length) : '';
}

export function stepContext(
  d: { inventory: Inventory; transport: Transport; run: RunDir; settings: RunSettings },
  state: RunState,
  events: EventStream,
): StepContext {
  const specs = new Map(d.inventory.nodes.map((n) => [n.name, n] as const));
  const spec = (name: string): NodeSpec => {
    const s = specs.get(name);
    if (!s) throw new ExitError(`the plan names ${name}, which is not in the inventory`, EXIT.badInput, 'apply a plan with the inventory it was made from');
    return s;
  };
  const conn = (name: string) => d.transport.connect(spec(name));
  const emit = (e: RunEvent) => events.emit(e);

  async function sh(node: string, step: Step, script: string, timeoutSec: number, stdin?: () => NodeJS.ReadableStream): Promise<ExecResult> {
    const c = await conn(node);
    const r = await c.sh(script, { timeout: timeoutSec, ...(stdin ? { stdin } : {}) });
    emit({
      type: 'command',
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

  async function script(node: string, step: Step, text: string, timeoutSec: number, what: string): Promise<string> {
    const r = await sh(node, step, text, timeoutSec);
    const word = statusWord(r);
    if (r.code === 0) return word || 'done';
    const said = (r.stderr.trim().split('\n').pop() ?? '').trim() || (r.timedOut ? `no answer within ${timeoutSec} s` : `exit ${r.code ?? r.signal}`);
    if (r.code === 3 && word.startsWith('held-by')) {
      throw new RefusedError(`${node}: the etcd-dr lock is held by run ${word.split(' ')[1] ?? '?'}`, 'wait for that run, or `etcd-dr resume` it');
    }
    if (r.code === 3 && word.startsWith('changed-since-plan')) {
      throw new RefusedError(`${node}: ${what}: the file changed since the plan was made (${word})`, 'make a new plan from the current state');
    }
    const plan = state.plan;
    const resume = `\`etcd-dr resume ${plan.runId}\``;
    const hint = r.timedOut
      ? `the node did not answer in time; check it, then ${resume}`
      : word.startsWith('restore-failed')
        ? `fix that on ${node} (a full disk: make room, the incomplete restore dir may go), then ${resume} restores again; the data dirs moved aside${plan.steps.some((x) => x.action.type === 'backup-db') ? " and the bastion's copy of the db" : ''} are untouched`
        : `fix the cause on the node, then ${resume}`;
    throw new ApplyError(`${node}: ${what} failed: ${said}`, hint);
  }

  return {
    get plan() {
      return state.plan;
    },
    run: d.run,
    settings: d.settings,
    nodes: d.inventory.nodes,
    spec,
    conn,
    ops: (via) => conn(via).then((c) => new EtcdOps(spec(via), c)),
    sh,
    script,
    emit,
    note: (step, detail) => emit({ type: 'note', step: step.id, detail }),
  };
}
