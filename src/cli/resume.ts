/** `resume [RUN_ID]`: an interrupted run continued from its journal (see apply/resume.ts). */
import { resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { pickRunToResume, prepareResume } from '../apply/resume.js';
import { loadPlan } from './plan-file.js';
import { runStateDirs } from '../util/dirs.js';
import type { CliContext, GlobalArgs } from './context.js';
import { execute, runOptions, runSettings, STATE_DIR_HELP, summarize, type RunArgs } from './run-plan.js';
import { openSession } from './session.js';

type ResumeArgs = RunArgs & { 'run-id'?: string; exclude?: string[]; 'backup-dir'?: string };

export function resumeCommand(ctx: CliContext): CommandModule<GlobalArgs, ResumeArgs> {
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
        .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<ResumeArgs>,
    handler: async (args) => {
      const settings = runSettings(args);
      const picked = pickRunToResume(runStateDirs(ctx.env, ctx.cwd, args['state-dir']), args['run-id']);
      const s = await openSession(ctx, args, { logFile: picked.logPath });
      try {
        const r = await prepareResume({
          picked,
          session: s,
          readPlan: (path) => loadPlan(path, s.inventory),
          exclude: (args.exclude ?? []).map(String),
          ...(args['backup-dir'] ? { backupDir: resolve(ctx.cwd, args['backup-dir']) } : {}),
          settings,
          tell: (line) => ctx.stderr.write(`etcd-dr: ${line}\n`),
        });
        ctx.out.add({ runId: r.plan.runId, runDir: r.run.dir, plan: r.plan });
        ctx.stderr.write(`etcd-dr: resuming run ${r.plan.runId}: ${r.plan.summary}\n`);
        summarize(ctx, r, await execute(ctx, r));
      } finally {
        picked.unlock();
        await s.close();
      }
    },
  };
}
