import { createHash } from 'node:crypto';
import type { ClusterAssessment, MemberInfo, NodeFacts } from './types.js';

const NO_LEADER = '0000000000000000';

function setKey(members: MemberInfo[]): string {
  return members
    .map((m) => `${m.id}${m.isLearner ? '(learner)' : ''}`)
    .sort()
    .join(',');
}

function names(members: { name: string }[]): string {
  return members.map((m) => m.name).sort().join(',');
}

/** Member names listed in an ETCD_INITIAL_CLUSTER value (`a=url,b=url`; a member may list several URLs). */
export function initialClusterNames(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const part of value.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) {
      const name = part.slice(0, eq).trim();
      if (!out.includes(name)) out.push(name);
    }
  }
  return out;
}

/**
 * The verdict on a cluster from per-node facts. Pure.
 * Order of precedence: inconsistent (cluster ids or member lists disagree) > quorum-lost >
 * inconsistent (env files disagree with the membership) > degraded > healthy.
 */
export function assessCluster(nodes: NodeFacts[], inventoryNames: string[]): ClusterAssessment {
  const reasons: string[] = [];
  const notes: string[] = [];
  const running = nodes.filter((n) => n.endpoint);
  const unreachable = nodes.filter((n) => !n.reachable);
  for (const n of unreachable) notes.push(`${n.name}: not reachable over SSH (${n.error ?? 'no reason given'})`);
  // a run at work, or a lock left on a node that run could not reach at its end (a plan says which)
  for (const n of nodes) if (n.lock) notes.push(`${n.name}: holds the etcd-dr lock of run ${n.lock.runId}${n.lock.holder ? ` (${n.lock.holder})` : ''}`);
  for (const n of nodes) {
    if (n.lockEmpty) notes.push(`${n.name}: its etcd-dr lock file is empty (a run crashed between creating and writing it); \`etcd-dr unlock --empty\` (or \`recover --break-lock\`) sets it aside`);
  }

  // cluster ids: from running members and from the WAL of every member with data
  const idsBy = new Map<string, string[]>();
  for (const n of nodes) {
    const ids = new Set([n.endpoint?.clusterId, n.membersClusterId, n.dataDir?.walClusterId].filter((x): x is string => !!x));
    for (const id of ids) idsBy.set(id, [...(idsBy.get(id) ?? []), n.name]);
  }
  const clusterIdConflict = idsBy.size > 1;
  if (clusterIdConflict) {
    reasons.push(
      `members disagree on the cluster id: ${[...idsBy.entries()].map(([id, ns]) => `${ns.join(', ')} → ${id}`).join('; ')}`,
    );
  }
  const clusterId = idsBy.size === 1 ? [...idsBy.keys()][0] : undefined;

  // membership as the running members see it
  const views = running.filter((n) => n.members);
  const byKey = new Map<string, NodeFacts[]>();
  for (const n of views) byKey.set(setKey(n.members ?? []), [...(byKey.get(setKey(n.members ?? [])) ?? []), n]);
  const membershipConflict = byKey.size > 1;
  if (membershipConflict) {
    reasons.push(
      `members disagree on the membership: ${[...byKey.values()]
        .map((ns) => `${ns.map((n) => n.name).join(', ')} see {${names(ns[0]?.members ?? [])}}`)
        .join('; ')}`,
    );
  }
  // the largest agreeing view stands for the membership
  const members = [...byKey.values()].sort((a, b) => b.length - a.length)[0]?.[0]?.members ?? [];
  const voting = members.filter((m) => !m.isLearner);
  const quorum = voting.length ? Math.floor(voting.length / 2) + 1 : 0;
  const healthyIds = new Set(nodes.filter((n) => n.healthy && n.endpoint).map((n) => n.endpoint!.memberId));
  const healthyVoting = voting.filter((m) => healthyIds.has(m.id)).length;
  const leaders = new Set(running.map((n) => n.endpoint!.leader).filter((l) => l !== NO_LEADER));
  const leader = leaders.size === 1 ? [...leaders][0] : undefined;

  const base = { members, clusterId, leader, votingCount: voting.length, quorum, healthyVoting, notes };

  if (clusterIdConflict || membershipConflict) return { ...base, verdict: 'inconsistent', reasons };

  if (running.length === 0) {
    const withData = nodes.filter((n) => n.dataDir?.hasDb).length;
    reasons.push(
      `no etcd member is running (${nodes.length - unreachable.length} reachable, ${unreachable.length} unreachable, ${withData} with a data dir)`,
    );
    return { ...base, verdict: 'quorum-lost', reasons };
  }
  // a member that serves a linearizable read proves a quorum; none serving means none
  if (healthyVoting < quorum || healthyIds.size === 0) {
    const down = voting.filter((m) => !healthyIds.has(m.id)).map((m) => m.name || m.id);
    reasons.push(
      `${healthyVoting} of ${voting.length} voting members serve clients, ${quorum} are needed for a quorum` +
        (down.length ? ` (not serving: ${down.join(', ')})` : ''),
    );
    if (!leader) reasons.push('no member knows a leader');
    return { ...base, verdict: 'quorum-lost', reasons };
  }

  // env files that would mislead a restart
  const memberNames = names(members);
  const envReasons: string[] = [];
  for (const n of nodes) {
    const inCluster = members.find((m) => m.name === n.name);
    const env = n.env;
    if (!inCluster || !env?.exists) continue;
    const listed = initialClusterNames(env.vars.ETCD_INITIAL_CLUSTER);
    if (listed.slice().sort().join(',') !== memberNames) {
      envReasons.push(`${n.name}: ${env.path} lists {${listed.join(', ')}} but the cluster has {${members.map((m) => m.name).join(', ')}}`);
    }
    if (env.vars.ETCD_INITIAL_CLUSTER_STATE && env.vars.ETCD_INITIAL_CLUSTER_STATE !== 'existing') {
      notes.push(`${n.name}: ETCD_INITIAL_CLUSTER_STATE=${env.vars.ETCD_INITIAL_CLUSTER_STATE} (existing is expected for a member with data)`);
    }
  }
  if (envReasons.length) return { ...base, verdict: 'inconsistent', reasons: [...reasons, ...envReasons] };

  const degraded: string[] = [];
  if (healthyVoting < voting.length) {
    const down = voting.filter((m) => !healthyIds.has(m.id)).map((m) => m.name || m.id);
    degraded.push(`${healthyVoting} of ${voting.length} voting members serve clients (down: ${down.join(', ')}); quorum ${quorum} holds`);
  }
  const learners = members.filter((m) => m.isLearner);
  if (learners.length) degraded.push(`learner(s) not promoted: ${learners.map((m) => m.name || m.id).join(', ')}`);
  const alarms = [...new Set(nodes.flatMap((n) => n.alarms ?? []))];
  if (alarms.length) degraded.push(`alarms raised: ${alarms.join(', ')}`);
  const lagging = running.filter((n) => {
    const maxIndex = Math.max(...running.map((r) => r.endpoint!.raftIndex));
    return maxIndex - n.endpoint!.raftIndex > 1000;
  });
  if (lagging.length) degraded.push(`lagging behind the leader by more than 1000 raft entries: ${lagging.map((n) => n.name).join(', ')}`);
  for (const m of members) if (!inventoryNames.includes(m.name)) notes.push(`member ${m.name || '(unstarted)'} (${m.id}) is not in the inventory`);
  for (const name of inventoryNames) if (!members.some((m) => m.name === name)) notes.push(`${name} is in the inventory but not a member`);
  if (degraded.length) return { ...base, verdict: 'degraded', reasons: degraded };
  return { ...base, verdict: 'healthy', reasons: [`${voting.length} voting members serve clients, leader ${leader ?? 'unknown'}`] };
}

