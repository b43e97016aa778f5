import type { CommandModule } from 'yargs';
import type { CliContext, GlobalArgs } from './context.js';

// Placeholder wiring; the lab subcommands are implemented in src/lab/ and registered here.
export function labCommand(_ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'lab <command>',
    describe: 'the local lab: real etcd + sshd nodes on this machine',
    builder: (y) => y.demandCommand(1),
    handler: () => undefined,
  };
}
