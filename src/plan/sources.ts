/**
 * Where a recovery can restore from: every member's live data dir, and every data dir an earlier etcd-dr
 * run set aside on it (`<dataDir>.etcd-dr-<run id>`) that belongs to the cluster being recovered. A run
 * killed after it moved some data dirs aside leaves the freshest data beside the data dirs, not in them:
 * a recovery that looked only at the live data dirs would restore a staler member and lose writes.
 */
import type { NodeFacts, SetAsideDir } from '../facts/types.js';

export interface DataSource {
  node: string;
  /** the dir that holds the data: the data dir itself, or a set-aside one */
  path: string;
  /** the db a restore reads (read-only: a set-aside dir is kept as it is) */
  db: string;
  /** the member's live data dir (not set aside) */
  live: boolean;
  /** a set-aside dir: the run that set it aside and when */
  runId?: string;
  at?: string;
  revision?: number;
  totalKey?: number;
  dbBytes?: number;
  clusterId?: string;
  /** why its revision could not be read */
  error?: string;
  /** inventory order of its node */
  order: number;
}

function liveSource(n: NodeFacts, order: number): DataSource | undefined {
  if (!n.reachable || !n.dataDir?.hasDb) return undefined;
  const d = n.dataDir;
  const s: DataSource = { node: n.name, path: d.path, db: `${d.path}/member/snap/db`, live: true, order };
  const rev = n.endpoint?.revision ?? d.db?.revision;
  if (rev !== undefined) s.revision = rev;
  if (d.db) s.totalKey = d.db.totalKey;
  if (d.dbBytes !== undefined) s.dbBytes = d.dbBytes;
  const cid = n.endpoint?.clusterId ?? d.walClusterId;
  if (cid) s.clusterId = cid;
  if (d.dbError) s.error = d.dbError;
  return s;
}

function asideSource(n: NodeFacts, d: SetAsideDir, order: number): DataSource {
  const s: DataSource = { node: n.name, path: d.path, db: `${d.path}/member/snap/db`, live: false, runId: d.runId, order };
  if (d.at) s.at = d.at;
  if (d.db) {
    s.revision = d.db.revision;
    s.totalKey = d.db.totalKey;
  }
  if (d.dbBytes !== undefined) s.dbBytes = d.dbBytes;
  if (d.walClusterId) s.clusterId = d.walClusterId;
  if (d.dbError) s.error = d.dbError;
  else if (!d.db) s.error = `not read while etcd runs on ${n.name}`;
  return s;
}

export interface Sources {
  /** every source a recovery weighs, in inventory order, the live data dir before the set-aside ones */
  candidates: DataSource[];
  /** set-aside dirs of another (earlier) cluster: the data a finished recovery restored from, not weighed */
  earlier: DataSource[];
}

/**
 * The sources of the nodes that are not excluded. Set-aside dirs count when they belong to the cluster of
 * the live data dirs (a finished recovery gave the cluster a new id, so its set-aside dirs are history),
 * or, when no live data dir says which cluster it is, to the cluster of the newest run's set-aside dirs.
 */
export function dataSources(nodes: NodeFacts[], exclude: readonly string[]): Sources {
  const live: DataSource[] = [];
  const aside: DataSource[] = [];
  nodes.forEach((n, order) => {
    if (exclude.includes(n.name) || !n.reachable) return;
    const l = liveSource(n, order);
    if (l) live.push(l);
    for (const d of n.dataDir?.setAside ?? []) aside.push(asideSource(n, d, order));
  });
  const liveIds = new Set(live.flatMap((s) => (s.clusterId ? [s.clusterId] : [])));
  let cluster: string | undefined;
  if (liveIds.size === 1) cluster = [...liveIds][0];
  else if (liveIds.size === 0) cluster = [...aside].filter((s) => s.clusterId).sort((a, b) => (b.runId ?? '').localeCompare(a.runId ?? ''))[0]?.clusterId;
  // several live cluster ids: refused by the survivor choice; the set-aside dirs wait for that to be settled
  const counts = (s: DataSource) => liveIds.size <= 1 && (!s.clusterId || s.clusterId === cluster);
  const candidates = [...live, ...aside.filter(counts)].sort((a, b) => a.order - b.order || Number(b.live) - Number(a.live) || (b.runId ?? '').localeCompare(a.runId ?? ''));
  return { candidates, earlier: aside.filter((s) => !counts(s)) };
}

/** Freshest first: the highest revision; on a tie a live data dir, then inventory order, then the newer run. */
export function rankSources(sources: DataSource[]): DataSource[] {
  return [...sources].sort(
    (a, b) => (b.revision ?? -1) - (a.revision ?? -1) || Number(b.live) - Number(a.live) || a.order - b.order || (b.runId ?? '').localeCompare(a.runId ?? ''),
  );
}

/** How a source is named in plans and messages: `etcd1` or `etcd1 (set aside by run X)`. */
export function sourceLabel(s: DataSource): string {
  return s.live ? s.node : `${s.node} (${s.path}, set aside by run ${s.runId})`;
}

export interface UnfinishedRun {
  runId: string;
  /** the nodes where it set data aside without releasing its lock there */
  nodes: string[];
}

/**
 * Runs that set data dirs of this cluster aside and did not end on those nodes: no lock released there,
 * and not known on this bastion as finished. A new recovery from scratch would step over such a run;
 * `resume` finishes it as it was planned.
 */
export function unfinishedRuns(nodes: NodeFacts[], candidates: DataSource[], runEnded?: (runId: string) => string | undefined): UnfinishedRun[] {
  const runs = new Map<string, Set<string>>();
  for (const s of candidates) {
    if (s.live || !s.runId) continue;
    const n = nodes.find((x) => x.name === s.node);
    if (n?.releasedRuns?.includes(s.runId) || runEnded?.(s.runId)) continue;
    runs.set(s.runId, (runs.get(s.runId) ?? new Set()).add(s.node));
  }
  return [...runs].map(([runId, ns]) => ({ runId, nodes: [...ns] }));
}
