import type { Argv, CommandModule } from 'yargs';
import { EXIT } from '../util/errors.js';
import {
  breakAllDown, labDown, labEtcdVersion, labExec, labStatus, labUp, loadKeys, powerOff, powerOn, renderStatusTable, renderUsage,
  type LabDirOptions, type LabEtcdVersion,
} from '../lab/index.js';
import { DATA_DIR_FS, DEFAULT_DATA_DIR_MIB, type DataDirFs } from '../lab/datadir-mount.js';
import type { LabProfileName } from '../lab/profile.js';
import type { CliContext, GlobalArgs } from './context.js';
import { withHelp } from './help.js';

interface LabArgs extends GlobalArgs {
  dir?: string;
}

const QUIET_LEVELS = new Set(['error', 'silent']);

function dirOptions(ctx: CliContext, args: LabArgs): LabDirOptions {
  const quiet = QUIET_LEVELS.has(args['log-level']);
  return {
    dir: args.dir,
    env: ctx.env,
    cwd: ctx.cwd,
    log: quiet ? () => undefined : (line) => ctx.stderr.write(`etcd-dr lab: ${line}\n`),
  };
}

/** --json: the result is the command's one JSON document (main.ts prints it). */
function json(ctx: CliContext, value: object): void {
  ctx.out.set({ ...value });
}

function up(ctx: CliContext): CommandModule<LabArgs, LabArgs & { nodes?: number; members?: number; etcd?: string; 'address-base'?: string; 'data-dir-mount'?: string; 'data-dir-size'?: number; profile?: string }> {
  return {
    command: 'up',
    describe: 'build the lab (or boot it again): N nodes with sshd and a TLS etcd cluster, an inventory, an SSH key',
    builder: (y) =>
      y
        .option('nodes', { type: 'number', describe: 'number of nodes, 1–7 (default 3; an existing lab keeps its own)' })
        .option('members', { type: 'number', describe: 'how many of the nodes form the cluster (default all); the others are bare nodes for scale-out' })
        .option('etcd', { type: 'string', choices: ['3.4', '3.5'], describe: 'etcd version (default 3.4; 3.5 is fetched into the cache once)' })
        .option('address-base', { type: 'string', describe: 'node i gets <base><i> (default 127.0.10.)' })
        .option('data-dir-mount', { type: 'string', choices: [...DATA_DIR_FS], describe: 'each node\'s data dir on a file system of its own (a loop-mounted image), as a dedicated etcd volume' })
        .option('data-dir-size', { type: 'number', describe: `MiB of that file system (default ${DEFAULT_DATA_DIR_MIB})` })
        .option('profile', { type: 'string', describe: 'plain (default), or kubespray: each node also runs the events cluster (etcd-events), env files as kubespray writes them, inventories logging in as ops with sudo' }) as unknown as Argv<
        LabArgs & { nodes?: number; members?: number; etcd?: string; 'address-base'?: string; 'data-dir-mount'?: string; 'data-dir-size'?: number; profile?: string }
      >,
    handler: async (args) => {
      const opts = dirOptions(ctx, args);
      const t0 = Date.now();
      const state = await labUp({ ...opts, nodes: args.nodes, members: args.members, etcd: args.etcd as LabEtcdVersion | undefined, addressBase: args['address-base'], profile: args.profile as LabProfileName | undefined,
        ...(args['data-dir-mount'] ? { dataDirMount: { fs: args['data-dir-mount'] as DataDirFs, sizeMiB: args['data-dir-size'] ?? DEFAULT_DATA_DIR_MIB } } : {}),
      });
      if (args.json) return json(ctx, state);
      ctx.stdout.write(renderUsage(state, await labEtcdVersion(state), (Date.now() - t0) / 1000));
    },
  };
}

function status(ctx: CliContext): CommandModule<LabArgs, LabArgs> {
  return {
    command: 'status',
    describe: 'each node: power, sshd, etcd service state, pids',
    handler: async (args) => {
      const s = await labStatus(dirOptions(ctx, args));
      if (args.json) return json(ctx, s);
      ctx.stdout.write(`lab in ${s.dir} (etcd ${s.version})\n${renderStatusTable(s.nodes)}`);
    },
  };
}

function down(ctx: CliContext): CommandModule<LabArgs, LabArgs & { purge: boolean }> {
  return {
    command: 'down',
    describe: 'power off every node and check nothing of the lab runs; --purge also removes the lab dir',
    builder: (y) =>
      y.option('purge', { type: 'boolean', default: false, describe: 'remove the lab dir too (node disks, keys, certificates)' }) as unknown as Argv<
        LabArgs & { purge: boolean }
      >,
    handler: async (args) => {
      const r = await labDown({ ...dirOptions(ctx, args), purge: args.purge });
      if (args.json) return json(ctx, r);
      ctx.stdout.write(`the lab in ${r.dir} is down${r.purged ? ' and removed' : ' (its node disks are kept; --purge removes them)'}\n`);
    },
  };
}

