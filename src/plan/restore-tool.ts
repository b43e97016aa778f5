/** The restore a node's installed etcd tools can run: which tool, and whether it can bump the revision. Pure. */
import { EtcdCapabilityError } from '../etcd/errors.js';
import { restoreTool, supportsBumpRevision } from '../etcd/version.js';
import type { NodeFacts } from '../facts/types.js';
import { RefusedError } from '../util/errors.js';

/** etcd's advice for a restore that Kubernetes watchers must notice: a revision jump past anything seen. */
export const BUMP_REVISION = 1_000_000_000;

/** Restore tool and --bump-revision support of the survivor, from its installed tools' versions. */
export function restoreCapabilities(n: NodeFacts): { tool: 'etcdctl' | 'etcdutl'; bump: boolean } {
  const v = n.versions.etcd ?? n.versions.etcdctl;
  const bumpBy = n.versions.etcdutl ?? n.versions.etcdctl;
  let tool: 'etcdctl' | 'etcdutl' = 'etcdctl';
  if (v) {
    try {
      tool = restoreTool(v, { etcdutlPresent: Boolean(n.versions.etcdutl) });
    } catch (e) {
      if (e instanceof EtcdCapabilityError) throw new RefusedError(`${n.name}: ${e.message}`);
      throw e;
    }
  }
  return { tool, bump: bumpBy ? supportsBumpRevision(bumpBy) : false };
}
