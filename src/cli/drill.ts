/**
 * `etcd-dr drill`: a disaster-recovery rehearsal on a disposable cluster, with reports for machines,
 * CI systems and people. `etcd-dr demo`: the same drill on the built-in lab, from nothing.
 */
import { join, resolve } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { measuredRates } from '../apply/link-rate.js';
import { RunDir, writePrivateFile } from '../apply/rundir.js';
import { newRunId } from '../plan/run-id.js';
import { runDrill, type DrillReport } from '../drill/drill.js';
import { checkDrillOptions, PLANNED_NEEDS, PLANNED_SCENARIOS, SCENARIOS, SCENARIO_TEXT, type Scenario } from '../drill/scenarios.js';
import { reportJson, reportJunit, reportMarkdown, reportSummary } from '../drill/report.js';
import { ackedWrites, labDown, labUp, loadKeys, powerOff, powerOn, type LabEtcdVersion } from '../lab/index.js';
import { renderPlan } from '../plan/render.js';
import { sealPlan } from '../plan/seal.js';
import { EXIT } from '../util/errors.js';
import { toolVersion } from '../util/version.js';
import type { CliContext, GlobalArgs } from './context.js';
import { terminalSafe } from '../util/terminal.js';
import { checkNames } from '../apply/check-names.js';
import { gather } from '../apply/session.js';
import { logFileFor, runDirFor } from '../apply/start-run.js';
import { PLAN_DEFAULTS, confirm, execute, holderOf, stateDirOf, STATE_DIR_HELP } from './run-plan.js';
import { openSession } from './session.js';
import { STRATEGY_OPTION } from './recover.js';
import type { RecoverStrategy } from '../plan/types.js';

interface DrillArgs extends GlobalArgs {
  scenario: Scenario;
  yes: boolean;
  report?: string;
  junit?: string;
  markdown?: string;
  survivor?: string;
  strategy?: RecoverStrategy;
  target?: string;
  disposable: boolean;
  'lab-dir'?: string;
  'late-keys': number;
  'state-dir'?: string;
}

interface DrillRun {
  report: DrillReport;
  files: { json: string; junit: string; markdown: string; log: string };
}

/** Run a drill with the CLI's session, progress and confirmation; write its reports. */
async function drill(
  ctx: CliContext,
  args: GlobalArgs & { 'state-dir'?: string; yes: boolean; disposable?: boolean },
  o: { scenario: Scenario; survivor?: string; strategy?: RecoverStrategy; target?: string; lateKeys?: number; labDir?: string; report?: string; junit?: string; markdown?: string; showPlan: boolean },
): Promise<DrillRun> {
  checkDrillOptions(o.scenario, o);
  const stateDir = stateDirOf(ctx, args);
  const runId = newRunId();
  const logFile = new RunDir(stateDir, runId).logPath;
  const s = await openSession(ctx, args, { logFile: () => logFileFor(stateDir, runId) });
  try {
    if (args.disposable) s.inventory.cluster.disposable = true;
    if (o.target !== undefined) checkNames(s.inventory, '--target', [o.target]);
    const note = (line: string) => ctx.stderr.write(terminalSafe(`etcd-dr drill: ${line}\n`));
    const report = await runDrill(
      {
        inventory: s.inventory,
        transport: s.transport,
        runId,
        toolVersion: toolVersion(),
        holder: holderOf(),
        lockFile: PLAN_DEFAULTS.lockFile,
        backupDir: join(stateDir, 'backups'),
        ...measuredRates(stateDir, s.inventory.cluster.name),
        gather: () => gather(s),
        confirm: async (plan) => {
          if (ctx.json) {
            // the plan goes inside the one JSON document; people (asked to confirm, reading a CI log) read it on stderr
            ctx.out.add({ plan: sealPlan(plan) });
            if (o.showPlan) ctx.stderr.write(terminalSafe(renderPlan(plan, 'text')));
          } else if (o.showPlan) ctx.stdout.write(terminalSafe(renderPlan(plan, 'text')));
          await confirm(ctx, plan, args.yes);
        },
        execute: (plan, run) => execute(ctx, { plan, run, session: s, resumed: false, settings: {} }),
        runDirFor: (plan) => runDirFor(stateDir, plan, false),
        ...(o.labDir
          ? {
              powerOff: async (node: string) => void (await powerOff({ dir: o.labDir! }, node)),
              powerOn: async (node: string) => void (await powerOn({ dir: o.labDir! }, node)),
              // the lab's apiserver stand-in, when it ran: its acknowledged writes must all survive
              ...(ackedWrites(resolve(ctx.cwd, o.labDir)).length ? { ackedWrites: () => ackedWrites(resolve(ctx.cwd, o.labDir!)) } : {}),
            }
          : {}),
        note,
      },
      { scenario: o.scenario, ...(o.survivor ? { survivor: o.survivor } : {}), ...(o.strategy ? { strategy: o.strategy } : {}), ...(o.target !== undefined ? { target: o.target } : {}), ...(o.lateKeys ? { lateKeys: o.lateKeys } : {}) },
    );
    const run = new RunDir(stateDir, runId);
    run.create();
    const files = {
      json: o.report ? resolve(ctx.cwd, o.report) : join(run.dir, 'drill.json'),
      junit: o.junit ? resolve(ctx.cwd, o.junit) : join(run.dir, 'drill.xml'),
      markdown: o.markdown ? resolve(ctx.cwd, o.markdown) : join(run.dir, 'drill.md'),
      log: logFile,
    };
    writePrivateFile(files.json, reportJson(report));
    writePrivateFile(files.junit, reportJunit(report));
    writePrivateFile(files.markdown, reportMarkdown(report));
    s.log.info({ pass: report.pass, scenario: report.scenario, files }, 'drill finished');
    return { report, files };
  } finally {
    await s.close();
  }
}

