/**
 * Before the survivor's db is copied to the bastion: is there room for it? The copy would otherwise fill
 * the file system it shares with the run's journal, and the journal, not the copy, would be what fails.
 * The db's size is read on the node; the bastion keeps RESERVE free beyond it for the journal and log.
 */
import { dirname } from 'node:path';
import { fileSizeScript } from '../plan/scripts.js';
import type { NodeConnection } from '../ssh/types.js';
import { BastionWriteError, freeBytes } from '../util/bastion-fs.js';

export const RESERVE_BYTES = 4 << 20;

/** Throws a BastionWriteError (ENOSPC, before a byte is written) when the copy cannot fit. */
export async function checkRoomForCopy(c: NodeConnection, remoteDb: string, localPath: string, runId: string): Promise<void> {
  const r = await c.sh(fileSizeScript(remoteDb), { timeout: 30 });
  const size = Number(r.stdout.trim());
  // the size unknown (the read itself then fails with its own message): the copy goes ahead
  if (r.code !== 0 || !Number.isFinite(size)) return;
  const free = freeBytes(dirname(localPath));
  if (free === undefined || free >= size + RESERVE_BYTES) return;
  throw new BastionWriteError(localPath, 'ENOSPC', `the copy of ${c.node}:${remoteDb}`, { needBytes: size + RESERVE_BYTES, runId, copyOf: remoteDb });
}
