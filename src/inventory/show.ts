/**
 * What etcd-dr will use to reach each node, as `etcd-dr inventory show` prints it: the target host
 * name, port, user, keys, known_hosts files and the route (jump hosts outermost first, or a ProxyCommand).
 */
import type { Inventory, JumpHost, NodeSpec } from './types.js';

export interface RouteStep {
  /** a jump host */
  host?: string;
  port?: number;
  user?: string;
  /** the name as written in ProxyJump */
  name?: string;
  identityFiles?: string[];
  knownHostsFiles?: string[];
  hostKeyAlias?: string;
  /** the first step when the route starts with a ProxyCommand (tokens expanded) */
  proxyCommand?: string;
}

export interface ShownNode {
  name: string;
  address: string;
  /** the name given to `ssh -G` (absent: ssh's config was not asked) */
  sshName?: string;
  host: string;
  port: number;
  user: string;
  identityFiles: string[];
  knownHostsFiles: string[];
  hostKeyAlias?: string;
  become: boolean;
  /** the hops in front of the node, outermost first; empty when it is reached directly */
  route: RouteStep[];
}

export interface ShownInventory {
  file: string;
  cluster: string;
  nodes: ShownNode[];
  notes: string[];
}

const keys = (first: string | undefined, more: string[] | undefined): string[] => [...(first !== undefined ? [first] : []), ...(more ?? [])];

/** The hops in front of an endpoint, outermost first; a ProxyCommand is the first step of the route it starts. */
function route(jump: JumpHost | undefined, proxyCommand: string | undefined): RouteStep[] {
  if (!jump) return proxyCommand !== undefined ? [{ proxyCommand }] : [];
  const step: RouteStep = {
    host: jump.host,
    port: jump.port,
    user: jump.user,
    ...(jump.name !== undefined ? { name: jump.name } : {}),
    identityFiles: keys(jump.identityFile, jump.identityFiles),
    ...(jump.knownHostsFiles ? { knownHostsFiles: jump.knownHostsFiles } : {}),
    ...(jump.hostKeyAlias !== undefined ? { hostKeyAlias: jump.hostKeyAlias } : {}),
  };
  return [...route(jump.jumpHost, jump.proxyCommand), step];
}

export function showNode(n: NodeSpec): ShownNode {
  const s = n.ssh;
  return {
    name: n.name,
    address: n.address,
    ...(s.sshName !== undefined ? { sshName: s.sshName } : {}),
    host: s.sshHost,
    port: s.port,
    user: s.user,
    identityFiles: keys(s.identityFile, s.identityFiles),
    knownHostsFiles: [s.knownHostsFile, ...(s.knownHostsFiles ?? [])],
    ...(s.hostKeyAlias !== undefined ? { hostKeyAlias: s.hostKeyAlias } : {}),
    become: s.become,
    route: route(s.jumpHost, s.proxyCommand),
  };
}

export function showInventory(inv: Inventory): ShownInventory {
  return { file: inv.file, cluster: inv.cluster.name, nodes: inv.nodes.map(showNode), notes: inv.notes ?? [] };
}

const endpoint = (user: string | undefined, host: string | undefined, port: number | undefined): string =>
  `${user}@${host?.includes(':') ? `[${host}]` : host}:${port}`;

export function renderRoute(steps: RouteStep[]): string {
  if (steps.length === 0) return 'direct';
  return steps.map((s) => (s.proxyCommand !== undefined ? `ProxyCommand ${s.proxyCommand}` : endpoint(s.user, s.host, s.port))).join(' > ');
}

/** The text form: one block per node. */
export function renderShown(shown: ShownInventory): string {
  const out: string[] = [`inventory ${shown.file} (cluster ${shown.cluster})`];
  for (const n of shown.nodes) {
    out.push('', `${n.name} (${n.address})${n.sshName !== undefined ? `: ssh -G ${n.sshName}` : ''}`);
    out.push(`  target      ${endpoint(n.user, n.host, n.port)}${n.become ? ' (commands through sudo -n)' : ''}`);
    out.push(`  keys        ${n.identityFiles.length > 0 ? n.identityFiles.join(', ') : 'none named (ssh-agent)'}`);
    out.push(`  known_hosts ${n.knownHostsFiles.join(', ')}${n.hostKeyAlias !== undefined ? ` (as ${n.hostKeyAlias})` : ''}`);
    out.push(`  route       ${renderRoute(n.route)}`);
  }
  for (const note of shown.notes) out.push('', `note: ${note}`);
  return `${out.join('\n')}\n`;
}
