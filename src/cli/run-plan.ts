/**
 * What `apply`, `recover`, `resume` (and the membership commands) share: where runs live, confirmation,
 * the stale-plan check, running the executor with progress, and the closing summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { Argv } from 'yargs';
import { Executor, type RunResult } from '../apply/executor.js';
import { progressFor } from '../apply/progress.js';
import { underLockCheck } from '../apply/under-lock.js';
import { RunDir, writePrivateFile, ensurePrivateDir, listRuns, newRunId, RUN_ID_RE } from '../apply/rundir.js';
import { diffCanonFacts, canonFacts } from '../facts/assess.js';
import { gatherFacts, hostKeyRefusals, DEFAULT_LOCK_FILE } from '../facts/gather.js';
import type { ClusterFacts } from '../facts/types.js';
import { clientUrl } from '../inventory/types.js';
import { renderPlan, type PlanFormat } from '../plan/render.js';
import { sealPlan } from '../plan/seal.js';
import type { Plan } from '../plan/types.js';
import { EXIT, ExitError, RefusedError } from '../util/errors.js';
import { defaultStateDir } from '../util/dirs.js';
import { terminalSafe, terminalSafeProgress } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { gatherOptions, openSession, type Session } from './session.js';

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
export function runSettings(args: Pick<RunArgs, 'healthy-timeout'>): { healthyTimeoutSec?: number } {
  const t = args['healthy-timeout'];
  if (t === undefined) return {};
  if (!Number.isInteger(t) || t < 1 || t > 86_400) throw new ExitError(`--healthy-timeout ${String(t)}: give whole seconds from 1 to 86400`, EXIT.badInput, 'the default is 120');
  return { healthyTimeoutSec: t };
}

export function stateDirOf(ctx: CliContext, args: { 'state-dir'?: string }): string {
  return defaultStateDir(ctx.env, ctx.cwd, args['state-dir']);
}

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

/** Gather facts and refuse early when a host key is refused (nothing else can be trusted then). */
export async function gather(s: Session): Promise<ClusterFacts> {
  const facts = await gatherFacts(s.inventory, s.transport, gatherOptions(s));
  const refused = hostKeyRefusals(facts);
  if (refused.length) throw new RefusedError(refused.map((r) => r.message).join('\n'), refused[0]!.hint);
  return facts;
}

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

/** Refuse a plan made from facts that no longer hold, saying what changed. */
export async function refuseIfStale(s: Session, plan: Plan): Promise<void> {
  const facts = await gather(s);
  if (facts.digest === plan.factsDigest) return;
  const changes = diffCanonFacts(plan.facts, canonFacts(facts.nodes));
  throw new RefusedError(
    `the plan is stale: the cluster changed since it was made (${plan.createdAt})\n${changes.map((c) => `  - ${c}`).join('\n') || '  - (the facts digest differs)'}`,
    'make a new plan from the current state and review it again',
  );
}

/** The run dir for a plan; a plan whose run already started is resumed, not applied again. */
export function runDirFor(stateDir: string, plan: Plan, resumed: boolean): RunDir {
  const run = new RunDir(stateDir, plan.runId);
  run.create();
  // one process per run: a second `resume`, or one while the first still ends its step, is refused here
  run.lock();
  if (!resumed && existsSync(run.journalPath) && run.read().some((e) => e.event === 'run-start')) {
    throw new RefusedError(`run ${plan.runId} already started from this plan`, `continue it with \`etcd-dr resume ${plan.runId}\`; to start over, make a new plan`);
  }
  if (!existsSync(run.planPath)) writePrivateFile(run.planPath, `${JSON.stringify(sealPlan(plan), null, 2)}\n`);
  return run;
}

/**
 * The newest run that did not finish, or the one named, searched in `stateDirs` in order (see
 * runStateDirs: the state dir, then ./.etcd-dr of earlier versions).
 */
export function pickRun(stateDirs: string | string[], runId?: string): RunDir {
  const dirs = typeof stateDirs === 'string' ? [stateDirs] : stateDirs;
  const where = dirs.map((d) => join(d, 'runs')).join(' or ');
  if (runId !== undefined) {
    if (!RUN_ID_RE.test(runId)) throw new ExitError(`"${runId}" is not a run id like 20261124T193012Z-3f9c`, EXIT.badInput, `runs are in ${where}`);
    const run = dirs.map((d) => new RunDir(d, runId)).find((r) => r.exists());
    if (!run) throw new ExitError(`no run ${runId} in ${where}`, EXIT.badInput, 'give --state-dir where the run was started, or another run id');
    return run;
  }
  const unfinished = dirs
    .flatMap((d) => listRuns(d).map((id) => new RunDir(d, id)))
    .filter((r) => r.exists())
    .filter((r) => {
      const j = r.check();
      // a damaged journal is not skipped: resume says what it can and cannot tell
      if (j.problems.length) return true;
      const ends = j.events.filter((e) => e.event === 'run-end' || e.event === 'run-start');
      const last = ends[ends.length - 1];
      // done, or refused before it changed anything: not to be resumed
      return last !== undefined && !(last.event === 'run-end' && (last.outcome === 'done' || last.outcome === 'refused'));
    })
    .sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  const run = unfinished[unfinished.length - 1];
  if (!run) throw new ExitError(`no unfinished run in ${where}`, EXIT.badInput, 'name a run id, or give --state-dir where the run was started');
  return run;
}

