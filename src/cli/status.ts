import type { CommandModule } from 'yargs';
import { gatherFacts, hostKeyRefusals } from '../facts/gather.js';
import { renderStatusText } from '../facts/render.js';
import type { Verdict } from '../facts/types.js';
import { EXIT, RefusedError } from '../util/errors.js';
import { terminalSafe } from '../util/terminal.js';
import type { CliContext, GlobalArgs } from './context.js';
import { gatherOptions } from '../apply/session.js';
import { openSession } from './session.js';

export const VERDICT_EXIT: Record<Verdict, number> = {
  healthy: EXIT.ok,
  degraded: EXIT.degraded,
  'quorum-lost': EXIT.quorumLost,
  inconsistent: EXIT.inconsistent,
};

export function statusCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs> {
  return {
    command: 'status',
    describe: 'probe every node (read-only, in parallel) and give the verdict: healthy, degraded, quorum-lost, inconsistent',
    handler: async (args) => {
      const s = await openSession(ctx, args);
      try {
        const facts = await gatherFacts(s.inventory, s.transport, gatherOptions(s));
        // the text quotes what the nodes printed (warnings, errors): nothing in it may act on the terminal
        // (the JSON document is made terminal-safe where it is written)
        if (args.json) ctx.out.add({ ...facts });
        else ctx.stdout.write(terminalSafe(renderStatusText(facts)));
        const refused = hostKeyRefusals(facts);
        if (refused.length) {
          throw new RefusedError(refused.map((r) => r.message).join('\n'), refused[0]!.hint);
        }
        ctx.exitCode = VERDICT_EXIT[facts.assessment.verdict];
      } finally {
        await s.close();
      }
    },
  };
}
