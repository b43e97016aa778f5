/** The local lab's public types: what `etcd-dr lab …` and the programmatic API take and return. */
import type { DataDirMount } from './datadir-mount.js';

export type { DataDirMount };

import type { LabFeatures, LabProfileName } from './profile.js';

/** The etcd minor versions the lab can run: Debian's 3.4 on the host, or 3.5 from etcd-dr's cache. */
export type LabEtcdVersion = '3.4' | '3.5';

/** One lab node as callers see it. */
export interface LabNodeState {
  /** etcd member name: etcd1 … etcdN */
  name: string;
  /** host name (also the node's hostname): k2-master01 … */
  host: string;
  /** its own loopback address: sshd on :22, etcd on :2379 and :2380 */
  address: string;
  /** the node's sshd (its "init") as a host pid; null when powered off */
  sshdPid: number | null;
  poweredOn: boolean;
}

export interface LabState {
  /** absolute path of the lab dir */
  dir: string;
  version: LabEtcdVersion;
  clusterName: string;
  addressBase: string;
  nodes: LabNodeState[];
  inventoryPath: string;
  identityFile: string;
  knownHostsFile: string;
  /** true once the first boot formed the cluster and the env files say ETCD_INITIAL_CLUSTER_STATE=existing */
  bootstrapped: boolean;
  /** the profile the lab was made with (`plain` unless asked) and what it gives each node */
  profile?: LabProfileName;
  features?: LabFeatures;
  /** the events cluster's inventory (the kubespray profile), beside inventoryPath */
  eventsInventoryPath?: string;
}

/** A progress line for humans (the CLI prints them to stderr). */
export type LabLog = (line: string) => void;

/** Options every lab function accepts. */
export interface LabDirOptions {
  /** the lab dir; default $ETCD_DR_LAB_DIR, else ./.etcd-dr/lab (relative to `cwd`) */
  dir?: string;
  log?: LabLog;
  /** defaults to process.env */
  env?: NodeJS.ProcessEnv;
  /** defaults to process.cwd() */
  cwd?: string;
}

export interface LabUpOptions extends LabDirOptions {
  /** 1–7; default 3 for a new lab, the existing lab's count otherwise */
  nodes?: number;
  /** default 3.4 for a new lab, the existing lab's version otherwise */
  etcd?: LabEtcdVersion;
  /**
   * how many of the nodes (the first ones) form the cluster; default all. The others are bare nodes for
   * scale-out: sshd, certificates and the etcd unit, but no /etc/etcd.env, no data, etcd not started
   */
  members?: number;
  /** e.g. `127.0.10.` (the default): node i gets `<base><i>` */
  addressBase?: string;
  /** seconds to wait for the members it starts to serve clients; default 90 */
  healthTimeout?: number;
  /** each node's data dir on a file system of its own (a loop-mounted image); only when the lab is made */
  dataDirMount?: DataDirMount;
  /** a named set of options: `kubespray` models a kubespray master (events cluster, kubespray's env lines, ops login with sudo); default plain */
  profile?: LabProfileName;
  /** single options on top of the profile's */
  features?: Partial<LabFeatures>;
}

export interface LabDownOptions extends LabDirOptions {
  /** also remove the lab dir (its node disks, keys and certificates) */
  purge?: boolean;
}

export interface LabExecOptions {
  /** seconds; default 120 */
  timeout?: number;
  /** written to the command's stdin, then closed */
  stdin?: string | Buffer;
  /** extra environment for the command (on top of a root login's PATH, HOME, USER, SHELL) */
  env?: Record<string, string>;
}

/** One row of `lab status`. */
export interface LabNodeStatus {
  name: string;
  host: string;
  address: string;
  poweredOn: boolean;
  /** sshd's host pid, null when powered off or gone */
  sshdPid: number | null;
  /** sshd accepts TCP connections on <address>:22 */
  sshdUp: boolean;
  /** `systemctl is-active etcd` inside the node: active, activating, inactive, failed, or unknown (node off) */
  etcd: string;
  /** etcd's pid as the node sees it (`systemctl show -p MainPID`), null when not running */
  etcdPid: number | null;
}

export interface LabStatus {
  dir: string;
  version: LabEtcdVersion;
  nodes: LabNodeStatus[];
}

export interface LoadOptions {
  /** number of small keys (`<prefix>lab/key-000001` …, values of ~100 bytes) */
  keys: number;
  /** number of 1 MiB values (`<prefix>lab-blobs/blob-0001` …) */
  mb?: number;
  /** default `/registry/` */
  prefix?: string;
  /** member to send the writes to (name, host or address); default the first powered-on node */
  node?: string;
  /** the cluster to write to, by its client port: 2381 is the kubespray profile's events cluster; default 2379 */
  clientPort?: number;
  log?: LabLog;
}

export interface LoadResult {
  keys: number;
  blobs: number;
  bytes: number;
  durationMs: number;
  /** the cluster's revision after the last write */
  revision: string;
  endpoint: string;
}
