import { renderRuledTable } from '../util/table.js';
import type { ClusterFacts, NodeFacts } from './types.js';

function mib(bytes?: number): string {
  return bytes === undefined ? '-' : `${(bytes / 1048576).toFixed(1)}M`;
}

function role(n: NodeFacts, leader?: string): string {
  if (!n.endpoint) return '-';
  if (n.endpoint.isLearner) return 'learner';
  return n.endpoint.memberId === leader ? 'leader' : 'follower';
}

function versions(n: NodeFacts): string {
  const v = n.versions;
  const parts = [v.etcd?.raw, v.etcdctl && v.etcdctl.raw !== v.etcd?.raw ? `ctl ${v.etcdctl.raw}` : undefined, v.etcdutl ? 'utl' : undefined];
  return parts.filter(Boolean).join(' ') || '-';
}

/** The one-screen view of `etcd-dr status` on a terminal. */
export function renderStatusText(f: ClusterFacts): string {
  const a = f.assessment;
  const headers = ['member', 'host', 'address', 'ssh', 'service', 'role', 'version', 'db', 'revision', 'raft idx', 'member id', 'cluster id', 'env cluster'];
  const rows = f.nodes.map((n) => [
    n.name,
    n.host,
    n.address,
    n.reachable ? 'ok' : 'DOWN',
    n.reachable ? n.service : '-',
    role(n, a.leader),
    versions(n),
    n.dataDir?.hasDb ? mib(n.endpoint?.dbSize ?? n.dataDir.dbBytes) : n.reachable ? 'none' : '-',
    String(n.endpoint?.revision ?? n.dataDir?.db?.revision ?? '-'),
    String(n.endpoint?.raftIndex ?? '-'),
    n.endpoint?.memberId ?? n.dataDir?.walMemberId ?? '-',
    n.endpoint?.clusterId ?? n.dataDir?.walClusterId ?? '-',
    n.env?.vars.ETCD_INITIAL_CLUSTER ? `${n.env.vars.ETCD_INITIAL_CLUSTER.split(',').length} (${n.env.vars.ETCD_INITIAL_CLUSTER_STATE ?? '?'})` : '-',
  ]);
  const out = [`cluster ${f.inventory.cluster} (${f.inventory.file}) at ${f.gatheredAt}`, '', renderRuledTable(headers, rows), ''];
  out.push(`verdict: ${a.verdict.toUpperCase()}`);
  for (const r of a.reasons) out.push(`  - ${r}`);
  if (a.members.length) {
    out.push('', `membership (${a.votingCount} voting, quorum ${a.quorum}):`);
    for (const m of a.members) out.push(`  ${m.id}  ${m.name || '(unstarted)'}${m.isLearner ? ' learner' : ''}  ${m.peerUrls.join(',')}`);
  }
  const notes = [...a.notes, ...f.nodes.flatMap((n) => n.warnings.map((w) => `${n.name}: ${w}`))];
  const alarms = f.nodes.flatMap((n) => (n.alarms ?? []).map((al) => `${n.name}: alarm ${al}`));
  if (alarms.length || notes.length) out.push('', 'notes:', ...[...alarms, ...notes].map((x) => `  - ${x}`));
  return `${out.join('\n')}\n`;
}
