/**
 * `etcd-dr unlock --empty`: sets aside the lock files that name no run (a run crashed between creating the
 * file and writing its id), which no run can ever release. A lock of a run is never touched here: that is
 * `resume` (or `recover --break-lock` for a dead one).
 */
import type { Argv, CommandModule } from 'yargs';
import { gatherFacts } from '../facts/gather.js';
import { clearEmptyLockScript } from '../plan/scripts.js';
import { EXIT, ExitError, RefusedError } from '../util/errors.js';
import type { CliContext, GlobalArgs } from './context.js';
import { gatherOptions } from '../apply/session.js';
import { openSession } from './session.js';

export function unlockCommand(ctx: CliContext): CommandModule<GlobalArgs, GlobalArgs & { empty: boolean }> {
  return {
    command: 'unlock',
    describe: 'set aside empty etcd-dr lock files (a run crashed between creating and writing one); a run\'s lock is never touched',
    builder: (y) => y.option('empty', { type: 'boolean', default: false, describe: 'required: only lock files that name no run are set aside' }) as unknown as Argv<GlobalArgs & { empty: boolean }>,
    handler: async (args) => {
      if (!args.empty) throw new ExitError('unlock clears only empty lock files: give --empty', EXIT.badInput, "a run's lock is released by the run (`etcd-dr resume`), or broken with `recover --break-lock`");
      const s = await openSession(ctx, args);
      try {
        const o = gatherOptions(s);
        const facts = await gatherFacts(s.inventory, s.transport, o);
        const empty = facts.nodes.filter((n) => n.lockEmpty);
        const out: Record<string, string> = {};
        for (const n of empty) {
          const spec = s.inventory.nodes.find((x) => x.name === n.name)!;
          const r = await (await s.transport.connect(spec)).sh(clearEmptyLockScript(o.lockFile), { timeout: 30 });
          const word = r.stdout.trim().split('\n').pop() ?? '';
          if (r.code !== 0) throw new RefusedError(`${n.name}: the lock file was not cleared: ${(r.stderr.trim() || word).slice(0, 300)}`, 'a lock that names a run is left alone; see `etcd-dr status`');
          out[n.name] = word.replace(/^etcd-dr:/, '');
        }
        if (args.json) ctx.out.set({ cleared: out });
        else ctx.stdout.write(empty.length ? `${empty.map((n) => `${n.name}: empty lock file set aside (${out[n.name]})`).join('\n')}\n` : 'no empty lock file\n');
      } finally {
        await s.close();
      }
    },
  };
}
