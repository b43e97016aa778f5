import type { Argv, CommandModule } from 'yargs';
import { loadInventory } from '../inventory/index.js';
import { renderShown, showInventory } from '../inventory/show.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { withHelp } from './help.js';

/** `etcd-dr inventory show`: how each node will be reached, without connecting to any. */
function show(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'show',
    describe: 'print the resolved SSH settings of every node (host, port, user, keys, known_hosts, route); connects to nothing',
    handler: async (args) => {
      const inv = await loadInventory({ path: args.inventory, env: ctx.env, cwd: ctx.cwd });
      const shown = showInventory(inv);
      if (args.json) ctx.out.set({ ...shown });
      else ctx.stdout.write(terminalSafe(renderShown(shown)));
    },
  };
}

export function inventoryCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'inventory <command>',
    describe: 'the inventory as etcd-dr reads it (etcd-dr\'s own, or kubespray\'s hosts.yaml / inventory.ini)',
    builder: (y: Argv<GlobalArgs>) => y.command(withHelp(show(ctx), 'inventory')).demandCommand(1, 'Name an inventory command: show.') as Argv<GlobalArgs>,
    handler: () => {},
  };
}
