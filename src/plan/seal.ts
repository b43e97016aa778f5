/**
 * A plan is reviewed as data, so the data applied must be the data reviewed: every saved plan carries a
 * digest of its own content and a fingerprint of the inventory it was made from. A hand-edited plan, or
 * one applied with another inventory, is refused before any node is contacted.
 */
import { sha256Hex } from '../util/hash.js';
import type { Inventory } from '../inventory/types.js';
import type { Plan } from './types.js';

const sha256 = (s: string) => `sha256:${sha256Hex(s)}`;

/** What of the inventory a plan's commands depend on: names, addresses, SSH targets, etcd paths and ports. */
export function inventoryFingerprint(inv: Inventory): string {
  return sha256(
    JSON.stringify({
      cluster: inv.cluster.name,
      nodes: inv.nodes.map((n) => ({ name: n.name, host: n.host, address: n.address, ssh: [n.ssh.sshHost, n.ssh.port, n.ssh.user, n.ssh.become], etcd: n.etcd })),
    }),
  );
}

/** The digest of a plan's content (everything but the digest itself). */
export function planDigest(plan: Plan): string {
  const { digest: _d, ...rest } = plan;
  return sha256(JSON.stringify(rest));
}

/** The plan with its digest set; call last, after every field is final. */
export function sealPlan(plan: Plan): Plan {
  return { ...plan, digest: planDigest({ ...plan, digest: undefined }) };
}
