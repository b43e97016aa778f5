/**
 * The restore-all steps (src/plan/restore-all.ts): the bastion's copy of the survivor's db sent to every
 * member at once, restored everywhere at once, every member started at once. Each step checks before it
 * acts, so a resumed run repeats it safely; nothing is deleted. When one of them fails, the run falls back
 * (see rollback.ts).
 */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { receiveDbScript, restoreScript, RESTORE_TIMEOUT_S, sentDbCheckScript, startScript } from '../../plan/scripts.js';
import type { Action } from '../../plan/types.js';
import { ApplyError } from '../../util/errors.js';
import { statusWord, type Handler } from '../step-context.js';
import { keyCount, onEvery, waitServes } from './common.js';

/** The sha256 written beside the bastion's copy once it was complete (the backup step's own record). */
function recordedSha(localPath: string): string {
  const f = `${localPath}.sha256`;
  const sha = existsSync(f) ? (readFileSync(f, 'utf8').split(' ')[0] ?? '') : '';
  if (!/^[0-9a-f]{64}$/.test(sha) || !existsSync(localPath)) {
    throw new ApplyError(`the bastion's copy ${localPath} or its sha256 is missing`, 'the backup step makes it; resume the run so it runs again');
  }
  return sha;
}

export const sendDb: Handler<Extract<Action, { type: 'send-db' }>> = async (ctx, _state, step, a) => {
  const sha = recordedSha(a.localPath);
  const t0 = Date.now();
  const out = await onEvery(
    a.to.map((t) => t.node),
    async (n) => {
      const dst = a.to.find((t) => t.node === n)!.path;
      if ((await ctx.script(n, step, sentDbCheckScript(dst, sha), 120, 'check the copy of the db')) === 'already') return 'already';
      const r = await ctx.sh(n, step, receiveDbScript(dst, sha), 3600, () => createReadStream(a.localPath, { highWaterMark: 1 << 20 }));
      const word = statusWord(r);
      if (r.code !== 0) throw new ApplyError(`${n}: receiving the db failed: ${(r.stderr.trim().split('\n').pop() ?? '').trim() || `exit ${r.code ?? r.signal}`}`, `check the room and the disk beside ${dst} on ${n}, then \`etcd-dr resume ${ctx.plan.runId}\``);
      return word || 'done';
    },
  );
  return { ...out, data: { ...out.data, sha256: sha, ms: Date.now() - t0 } };
};

export const restoreAll: Handler<Extract<Action, { type: 'restore-all' }>> = (ctx, _state, step, a) => {
  const { members, type: _t, ...flags } = a;
  return onEvery(
    members.map((m) => m.node),
    (n) => {
      const m = members.find((x) => x.node === n)!;
      return ctx.script(n, step, restoreScript({ ...flags, db: m.db, dataDir: m.dataDir, name: m.name, peerUrl: m.peerUrl, runId: ctx.plan.runId }), RESTORE_TIMEOUT_S, 'restore the db');
    },
  );
};

/** Start every member at once, wait until each serves, then count the keys: the verification's floor. */
export const startAll: Handler<Extract<Action, { type: 'start-all' }>> = async (ctx, state, step, a) => {
  const nodes = step.nodes ?? [];
  const started = await onEvery(nodes, (n) => ctx.script(n, step, startScript(ctx.spec(n)), 60, 'start etcd'));
  const t0 = Date.now();
  await onEvery(nodes, (n) => waitServes(ctx, n, step));
  const baseline = await keyCount(ctx, a.baselineVia);
  state.baseline = baseline;
  return { outcome: started.outcome, data: { ...started.data, servedMs: Date.now() - t0, baseline } };
};
