/**
 * What `apply`, `recover`, `resume` (and the membership commands) share on the terminal's side: their
 * options, the plan shown, confirmation, signals and progress around a run (src/apply/run.ts runs it),
 * and the closing summary.
 */
import { hostname, userInfo } from 'node:os';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import type { RunResult } from '../apply/executor.js';
import { progressFor } from '../apply/progress.js';
import { executeRun, runSummary, type Run, type RunSettings } from '../apply/run.js';
import { writePrivateFile } from '../apply/rundir.js';
import { newRunId } from '../plan/run-id.js';
import type { RunSession } from '../apply/session.js';
import { logFileFor, runDirFor } from '../apply/start-run.js';
import { DEFAULT_LOCK_FILE } from '../facts/gather.js';
import { renderPlan, type PlanFormat } from '../plan/render.js';
import { sealPlan } from '../plan/seal.js';
import type { Plan } from '../plan/types.js';
import { EXIT, ExitError, RefusedError } from '../util/errors.js';
import { defaultStateDir } from '../util/dirs.js';
import { terminalSafe, terminalSafeProgress } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { openSession, type Session } from './session.js';

export interface RunArgs extends GlobalArgs {
  'state-dir'?: string;
  yes: boolean;
  'healthy-timeout'?: number;
}

/** Options of every command that applies a plan (recover, apply, resume, scale-out/in, replace). */
export function runOptions<T>(y: Argv<T>): Argv<T> {
  return y.option('healthy-timeout', {
    type: 'number',
    describe: 'seconds a started member may take to serve clients before its step fails (default 120; a large db or a slow disk may need more)',
  });
}

/** The executor's settings from the command line; bad values are bad input. */
export function runSettings(args: Pick<RunArgs, 'healthy-timeout'>): RunSettings {
  const t = args['healthy-timeout'];
  if (t === undefined) return {};
  if (!Number.isInteger(t) || t < 1 || t > 86_400) throw new ExitError(`--healthy-timeout ${String(t)}: give whole seconds from 1 to 86400`, EXIT.badInput, 'the default is 120');
  return { healthyTimeoutSec: t };
}

export function stateDirOf(ctx: CliContext, args: { 'state-dir'?: string }): string {
  return defaultStateDir(ctx.env, ctx.cwd, args['state-dir']);
}

/** --format of the commands that print a plan */
export const FORMAT_OPTION = { type: 'string', choices: ['text', 'markdown', 'json'], default: 'text', describe: 'how the plan is printed' } as const;

export const STATE_DIR_HELP = 'where runs are journaled (default $ETCD_DR_STATE_DIR, else $XDG_STATE_HOME/etcd-dr, else ~/.local/state/etcd-dr)';

export function holderOf(): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid: keep "unknown"
  }
  return `${user}@${hostname()} pid ${process.pid}`;
}

export const PLAN_DEFAULTS = { lockFile: DEFAULT_LOCK_FILE };

/** Print the plan for review (stdout), and save it as JSON when asked. */
export function showPlan(ctx: CliContext, plan: Plan, o: { format: PlanFormat; output?: string; json: boolean; toStderr?: boolean }): void {
  if (o.output) {
    writePrivateFile(resolve(ctx.cwd, o.output), `${JSON.stringify(sealPlan(plan), null, 2)}\n`);
  }
  // a plan quotes the nodes (env files, tool errors in the evidence): no form of it may act on the terminal
  // (in JSON a C1 control or bidi override becomes a \u escape of the same string)
  if (o.json) {
    // the plan goes inside the one JSON document; people (asked to confirm, reading a CI log) read it on stderr
    ctx.out.add({ plan: sealPlan(plan) });
    if (o.toStderr) ctx.stderr.write(terminalSafe(renderPlan(plan, 'text')));
  } else ctx.stdout.write(terminalSafe(renderPlan(plan, o.format)));
  if (o.output) ctx.stderr.write(`etcd-dr: plan saved to ${o.output}; apply it with: etcd-dr apply ${o.output}\n`);
}