/** 0 pass; 1 the recovery or change itself failed; 4 it ran but a check failed. */
function drillExit(r: DrillReport): number {
  if (r.pass) return EXIT.ok;
  return r.error !== undefined ? EXIT.failed : EXIT.verifyFailed;
}

export function drillCommand(ctx: CliContext): CommandModule<GlobalArgs, DrillArgs> {
  return {
    command: 'drill',
    describe: 'rehearse a disaster or a membership change on a disposable cluster: capture, break, recover (or change), compare, report',
    builder: (y) =>
      y
        .option('scenario', {
          type: 'string',
          choices: [...SCENARIOS],
          demandOption: true,
          describe: `what to rehearse: ${SCENARIOS.map((x) => `${x} (${SCENARIO_TEXT[x]})`).join('; ')}`,
        })
        .option('yes', { type: 'boolean', default: false, describe: 'recover, or apply the change, without asking (required without a terminal)' })
        .option('report', { type: 'string', describe: 'write the JSON report here too (always written to the run dir)' })
        .option('junit', { type: 'string', describe: 'write a JUnit XML report here (for CI systems)' })
        .option('markdown', { type: 'string', describe: 'write a markdown report here (for people)' })
        .option('survivor', { type: 'string', describe: 'recovery scenarios: restore from this member (a stale choice makes the drill fail and name the lost keys)' })
        .option('strategy', STRATEGY_OPTION)
        .option('target', {
          type: 'string',
          describe: `planned scenarios: the node acted on. ${PLANNED_SCENARIOS.map((x) => `${x}: ${PLANNED_NEEDS[x]}`).join('; ')}`,
        })
        .option('disposable', { type: 'boolean', default: false, describe: 'this cluster may be broken (else the inventory must say `cluster.disposable: true`)' })
        .option('lab-dir', {
          type: 'string',
          describe: 'the built-in lab behind the inventory: node-lost powers the node off through it, replace powers the member off and on again (without it, both stop etcd there instead)',
        })
        .option('late-keys', { type: 'number', default: 200, describe: 'survivor-stale: keys written while the stale member is down' })
        .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<DrillArgs>,
    handler: async (args) => {
      const { report, files } = await drill(ctx, args, {
        scenario: args.scenario,
        ...(args.survivor ? { survivor: args.survivor } : {}),
        ...(args.strategy ? { strategy: args.strategy } : {}),
        ...(args.target !== undefined ? { target: String(args.target) } : {}),
        lateKeys: args['late-keys'],
        ...(args['lab-dir'] ? { labDir: args['lab-dir'] } : {}),
        ...(args.report ? { report: args.report } : {}),
        ...(args.junit ? { junit: args.junit } : {}),
        ...(args.markdown ? { markdown: args.markdown } : {}),
        showPlan: true,
      });
      // a report quotes the nodes (etcd's errors, check details): nothing of it may act on the terminal
      if (args.json) ctx.out.set({ ...report, files });
      else ctx.stdout.write(terminalSafe(`${reportSummary(report)}reports: ${files.json}, ${files.junit}, ${files.markdown}\nlog: ${files.log}\n`));
      ctx.exitCode = drillExit(report);
    },
  };
}

