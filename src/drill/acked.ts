/**
 * The drill's check on the writes that whatever runs beside etcd (the kube-apiservers; on the lab, its
 * writer) had acknowledged: every one must be in the recovered cluster with its value. The list comes
 * from the writer's own record (the lab: each node's ack log), read before the capture it is compared
 * with, so every write in it was acknowledged before the capture's revision.
 */
import { createHash } from 'node:crypto';
import type { Capture } from './capture.js';
import type { Check } from './checks.js';

export interface AckedWrite {
  node: string;
  key: string;
  value: string;
}

export const ACKED_CHECK = 'no write acknowledged to the apiservers was lost';

export function ackedCheck(acked: readonly AckedWrite[], after: Pick<Capture, 'values' | 'revision'>): Check {
  const sha = (v: string) => createHash('sha256').update(v).digest('hex');
  const lost = acked.filter((a) => after.values.get(a.key) !== sha(a.value));
  const nodes = [...new Set(acked.map((a) => a.node))];
  if (!acked.length) return { name: ACKED_CHECK, pass: false, evidence: 'no acknowledged write was recorded: the writers did not run, so nothing was proven' };
  const missing = lost.filter((a) => !after.values.has(a.key));
  return {
    name: ACKED_CHECK,
    pass: lost.length === 0,
    evidence: lost.length
      ? `${lost.length} of ${acked.length} acknowledged writes lost (${missing.length} missing, ${lost.length - missing.length} changed), e.g. ${lost.slice(0, 3).map((a) => a.key).join(', ')}`
      : `all ${acked.length} writes acknowledged by the writers on ${nodes.join(', ')} read back with their values at revision ${after.revision}`,
  };
}