/** Ask for confirmation on a terminal; without one, `--yes` is required. */
export async function confirm(ctx: CliContext, plan: Plan, yes: boolean): Promise<void> {
  if (yes) return;
  const input = ctx.stdin ?? process.stdin;
  if (!(input as { isTTY?: boolean }).isTTY) {
    throw new RefusedError('not applying without a confirmation, and there is no terminal to ask on', 'review the plan, then run again with --yes');
  }
  const rl = createInterface({ input, output: ctx.stderr });
  const answer = await new Promise<string>((res) => rl.question(`Apply these ${plan.steps.length} steps to cluster ${plan.inventory.cluster}? Type "yes": `, res));
  rl.close();
  if (answer.trim().toLowerCase() !== 'yes') throw new RefusedError('not applied: the answer was not "yes"');
}

/** Run it with progress on stderr and SIGINT/SIGTERM turned into a clean stop between steps. */
export async function execute(ctx: CliContext, r: Run): Promise<RunResult> {
  let interrupted: 'SIGINT' | 'SIGTERM' | undefined;
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => {
    if (interrupted) return;
    interrupted = sig;
    ctx.stderr.write(`\netcd-dr: ${sig}: finishing the current step, then stopping (the journal keeps the place)\n`);
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const progressOut = Object.assign(ctx.stderr, { isTTY: ctx.stderrIsTTY ?? false });
  try {
    return await executeRun(r, { progress: terminalSafeProgress(progressFor(progressOut, ctx.env)), interrupted: () => interrupted });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** The closing lines: what was done, where the run's files are, what the kube-apiservers should use. */
export function summarize(ctx: CliContext, r: Run, result: RunResult): void {
  const out = runSummary(r, result);
  if (ctx.json) {
    ctx.out.set(out);
    return;
  }
  const { plan } = r;
  const lines = [
    `${plan.summary}`,
    `done in ${(result.ms / 1000).toFixed(1)} s; members: ${plan.finalMembers.join(', ')}`,
    ...(result.verification ? [`verified: ${JSON.stringify(result.verification)}`] : []),
    ...(out.backup ? [`backup of the survivor's db: ${out.backup} (sha256 beside it)`] : []),
    `run files: ${out.runDir} (plan.json, journal.jsonl, log.jsonl)`,
    `kube-apiserver: --etcd-servers=${out.etcdServers}`,
    ...plan.warnings.map((w) => `note: ${w}`),
  ];
  ctx.stdout.write(terminalSafe(`${lines.join('\n')}\n`));
}

/** Asks (unless --yes), then runs the plan as a new run and prints its summary. */
export async function confirmAndRun(ctx: CliContext, s: RunSession, plan: Plan, stateDir: string, yes: boolean, settings: RunSettings): Promise<void> {
  await confirm(ctx, plan, yes);
  const r: Run = { plan, run: runDirFor(stateDir, plan, false), session: s, resumed: false, settings };
  ctx.out.add({ runId: plan.runId, runDir: r.run.dir });
  summarize(ctx, r, await execute(ctx, r));
}

/**
 * What `recover`, `scale-out`, `scale-in` and `replace` do: make the plan on the spot, show it, ask (or
 * take --yes), run it with its journal, and print the summary. The run's log file is made only once the
 * inventory is valid.
 */
export async function planAndApply(
  ctx: CliContext,
  args: RunArgs & { format: PlanFormat; output?: string },
  make: (s: Session, runId: string) => Promise<Plan>,
): Promise<void> {
  const stateDir = stateDirOf(ctx, args);
  const settings = runSettings(args);
  const runId = newRunId();
  const s = await openSession(ctx, args, { logFile: () => logFileFor(stateDir, runId) });
  try {
    const plan = await make(s, runId);
    showPlan(ctx, plan, { format: args.format, output: args.output, json: args.json, toStderr: true });
    // warnings (e.g. lower fault tolerance) are printed with the plan, before the question
    await confirmAndRun(ctx, s, plan, stateDir, args.yes, settings);
  } finally {
    await s.close();
  }
}