/** Per-run log file: known before the session opens, so connecting is logged too. */
export function logFileFor(stateDir: string, runId: string): string {
  const run = new RunDir(stateDir, runId);
  ensurePrivateDir(run.dir);
  return run.logPath;
}

export function runIdInPlanFile(path: string): string | undefined {
  try {
    const id = (JSON.parse(readFileSync(path, 'utf8')) as { runId?: unknown }).runId;
    return typeof id === 'string' && RUN_ID_RE.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Run the executor with progress on stderr and SIGINT/SIGTERM turned into a clean stop between steps. */
export async function execute(ctx: CliContext, s: Session, plan: Plan, run: RunDir, resumed: boolean, settings: { healthyTimeoutSec?: number } = {}): Promise<RunResult> {
  // a new run checks the facts again once it holds every lock (a resumed one changed them itself)
  const underLock = resumed ? undefined : underLockCheck(plan, () => gather(s));
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
    const ex = new Executor(plan, {
      inventory: s.inventory,
      transport: s.transport,
      log: s.log,
      run,
      progress: terminalSafeProgress(progressFor(progressOut, ctx.env)),
      interrupted: () => interrupted,
      ...(underLock ? { underLock } : {}),
      ...settings,
    });
    return await ex.run({ resumed });
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    run.unlock();
  }
}

/** The closing lines: what was done, where the run's files are, what the kube-apiservers should use. */
export function summarize(ctx: CliContext, s: Session, plan: Plan, run: RunDir, r: RunResult, json: boolean): void {
  const servers = plan.finalMembers.map((m) => clientUrl(s.inventory.nodes.find((n) => n.name === m)!)).join(',');
  const backup = plan.steps.find((st) => st.action.type === 'backup-db');
  const out = {
    runId: r.runId,
    outcome: r.outcome,
    seconds: r.ms / 1000,
    runDir: run.dir,
    members: plan.finalMembers,
    etcdServers: servers,
    ...(backup && backup.action.type === 'backup-db' ? { backup: backup.action.localPath } : {}),
    steps: r.steps,
    ...(r.verification ? { verification: r.verification } : {}),
    warnings: plan.warnings,
  };
  if (json) {
    ctx.out.set(out);
    return;
  }
  const lines = [
    `${plan.summary}`,
    `done in ${(r.ms / 1000).toFixed(1)} s; members: ${plan.finalMembers.join(', ')}`,
    ...(r.verification ? [`verified: ${JSON.stringify(r.verification)}`] : []),
    ...(out.backup ? [`backup of the survivor's db: ${out.backup} (sha256 beside it)`] : []),
    `run files: ${run.dir} (plan.json, journal.jsonl, log.jsonl)`,
    `kube-apiserver: --etcd-servers=${servers}`,
    ...plan.warnings.map((w) => `note: ${w}`),
  ];
  ctx.stdout.write(terminalSafe(`${lines.join('\n')}\n`));
}

/** Names given on the command line must be inventory nodes: bad input, found before any node is contacted. */
export function checkNames(inventory: { file: string; nodes: { name: string }[] }, flag: string, names: readonly string[]): void {
  const known = inventory.nodes.map((n) => n.name);
  const bad = names.filter((n) => !known.includes(n));
  if (bad.length) {
    throw new ExitError(`${flag} ${bad.join(', ')}: not a node of ${inventory.file}`, EXIT.badInput, `nodes are: ${known.join(', ')}`);
  }
}

/**
 * What `recover`, `scale-out`, `scale-in` and `replace` do: make the plan on the spot, show it, ask (or
 * take --yes), run it with its journal, and print the summary. The run's log file is made only once the
 * inventory is valid.
 */
/** Asks (unless --yes), then runs the plan as a new run and prints its summary. */
export async function confirmAndRun(ctx: CliContext, s: Session, plan: Plan, stateDir: string, args: { yes: boolean; json: boolean }, settings: ReturnType<typeof runSettings>): Promise<void> {
  await confirm(ctx, plan, args.yes);
  const run = runDirFor(stateDir, plan, false);
  ctx.out.add({ runId: plan.runId, runDir: run.dir });
  const r = await execute(ctx, s, plan, run, false, settings);
  summarize(ctx, s, plan, run, r, args.json);
}

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
    await confirmAndRun(ctx, s, plan, stateDir, args, settings);
  } finally {
    await s.close();
  }
}