/** etcd's default --election-timeout, in ms, for env files that do not set ETCD_ELECTION_TIMEOUT */
export const DEFAULT_ELECTION_TIMEOUT_MS = 1000;

/**
 * Whether a quorum-lost verdict may be a leader election under way rather than a lost quorum: a majority
 * of the voting members run and answer their endpoint status, yet too few serve a linearizable read. That
 * is what the members left look like for an election timeout after their leader dies. A lost quorum
 * with too few members running is never a passing state, so it is not waited on. Pure.
 */
export function mayBeElecting(nodes: NodeFacts[], a: ClusterAssessment): boolean {
  if (a.verdict !== 'quorum-lost' || a.quorum === 0) return false;
  const runningIds = new Set(nodes.filter((n) => n.endpoint).map((n) => n.endpoint!.memberId));
  const runningVoting = a.members.filter((m) => !m.isLearner && runningIds.has(m.id)).length;
  return runningVoting >= a.quorum;
}

/**
 * Whether the running members have yet to settle on a leader that runs: when a possible election (see
 * mayBeElecting) ends, the members may still report the dead leader, or none, in their endpoint status for
 * a moment after the read that proved the new quorum. Pure.
 */
export function leaderUnsettled(nodes: NodeFacts[], a: ClusterAssessment): boolean {
  if (mayBeElecting(nodes, a)) return true;
  if (a.verdict === 'quorum-lost') return false;
  return !a.leader || !nodes.some((n) => n.endpoint?.memberId === a.leader);
}

