/**
 * Where a plan sets a data dir aside and writes the new one, from what the probe saw of its file system.
 * Pure. Two layouts, both named with the run id (`etcd-dr-<run id>`), both keeping the old data whole:
 *
 * - `beside`: the data dir is an ordinary dir; it is renamed to `<dataDir>.etcd-dr-<run id>` and the new
 *   one is written beside it, on the parent's file system.
 * - `inside`: the data dir is the root of a file system of its own (a dedicated volume). A mount point
 *   cannot be renamed (EBUSY) and a move to another file system is a copy, so its `member/` dir (all etcd
 *   keeps there) moves to `<dataDir>/etcd-dr-<run id>/member`, a whole data dir again, on the same file
 *   system; a restore writes `<dataDir>/etcd-dr-<run id>-restoring` and renames its `member/` into place.
 *   The room a new data dir needs is then measured on that volume, next to the data set aside.
 *
 * What etcd-dr cannot handle is refused here, when the plan is made, before anything is stopped.
 */
import { posix } from 'node:path';
import { parseEnvFile, vars } from '../etcd/envfile.js';
import type { NodeFacts } from '../facts/types.js';
import type { NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { WAL_MIB } from './scripts.js';
import type { DataDirLayout, DataDirRow } from './types.js';

export type { DataDirLayout, DataDirRow };

export function layoutOf(f: NodeFacts | undefined): DataDirLayout {
  return f?.dataDir?.mountPoint ? 'inside' : 'beside';
}

/** `<dataDir>.<name>` beside it, or `<dataDir>/<name>` inside a mount point; `name` is `etcd-dr-<run id>…`. */
export function setAsidePath(dataDir: string, layout: DataDirLayout, name: string): string {
  return layout === 'inside' ? `${dataDir}/${name}` : `${dataDir}.${name}`;
}

export function dataDirRow(spec: NodeSpec, f: NodeFacts | undefined, runId: string): DataDirRow {
  const layout = layoutOf(f);
  return {
    node: spec.name,
    path: spec.etcd.dataDir,
    layout,
    ...(f?.dataDir?.fsType ? { fsType: f.dataDir.fsType } : {}),
    ...(f?.dataDir?.freeBytes !== undefined ? { freeBytes: f.dataDir.freeBytes } : {}),
    setAside: setAsidePath(spec.etcd.dataDir, layout, `etcd-dr-${runId}`),
  };
}

/**
 * A WAL dir apart from the data dir (ETCD_WAL_DIR) is refused for a member whose data dir a plan sets
 * aside or writes: etcd-dr neither sets that WAL aside nor restores into it, and etcd started with the
 * old WAL beside a new data dir would come back as the old member.
 */
export function refuseWalDir(spec: NodeSpec, f: NodeFacts | undefined): void {
  const text = f?.env?.text;
  if (text === undefined) return;
  let wal: string | undefined;
  try {
    wal = vars(parseEnvFile(text))['ETCD_WAL_DIR'];
  } catch {
    return; // an unparsable env file is refused where the env file is read
  }
  if (!wal || posix.normalize(wal).replace(/\/$/, '') === `${spec.etcd.dataDir}/member/wal`) return;
  const fs = f?.dataDir?.walDir;
  const where = fs?.mountPoint ? ` (a file system of its own${fs.fsType ? `, ${fs.fsType}` : ''})` : '';
  throw new RefusedError(
    `${spec.name}: ${spec.etcd.envFile} sets ETCD_WAL_DIR=${wal}${where}, a WAL dir apart from the data dir ${spec.etcd.dataDir}: etcd-dr does not set such a WAL aside or restore into it, and etcd started with the old WAL beside new data would come back as the old member`,
    `with etcd stopped on ${spec.name}, move the WAL into ${spec.etcd.dataDir}/member/wal and remove the ETCD_WAL_DIR line, then plan again; or handle ${spec.name} by hand`,
  );
}

const mib = (b: number) => Math.floor(b / 1048576);

/**
 * A warning when `m`'s data dir parent has less room than a new data dir for a db of `dbBytes` needs
 * (the db and a preallocated WAL), or undefined. Unknown free space warns nothing: the step itself says.
 */
export function roomWarning(m: NodeSpec, freeBytes: number | undefined, dbBytes: number, what: string): string | undefined {
  if (freeBytes === undefined) return undefined;
  const need = dbBytes + WAL_MIB * 1048576;
  if (freeBytes >= need) return undefined;
  return `${m.name}: ${posix.dirname(m.etcd.dataDir)} has ${mib(freeBytes)} MiB free and ${what} needs about ${Math.ceil(need / 1048576)} MiB (the db and a 64 MB WAL): make room there first, or that step fails (nothing is lost; \`etcd-dr resume\` goes on once there is room)`;
}

/**
 * The room check for a new data dir on `m` (a restore, a join's copy from the leader). Beside an ordinary
 * data dir it is a warning (roomWarning). In a data dir that is a mount point the new data is written on
 * that volume next to the data set aside, and a volume cannot be made room on by cleaning elsewhere:
 * too little room is refused, before anything is stopped. etcd preallocates its WAL segment and the next
 * one (2 × 64 MB) as soon as it runs, so both are counted.
 */
export function roomCheck(m: NodeSpec, f: NodeFacts | undefined, dbBytes: number, what: string): string | undefined {
  const free = f?.dataDir?.freeBytes;
  if (layoutOf(f) === 'beside') return roomWarning(m, free, dbBytes, what);
  if (free === undefined) return undefined;
  const need = dbBytes + 2 * WAL_MIB * 1048576;
  if (free >= need) return undefined;
  throw new RefusedError(
    `${m.name}: ${m.etcd.dataDir} is a file system of its own${f?.dataDir?.fsType ? ` (${f.dataDir.fsType})` : ''} with ${mib(free)} MiB free, and ${what} needs about ${Math.ceil(need / 1048576)} MiB there beside the data set aside (the db and etcd's two preallocated 64 MB WAL files); nothing was changed`,
    `grow that volume, or make room on it (at least ${Math.ceil((need - free) / 1048576)} MiB more), then plan again`,
  );
}

export const DATA_DIR_LAYOUTS =
  'beside: the data dir is renamed beside it; inside: a mount point cannot be renamed, so its member/ is set aside inside it and new data is renamed into place on the same volume';

/** The plan's table of data dirs: header and rows, for the text and markdown renderers. */
export const DATA_DIR_HEADERS = ['member', 'data dir', 'file system', 'layout', 'old data set aside as'];

export function dataDirCells(r: DataDirRow): string[] {
  const fs = [r.fsType, r.freeBytes !== undefined ? `${mib(r.freeBytes)} MiB free` : undefined].filter(Boolean).join(', ');
  return [
    r.node,
    r.path,
    fs || 'unknown',
    r.layout === 'inside' ? 'inside: its own mount point' : 'beside',
    r.layout === 'inside' ? `${r.setAside}/member` : r.setAside,
  ];
}
