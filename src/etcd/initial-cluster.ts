/** ETCD_INITIAL_CLUSTER: `name=peerURL,…`, built from members and read back. */
import { EtcdArgumentError } from './errors.js';

export interface InitialClusterMember {
  name: string;
  /** the member's first peer URL */
  peerUrl: string;
  /** every peer URL of the member (etcd repeats `name=` for each) */
  peerUrls?: string[];
}

const MEMBER_NAME = /^[A-Za-z0-9][A-Za-z0-9_.\-]*$/;
const PEER_URL = /^(https?|unixs?):\/\/[A-Za-z0-9_.\-\[\]:%]+$/;

/** `etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380`; a member with several URLs repeats its name. */
export function initialClusterString(members: readonly InitialClusterMember[]): string {
  if (members.length === 0) throw new EtcdArgumentError('an initial cluster needs at least one member');
  const names = new Set<string>();
  const parts: string[] = [];
  for (const m of members) {
    if (!MEMBER_NAME.test(m.name)) {
      throw new EtcdArgumentError(`member name ${JSON.stringify(m.name)} cannot be written to ETCD_INITIAL_CLUSTER: use letters, digits, _ . -`);
    }
    if (names.has(m.name)) throw new EtcdArgumentError(`member ${m.name} is listed twice in the initial cluster`);
    names.add(m.name);
    const urls = m.peerUrls && m.peerUrls.length > 0 ? m.peerUrls : [m.peerUrl];
    for (const u of urls) {
      if (!PEER_URL.test(u)) {
        throw new EtcdArgumentError(`peer URL ${JSON.stringify(u)} of member ${m.name} is not a URL like https://10.0.0.1:2380`);
      }
      parts.push(`${m.name}=${u}`);
    }
  }
  return parts.join(',');
}

/**
 * Reads an `ETCD_INITIAL_CLUSTER` value. Members keep the order of their first appearance; a member
 * named more than once gets all its URLs. Throws on an entry without `name=url`.
 */
export function parseInitialCluster(s: string): (InitialClusterMember & { peerUrls: string[] })[] {
  const out: (InitialClusterMember & { peerUrls: string[] })[] = [];
  const byName = new Map<string, InitialClusterMember & { peerUrls: string[] }>();
  const entries = s.split(',');
  entries.forEach((raw, idx) => {
    const entry = raw.trim();
    if (entry === '') {
      if (entries.length === 1) throw new EtcdArgumentError('ETCD_INITIAL_CLUSTER is empty');
      return; // a stray comma; etcd itself tolerates it
    }
    const eq = entry.indexOf('=');
    const name = eq < 0 ? '' : entry.slice(0, eq).trim();
    const url = eq < 0 ? '' : entry.slice(eq + 1).trim();
    if (name === '' || url === '') {
      throw new EtcdArgumentError(`ETCD_INITIAL_CLUSTER entry ${idx + 1} (${JSON.stringify(entry)}) is not name=peer-url`);
    }
    const existing = byName.get(name);
    if (existing) existing.peerUrls.push(url);
    else {
      const m = { name, peerUrl: url, peerUrls: [url] };
      byName.set(name, m);
      out.push(m);
    }
  });
  return out;
}
