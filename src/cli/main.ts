import yargs from 'yargs';
import { EXIT, ExitError, InternalError } from '../util/errors.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext } from './context.js';
import { demoCommand, drillCommand } from './drill.js';
import { labCommand } from './lab.js';
import { applyCommand, planCommand, recoverCommand, resumeCommand } from './recover.js';
import { planScaleCommands, replaceCommand, scaleInCommand, scaleOutCommand } from './scale.js';
import { statusCommand } from './status.js';

const EPILOGUE = `Exit codes: 0 ok · 1 failed while applying · 2 bad input (nothing done) · 3 refused for safety ·
4 verification failed · 5 degraded · 6 quorum lost · 7 inconsistent (status) · 130 interrupted (SIGINT) ·
143 stopped (SIGTERM).
Docs: README.md in the etcd-dr package.`;

export function buildCli(argv: string[], ctx: CliContext) {
  return yargs(argv)
    .scriptName('etcd-dr')
    .usage('$0 <command> [options]\n\nRecover, grow and shrink kubespray-style etcd clusters over SSH.')
    .option('inventory', {
      alias: 'i',
      type: 'string',
      describe: 'inventory file (default: $ETCD_DR_INVENTORY, else ./inventory.yaml)',
    })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable JSON on stdout' })
    .option('log-level', {
      type: 'string',
      default: 'info',
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'],
      describe: 'level of the readable log lines on stderr (the JSON log file keeps debug)',
    })
    .option('accept-new-host-keys', {
      type: 'boolean',
      default: false,
      describe: 'trust and record host keys not yet in knownHostsFile (a changed key is always refused)',
    })
    .command(statusCommand(ctx))
    .command(planCommand(ctx, planScaleCommands(ctx)))
    .command(recoverCommand(ctx))
    .command(scaleOutCommand(ctx))
    .command(scaleInCommand(ctx))
    .command(replaceCommand(ctx))
    .command(applyCommand(ctx))
    .command(resumeCommand(ctx))
    .command(drillCommand(ctx))
    .command(demoCommand(ctx))
    .command(labCommand(ctx))
    .demandCommand(1, 'Name a command; see --help.')
    .strict()
    .recommendCommands()
    .epilogue(EPILOGUE)
    .wrap(Math.min(110, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((msg, err) => {
      if (err) throw err;
      throw new ExitError(msg ?? 'invalid usage', EXIT.badInput, 'see `etcd-dr --help`');
    })
    .help()
    .version();
}

/** The CLI entry: returns the process exit code; never calls process.exit itself. */
export async function main(argv: string[], partial: Partial<CliContext> = {}): Promise<number> {
  const ctx: CliContext = {
    stdout: partial.stdout ?? process.stdout,
    stderr: partial.stderr ?? process.stderr,
    env: partial.env ?? process.env,
    cwd: partial.cwd ?? process.cwd(),
    exitCode: EXIT.ok,
    isTTY: partial.isTTY ?? Boolean(process.stdout.isTTY),
    stderrIsTTY: partial.stderrIsTTY ?? (partial.stderr ? false : Boolean(process.stderr.isTTY)),
    ...(partial.stdin ? { stdin: partial.stdin } : {}),
  };
  try {
    await buildCli(argv, ctx).parseAsync();
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof ExitError) {
      // messages quote what nodes printed: nothing in them may act on the terminal
      ctx.stderr.write(`etcd-dr: ${terminalSafe(err.message)}\n`);
      if (err.hint) ctx.stderr.write(`  → ${terminalSafe(err.hint)}\n`);
      return err.exitCode;
    }
    if (err instanceof InternalError || err instanceof Error) {
      ctx.stderr.write(`etcd-dr: internal error: ${terminalSafe(err.stack ?? err.message)}\n`);
      return EXIT.failed;
    }
    ctx.stderr.write(`etcd-dr: ${terminalSafe(String(err))}\n`);
    return EXIT.failed;
  }
}
