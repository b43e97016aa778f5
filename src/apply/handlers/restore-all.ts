/**
 * The restore-all steps (src/plan/restore-all.ts): the bastion's copy of the survivor's db sent to every
 * member at once, restored everywhere at once, every member started at once. Each step checks before it
 * acts, so a resumed run repeats it safely; nothing is deleted. When one of them fails, the run falls back
 * (see rollback.ts).
 */
import { createReadStream } from 'node:fs';
import { commitDbScript, receiveDbScript, restoreScript, RESTORE_TIMEOUT_S, sentDbCheckScript, startScript } from '../../plan/scripts.js';
import type { Action, Step } from '../../plan/types.js';
import type { ExecResult } from '../../ssh/types.js';
import { ApplyError } from '../../util/errors.js';
import { readGrowing, type GrowingFile } from '../../util/growing-file.js';
import type { DbCopy, RunState } from '../run-state.js';
import type { Handler, StepContext } from '../step-context.js';
import { completeCopy, copyFailure, copyOnBastion } from './backup.js';
import { keyCount, onEvery, waitServes } from './common.js';

/** What a member wrote and hashed (receiveDbScript's last line). */
function received(r: ExecResult): { sha256: string; bytes: number } | undefined {
  const m = /^etcd-dr:received ([0-9a-f]{64}) (\d+)$/m.exec(r.stdout);
  return m ? { sha256: m[1]!, bytes: Number(m[2]) } : undefined;
}

/**
 * The survivor's db to every other member at once. While this process is still copying it to the bastion
 * (the backup step runs alongside), each member receives the copy as it is written; once the copy is
 * complete its sha256 is known, and a member's copy is put in place only if it matches it. A member whose
 * follow failed or did not match (the copy's download was cut and made anew) gets the complete copy. A
 * resumed run, with no copy in flight, sends the complete copy on the bastion (made again if missing).
 */
export const sendDb: Handler<Extract<Action, { type: 'send-db' }>> = async (ctx, state, step, a) => {
  const t0 = Date.now();
  const inFlight = state.copies.get(a.localPath);
  const firstFile = inFlight ? await inFlight.firstFile : undefined;
  let copy: { sha256: string; bytes: number } | undefined;
  if (!firstFile) copy = await bastionCopy(ctx, step, a, inFlight?.done);
  const fromFile = () => createReadStream(a.localPath, { highWaterMark: 1 << 20 });
  const out = await onEvery(
    a.to.map((t) => t.node),
    async (n) => {
      const dst = a.to.find((t) => t.node === n)!.path;
      const receive = async (source: () => NodeJS.ReadableStream) => {
        const r = await ctx.sh(n, step, receiveDbScript(dst), 3600, source);
        const got = received(r);
        if (r.code !== 0 || !got) {
          throw new ApplyError(`${n}: receiving the db failed: ${lastLine(r.stderr) || `exit ${r.code ?? r.signal}`}`, `check the room and the disk beside ${dst} on ${n}, then \`etcd-dr resume ${ctx.plan.runId}\``);
        }
        return got;
      };
      let got: { sha256: string; bytes: number } | undefined;
      if (copy) {
        if ((await ctx.script(n, step, sentDbCheckScript(dst, copy.sha256), 120, 'check the copy of the db')) === 'already') return 'already';
      } else {
        // follow the copy the bastion is writing; a follow that fails is made good below, from the complete copy
        const followed = await receive(() => followCopy(state, a.localPath, firstFile!)).catch(() => undefined);
        copy = await copyFailure(inFlight!.done);
        got = followed;
      }
      const want = copy!;
      if (!got || got.sha256 !== want.sha256 || got.bytes !== want.bytes) got = await receive(fromFile);
      if (got.sha256 !== want.sha256 || got.bytes !== want.bytes) {
        throw new ApplyError(`${n}: the copy of the db received there has sha256 ${got.sha256} (${got.bytes} bytes), the bastion's copy ${want.sha256} (${want.bytes} bytes)`, `check the disk beside ${dst} on ${n}, then \`etcd-dr resume ${ctx.plan.runId}\``);
      }
      return ctx.script(n, step, commitDbScript(dst, want.bytes), 120, 'put the copy of the db in place');
    },
  );
  return { ...out, data: { ...out.data, sha256: copy?.sha256, bytes: copy?.bytes, followed: Boolean(firstFile), ms: Date.now() - t0 } };
};

/** The file the bastion's copy writes now (a retried download writes a new one), followed as it grows. */
function followCopy(state: RunState, localPath: string, first: GrowingFile): NodeJS.ReadableStream {
  return readGrowing(state.copies.get(localPath)?.file ?? first);
}

/**
 * The bastion's complete copy when none is being made: the one this process's copy ended with, the one an
 * earlier process of the run made, or one made now (a run resumed before its copy ended).
 */
async function bastionCopy(ctx: StepContext, step: Step, a: Extract<Action, { type: 'send-db' }>, done: Promise<DbCopy> | undefined): Promise<{ sha256: string; bytes: number }> {
  if (done) return copyFailure(done);
  if (!a.from) {
    // a plan made before send-db named the db it copies: only the copy on the bastion will do
    const earlier = await completeCopy(a.localPath);
    if (!earlier) throw new ApplyError(`the bastion's copy ${a.localPath} or its sha256 is missing`, 'the backup step makes it; resume the run so it runs again');
    return earlier;
  }
  return copyFailure(copyOnBastion(ctx, step, a.from.node, a.from.remoteDb, a.localPath));
}

function lastLine(text: string): string {
  return (text.trim().split('\n').pop() ?? '').trim();
}

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
