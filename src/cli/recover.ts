/**
 * `plan recover`, `recover`, `apply PLAN`, `resume [RUN_ID]`: the quorum-loss recovery, reviewed, applied,
 * journaled and resumable.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { doneStepsOf } from '../apply/executor.js';
import { relocateBackup, warnBastionRoom } from './bastion-room.js';
import { checkJournal } from './journal-check.js';
import { endedRun, newRunId, RunDir, RUN_ID_RE, writePrivateFile } from '../apply/rundir.js';
import { checkExclude, excludeFromPlan } from '../plan/exclude.js';
import type { PlanFormat } from '../plan/render.js';
import { loadPlan } from '../plan/load.js';
import { planRecovery } from '../plan/restore-all.js';
import { linkRateFromRuns } from './link-rate.js';
import { sealPlan } from '../plan/seal.js';
import type { Plan, RecoverIntent } from '../plan/types.js';
import { EXIT, ExitError, RefusedError } from '../util/errors.js';
import { runStateDirs } from '../util/dirs.js';
import { toolVersion } from '../util/version.js';
import type { CliContext, GlobalArgs } from './context.js';
import { withHelp } from './help.js';
import {
  PLAN_DEFAULTS, checkNames, confirmAndRun, planAndApply, execute, gather, holderOf, logFileFor, pickRun, refuseIfStale, runDirFor, runIdInPlanFile, runOptions, runSettings, showPlan,
  stateDirOf, STATE_DIR_HELP, summarize, type RunArgs,
} from './run-plan.js';
import { openSession, type Session } from './session.js';

export interface RecoverArgs extends RunArgs {
  survivor?: string;
  exclude?: string[];
  learner: boolean;
  force: boolean;
  'break-lock': boolean;
  'backup-dir'?: string;
  'local-backup': boolean;
  'backup-before-restore': boolean;
  output?: string;
  format: PlanFormat;
  strategy?: 'rejoin' | 'restore-all' | 'auto';
}

/** --strategy of recover, plan recover, drill and demo */
export const STRATEGY_OPTION = {
  type: 'string',
  choices: ['rejoin', 'restore-all', 'auto'],
  describe:
    "recoveries: rejoin (default): the survivor restored alone, the others re-added one at a time; restore-all: the survivor's db restored on every member at once; auto: the faster by the plan's estimate",
} as const;

export function recoverOptions<T>(y: Argv<T>): Argv<T & RecoverArgs> {
  return y
    .option('survivor', { type: 'string', describe: 'restore from this member instead of the freshest one (the plan warns when it is not the freshest)' })
    .option('exclude', { type: 'string', array: true, describe: 'leave this member out (a dead host); repeatable. The cluster comes back smaller' })
    .option('learner', { type: 'boolean', default: true, describe: 're-add members as learners first (--no-learner: voting add, for etcd without learners)' })
    .option('force', { type: 'boolean', default: false, describe: 'plan a recovery even though the cluster still has a quorum' })
    .option('break-lock', { type: 'boolean', default: false, describe: "take over the lock of another etcd-dr run that is dead (the plan names it; the old lock is kept beside)" })
    .option('backup-dir', { type: 'string', describe: "where the survivor's db is copied on the bastion (default <state-dir>/backups)" })
    .option('local-backup', { type: 'boolean', default: true, describe: "copy the survivor's db to the bastion (--no-local-backup to skip); the copy runs alongside the recovery, which ends only once it is on the bastion" })
    .option('backup-before-restore', { type: 'boolean', default: false, describe: 'finish the copy to the bastion before the restore starts (slower with a large db)' })
    .option('strategy', STRATEGY_OPTION)
    .option('output', { alias: 'o', type: 'string', describe: 'save the plan as JSON for `etcd-dr apply`' })
    .option('format', { type: 'string', choices: ['text', 'markdown', 'json'], default: 'text', describe: 'how the plan is printed' })
    .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<T & RecoverArgs>;
}

