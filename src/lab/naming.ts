/** Pure rules of the lab: node names and addresses, what a lab dir may be, which node a user means. */
import { posix } from 'node:path';
import type { InputProblem } from '../util/errors.js';
import type { LabEtcdVersion } from './types.js';

export const LAB_CLUSTER_NAME = 'k2';
export const DEFAULT_NODE_COUNT = 3;
export const MAX_NODES = 7;
export const DEFAULT_ADDRESS_BASE = '127.0.10.';
export const DEFAULT_ETCD_VERSION: LabEtcdVersion = '3.4';
export const LAB_ETCD_VERSIONS: readonly LabEtcdVersion[] = ['3.4', '3.5'];

export interface NodeIdentity {
  name: string;
  host: string;
  address: string;
}

/** Node i (1-based) is member `etcd<i>` on host `k2-master0<i>` at `<base><i>`. */
export function deriveNodes(count: number, addressBase: string): NodeIdentity[] {
  return Array.from({ length: count }, (_, k) => {
    const i = k + 1;
    return { name: `etcd${i}`, host: `${LAB_CLUSTER_NAME}-master${String(i).padStart(2, '0')}`, address: `${addressBase}${i}` };
  });
}

export function nodeCountProblem(count: unknown): InputProblem | undefined {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_NODES) {
    return { field: '--nodes', message: `must be a whole number from 1 to ${MAX_NODES}, got ${String(count)}` };
  }
  return undefined;
}

export function memberCountProblem(members: unknown, nodes: number): InputProblem | undefined {
  if (typeof members !== 'number' || !Number.isInteger(members) || members < 1 || members > nodes) {
    return { field: '--members', message: `must be a whole number from 1 to the number of nodes (${nodes}), got ${String(members)}` };
  }
  return undefined;
}

export function etcdVersionProblem(v: unknown): InputProblem | undefined {
  if (!LAB_ETCD_VERSIONS.includes(v as LabEtcdVersion)) {
    return { field: '--etcd', message: `must be one of ${LAB_ETCD_VERSIONS.join(', ')}, got ${String(v)}` };
  }
  return undefined;
}

/**
 * The base must be `127.x.y.` so every node address stays on loopback; 127.0.0.x is refused because
 * 127.0.0.1 is the host's own address (its sshd, a host etcd) and would collide with node 1.
 */
export function addressBaseProblem(base: unknown, count: number): InputProblem | undefined {
  const field = '--address-base';
  if (typeof base !== 'string') return { field, message: 'must be a string such as 127.0.10.' };
  const m = /^127\.(\d{1,3})\.(\d{1,3})\.$/.exec(base);
  if (!m) return { field, message: `must look like 127.X.Y. (three octets and a trailing dot, on loopback), got "${base}"` };
  const [x, y] = [Number(m[1]), Number(m[2])];
  if (x > 255 || y > 255) return { field, message: `octets must be 0–255, got "${base}"` };
  if (x === 0 && y === 0) return { field, message: '127.0.0.x is the host\'s own loopback (127.0.0.1); choose another, e.g. 127.0.10.' };
  if (count > 254) return { field, message: 'too many nodes for one base' };
  return undefined;
}

// Paths end up in overlay mount options (`,` and `:` separate options and layers) and in
// sshd_config lines, so only plain characters are allowed.
const SAFE_PATH = /^\/[A-Za-z0-9._/+@-]*$/;
// These are replaced inside every node (overlays, tmpfs, proc), so a lab dir there would be hidden
// or turned into an overlay of itself.
const FORBIDDEN_ROOTS = ['/etc', '/var/lib', '/var/log', '/run', '/var/run', '/proc', '/sys', '/dev', '/usr/local/bin', '/usr/bin'];

/** Problems with an (absolute, normalised) lab dir path. */
export function labDirProblem(dir: string): InputProblem | undefined {
  const field = '--dir';
  if (!posix.isAbsolute(dir)) return { field, message: `must be an absolute path, got "${dir}"` };
  if (posix.normalize(dir) !== dir || dir === '/') return { field, message: `must be a normalised path below /, got "${dir}"` };
  if (!SAFE_PATH.test(dir)) {
    return { field, message: `"${dir}" has characters the lab cannot use in mount options; use only letters, digits and . _ / + @ -` };
  }
  for (const root of FORBIDDEN_ROOTS) {
    if (dir === root || dir.startsWith(`${root}/`)) {
      return { field, message: `"${dir}" is under ${root}, which every lab node replaces with its own; choose a dir elsewhere (e.g. ./.etcd-dr/lab)` };
    }
  }
  return undefined;
}

/** The node a user means by a member name, host name or address; undefined if none. */
export function resolveNodeRef<T extends NodeIdentity>(nodes: readonly T[], ref: string): T | undefined {
  const r = ref.trim();
  return nodes.find((n) => n.name === r || n.host === r || n.address === r);
}

/** `etcd1=https://127.0.10.1:2380,etcd2=…` */
export function initialCluster(nodes: readonly NodeIdentity[], peerPort = 2380): string {
  return nodes.map((n) => `${n.name}=https://${n.address}:${peerPort}`).join(',');
}
