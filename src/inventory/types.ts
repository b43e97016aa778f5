/** The validated, normalised inventory: every default applied, every path absolute, `{host}` expanded. */
import type { NodeHooks } from './hooks.js';

export interface SshSettings {
  /**
   * where SSH connects: `HostName` from ~/.ssh/config when one applies to the node's address, else the
   * address itself. etcd URLs always use the node's `address`, never this.
   */
  sshHost: string;
  user: string;
  port: number;
  /** absolute path; undefined when only ssh-agent (SSH_AUTH_SOCK) is used */
  identityFile?: string;
  /** more keys tried after `identityFile`, in order (the rest of ssh's IdentityFile list) */
  identityFiles?: string[];
  /** absolute path; host keys are checked against it, and new ones recorded in it */
  knownHostsFile: string;
  /** more known_hosts files checked after `knownHostsFile` (ssh's other UserKnownHostsFile and GlobalKnownHostsFile) */
  knownHostsFiles?: string[];
  /** the name host keys are looked up under instead of the host (ssh's HostKeyAlias) */
  hostKeyAlias?: string;
  /** the last hop in front of the node (ssh's ProxyJump; a chain nests through `jumpHost.jumpHost`) */
  jumpHost?: JumpHost;
  /** a command whose stdin/stdout is the connection (ssh's ProxyCommand, tokens expanded); never with jumpHost */
  proxyCommand?: string;
  /** the name the settings were resolved for with `ssh -G` (absent: the inventory's settings alone) */
  sshName?: string;
  /** run every remote command through `sudo -n` */
  become: boolean;
  /** seconds */
  connectTimeout: number;
  /** seconds, default for one remote command */
  commandTimeout: number;
}

/** A jump host in front of the node (one hop of OpenSSH's ProxyJump), reached itself directly, through its own jump host, or through a ProxyCommand. */
export interface JumpHost {
  user: string;
  /** connect target (already through ~/.ssh/config `HostName`) */
  host: string;
  port: number;
  /** absolute path; undefined when only ssh-agent is used */
  identityFile?: string;
  /** more keys tried after `identityFile` */
  identityFiles?: string[];
  /** the hop's known_hosts files (default: the node's) */
  knownHostsFiles?: string[];
  hostKeyAlias?: string;
  /** the hop in front of this one */
  jumpHost?: JumpHost;
  proxyCommand?: string;
  /** the name as written in ProxyJump, before ssh's config resolved it */
  name?: string;
}

export interface EtcdSettings {
  envFile: string;
  dataDir: string;
  service: string;
  caCert: string;
  clientCert: string;
  clientKey: string;
  scheme: 'https' | 'http';
  clientPort: number;
  peerPort: number;
}

export interface NodeSpec {
  /** etcd member name (ETCD_NAME) */
  name: string;
  /** host name, used in certificate file names */
  host: string;
  /** the address in peer/client URLs (IPv4, IPv6 without brackets, or a DNS name), and the SSH target unless ~/.ssh/config gives a HostName */
  address: string;
  /** effective SSH settings: the node's own `ssh:`, else the inventory's `ssh:`, else ~/.ssh/config, else built-in defaults */
  ssh: SshSettings;
  /** effective etcd settings with `{host}` expanded */
  etcd: EtcdSettings;
  /** the operator's commands around a recovery (the node's own `hooks:`, else the inventory's); absent: none */
  hooks?: NodeHooks;
}

export interface Inventory {
  /** absolute path of the file it was read from */
  file: string;
  cluster: { name: string; disposable: boolean };
  nodes: NodeSpec[];
  /** what the user should know about how the inventory was read (e.g. no ssh program: ~/.ssh/config unused) */
  notes?: string[];
}

/** The address as it goes into a URL: IPv6 literals need brackets there. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}

export function peerUrl(n: NodeSpec): string {
  return `${n.etcd.scheme}://${urlHost(n.address)}:${n.etcd.peerPort}`;
}

export function clientUrl(n: NodeSpec): string {
  return `${n.etcd.scheme}://${urlHost(n.address)}:${n.etcd.clientPort}`;
}
