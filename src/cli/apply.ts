/** `apply PLAN`: a saved plan run exactly, refused when its run already started or the cluster changed since. */
import type { Argv, CommandModule } from 'yargs';
import type { RunDir } from '../apply/rundir.js';
import { checkSavedRun, logFileFor, runIdInPlanFile } from '../apply/start-run.js';
import { loadPlan } from './plan-file.js';
import type { CliContext, GlobalArgs } from './context.js';
import { confirmAndRun, runOptions, runSettings, stateDirOf, STATE_DIR_HELP, type RunArgs } from './run-plan.js';
import { openSession } from './session.js';

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
        run = await checkSavedRun(stateDir, plan, s);
        await confirmAndRun(ctx, s, plan, stateDir, args.yes, settings);
      } finally {
        // a refusal (no confirmation) ends the command, not the process: free the run for the next one
        run?.unlock();
        await s.close();
      }
    },
  };
}
