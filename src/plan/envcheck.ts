/**
 * Every plan lints the env files of its nodes for the etcd version installed there (the one that will read
 * them at the next start): what that version rejects or silently ignores becomes a plan warning with the
 * file and line. Pure, like every planner.
 */
import { formatFinding, lintEnvFile } from '../etcd/envlint.js';
import type { ClusterFacts } from '../facts/types.js';
import type { Inventory } from '../inventory/types.js';

export function envLintWarnings(inventory: Inventory, facts: ClusterFacts): string[] {
  const out: string[] = [];
  for (const spec of inventory.nodes) {
    const f = facts.nodes.find((n) => n.name === spec.name);
    const version = f?.versions.etcd;
    const text = f?.env?.exists ? f.env.text : undefined;
    if (!version || text === undefined) continue;
    for (const finding of lintEnvFile(text, version)) {
      out.push(formatFinding(spec.name, spec.etcd.envFile, finding));
    }
  }
  return out;
}