interface DemoArgs extends GlobalArgs {
  keep: boolean;
  dir?: string;
  nodes: number;
  etcd: string;
  keys: number;
  mb: number;
  'address-base'?: string;
  'state-dir'?: string;
  strategy?: RecoverStrategy;
}

export function demoCommand(ctx: CliContext): CommandModule<GlobalArgs, DemoArgs> {
  return {
    command: 'demo',
    describe: 'from nothing: a 3-node lab, data, the all-down drill with live progress, the report; then the lab goes away',
    builder: (y) =>
      y
        .option('keep', { type: 'boolean', default: false, describe: 'leave the lab up afterwards, to explore it' })
        .option('dir', { type: 'string', describe: 'lab dir (default ./.etcd-dr/demo-lab)' })
        .option('nodes', { type: 'number', default: 3, describe: 'nodes in the lab (3–7)' })
        .option('etcd', { type: 'string', choices: ['3.4', '3.5'], default: '3.4', describe: 'etcd version of the lab' })
        .option('keys', { type: 'number', default: 2000, describe: 'small keys loaded before the drill' })
        .option('mb', { type: 'number', default: 20, describe: 'one-MiB values loaded before the drill' })
        .option('address-base', { type: 'string', describe: 'node i gets <base><i> (default 127.0.10.)' })
        .option('strategy', STRATEGY_OPTION)
        .option('state-dir', { type: 'string', describe: STATE_DIR_HELP }) as unknown as Argv<DemoArgs>,
    handler: async (args) => {
      const say = (line: string) => ctx.stderr.write(terminalSafe(`etcd-dr demo: ${line}\n`));
      const dir = resolve(ctx.cwd, args.dir ?? join('.etcd-dr', 'demo-lab'));
      say(`bringing up a ${args.nodes}-node etcd ${args.etcd} lab in ${dir}`);
      const lab = await labUp({ dir, nodes: args.nodes, etcd: args.etcd as LabEtcdVersion, ...(args['address-base'] ? { addressBase: args['address-base'] } : {}), env: ctx.env, cwd: ctx.cwd, log: say });
      let exit: number = EXIT.failed;
      try {
        say(`loading ${args.keys} keys and ${args.mb} MiB of values`);
        await loadKeys(lab, { keys: args.keys, mb: args.mb, log: say });
        const { report, files } = await drill(
          ctx,
          { ...args, inventory: lab.inventoryPath, yes: true },
          { scenario: 'all-down', showPlan: false, ...(args.strategy ? { strategy: args.strategy } : {}) },
        );
        if (args.json) ctx.out.set({ ...report, files });
        else {
          ctx.stdout.write(terminalSafe(reportSummary(report)));
          ctx.stdout.write(`\nreports:  ${files.markdown}\n          ${files.json}\n          ${files.junit}\nlog:      ${files.log}\n`);
        }
        exit = drillExit(report);
      } finally {
        if (args.keep) {
          say(`the lab stays up: etcd-dr status -i ${lab.inventoryPath}; take it down with: etcd-dr lab down --dir ${dir} --purge`);
        } else {
          await labDown({ dir, purge: true, log: () => undefined });
          say('lab taken down (run with --keep to explore it)');
        }
      }
      ctx.exitCode = exit;
    },
  };
}