async function makePlan(ctx: CliContext, s: Session, args: RecoverArgs, runId: string): Promise<Plan> {
  if (args.survivor) checkNames(s.inventory, '--survivor', [args.survivor]);
  checkNames(s.inventory, '--exclude', args.exclude ?? []);
  if (args.survivor && (args.exclude ?? []).includes(args.survivor)) {
    throw new ExitError(`--survivor ${args.survivor} is also given to --exclude`, EXIT.badInput, 'a survivor cannot be left out: drop one of the two');
  }
  const facts = await gather(s);
  const stateDir = stateDirOf(ctx, args);
  const intent: RecoverIntent = {
    kind: 'recover',
    ...(args.survivor ? { survivor: args.survivor } : {}),
    exclude: args.exclude ?? [],
    learner: args.learner,
    force: args.force,
    breakLock: args['break-lock'],
    localBackup: args['local-backup'],
    ...(args['backup-before-restore'] ? { backupBeforeRestore: true } : {}),
    backupDir: args['backup-dir'] ? `${args['backup-dir']}` : `${stateDir}/backups`,
    ...(args.strategy ? { strategy: args.strategy } : {}),
  };
  const link = linkRateFromRuns(stateDir, s.inventory.cluster.name);
  const plan = planRecovery(
    {
      inventory: s.inventory, facts, runId, now: new Date(), toolVersion: toolVersion(), lockFile: PLAN_DEFAULTS.lockFile, holder: holderOf(), runEnded: (id) => endedRun(stateDir, id),
      runHere: (id) => RUN_ID_RE.test(id) && new RunDir(stateDir, id).exists(),
      ...(link ? { link } : {}),
    },
    intent,
  );
  return warnBastionRoom(plan, facts);
}

function planRecoverCommand(ctx: CliContext): CommandModule<GlobalArgs, RecoverArgs> {
  return {
    command: 'recover',
    describe: 'plan the quorum-loss recovery (read-only): survivor, evidence, every step and command',
    builder: (y) => recoverOptions(y),
    handler: async (args) => {
      const s = await openSession(ctx, args);
      try {
        const plan = await makePlan(ctx, s, args, newRunId());
        showPlan(ctx, plan, { format: args.format, output: args.output, json: args.json });
      } finally {
        await s.close();
      }
    },
  };
}

export function planCommand(ctx: CliContext, more: CommandModule<GlobalArgs, any>[] = []): CommandModule<GlobalArgs, GlobalArgs & { operation?: string }> {
  const ops = ['recover', ...more.map((m) => String(m.command).split(' ')[0])];
  return {
    command: 'plan [operation]',
    describe: 'make a plan for review; nothing on any node changes',
    builder: (y) => {
      let b = y.command(withHelp(planRecoverCommand(ctx), 'plan'));
      for (const m of more) b = b.command(withHelp(m, 'plan'));
      return b as unknown as Argv<GlobalArgs & { operation?: string }>;
    },
    // reached only when no known operation matched
    handler: (args) => {
      throw new ExitError(
        `${args.operation ? `"${args.operation}" is not something etcd-dr plans. ` : ''}Name what to plan: ${ops.join(', ')}.`,
        EXIT.badInput,
        'see `etcd-dr plan --help`',
      );
    },
  };
}

export function recoverCommand(ctx: CliContext): CommandModule<GlobalArgs, RecoverArgs> {
  return {
    command: 'recover',
    describe: 'plan the quorum-loss recovery, show it, ask, and apply it (journaled; `resume` continues it)',
    builder: (y) => runOptions(recoverOptions(y).option('yes', { type: 'boolean', default: false, describe: 'apply without asking (required without a terminal)' })),
    handler: (args) => planAndApply(ctx, args, (s, runId) => makePlan(ctx, s, args, runId)),
  };
}

export function applyCommand(ctx: CliContext): CommandModule<GlobalArgs, RunArgs & { plan: string }> {
  return {
    command: 'apply <plan>',
    describe: 'run a saved plan exactly; refused when the cluster changed since the plan was made',
    builder: (y) =>
      runOptions(y)
        .positional('plan', { type: 'string', demandOption: true, describe: 'plan JSON saved with `etcd-dr plan … -o`' })
        .option('yes', { type: 'boolean', default: false, describe: 'apply without asking (required without a terminal)' })
        .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<
        RunArgs & { plan: string }
      >,
    handler: async (args) => {
      const stateDir = stateDirOf(ctx, args);
      const settings = runSettings(args);
      const id = runIdInPlanFile(args.plan);
      const s = await openSession(ctx, args, id ? { logFile: () => logFileFor(stateDir, id) } : {});
      let run: RunDir | undefined;
      try {
        const plan = loadPlan(args.plan, s.inventory);
        if (args.json) ctx.out.add({ plan });
        run = runDirFor(stateDir, plan, false); // refuses a plan whose run already started, before anything else
        await refuseIfStale(s, plan);
        await confirmAndRun(ctx, s, plan, stateDir, args, settings);
      } finally {
        // a refusal (stale plan, no confirmation) ends the command, not the process: free the run for the next one
        run?.unlock();
        await s.close();
      }
    },
  };
}

