/**
 * A lock file with no run in it: a run crashed between creating the file and writing its id (or its disk
 * was full). No run owns it, so no run will ever release it; it is refused like any lock until the user
 * says so (`recover --break-lock`), then the lock step sets it aside (`<lock>.empty-broken-by-<run id>`).
 */
import type { NodeFacts } from '../facts/types.js';
import { RefusedError } from '../util/errors.js';

export function emptyLocks(nodes: NodeFacts[], o: { breakLock: boolean; flag: boolean }): { breakEmpty?: boolean; warnings: string[] } {
  const empty = nodes.filter((n) => n.lockEmpty).map((n) => n.name);
  if (!empty.length) return { warnings: [] };
  if (!o.breakLock) {
    throw new RefusedError(
      `the etcd-dr lock file on ${empty.join(', ')} is empty: a run crashed between creating and writing it, so no run can release it`,
      o.flag
        ? 'make sure no etcd-dr run works on this cluster, then run again with --break-lock: the lock step sets the empty file aside'
        : 'make sure no etcd-dr run works on this cluster, then clear it with `etcd-dr unlock --empty` (it is set aside, not deleted)',
    );
  }
  return { breakEmpty: true, warnings: [`--break-lock: the empty lock file on ${empty.join(', ')} is set aside by the lock step`] };
}
