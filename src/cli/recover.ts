/** `plan recover` and `recover`: the quorum-loss recovery, planned for review, or planned and applied. */
import type { Argv, CommandModule } from 'yargs';
import { warnBastionRoom } from '../apply/bastion-room.js';
import { checkNames } from '../apply/check-names.js';
import { endedRun, RunDir } from '../apply/rundir.js';
import { newRunId, RUN_ID_RE } from '../plan/run-id.js';
import { measuredRates } from '../apply/link-rate.js';
import { gather } from '../apply/session.js';
import type { PlanFormat } from '../plan/render.js';
import { planRecovery } from '../plan/restore-all.js';
import type { Plan, RecoverIntent } from '../plan/types.js';
import { EXIT, ExitError } from '../util/errors.js';
import { toolVersion } from '../util/version.js';
import type { CliContext, GlobalArgs } from './context.js';
import { withHelp } from './help.js';
import { FORMAT_OPTION, PLAN_DEFAULTS, holderOf, planAndApply, runOptions, showPlan, stateDirOf, STATE_DIR_HELP, type RunArgs } from './run-plan.js';
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
    .option('format', FORMAT_OPTION)
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
  const plan = planRecovery(
    {
      inventory: s.inventory, facts, runId, now: new Date(), toolVersion: toolVersion(), lockFile: PLAN_DEFAULTS.lockFile, holder: holderOf(), runEnded: (id) => endedRun(stateDir, id),
      runHere: (id) => RUN_ID_RE.test(id) && new RunDir(stateDir, id).exists(),
      ...measuredRates(stateDir, s.inventory.cluster.name),
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
