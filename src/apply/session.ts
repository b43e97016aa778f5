/**
 * What a run needs of the session that opened it (the CLI opens one per command): the inventory, one SSH
 * connection per node, and the log. The facts are gathered through it the same way everywhere.
 */
import { gatherFacts, hostKeyRefusals, DEFAULT_LOCK_FILE, type GatherOptions } from '../facts/gather.js';
import type { ClusterFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/types.js';
import type { Transport } from '../ssh/transport.js';
import { RefusedError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

export interface RunSession {
  inventory: Inventory;
  transport: Transport;
  log: Logger;
}

/**
 * How a command of this session gathers facts: etcd-dr's lock file, and a progress line when the gathering
 * waits out a possible leader election (see gatherFacts).
 */
export function gatherOptions(s: Pick<RunSession, 'log'>): GatherOptions {
  return {
    lockFile: DEFAULT_LOCK_FILE,
    onElectionWait: (e) =>
      s.log.info(
        { running: e.running, limitMs: e.limitMs },
        `${e.running.join(', ')} run but too few serve: waiting up to ${Math.round(e.limitMs / 1000)} s for a leader election before calling the quorum lost`,
      ),
  };
}

/** Gather facts and refuse early when a host key is refused (nothing else can be trusted then). */
export async function gather(s: RunSession): Promise<ClusterFacts> {
  const facts = await gatherFacts(s.inventory, s.transport, gatherOptions(s));
  const refused = hostKeyRefusals(facts);
  if (refused.length) throw new RefusedError(refused.map((r) => r.message).join('\n'), refused[0]!.hint);
  return facts;
}
