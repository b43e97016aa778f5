/**
 * A lab node's data dir on a file system of its own, as on a master whose /var/lib/etcd is a dedicated
 * volume (etcd's hardware guide recommends one). Each node gets an ext4 image in its folder
 * (`<lab dir>/nodes/<host>/datadir.img`, sparse), which its boot script loop-mounts over /var/lib/etcd
 * inside the node's mount namespace only. The image is the node's disk: it survives power-off and
 * power-on like the rest of the node's folder, and `rename(2)` of /var/lib/etcd fails with EBUSY, as on
 * a real host. (A tmpfs would not survive a power cut, so it is not offered.)
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { ApplyError, type InputProblem } from '../util/errors.js';
import { describeFailure, runFile } from './run.js';

export type DataDirFs = 'ext4';
export const DATA_DIR_FS: readonly DataDirFs[] = ['ext4'];

export interface DataDirMount {
  fs: DataDirFs;
  /** size of the file system in MiB */
  sizeMiB: number;
}

export const DEFAULT_DATA_DIR_MIB = 256;
/** below this, ext4's own metadata and one 64 MB WAL file leave no room for a db */
export const MIN_DATA_DIR_MIB = 96;

/** The image a node's boot script mounts over its data dir, when the lab has one. */
export function dataDirImage(nodeDir: string): string {
  return join(nodeDir, 'datadir.img');
}

export function dataDirMountProblem(m: DataDirMount | undefined): InputProblem | undefined {
  if (!m) return undefined;
  if (!DATA_DIR_FS.includes(m.fs)) return { field: '--data-dir-mount', message: `"${String(m.fs)}" is not a file system the lab offers; use one of: ${DATA_DIR_FS.join(', ')}` };
  if (!Number.isInteger(m.sizeMiB) || m.sizeMiB < MIN_DATA_DIR_MIB || m.sizeMiB > 65536) {
    return { field: '--data-dir-size', message: `the data dir's file system is a whole number of MiB from ${MIN_DATA_DIR_MIB} to 65536, got ${m.sizeMiB}` };
  }
  return undefined;
}

export function sameDataDirMount(a: DataDirMount | undefined, b: DataDirMount | undefined): boolean {
  return (a?.fs ?? null) === (b?.fs ?? null) && (a?.sizeMiB ?? null) === (b?.sizeMiB ?? null);
}

export function describeDataDirMount(m: DataDirMount): string {
  return `a ${m.sizeMiB} MiB ${m.fs} file system`;
}

/**
 * Loop devices for the lab's volumes. A machine without udev (a container, a CI runner) often has only
 * /dev/loop0-7: the kernel makes more on demand, but nobody creates their /dev nodes, so a ninth volume
 * (two labs at once, or a 7-node lab beside a 3-node one) fails to mount. Make the nodes up to 63.
 */
export const LOOP_DEVICES = 64;
export async function ensureLoopDevices(count = LOOP_DEVICES): Promise<void> {
  for (let i = 0; i < count; i++) {
    const dev = `/dev/loop${i}`;
    if (existsSync(dev)) continue;
    const r = await runFile('mknod', ['-m', '0660', dev, 'b', '7', String(i)], { timeout: 10 });
    // another lab made it meanwhile: fine; anything else leaves the default set, which mount reports
    if (r.code !== 0 && !existsSync(dev)) return;
  }
}

/** Create the node's image once (a sparse file, then mkfs); an existing image is the node's disk and is kept. */
export async function ensureDataDirImage(nodeDir: string, m: DataDirMount): Promise<void> {
  const img = dataDirImage(nodeDir);
  if (existsSync(img)) return;
  const tmp = `${img}.new`;
  const t = await runFile('truncate', ['-s', `${m.sizeMiB}M`, tmp], { timeout: 30 });
  if (t.code !== 0) throw new ApplyError(`could not create ${tmp}: ${describeFailure(t)}`);
  // no reserved blocks: the room a plan measures is the room etcd gets
  const r = await runFile('mkfs.ext4', ['-q', '-F', '-m', '0', '-L', 'etcd-data', tmp], { timeout: 120 });
  if (r.code !== 0) throw new ApplyError(`could not make an ext4 file system in ${tmp}: ${describeFailure(r)}`, 'install e2fsprogs (mkfs.ext4)');
  renameSync(tmp, img);
}
