/**
 * The step handlers, one per action type: a plan's step is run by HANDLERS[step.action.type]. The type
 * makes a missing handler a compile error.
 */
import type { Action } from '../../plan/types.js';
import type { Handler } from '../step-context.js';
import { backupDb, backupWait } from './backup.js';
import { moveDataDir, restoreDb, writeEnv } from './data.js';
import { hook } from './hook.js';
import { lock, unlock } from './locks.js';
import { memberAdd, memberRemove, moveLeader, promote } from './membership.js';
import { restoreAll, sendDb, startAll } from './restore-all.js';
import { startEtcd, stopEtcd, waitHealthy } from './service.js';
import { verify } from './verify.js';

export type Handlers = { [K in Action['type']]: Handler<Extract<Action, { type: K }>> };

export const HANDLERS: Handlers = {
  lock,
  unlock,
  'stop-etcd': stopEtcd,
  'move-data-dir': moveDataDir,
  'backup-db': backupDb,
  'backup-wait': backupWait,
  'restore-db': restoreDb,
  'write-env': writeEnv,
  'send-db': sendDb,
  'restore-all': restoreAll,
  'start-all': startAll,
  'start-etcd': startEtcd,
  'member-add': memberAdd,
  promote,
  'member-remove': memberRemove,
  'move-leader': moveLeader,
  'wait-healthy': waitHealthy,
  verify,
  hook,
};

/** The handler of an action type, or undefined for a type this etcd-dr does not know (a newer plan). */
export function handlerFor(type: string): Handler<Action> | undefined {
  return Object.hasOwn(HANDLERS, type) ? (HANDLERS[type as Action['type']] as Handler<Action>) : undefined;
}

export { isCopyFailure, settleCopies } from './backup.js';
