/**
 * backup-db and backup-wait: the survivor's db copied to the bastion. An `alongside` backup step only
 * starts the copy and is done once it runs: the next steps go on meanwhile (the restore only reads the
 * db, which stays kept aside on the node), and the plan's `backup-wait` step waits for it. A copy that a
 * stopping run leaves running is waited for (settleCopies), so a failed run still leaves the bastion its copy.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Action, Step } from '../../plan/types.js';
import type { NodeConnection } from '../../ssh/types.js';
import { BastionWriteError, withCopyHint } from '../../util/bastion-fs.js';
import { sha256OfFile } from '../../util/hash.js';
import { checkRoomForCopy } from '../backup-room.js';
import type { EventStream } from '../events.js';
import { ensurePrivateDir, writePrivateFile } from '../rundir.js';
import type { GrowingFile } from '../../util/growing-file.js';
import type { DbCopy, RunState } from '../run-state.js';
import type { Handler, StepContext } from '../step-context.js';
import { nodeOf } from './common.js';

export const backupDb: Handler<Extract<Action, { type: 'backup-db' }>> = async (ctx, state, step, a) => {
  const c = await ctx.conn(nodeOf(step));
  if (!a.alongside) {
    const r = await copyDb(ctx, c, step, a.remoteDb, a.localPath);
    return { outcome: 'done', data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256 } };
  }
  let first: (f: GrowingFile | undefined) => void = () => undefined;
  const firstFile = new Promise<GrowingFile | undefined>((r) => (first = r));
  // (called once the download has its file, after the entry below is set)
  const onFile = (f: GrowingFile) => {
    const entry = state.copies.get(a.localPath);
    if (entry) entry.file = f;
    first(f);
  };
  const done = copyDb(ctx, c, step, a.remoteDb, a.localPath, onFile);
  // awaited by the wait step, or by settleCopies when the run stops first: never left unhandled
  done.then(
    () => first(undefined),
    () => first(undefined),
  );
  state.copies.set(a.localPath, { step: step.id, done, firstFile });
  return { outcome: 'started', data: { localPath: a.localPath } };
};

/** The copy an `alongside` backup step started: awaited, found complete on the bastion, or made now. */
export const backupWait: Handler<Extract<Action, { type: 'backup-wait' }>> = async (ctx, state, step, a) => {
  const inFlight = state.copies.get(a.localPath);
  if (inFlight) {
    // a failed copy is not awaited twice: the step's repeat (a lost connection) copies again below
    state.copies.delete(a.localPath);
    const w0 = Date.now();
    const r = await inFlight.done;
    return {
      outcome: 'done',
      data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256, copyMs: r.ms, waitedMs: Date.now() - w0, alongside: inFlight.step, copyEndedAt: r.endedAt },
    };
  }
  const r = await copyOnBastion(ctx, step, nodeOf(step), a.remoteDb, a.localPath);
  return { outcome: r.earlier ? 'already' : 'done', data: { localPath: a.localPath, bytes: r.bytes, sha256: r.sha256, ...(r.earlier ? {} : { copyMs: r.ms }) } };
};

/** Errors of the copy to the bastion itself, as a later step met them (see copyFailure). */
const copyFailures = new WeakSet<object>();

/**
 * `p`, whose failure is marked as the bastion's copy failing: no member's fault, so a step that meets it
 * fails the run as it is (resume makes the copy again) rather than setting the members back.
 */
export function copyFailure<T>(p: Promise<T>): Promise<T> {
  return p.catch((err: unknown) => {
    if (err !== null && typeof err === 'object') copyFailures.add(err);
    throw err;
  });
}

export function isCopyFailure(err: unknown): boolean {
  return err !== null && typeof err === 'object' && copyFailures.has(err);
}

/**
 * The bastion's copy of `node`'s `remoteDb` when no copy of this process is in flight: the complete one an
 * earlier process of the run made (`earlier`), else one made now.
 */
export async function copyOnBastion(ctx: StepContext, step: Step, node: string, remoteDb: string, localPath: string): Promise<{ bytes: number; sha256: string; ms: number; earlier: boolean }> {
  const earlier = await completeCopy(localPath);
  if (earlier) return { ...earlier, ms: 0, earlier: true };
  // (the download removes the temp file a killed process's copy left)
  const r = await copyDb(ctx, await ctx.conn(node), step, remoteDb, localPath);
  return { ...r, earlier: false };
}

/** Streams the remote db into a 0600 file under a 0700 dir, writes its sha256 beside it, journals it. */
async function copyDb(ctx: StepContext, c: NodeConnection, step: Step, remoteDb: string, localPath: string, onFile?: (f: GrowingFile) => void): Promise<DbCopy> {
  const runId = ctx.plan.runId;
  ensurePrivateDir(dirname(localPath));
  await checkRoomForCopy(c, remoteDb, localPath, runId);
  const t0 = Date.now();
  const { bytes, sha256 } = await c.download(remoteDb, localPath, { mode: 0o600, timeout: 3600, ...(onFile ? { onFile } : {}) }).catch((err: unknown) => {
    throw err instanceof BastionWriteError ? withCopyHint(err, runId, remoteDb) : err;
  });
  // the sha256 is what tells a complete copy from a cut one: written whole, after the copy
  writePrivateFile(`${localPath}.sha256`, `${sha256}  ${basename(localPath)}\n`, 'the sha256 of the db copy');
  const endedAt = Date.now();
  ctx.emit({ type: 'command', step: step.id, node: c.node, command: `download ${remoteDb}`, code: 0, signal: null, ms: endedAt - t0, timedOut: false, stdout: `${bytes} bytes sha256 ${sha256}`, stderr: '' });
  return { bytes, sha256, ms: endedAt - t0, endedAt };
}

/**
 * A copy an earlier process of the run finished: the file and the sha256 written beside it once the
 * file was complete, and the file still hashing to it. The db it came from is the one kept aside on the
 * node under this run's id, which nothing changes.
 */
export async function completeCopy(localPath: string): Promise<{ bytes: number; sha256: string } | undefined> {
  const shaFile = `${localPath}.sha256`;
  if (!existsSync(localPath) || !existsSync(shaFile)) return undefined;
  const recorded = readFileSync(shaFile, 'utf8').split(' ')[0] ?? '';
  const file = await sha256OfFile(localPath);
  return file.sha256 === recorded ? file : undefined;
}

/**
 * Waits for the copies still running. When the run stops early (`strict` false: a failed step, a
 * signal) the bastion keeps what they copy, and a failed one is only logged, since the wait step
 * copies again on resume; at the run's end (`strict`) a failed copy fails the run.
 */
export async function settleCopies(state: RunState, events: EventStream, strict: boolean): Promise<void> {
  for (const [path, c] of [...state.copies]) {
    state.copies.delete(path);
    if (strict) {
      await c.done;
      continue;
    }
    events.emit({ type: 'copy-wait', step: c.step, path });
    try {
      await c.done;
    } catch (err) {
      events.emit({ type: 'copy-failed', step: c.step, error: (err as Error).message });
    }
  }
}
