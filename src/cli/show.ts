/** `etcd-dr show PLAN`: a saved plan printed again for people, with no inventory and no node access. */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { readSavedPlan } from './plan-file.js';
import { renderPlan, type PlanFormat } from '../plan/render.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { FORMAT_OPTION } from './run-plan.js';

interface ShowArgs extends GlobalArgs {
  plan: string;
  format: PlanFormat;
}

const PLAN_ARG = { type: 'string', demandOption: true, describe: 'a plan saved with `etcd-dr plan … -o`, or a run\'s plan.json' } as const;

export function showCommand(ctx: CliContext): CommandModule<GlobalArgs, ShowArgs> {
  return {
    command: 'show <plan>',
    describe: 'print a saved plan again (text, markdown or JSON); reads only the file: no inventory, no node',
    builder: (y) => y.positional('plan', PLAN_ARG).option('format', FORMAT_OPTION) as unknown as Argv<ShowArgs>,
    handler: (args) => {
      const plan = readSavedPlan(resolve(ctx.cwd, args.plan));
      // a plan quotes the nodes (env files, tool errors): no form of it may act on the terminal
      if (args.json) ctx.out.set({ plan });
      else ctx.stdout.write(terminalSafe(renderPlan(plan, args.format)));
    },
  };
}
