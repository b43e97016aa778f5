/** `<lab dir>/lab.json` (what the lab is and which nodes are powered on) and the lab's lock. */
import {
  closeSync, existsSync, openSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { ExitError, EXIT } from '../util/errors.js';
import { labPaths } from './paths.js';
import { isAlive, sleep } from './procs.js';
import { EVENTS_CLUSTER, PLAIN_FEATURES, type LabFeatures, type LabProfileName } from './profile.js';
import type { DataDirMount, LabEtcdVersion, LabState } from './types.js';

export const LAB_FILE_FORMAT = 1;

export interface LabFileNode {
  name: string;
  host: string;
  address: string;
  poweredOn: boolean;
  /** host pid of the node's sshd (PID 1 of the node's PID namespace) */
  sshdPid: number | null;
  /** host pid of the `unshare` that holds the node's namespaces and waits for its sshd */
  unsharePid: number | null;
  /** inode of the node's mount namespace */
  mntNs: string | null;
  bootedAt: string | null;
}

export interface LabFile {
  format: number;
  etcd: LabEtcdVersion;
  nodeCount: number;
  /** the first `members` nodes formed the cluster; absent: all of them */
  members?: number;
  addressBase: string;
  clusterName: string;
  bootstrapped: boolean;
  /** every node's data dir is the root of its own file system (see datadir-mount.ts) */
  dataDirMount?: DataDirMount;
  createdAt: string;
  nodes: LabFileNode[];
  /** the profile it was made with, and its features (absent: a plain lab) */
  profile?: LabProfileName;
  features?: LabFeatures;
}

export function readLabFile(dir: string): LabFile | undefined {
  const file = labPaths(dir).stateFile;
  if (!existsSync(file)) return undefined;
  let parsed: LabFile;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as LabFile;
  } catch (e) {
    throw new ExitError(`${file} is not valid JSON (${(e as Error).message})`, EXIT.badInput, `start over with: etcd-dr lab down --purge --dir ${dir}`);
  }
  if (parsed.format !== LAB_FILE_FORMAT || !Array.isArray(parsed.nodes)) {
    throw new ExitError(`${file} has format ${String(parsed.format)}; this etcd-dr reads format ${LAB_FILE_FORMAT}`, EXIT.badInput, `start over with: etcd-dr lab down --purge --dir ${dir}`);
  }
  return parsed;
}

/** Written to a temp file and renamed, so a reader never sees half a file. */
export function writeLabFile(dir: string, f: LabFile): void {
  const file = labPaths(dir).stateFile;
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(f, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, file);
}

export function toLabState(dir: string, f: LabFile): LabState {
  const p = labPaths(dir);
  return {
    dir,
    version: f.etcd,
    clusterName: f.clusterName,
    addressBase: f.addressBase,
    nodes: f.nodes.map((n) => ({ name: n.name, host: n.host, address: n.address, sshdPid: n.poweredOn ? n.sshdPid : null, poweredOn: n.poweredOn })),
    inventoryPath: p.inventory,
    identityFile: p.identityFile,
    knownHostsFile: p.knownHosts,
    bootstrapped: f.bootstrapped,
    profile: f.profile ?? 'plain',
    features: f.features ?? PLAIN_FEATURES,
    ...(f.features?.eventsCluster ? { eventsInventoryPath: join(dir, EVENTS_CLUSTER.inventoryFile) } : {}),
  };
}

/**
 * Only one lab command at a time per lab dir: a lock file holding the owner's pid. A lock whose
 * owner is gone is taken over; a live owner is waited for (up to `waitMs`).
 */
export async function withLabLock<T>(dir: string, fn: () => Promise<T>, waitMs = 120_000): Promise<T> {
  // calls within this process queue up here first, so the lock file only arbitrates between processes
  const before = inProcess.get(dir) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = before.then(() => mine);
  inProcess.set(dir, chained);
  await before;
  try {
    return await withFileLock(dir, fn, waitMs);
  } finally {
    release();
    if (inProcess.get(dir) === chained) inProcess.delete(dir);
  }
}

const inProcess = new Map<string, Promise<void>>();

async function withFileLock<T>(dir: string, fn: () => Promise<T>, waitMs: number): Promise<T> {
  const lock = labPaths(dir).lockFile;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      let owner = NaN;
      try {
        owner = Number(readFileSync(lock, 'utf8').trim());
      } catch {
        continue; // removed meanwhile: try again
      }
      if (!Number.isInteger(owner) || owner === process.pid || !isAlive(owner)) {
        try {
          unlinkSync(lock);
        } catch {
          // someone else took it over first
        }
        continue;
      }
      if (Date.now() > deadline) {
        throw new ExitError(`another etcd-dr lab command (pid ${owner}) is working on the lab in ${dir}`, EXIT.refused, 'wait for it to finish, or stop it');
      }
      await sleep(100);
    }
  }
  try {
    return await fn();
  } finally {
    try {
      unlinkSync(lock);
    } catch {
      // the lab dir was purged
    }
  }
}
