import { RefusedError } from '../util/errors.js';
import type { NodeFacts } from '../facts/types.js';
import { dataSources, rankSources, sourceLabel, type DataSource } from './sources.js';
import type { EvidenceRow } from './types.js';

export interface SurvivorChoice {
  name: string;
  /** the survivor's freshest data is in a dir an earlier run set aside, not in its data dir */
  source?: { path: string; db: string; runId: string; at?: string };
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

/** An evidence row of a set-aside data dir: weighed like the live ones. */
export function asideEvidenceRow(s: DataSource): EvidenceRow {
  const row: EvidenceRow = { node: s.node, state: 'set-aside', hasDb: true, source: s.path };
  if (s.dbBytes !== undefined) row.dbBytes = s.dbBytes;
  if (s.revision !== undefined) row.revision = s.revision;
  if (s.totalKey !== undefined) row.totalKey = s.totalKey;
  if (s.clusterId) row.clusterId = s.clusterId;
  row.note = `${s.path}: set aside by run ${s.runId}${s.at ? ` at ${s.at}` : ''}${s.error ? `; ${s.error}` : ''}`;
  return row;
}

/**
 * Picks the freshest data: the highest db revision over every member's live data dir and every data dir
 * an earlier run set aside on it (see sources.ts); ties go to a live data dir, then inventory order.
 * Refuses when the candidates come from different clusters or none has readable data.
 */
export function chooseSurvivor(nodes: NodeFacts[], opts: { survivor?: string; exclude: string[] }): SurvivorChoice {
  const { candidates } = dataSources(nodes, opts.exclude);
  const asideRows = new Map(candidates.filter((c) => !c.live).map((c) => [c, asideEvidenceRow(c)]));
  const evidence = nodes.flatMap((n) => [evidenceRow(n, opts.exclude.includes(n.name)), ...candidates.filter((c) => !c.live && c.node === n.name).map((c) => asideRows.get(c)!)]);
  if (candidates.length === 0) {
    throw new RefusedError(
      'no reachable member has a data dir with a db to recover from',
      'check the nodes with `etcd-dr status`; a member must be reachable over SSH and have <dataDir>/member/snap/db',
    );
  }
  const ids = new Map<string, string[]>();
  for (const c of candidates) {
    if (c.live && c.clusterId) ids.set(c.clusterId, [...(ids.get(c.clusterId) ?? []), c.node]);
  }
  if (ids.size > 1) {
    throw new RefusedError(
      `the data dirs belong to different clusters: ${[...ids.entries()].map(([id, ns]) => `${ns.join(', ')} → cluster ${id}`).join('; ')}`,
      'recover from one cluster only: leave the others out with --exclude NAME, after checking which cluster is the right one',
    );
  }
  const ranked = rankSources(candidates);
  const best = ranked[0]!;
  if (best.revision === undefined) {
    throw new RefusedError(
      `the revision of no candidate's data could be read (${candidates.map((c) => `${sourceLabel(c)}: ${c.error ?? 'unknown'}`).join('; ')})`,
      'name the survivor yourself with --survivor NAME once you know which member has the freshest data',
    );
  }
  const warnings: string[] = [];
  for (const r of ranked) if (r.error && r.live) warnings.push(`${r.node}: ${r.error}`);
  // a db whose revision could not be read (its tool printed something else, or failed) may be the freshest
  const unreadable = ranked.filter((r) => r.revision === undefined && r.error);
  if (unreadable.length && !opts.survivor) {
    const names = [...new Set(unreadable.map((r) => r.node))];
    throw new RefusedError(
      `the revision of the data of ${unreadable.map(sourceLabel).join(', ')} could not be read, so the freshest member is not known: ` +
        `recovering from another member could lose writes (${unreadable.map((r) => `${sourceLabel(r)}: ${r.error}`).join('; ')})`,
      `check ${names.join(', ')} (\`etcd-dr status\` shows what was read there); then name the survivor with --survivor NAME, ` +
        `or leave ${names.length > 1 ? 'them' : 'it'} out with ${names.map((n) => `--exclude ${n}`).join(' ')}`,
    );
  }
  const pick = (s: DataSource, reason: string): SurvivorChoice => {
    for (const row of evidence) row.chosen = s.live ? row.node === s.node && row.state !== 'set-aside' : row.source === s.path && row.node === s.node;
    if (!s.live) {
      warnings.push(
        `${s.node}'s freshest data is not in its data dir but in ${s.path}, set aside by run ${s.runId}${s.at ? ` at ${s.at}` : ''} ` +
          '(an interrupted run): the restore reads that db and keeps the dir as it is',
      );
    }
    return { name: s.node, reason, evidence, warnings, ...(s.live ? {} : { source: { path: s.path, db: s.db, runId: s.runId!, ...(s.at ? { at: s.at } : {}) } }) };
  };
  const label = (r: DataSource) => `${sourceLabel(r)} ${r.revision ?? 'unknown'}`;
  const tied = ranked.filter((r) => r.revision === best.revision);
  if (opts.survivor) {
    const chosen = ranked.find((r) => r.node === opts.survivor);
    if (!chosen) {
      const why = nodes.some((n) => n.name === opts.survivor)
        ? 'it is excluded, unreachable or has no db'
        : 'no node of the inventory has that name';
      throw new RefusedError(`--survivor ${opts.survivor} cannot be used: ${why}`, `candidates: ${[...new Set(candidates.map((c) => c.node))].join(', ')}`);
    }
    if ((chosen.revision ?? -1) < best.revision) {
      warnings.push(
        `--survivor ${opts.survivor} is NOT the freshest member: its data reaches revision ${chosen.revision ?? 'unknown'}, ` +
          `${sourceLabel(best)}'s reaches ${best.revision}; writes after revision ${chosen.revision ?? '?'} will be lost`,
      );
    }
    return pick(chosen, `chosen with --survivor (revision ${chosen.revision ?? 'unknown'}${chosen.live ? '' : `, from ${chosen.path}`})`);
  }
  const others = ranked.slice(1).map(label);
  const reason =
    `highest revision: ${label(best)}` +
    (others.length ? ` (others: ${others.join(', ')})` : '') +
    (tied.length > 1 ? `; tied with ${tied.slice(1).map(sourceLabel).join(', ')}, ${best.live && tied.some((t) => !t.live) ? 'a live data dir, then ' : ''}first in inventory order wins` : '');
  return pick(best, reason);
}
