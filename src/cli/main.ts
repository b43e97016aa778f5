import yargs, { type CommandModule } from 'yargs';
import { StderrMux } from '../apply/progress.js';
import { EXIT, ExitError, InternalError } from '../util/errors.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { commandPath, JsonOut, jsonRequested, writeDocument } from './output.js';
import { demoCommand, drillCommand } from './drill.js';
import { inventoryCommand } from './inventory.js';
import { labCommand } from './lab.js';
import { applyCommand } from './apply.js';
import { planCommand, recoverCommand } from './recover.js';
import { resumeCommand } from './resume.js';
import { planScaleCommands, replaceCommand, scaleInCommand, scaleOutCommand } from './scale.js';
import { showCommand } from './show.js';
import { statusCommand } from './status.js';
import { unlockCommand } from './unlock.js';
import { withHelp } from './help.js';

const EPILOGUE = [
  'Exit codes: 0 ok · 1 failed while applying · 2 bad input (nothing done) · 3 refused for safety · 4 verification failed · 5 degraded · 6 quorum lost · 7 inconsistent (status) · 130 interrupted (SIGINT) · 143 stopped (SIGTERM); each command\'s --help lists its own.',
  'Examples in every command\'s --help (-h). Docs: README.md and docs/ in the etcd-dr package.',
].join('\n\n');

/** Top-level command names, to name the command of an error found before the arguments are parsed. */
const COMMANDS = new Set(['status', 'plan', 'recover', 'scale-out', 'scale-in', 'replace', 'apply', 'resume', 'drill', 'demo', 'lab', 'show', 'inventory', 'completion']);

/** The commands, in the order `--help` lists them. */
function commands(ctx: CliContext): CommandModule<GlobalArgs, any>[] {
  return [
    statusCommand(ctx), planCommand(ctx, planScaleCommands(ctx)), recoverCommand(ctx), scaleOutCommand(ctx), scaleInCommand(ctx), replaceCommand(ctx), applyCommand(ctx),
    resumeCommand(ctx), unlockCommand(ctx), drillCommand(ctx), demoCommand(ctx), showCommand(ctx), labCommand(ctx), inventoryCommand(ctx),
  ];
}

export function buildCli(argv: string[], ctx: CliContext) {
  return yargs(argv)
    .scriptName('etcd-dr')
    .usage('$0 <command> [options]\n\nRecover, grow and shrink kubespray-style etcd clusters over SSH.')
    .option('inventory', {
      alias: 'i',
      type: 'string',
      describe: 'inventory file: etcd-dr\'s, or kubespray\'s hosts.yaml / inventory.ini (default: $ETCD_DR_INVENTORY, else ./inventory.yaml)',
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
    .command(commands(ctx).map((m) => withHelp(m)))
    .completion('completion', 'print a shell completion script (bash; zsh when $SHELL is zsh): etcd-dr completion >> ~/.bashrc')
    .middleware((args) => {
      ctx.json = Boolean(args.json);
      ctx.out.command = commandPath(args._);
    })
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
    .alias('help', 'h')
    .version();
}

/** The CLI entry: returns the process exit code; never calls process.exit itself. */
export async function main(argv: string[], partial: Partial<CliContext> = {}): Promise<number> {
  const ctx: CliContext = {
    json: jsonRequested(argv),
    out: new JsonOut(),
    stdout: partial.stdout ?? process.stdout,
    // on a terminal, lines written while the live progress view is up are printed above it
    stderr: partial.stderr ?? (process.stderr.isTTY ? new StderrMux(process.stderr) : process.stderr),
    env: partial.env ?? process.env,
    cwd: partial.cwd ?? process.cwd(),
    exitCode: EXIT.ok,
    isTTY: partial.isTTY ?? Boolean(process.stdout.isTTY),
    stderrIsTTY: partial.stderrIsTTY ?? (partial.stderr ? false : Boolean(process.stderr.isTTY)),
    ...(partial.stdin ? { stdin: partial.stdin } : {}),
  };
  let helpOrVersion = false;
  try {
    // help, version and completion text come back here instead of going to process.stdout
    let printed = '';
    const args = await buildCli(argv, ctx).parseAsync(argv, {}, (_err, _argv, output) => {
      printed = output;
    });
    if (printed) ctx.stdout.write(`${printed}\n`);
    helpOrVersion = Boolean(printed || args['help'] || args['version'] || args['get-yargs-completions']);
    // --help and --version print text for people, as every CLI does, with or without --json
    if (ctx.json && !helpOrVersion) writeDocument(ctx.stdout, ctx.out.document(ctx.exitCode));
    return ctx.exitCode;
  } catch (err) {
    const code = err instanceof ExitError ? err.exitCode : EXIT.failed;
    if (ctx.json) {
      if (!ctx.out.command) ctx.out.command = commandPath(argv.slice(Math.max(0, argv.findIndex((a) => COMMANDS.has(a)))).filter((a) => !a.startsWith('-')));
      writeDocument(ctx.stdout, ctx.out.errorDocument(err, code));
    }
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