/**
 * How long `status` waits out a possible election before it calls the quorum lost: two election timeouts
 * (the longest any env file sets) and 2 s for the vote and a read, in ms. Pure.
 */
export function electionWaitMs(nodes: NodeFacts[]): number {
  const set = nodes
    .map((n) => Number(n.env?.vars.ETCD_ELECTION_TIMEOUT))
    .filter((ms) => Number.isInteger(ms) && ms > 0);
  const timeout = set.length ? Math.max(...set) : DEFAULT_ELECTION_TIMEOUT_MS;
  return Math.min(2 * timeout + 2000, 60_000);
}

/** What of each node's facts a plan depends on: a stale plan is one whose nodes no longer look like this. */
export type CanonFacts = ReturnType<typeof canonFacts>;

export function canonFacts(nodes: NodeFacts[]) {
  return nodes.map((n) => ({
    name: n.name,
    reachable: n.reachable,
    running: Boolean(n.endpoint) || n.processRunning,
    env: n.env?.sha256 ?? null,
    dataDir: n.dataDir
      ? {
          exists: n.dataDir.exists,
          hasDb: n.dataDir.hasDb,
          wal: [n.dataDir.walMemberId ?? null, n.dataDir.walClusterId ?? null],
          revision: n.endpoint ? null : (n.dataDir.db?.revision ?? null),
          // only when set, so the digest of a plan on a plain data dir stays what it was
          ...(n.dataDir.mountPoint ? { mountPoint: true } : {}),
        }
      : null,
    member: n.endpoint ? [n.endpoint.memberId, n.endpoint.clusterId, n.endpoint.isLearner] : null,
    members: n.members ? n.members.map((m) => `${m.id}:${m.name}:${m.isLearner}`).sort() : null,
    lock: n.lock?.runId ?? (n.lockEmpty ? '(empty lock file)' : null),
    // the data dirs earlier runs set aside: a recovery may restore from one of them
    ...(n.dataDir?.setAside?.length ? { setAside: n.dataDir.setAside.map((d) => `${d.path} ${d.walClusterId ?? '?'} ${d.db?.revision ?? '?'}`) } : {}),
  }));
}

/**
 * A digest of the facts a plan depends on. It leaves out what moves on a healthy cluster (raft indexes,
 * db sizes, revisions of running members, timings), so re-gathering the same cluster gives the same digest.
 */
export function digestFacts(nodes: NodeFacts[]): string {
  const canon = canonFacts(nodes);
  return `sha256:${createHash('sha256').update(JSON.stringify(canon)).digest('hex')}`;
}

/** What changed between the facts a plan was made from and the current ones, one line per difference. */
export function diffCanonFacts(before: CanonFacts, after: CanonFacts): string[] {
  const out: string[] = [];
  const names = new Set([...before.map((n) => n.name), ...after.map((n) => n.name)]);
  for (const name of names) {
    const b = before.find((n) => n.name === name) as Record<string, unknown> | undefined;
    const a = after.find((n) => n.name === name) as Record<string, unknown> | undefined;
    if (!b || !a) {
      out.push(`${name}: ${b ? 'no longer in the inventory' : 'new in the inventory'}`);
      continue;
    }
    for (const k of Object.keys({ ...b, ...a })) {
      const x = JSON.stringify(b[k] ?? null);
      const y = JSON.stringify(a[k] ?? null);
      if (x !== y) out.push(`${name}: ${k} was ${x}, now ${y}`);
    }
  }
  return out;
}
