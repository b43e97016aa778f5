import type { Argv, CommandModule } from 'yargs';
import { loadInventory } from '../inventory/index.js';
import { renderShown, showInventory } from '../inventory/show.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';

/** `etcd-dr inventory show`: how each node will be reached, without connecting to any. */
export function inventoryCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'inventory <action>',
    describe: 'show what etcd-dr will use to reach each node (host, port, user, keys, known_hosts, route); connects to nothing',
    builder: (y: Argv<GlobalArgs>) =>
      y
        .positional('action', { choices: ['show'] as const, describe: 'show: print the resolved SSH settings of every node' }) as Argv<GlobalArgs>,
    handler: async (args) => {
      const inv = await loadInventory({ path: args.inventory, env: ctx.env, cwd: ctx.cwd });
      const shown = showInventory(inv);
      if (args.json) ctx.out.set({ ...shown });
      else ctx.stdout.write(terminalSafe(renderShown(shown)));
    },
  };
}
