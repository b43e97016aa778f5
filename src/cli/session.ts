import type { RunSession } from '../apply/session.js';
import { loadInventory } from '../inventory/index.js';
import { Transport } from '../ssh/transport.js';
import { createLogger, type LogLevel } from '../util/log.js';
import { scrub } from '../util/secrets.js';
import type { CliContext, GlobalArgs } from './context.js';

/** What a command that talks to the cluster needs: the inventory, a logger, one SSH connection per node. */
export interface Session extends RunSession {
  close(): Promise<void>;
}

export async function openSession(ctx: CliContext, args: GlobalArgs, opts: { logFile?: string | (() => string) } = {}): Promise<Session> {
  // the inventory is validated before anything connects: bad input never reaches a node
  const inventory = await loadInventory({ path: args.inventory, env: ctx.env, cwd: ctx.cwd });
  // the run's log file is made only once the inventory is valid: bad input leaves nothing behind
  const file = typeof opts.logFile === 'function' ? opts.logFile() : opts.logFile;
  const log = createLogger({ level: args['log-level'] as LogLevel, stderr: ctx.stderr, file, scrub });
  // how the inventory was read (e.g. no ssh program: the ssh config was not used) is worth a line
  for (const note of inventory.notes ?? []) log.warn(note);
  const transport = new Transport({
    acceptNewHostKeys: args['accept-new-host-keys'],
    env: ctx.env,
    onExec: (e) => log.debug({ node: e.node, command: e.command, code: e.code, ms: e.durationMs, timedOut: e.timedOut, ...(e.error ? { error: e.error } : {}) }, 'remote command'),
    onEvent: (e) => {
      if (e.type === 'host-key-recorded') log.warn({ node: e.node, host: e.host, port: e.port, fingerprint: e.fingerprint, file: e.file }, 'new host key recorded');
      else if (e.type === 'connect-attempt-failed') log.info({ node: e.node, attempt: e.attempt, retriesLeft: e.retriesLeft, error: e.error }, 'connection attempt failed');
      else if (e.type === 'connection-lost') log.warn({ node: e.node, error: e.error }, 'connection lost');
      else log.debug({ node: e.node, target: e.target, ...(e.via ? { via: e.via } : {}), reconnect: e.reconnect }, 'connected');
    },
  });
  return {
    inventory,
    log,
    transport,
    close: async () => {
      await transport.closeAll();
      log.flush();
    },
  };
}
