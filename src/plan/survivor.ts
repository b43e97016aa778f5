import { RefusedError } from '../util/errors.js';
import type { NodeFacts } from '../facts/types.js';
import type { EvidenceRow } from './types.js';

export interface SurvivorChoice {
  name: string;
  reason: string;
  evidence: EvidenceRow[];
  warnings: string[];
}

/** The revision a member's data reaches: its db's (stopped member) or what it serves (running member). */
export function dataRevision(n: NodeFacts): number | undefined {
  return n.endpoint?.revision ?? n.dataDir?.db?.revision;
}

export function evidenceRow(n: NodeFacts, excluded: boolean): EvidenceRow {
  const row: EvidenceRow = {
    node: n.name,
    state: excluded ? 'excluded' : !n.reachable ? 'unreachable' : n.endpoint || n.processRunning ? 'running' : 'stopped',
    hasDb: Boolean(n.dataDir?.hasDb),
  };
  const rev = dataRevision(n);
  if (n.dataDir?.dbBytes !== undefined) row.dbBytes = n.dataDir.dbBytes;
  if (rev !== undefined) row.revision = rev;
  if (n.dataDir?.db) row.totalKey = n.dataDir.db.totalKey;
  if (n.endpoint) {
    row.raftIndex = n.endpoint.raftIndex;
    row.appliedIndex = n.endpoint.raftAppliedIndex;
  }
  const cid = n.endpoint?.clusterId ?? n.dataDir?.walClusterId;
  if (cid) row.clusterId = cid;
  if (!n.reachable) row.note = n.error ?? 'not reachable';
  else if (n.dataDir?.dbError) row.note = n.dataDir.dbError;
  else if (!n.dataDir?.hasDb) row.note = 'no data dir';
  return row;
}

/**
 * Picks the member whose data is the freshest: the highest db revision, ties broken by inventory order.
 * Refuses when the candidates come from different clusters or none has readable data.
 */
export function chooseSurvivor(nodes: NodeFacts[], opts: { survivor?: string; exclude: string[] }): SurvivorChoice {
  const evidence = nodes.map((n) => evidenceRow(n, opts.exclude.includes(n.name)));
  const candidates = nodes.filter((n) => !opts.exclude.includes(n.name) && n.reachable && n.dataDir?.hasDb);
  if (candidates.length === 0) {
    throw new RefusedError(
      'no reachable member has a data dir with a db to recover from',
      'check the nodes with `etcd-dr status`; a member must be reachable over SSH and have <dataDir>/member/snap/db',
    );
  }
  const ids = new Map<string, string[]>();
  for (const n of candidates) {
    const cid = n.endpoint?.clusterId ?? n.dataDir?.walClusterId;
    if (cid) ids.set(cid, [...(ids.get(cid) ?? []), n.name]);
  }
  if (ids.size > 1) {
    throw new RefusedError(
      `the data dirs belong to different clusters: ${[...ids.entries()].map(([id, ns]) => `${ns.join(', ')} → cluster ${id}`).join('; ')}`,
      'recover from one cluster only: leave the others out with --exclude NAME, after checking which cluster is the right one',
    );
  }
  const ranked = candidates
    .map((n, order) => ({ n, order, rev: dataRevision(n) }))
    .sort((a, b) => (b.rev ?? -1) - (a.rev ?? -1) || a.order - b.order);
  const best = ranked[0]!;
  if (best.rev === undefined) {
    throw new RefusedError(
      `the revision of no candidate's data could be read (${candidates.map((n) => `${n.name}: ${n.dataDir?.dbError ?? 'unknown'}`).join('; ')})`,
      'name the survivor yourself with --survivor NAME once you know which member has the freshest data',
    );
  }
  const warnings: string[] = [];
  for (const r of ranked) if (r.n.dataDir?.dbError) warnings.push(`${r.n.name}: ${r.n.dataDir.dbError}`);
  // a db whose revision could not be read (its tool printed something else, or failed) may be the freshest
  const unreadable = ranked.filter((r) => r.rev === undefined && r.n.dataDir?.dbError);
  if (unreadable.length && !opts.survivor) {
    const names = unreadable.map((r) => r.n.name);
    throw new RefusedError(
      `the revision of the data of ${names.join(', ')} could not be read, so the freshest member is not known: ` +
        `recovering from another member could lose writes (${unreadable.map((r) => `${r.n.name}: ${r.n.dataDir!.dbError}`).join('; ')})`,
      `check ${names.join(', ')} (\`etcd-dr status\` shows what was read there); then name the survivor with --survivor NAME, ` +
        `or leave ${names.length > 1 ? 'them' : 'it'} out with ${names.map((n) => `--exclude ${n}`).join(' ')}`,
    );
  }
  const tied = ranked.filter((r) => r.rev === best.rev).map((r) => r.n.name);
  if (opts.survivor) {
    const chosen = ranked.find((r) => r.n.name === opts.survivor);
    if (!chosen) {
      const why = nodes.some((n) => n.name === opts.survivor)
        ? 'it is excluded, unreachable or has no db'
        : 'no node of the inventory has that name';
      throw new RefusedError(`--survivor ${opts.survivor} cannot be used: ${why}`, `candidates: ${candidates.map((n) => n.name).join(', ')}`);
    }
    if ((chosen.rev ?? -1) < best.rev) {
      warnings.push(
        `--survivor ${opts.survivor} is NOT the freshest member: its data reaches revision ${chosen.rev ?? 'unknown'}, ` +
          `${best.n.name}'s reaches ${best.rev}; writes after revision ${chosen.rev ?? '?'} will be lost`,
      );
    }
    return { name: opts.survivor, reason: `chosen with --survivor (revision ${chosen.rev ?? 'unknown'})`, evidence, warnings };
  }
  const others = ranked.slice(1).map((r) => `${r.n.name} ${r.rev ?? 'unknown'}`);
  const reason =
    `highest revision: ${best.n.name} ${best.rev}` +
    (others.length ? ` (others: ${others.join(', ')})` : '') +
    (tied.length > 1 ? `; tied with ${tied.slice(1).join(', ')}, first in inventory order wins` : '');
  return { name: best.n.name, reason, evidence, warnings };
}
