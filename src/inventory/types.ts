/** The validated, normalised inventory: every default applied, every path absolute, `{host}` expanded. */

export interface SshSettings {
  user: string;
  port: number;
  /** absolute path; undefined when only ssh-agent (SSH_AUTH_SOCK) is used */
  identityFile?: string;
  /** absolute path */
  knownHostsFile: string;
  jumpHost?: JumpHost;
  /** run every remote command through `sudo -n` */
  become: boolean;
  /** seconds */
  connectTimeout: number;
  /** seconds, default for one remote command */
  commandTimeout: number;
}

export interface JumpHost {
  user: string;
  host: string;
  port: number;
  identityFile?: string;
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
  /** SSH target and the address in peer/client URLs */
  address: string;
  /** effective SSH settings (inventory defaults, then the node's own `ssh:` overrides, then ~/.ssh/config) */
  ssh: SshSettings;
  /** effective etcd settings with `{host}` expanded */
  etcd: EtcdSettings;
}

export interface Inventory {
  /** absolute path of the file it was read from */
  file: string;
  cluster: { name: string; disposable: boolean };
  nodes: NodeSpec[];
}

export function peerUrl(n: NodeSpec): string {
  return `${n.etcd.scheme}://${n.address}:${n.etcd.peerPort}`;
}

export function clientUrl(n: NodeSpec): string {
  return `${n.etcd.scheme}://${n.address}:${n.etcd.clientPort}`;
}
