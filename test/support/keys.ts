import { createHash } from 'node:crypto';
import { etcdctlInNode, labExec, type LabState } from '../../src/lab/index.js';

/** Every key of the cluster with a sha256 of its value, read through one member. */
export async function keysOf(lab: LabState, node: string): Promise<Map<string, string>> {
  const r = await etcdctlInNode(lab, node, ['get', '', '--prefix', '-w', 'json'], { timeout: 120 });
  if (r.code !== 0) throw new Error(`etcdctl get on ${node} failed: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { kvs?: { key: string; value?: string }[] };
  const out = new Map<string, string>();
  for (const kv of doc.kvs ?? []) {
    out.set(Buffer.from(kv.key, 'base64').toString('utf8'), createHash('sha256').update(Buffer.from(kv.value ?? '', 'base64')).digest('hex'));
  }
  return out;
}

/** Keys of `before` missing from or changed in `after` (what a recovery must never produce). */
export function lostOrChanged(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...before].filter(([k, v]) => after.get(k) !== v).map(([k]) => k);
}

/** `member list` of one member: name, started, learner. */
export async function membersOf(lab: LabState, node: string): Promise<{ name: string; isLearner: boolean; started: boolean }[]> {
  const r = await etcdctlInNode(lab, node, ['member', 'list', '-w', 'json'], { timeout: 60 });
  if (r.code !== 0) throw new Error(`member list on ${node} failed: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as { members: { name?: string; isLearner?: boolean; clientURLs?: string[] }[] };
  return doc.members.map((m) => ({ name: m.name ?? '', isLearner: m.isLearner === true, started: (m.clientURLs ?? []).length > 0 }));
}

export async function fileIn(lab: LabState, node: string, path: string): Promise<string> {
  const r = await labExec(lab, node, ['cat', path]);
  if (r.code !== 0) throw new Error(`cat ${path} on ${node}: ${r.stderr}`);
  return r.stdout;
}

/** A listing of what etcd-dr may touch on a node, to prove a command changed nothing. */
export async function nodeFingerprint(lab: LabState, node: string): Promise<string> {
  const r = await labExec(lab, node, [
    'sh',
    '-c',
    'ls -la --time-style=+%s.%N /var/lib /var/lib/etcd /var/lib/etcd/member /var/lib/etcd/member/snap /etc 2>&1 | grep -v " \\.$"; sha256sum /etc/etcd.env /var/lib/etcd/member/snap/db; systemctl is-active etcd || true',
  ]);
  return r.stdout;
}