function load(ctx: CliContext): CommandModule<LabArgs, LabArgs & { keys: number; mb: number; prefix: string; node?: string }> {
  return {
    command: 'load',
    describe: 'write K small keys (and M values of 1 MiB) into the cluster',
    builder: (y) =>
      y
        .option('keys', { type: 'number', demandOption: true, describe: 'number of ~100-byte keys (<prefix>lab/key-000001…)' })
        .option('mb', { type: 'number', default: 0, describe: 'number of 1 MiB values (<prefix>lab-blobs/blob-0001…)' })
        .option('prefix', { type: 'string', default: '/registry/', describe: 'key prefix' })
        .option('node', { type: 'string', describe: 'member to write to (default: the first powered-on node)' }) as unknown as Argv<
        LabArgs & { keys: number; mb: number; prefix: string; node?: string }
      >,
    handler: async (args) => {
      const r = await loadKeys(dirOptions(ctx, args), { keys: args.keys, mb: args.mb, prefix: args.prefix, node: args.node, log: dirOptions(ctx, args).log });
      if (args.json) return json(ctx, r);
      ctx.stdout.write(`loaded ${r.keys} keys and ${r.blobs} MiB values in ${(r.durationMs / 1000).toFixed(2)} s; revision ${r.revision}\n`);
    },
  };
}

function power(ctx: CliContext, on: boolean): CommandModule<LabArgs, LabArgs & { node: string }> {
  return {
    command: `${on ? 'power-on' : 'power-off'} <node>`,
    describe: on
      ? 'boot a node again from its disk (etcd starts if enabled, as on a booting host)'
      : 'cut a node\'s power: kill every process of the node at once (its disk stays)',
    builder: (y) => y.positional('node', { type: 'string', demandOption: true, describe: 'member name, host name or address' }) as unknown as Argv<LabArgs & { node: string }>,
    handler: async (args) => {
      const opts = dirOptions(ctx, args);
      const s = on ? await powerOn(opts, args.node, opts.log) : await powerOff(opts, args.node, opts.log);
      if (args.json) return json(ctx, s);
      const n = s.nodes.find((x) => [x.name, x.host, x.address].includes(args.node));
      ctx.stdout.write(`${n ? `${n.host} (${n.name})` : args.node} is ${on ? 'on' : 'off'}\n`);
    },
  };
}

function breakCmd(ctx: CliContext): CommandModule<LabArgs, LabArgs & { scenario: string }> {
  return {
    command: 'break',
    describe: 'break the cluster on purpose (all-down: systemctl stop etcd on every node)',
    builder: (y) =>
      y.option('scenario', { type: 'string', choices: ['all-down'], demandOption: true, describe: 'what to break' }) as unknown as Argv<
        LabArgs & { scenario: string }
      >,
    handler: async (args) => {
      const opts = dirOptions(ctx, args);
      const r = await breakAllDown(opts, opts.log);
      if (args.json) return json(ctx, r);
      ctx.stdout.write(r.nodes.map((n) => `${n.host} (${n.name}): etcd ${n.etcd}\n`).join(''));
    },
  };
}

function exec(ctx: CliContext): CommandModule<LabArgs, LabArgs & { node: string; cmd?: string[]; timeout: number }> {
  return {
    command: 'exec <node> [cmd..]',
    describe: 'run a command inside a node as root (etcd-dr lab exec etcd1 -- etcdctl version)',
    builder: (y) =>
      y
        .positional('node', { type: 'string', demandOption: true, describe: 'member name, host name or address' })
        .positional('cmd', { type: 'string', array: true, describe: 'the command and its arguments (after --)' })
        .option('timeout', { type: 'number', default: 3600, describe: 'seconds before the command is killed' }) as unknown as Argv<
        LabArgs & { node: string; cmd?: string[]; timeout: number }
      >,
    handler: async (args) => {
      // words after `--` land in argv._ behind the command path (lab exec)
      const rest = (args._ ?? []).slice(2).map(String);
      const argv = [...(args.cmd ?? []).map(String), ...rest];
      const r = await labExec(dirOptions(ctx, args), args.node, argv, { timeout: args.timeout });
      ctx.exitCode = r.code ?? (r.timedOut ? 124 : EXIT.failed);
      if (args.json) return json(ctx, { node: args.node, argv, code: r.code, timedOut: r.timedOut, stdout: r.stdout, stderr: r.stderr });
      ctx.stdout.write(r.stdout);
      ctx.stderr.write(r.stderr);
    },
  };
}

export function labCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'lab <command>',
    describe: 'the local lab: real etcd + sshd nodes on this machine',
    builder: (y) =>
      (y as Argv<GlobalArgs>)
        .option('dir', { type: 'string', describe: 'the lab dir (default $ETCD_DR_LAB_DIR, else ./.etcd-dr/lab)' })
        .command(withHelp(up(ctx), 'lab'))
        .command(withHelp(status(ctx), 'lab'))
        .command(withHelp(down(ctx), 'lab'))
        .command(withHelp(load(ctx), 'lab'))
        .command(withHelp(power(ctx, false), 'lab'))
        .command(withHelp(power(ctx, true), 'lab'))
        .command(withHelp(breakCmd(ctx), 'lab'))
        .command(withHelp(exec(ctx), 'lab'))
        .demandCommand(1, 'Name a lab command: up, status, down, load, power-off, power-on, break, exec.') as unknown as Argv<GlobalArgs>,
    handler: () => undefined,
  };
}
