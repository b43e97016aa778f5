/**
 * A small disk inside one lab node: a tmpfs of a chosen size mounted over a path of the node (in its
 * own mount namespace only), so what etcd-dr does when a node's filesystem fills up can be tried on the
 * lab. A node's /var/lib normally sits on the host's disk; with a small tmpfs over it, the restore's
 * scratch dir beside the data dir runs out of space as on a host whose /var is full. The mount lasts
 * until the node powers off; the node's own disk underneath is not touched.
 */
import { ApplyError } from '../util/errors.js';
import { labExec } from './exec.js';
import type { LabTarget } from './target.js';

export interface NodeDiskUsage {
  path: string;
  sizeKiB: number;
  usedKiB: number;
  freeKiB: number;
}

// df -Pk: "Filesystem 1024-blocks Used Available Capacity Mounted-on"
const DF = 'df -Pk "$path" | awk \'NR == 2 { print $2, $3, $4 }\'';

function usage(path: string, out: string): NodeDiskUsage {
  const [size, used, free] = out.trim().split('\n').pop()!.trim().split(/\s+/).map(Number);
  if (![size, used, free].every((x) => Number.isFinite(x))) throw new ApplyError(`cannot read the usage of ${path}: ${out.trim()}`);
  return { path, sizeKiB: size!, usedKiB: used!, freeKiB: free! };
}

function checkArgs(path: string, sizeKiB?: number): void {
  if (!/^\/[A-Za-z0-9._/-]*$/.test(path) || path.includes('..')) throw new ApplyError(`not a plain absolute path: ${path}`);
  if (sizeKiB !== undefined && (!Number.isInteger(sizeKiB) || sizeKiB < 64)) throw new ApplyError(`a tmpfs size is a whole number of KiB ≥ 64, got ${sizeKiB}`);
}

/**
 * Mount a tmpfs of `sizeKiB` over `path` in the node. The entries of `path` named in `carry` (those that
 * exist) are copied onto it first, with owners, modes and times, so for instance a node's data dir stays
 * where etcd and etcd-dr expect it while everything else written under `path` meets the small disk.
 * Refused when `path` already is a tmpfs; if the entries do not fit, nothing stays mounted.
 */
export async function mountNodeTmpfs(target: LabTarget, nodeRef: string, path: string, o: { sizeKiB: number; carry?: string[] }): Promise<NodeDiskUsage> {
  checkArgs(path, o.sizeKiB);
  for (const e of o.carry ?? []) if (!/^[A-Za-z0-9._-]+$/.test(e) || e === '.' || e === '..') throw new ApplyError(`carry names entries of ${path}, got "${e}"`);
  const script = [
    'set -eu',
    'path=$1; size=$2; shift 2',
    'if [ "$(findmnt -n -o FSTYPE --mountpoint "$path" 2>/dev/null | tail -n 1)" = tmpfs ]; then echo "$path is already a tmpfs" >&2; exit 3; fi',
    // the node's own dir stays reachable under a private mount point while the entries are copied
    'old=$(mktemp -d /run/etcd-dr-lab-disk.XXXXXX)',
    'mount --bind "$path" "$old"',
    'mount -t tmpfs -o "size=${size}k,mode=0755" etcd-dr-lab-disk "$path"',
    'for e in "$@"; do',
    '  [ -e "$old/$e" ] || continue',
    '  if ! cp -a "$old/$e" "$path/$e"; then umount "$path"; umount "$old"; rmdir "$old"; echo "$e does not fit in ${size} KiB" >&2; exit 1; fi',
    'done',
    'umount "$old"; rmdir "$old"',
    DF,
  ].join('\n');
  const r = await labExec(target, nodeRef, ['sh', '-c', script, 'sh', path, String(o.sizeKiB), ...(o.carry ?? [])], { timeout: 120 });
  if (r.code !== 0) throw new ApplyError(`${nodeRef}: cannot mount a ${o.sizeKiB} KiB tmpfs on ${path}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return usage(path, r.stdout);
}

/** Grow (or shrink) the tmpfs on `path` in the node to `sizeKiB`; what it holds stays. */
export async function resizeNodeTmpfs(target: LabTarget, nodeRef: string, path: string, sizeKiB: number): Promise<NodeDiskUsage> {
  checkArgs(path, sizeKiB);
  const script = [
    'set -eu',
    'path=$1; size=$2',
    'if [ "$(findmnt -n -o FSTYPE --mountpoint "$path" 2>/dev/null | tail -n 1)" != tmpfs ]; then echo "$path is not a tmpfs" >&2; exit 3; fi',
    'mount -o "remount,size=${size}k" "$path"',
    DF,
  ].join('\n');
  const r = await labExec(target, nodeRef, ['sh', '-c', script, 'sh', path, String(sizeKiB)], { timeout: 60 });
  if (r.code !== 0) throw new ApplyError(`${nodeRef}: cannot resize the tmpfs on ${path} to ${sizeKiB} KiB: ${r.stderr.trim() || `exit ${r.code}`}`);
  return usage(path, r.stdout);
}

/** Size, use and free space of the filesystem holding `path` in the node. */
export async function nodeDiskUsage(target: LabTarget, nodeRef: string, path: string): Promise<NodeDiskUsage> {
  checkArgs(path);
  const r = await labExec(target, nodeRef, ['sh', '-c', `set -eu\npath=$1\n${DF}`, 'sh', path], { timeout: 60 });
  if (r.code !== 0) throw new ApplyError(`${nodeRef}: df ${path} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  return usage(path, r.stdout);
}
