/**
 * `scale-out`, `scale-in`, `replace` and their `plan …` forms: membership changes of a cluster that has
 * its quorum, planned, shown, confirmed and applied like a recovery (journal, resume, rollback of a
 * failed join, verification, the `--etcd-servers=` value at the end).
 */
import type { Argv, CommandModule } from 'yargs';
import { checkNames } from '../apply/check-names.js';
import { endedRun } from '../apply/rundir.js';
import { newRunId } from '../plan/run-id.js';
import { gather } from '../apply/session.js';
import type { PlanFormat } from '../plan/render.js';
import { planReplace, planScaleIn, planScaleOut } from '../plan/scale.js';
import type { PlanContext } from '../plan/context.js';
import type { Intent, Plan } from '../plan/types.js';
import { toolVersion } from '../util/version.js';
import type { CliContext, GlobalArgs } from './context.js';
import { FORMAT_OPTION, PLAN_DEFAULTS, holderOf, planAndApply, runOptions, showPlan, stateDirOf, STATE_DIR_HELP, type RunArgs } from './run-plan.js';
import { openSession, type Session } from './session.js';

interface PlanArgs extends RunArgs {
  output?: string;
  format: PlanFormat;
}

interface ScaleOutArgs extends PlanArgs {
  node: string[];
}
interface ScaleInArgs extends PlanArgs {
  member: string[];
}
interface ReplaceArgs extends PlanArgs {
  member: string;
  with?: string;
}

type Kind = 'scale-out' | 'scale-in' | 'replace';

function common<T>(y: Argv<T>): Argv<T> {
  return y
    .option('output', { alias: 'o', type: 'string', describe: 'save the plan as JSON for `etcd-dr apply`' })
    .option('format', FORMAT_OPTION)
    .option('state-dir', { type: 'string', describe: STATE_DIR_HELP });
}

const SPECS: Record<Kind, { describe: string; planDescribe: string; options: <T>(y: Argv<T>) => Argv<T> }> = {
  'scale-out': {
    describe: 'add inventory nodes to a healthy cluster, one at a time as learners: plan, show, ask, apply',
    planDescribe: 'plan adding inventory nodes to the cluster (read-only)',
    options: (y) => y.option('node', { type: 'string', array: true, demandOption: true, describe: 'inventory node to add; repeatable, added in this order' }),
  },
  'scale-in': {
    describe: 'remove members from a healthy cluster, one at a time, leadership moved away first: plan, show, ask, apply',
    planDescribe: 'plan removing members from the cluster (read-only)',
    options: (y) => y.option('member', { type: 'string', array: true, demandOption: true, describe: 'member to remove; repeatable' }),
  },
  replace: {
    describe: 'remove a dead member (or a host to rebuild), then add its replacement: plan, show, ask, apply',
    planDescribe: 'plan replacing a member (read-only)',
    options: (y) =>
      y
        .option('member', { type: 'string', demandOption: true, describe: 'the member to replace' })
        .option('with', { type: 'string', describe: "the inventory node that takes its place (default: the member's own node, once wiped)" }),
  },
};

function intentOf(kind: Kind, args: PlanArgs): Intent {
  if (kind === 'scale-out') return { kind, nodes: (args as ScaleOutArgs).node.map(String) };
  if (kind === 'scale-in') return { kind, members: (args as ScaleInArgs).member.map(String) };
  const r = args as ReplaceArgs;
  return { kind, member: String(r.member), ...(r.with ? { with: String(r.with) } : {}) };
}

function namesOf(intent: Intent): [string, string[]][] {
  if (intent.kind === 'scale-out') return [['--node', intent.nodes]];
  if (intent.kind === 'scale-in') return [['--member', intent.members]];
  if (intent.kind === 'replace') return [['--member', [intent.member]], ['--with', intent.with ? [intent.with] : []]];
  return [];
}

async function makePlan(ctx: CliContext, s: Session, kind: Kind, args: PlanArgs, runId: string): Promise<Plan> {
  const intent = intentOf(kind, args);
  for (const [flag, names] of namesOf(intent)) checkNames(s.inventory, flag, names);
  const facts = await gather(s);
  const stateDir = stateDirOf(ctx, args);
  const pc: PlanContext = { inventory: s.inventory, facts, runId, now: new Date(), toolVersion: toolVersion(), lockFile: PLAN_DEFAULTS.lockFile, holder: holderOf(), runEnded: (id) => endedRun(stateDir, id) };
  if (intent.kind === 'scale-out') return planScaleOut(pc, intent);
  if (intent.kind === 'scale-in') return planScaleIn(pc, intent);
  return planReplace(pc, intent as Extract<Intent, { kind: 'replace' }>);
}

function planSub(ctx: CliContext, kind: Kind): CommandModule<GlobalArgs, PlanArgs> {
  return {
    command: kind,
    describe: SPECS[kind].planDescribe,
    builder: (y) => SPECS[kind].options(common(y)) as unknown as Argv<PlanArgs>,
    handler: async (args) => {
      const s = await openSession(ctx, args);
      try {
        const plan = await makePlan(ctx, s, kind, args, newRunId());
        showPlan(ctx, plan, { format: args.format, output: args.output, json: args.json });
      } finally {
        await s.close();
      }
    },
  };
}

function runSub(ctx: CliContext, kind: Kind): CommandModule<GlobalArgs, PlanArgs> {
  return {
    command: kind,
    describe: SPECS[kind].describe,
    builder: (y) =>
      runOptions(SPECS[kind].options(common(y)).option('yes', { type: 'boolean', default: false, describe: 'apply without asking (required without a terminal)' })) as unknown as Argv<PlanArgs>,
    handler: (args) => planAndApply(ctx, args, (s, runId) => makePlan(ctx, s, kind, args, runId)),
  };
}

/** `plan scale-out|scale-in|replace`, for planCommand's `more`. */
export function planScaleCommands(ctx: CliContext): CommandModule<GlobalArgs, PlanArgs>[] {
  return (['scale-out', 'scale-in', 'replace'] as const).map((k) => planSub(ctx, k));
}

export function scaleOutCommand(ctx: CliContext): CommandModule<GlobalArgs, PlanArgs> {
  return runSub(ctx, 'scale-out');
}
export function scaleInCommand(ctx: CliContext): CommandModule<GlobalArgs, PlanArgs> {
  return runSub(ctx, 'scale-in');
}
export function replaceCommand(ctx: CliContext): CommandModule<GlobalArgs, PlanArgs> {
  return runSub(ctx, 'replace');
}