export function resumeCommand(ctx: CliContext): CommandModule<GlobalArgs, RunArgs & { 'run-id'?: string; exclude?: string[]; 'backup-dir'?: string }> {
  return {
    command: 'resume [run-id]',
    describe: 'continue an interrupted run from its journal (default: the newest unfinished run)',
    builder: (y) =>
      runOptions(y)
        .positional('run-id', { type: 'string', describe: 'the run to continue (a directory name under <state-dir>/runs)' })
        .option('exclude', {
          type: 'string',
          array: true,
          describe: 'recovery runs: finish without this member (its host died during the run); its join is dropped, env files and the verification name the smaller membership; repeatable',
        })
        .option('backup-dir', { type: 'string', describe: "copy the survivor's db here instead of where the plan says (the bastion's first choice ran out of room)" })
        .option('yes', { type: 'boolean', default: true, describe: 'resume without asking (the plan was confirmed when the run started)' })
        .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<
        RunArgs & { 'run-id'?: string; exclude?: string[]; 'backup-dir'?: string }
      >,
    handler: async (args) => {
      const settings = runSettings(args);
      const picked = pickRun(runStateDirs(ctx.env, ctx.cwd, args['state-dir']), args['run-id']);
      // the state dir the run was found in (a run of an earlier version may be in ./.etcd-dr)
      const stateDir = resolve(picked.dir, '..', '..');
      // before its journal is read: another process may still be writing it
      picked.lock();
      const exclude = (args.exclude ?? []).map(String);
      const s = await openSession(ctx, args, { logFile: picked.logPath });
      try {
        let plan = loadPlan(picked.planPath, s.inventory);
        if (exclude.length) {
          checkNames(s.inventory, '--exclude', exclude);
          checkExclude(plan, exclude);
        }
        // the run's own lock is expected; another run's lock is not
        const facts = await gather(s);
        for (const note of checkJournal(picked, plan, facts)) ctx.stderr.write(`etcd-dr: note: ${note}\n`);
        const other = facts.nodes.filter((n) => n.lock && n.lock.runId !== plan.runId);
        if (other.length) {
          throw new RefusedError(
            `another etcd-dr run holds the lock: ${other.map((n) => `${n.name} by ${n.lock!.runId}`).join(', ')}`,
            'wait for it to finish; a lock left by a dead run is broken with --break-lock',
          );
        }
        if (exclude.length) {
          // the rest of the run without those members; the plan the run started with is kept beside
          const amended = excludeFromPlan(plan, exclude, { inventory: s.inventory, nodes: facts.nodes, done: new Set(doneStepsOf(picked.read()).keys()) });
          const previousPlan = join(picked.dir, `plan.before-exclude-${exclude.join('-')}-${Date.now()}.json`);
          writePrivateFile(previousPlan, readFileSync(picked.planPath, 'utf8'));
          plan = sealPlan(amended.plan);
          writePrivateFile(picked.planPath, `${JSON.stringify(plan, null, 2)}\n`);
          picked.append({ event: 'plan-amended', exclude, previousPlan, changes: amended.changes });
          ctx.stderr.write(`etcd-dr: run ${plan.runId} goes on without ${exclude.join(', ')} (the plan it started with: ${previousPlan}):\n${amended.changes.map((c) => `  - ${c}\n`).join('')}`);
          for (const w of plan.warnings.slice(-exclude.length)) ctx.stderr.write(`etcd-dr: note: ${w}\n`);
        }
        const run = runDirFor(stateDir, plan, true);
        if (args['backup-dir']) {
          plan = relocateBackup(plan, resolve(ctx.cwd, args['backup-dir']));
          ctx.stderr.write(`etcd-dr: the db copy goes to ${resolve(ctx.cwd, args['backup-dir'], plan.runId)} (--backup-dir)\n`);
        }
        ctx.out.add({ runId: plan.runId, runDir: run.dir, plan });
        ctx.stderr.write(`etcd-dr: resuming run ${plan.runId}: ${plan.summary}\n`);
        const r = await execute(ctx, s, plan, run, true, settings);
        summarize(ctx, s, plan, run, r, args.json);
      } finally {
        picked.unlock();
        await s.close();
      }
    },
  };
}
