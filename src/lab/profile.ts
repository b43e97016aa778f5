/**
 * Lab profiles: a profile is a named set of lab options (features), so a lab can model a real master
 * more closely without every caller naming each option. `kubespray` gives each node what a kubespray
 * control-plane master has today: the events cluster beside the main one, env files as kubespray's
 * template writes them, and a non-root login that becomes root with sudo.
 */
import type { InputProblem } from '../util/errors.js';
import type { DataDirMount } from './datadir-mount.js';

export type LabProfileName = 'plain' | 'kubespray';

export const LAB_PROFILE_NAMES: readonly LabProfileName[] = ['plain', 'kubespray'];

/** What a lab node has besides the plain lab's single etcd. New options go here, and into the profiles that use them. */
export interface LabFeatures {
  /** kubespray's second cluster (`etcd_events_cluster_enabled`): unit etcd-events on every member node */
  eventsCluster: boolean;
  /** the lines kubespray's etcd.env.j2 writes today besides the seed's (quota, request size, log level, WAL/snapshot retention, metrics, corrupt check, CLI block) */
  kubesprayEnv: boolean;
  /** the inventories log in as `ops` and become root with passwordless sudo (`become: true`) */
  opsLogin: boolean;
}

export const PLAIN_FEATURES: LabFeatures = { eventsCluster: false, kubesprayEnv: false, opsLogin: false };

export const LAB_PROFILES: Record<LabProfileName, LabFeatures> = {
  plain: PLAIN_FEATURES,
  kubespray: { eventsCluster: true, kubesprayEnv: true, opsLogin: true },
};

/**
 * The data-dir volume a profile gives every node (`lab up --data-dir-mount` overrides it): a kubespray
 * master often has a dedicated disk mounted at /var/lib/etcd. 1 GiB (sparse) leaves room for the data
 * that several runs set aside inside it.
 */
export const PROFILE_DATA_DIR_MOUNT: Partial<Record<LabProfileName, DataDirMount>> = { kubespray: { fs: 'ext4', sizeMiB: 1024 } };

export function profileProblem(p: string): InputProblem | undefined {
  if ((LAB_PROFILE_NAMES as readonly string[]).includes(p)) return undefined;
  return { field: '--profile', message: `unknown lab profile "${p}"; choose one of: ${LAB_PROFILE_NAMES.join(', ')}` };
}

/** The features of a lab: its profile's, with any option given on its own on top. */
export function labFeatures(profile: LabProfileName | undefined, overrides: Partial<LabFeatures> = {}): LabFeatures {
  return { ...LAB_PROFILES[profile ?? 'plain'], ...overrides };
}

/** One etcd cluster of the lab's nodes: its unit, files, ports and names. */
export interface LabCluster {
  key: 'main' | 'events';
  service: string;
  envFile: string;
  dataDir: string;
  clientPort: number;
  peerPort: number;
  token: string;
  /** appended to the node's member name: kubespray names the events members `<name>-events` */
  nameSuffix: string;
  /** file name of its inventory in the lab dir */
  inventoryFile: string;
  /** ETCD_LISTEN_METRICS_URLS' port with kubespray's env lines; none for the events cluster (kubespray's events template has none) */
  metricsPort?: number;
}

export const MAIN_CLUSTER: LabCluster = {
  key: 'main',
  service: 'etcd',
  envFile: '/etc/etcd.env',
  dataDir: '/var/lib/etcd',
  clientPort: 2379,
  peerPort: 2380,
  token: 'k8s_etcd',
  nameSuffix: '',
  inventoryFile: 'inventory.yaml',
  metricsPort: 2378,
};

/** kubespray's events cluster: the same binary and member certificates, its own unit, env file, data dir and ports. */
export const EVENTS_CLUSTER: LabCluster = {
  key: 'events',
  service: 'etcd-events',
  envFile: '/etc/etcd-events.env',
  dataDir: '/var/lib/etcd-events',
  clientPort: 2381,
  peerPort: 2382,
  token: 'k8s_events_etcd',
  nameSuffix: '-events',
  inventoryFile: 'inventory.events.yaml',
};

/** The clusters a lab with these features runs on its member nodes, the main one first. */
export function labClusters(f: Pick<LabFeatures, 'eventsCluster'>): LabCluster[] {
  return f.eventsCluster ? [MAIN_CLUSTER, EVENTS_CLUSTER] : [MAIN_CLUSTER];
}
