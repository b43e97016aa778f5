/**
 * The env file of a node that joins without one of its own (or with one written for another node), made
 * from a member's. Pure.
 */
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { clientUrl, peerUrl, urlHost, type NodeSpec } from '../inventory/types.js';
import { editEnvText } from './envedit.js';

const URL_VARS = ['ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_LISTEN_CLIENT_URLS', 'ETCD_LISTEN_PEER_URLS'] as const;
const CERT_VARS = ['ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_PEER_CERT_FILE', 'ETCD_PEER_KEY_FILE'] as const;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `word` where it stands alone (not part of a longer host name such as master010). */
const wordRe = (word: string) => new RegExp(`(?<![A-Za-z0-9])${escapeRe(word)}(?![A-Za-z0-9])`, 'g');

/**
 * The env file of a node that has none (or one written for another node): a member's own file with the
 * node's identity put in: name, data dir, its URLs where the member's address stood, its certificate
 * files where the member's host name stood, the membership, state existing. Every other line is kept.
 */
export function envForNewNode(template: { spec: NodeSpec; text: string }, node: NodeSpec, initialCluster: string): { text: string; warnings: string[] } {
  const t = template.spec;
  const v = vars(parseEnvFile(template.text));
  const warnings: string[] = [];
  const changes: Record<string, string> = {
    ETCD_NAME: node.name,
    ETCD_DATA_DIR: node.etcd.dataDir,
    ETCD_INITIAL_CLUSTER: initialCluster,
    ETCD_INITIAL_CLUSTER_STATE: 'existing',
  };
  const from = `//${urlHost(t.address)}:`;
  const to = `//${urlHost(node.address)}:`;
  for (const k of URL_VARS) {
    const val = v[k];
    if (val !== undefined) changes[k] = val.split(from).join(to);
  }
  changes['ETCD_INITIAL_ADVERTISE_PEER_URLS'] = peerUrl(node);
  changes['ETCD_ADVERTISE_CLIENT_URLS'] = clientUrl(node);
  if (v['ETCD_LISTEN_PEER_URLS'] === undefined) changes['ETCD_LISTEN_PEER_URLS'] = peerUrl(node);
  if (v['ETCD_LISTEN_CLIENT_URLS'] === undefined) changes['ETCD_LISTEN_CLIENT_URLS'] = clientUrl(node);
  for (const k of CERT_VARS) {
    const val = v[k];
    if (val === undefined) continue;
    if (wordRe(t.host).test(val)) changes[k] = val.replace(wordRe(t.host), node.host);
    else warnings.push(`${node.name}: ${k}=${val} (from ${t.name}'s env file) does not name host ${t.host}: kept as is; ${node.name} needs that file`);
  }
  const { text } = editEnvText(template.text, changes);
  // anything else that still names the template member would make the new member pose as it
  for (const [k, val] of Object.entries(vars(parseEnvFile(text)))) {
    if (k === 'ETCD_INITIAL_CLUSTER' || changes[k] !== undefined) continue;
    if (val.includes(t.address) || wordRe(t.host).test(val) || val === t.name) {
      warnings.push(`${node.name}: ${k}=${val} (from ${t.name}'s env file) names ${t.name}; check it before applying`);
    }
  }
  return { text, warnings };
}
