/**
 * The read-only probe: one shell script per node, run over one SSH exec, that prints every fact as a
 * section line `@@etcd-dr <name> <exit code> <base64 output>`. One round trip per node keeps `status`
 * fast; base64 keeps any output (binary WAL bytes, error text) from breaking the framing.
 */
import type { NodeSpec } from '../inventory/types.js';
import { etcdctlPrefix } from '../etcd/node.js';
import { shellQuote as q } from '../util/quote.js';
import { MEMBER_PID, memberFunctions } from './member-process.js';

export const SECTION_PREFIX = '@@etcd-dr ';

export interface ProbeOptions {
  lockFile: string;
  /** seconds for each etcdctl call against a running member */
  commandTimeout: number;
}

/**
 * The file system a new data dir is written on (a restore, a join): the data dir's own when it exists,
 * else its parent's; POSIX df. Prints `<type> <free KiB>`, then `mount-point` when the data dir is the
 * root of a file system of its own (a dedicated volume: it cannot be renamed, so etcd-dr sets its
 * member/ dir aside inside it).
 */
export const DATA_DIR_FS = [
  'd=$1; [ -d "$d" ] || d=$(dirname "$d")',
  'df -PTk "$d" | awk \'NR == 2 { print $2, $5 }\'',
  'if [ -d "$1" ] && { mountpoint -q "$1" 2>/dev/null || [ "$(df -P "$1" | awk \'NR == 2 { print $6 }\')" = "$1" ]; }; then echo mount-point; fi',
].join('\n');

/** The WAL dir an env file names (its last ETCD_WAL_DIR line, quotes removed) on the first line, then DATA_DIR_FS of it. */
export const WAL_DIR_FS = [
  `w=$(sed -n 's/^[[:space:]]*ETCD_WAL_DIR=//p' "$1" | tail -n 1 | tr -d "\\"'")`,
  '[ -n "$w" ] || exit 0',
  'printf \'%s\\n\' "$w"',
  'set -- "$w"',
  DATA_DIR_FS,
].join('\n');

export function probeScript(n: NodeSpec, o: ProbeOptions): string {
  const data = q(n.etcd.dataDir);
  const ctl = etcdctlPrefix(n, undefined, o.commandTimeout * 1000);
  return [
    // no `set -e`: every section reports its own exit code
    'export LC_ALL=C PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"',
    // stdout and stderr of each section are kept apart (etcdctl logs warnings on stderr next to its JSON)
    'exec 4>&1',
    // sec returns the section's exit code, so the probe can skip what cannot answer. Empty output runs no
    // base64 and an empty stderr prints no line: most sections have no stderr, and each base64 pipeline
    // costs processes (the framing was a third of the probe's CPU)
    `sec() { name=$1; shift; err=$( { out=$("$@"; r=$?; printf x; exit $r); rc=$?; out=\${out%x}; { printf '${SECTION_PREFIX}%s %s ' "$name" "$rc"; [ -z "$out" ] || printf %s "$out" | base64 -w0; echo; } >&4; exit $rc; } 2>&1 ); rc=$?; [ -z "$err" ] || { printf '${SECTION_PREFIX}%s.err 0 ' "$name"; printf %s "$err" | base64 -w0; echo; }; return $rc; }`,
    // the service's and the process's state, kept for the choice below instead of asking twice. The process
    // is this member's etcd, never any etcd: the host may run another cluster's (kubespray's etcd-events)
    memberFunctions(n),
    `sec service systemctl is-active ${q(n.etcd.service)}; svc=$?`,
    `sec proc ${MEMBER_PID}; proc=$?`,
    'sec etcd_version etcd --version',
    'sec etcdctl_version env ETCDCTL_API=3 etcdctl version',
    'if command -v etcdutl >/dev/null 2>&1; then sec etcdutl_version etcdutl version; fi',
    `sec env cat ${q(n.etcd.envFile)}`,
    `sec datadir sh -c ${q(`test -d "$1" && ls -A "$1"`)} _ ${data}`,
    `sec db_bytes stat -c %s ${data}/member/snap/db`,
    `sec wal_files sh -c ${q('ls "$1"/member/wal/ | grep -c "\\.wal$"')} _ ${data}`,
    `sec wal_head sh -c ${q('f=$(ls "$1"/member/wal/*.wal | tail -n 1) && head -c 4096 "$f" | base64 -w0')} _ ${data}`,
    // set aside beside the data dir, or inside it when the data dir is a mount point (see DATA_DIR_FS)
    `sec moved_aside sh -c ${q('ls -d "$1".etcd-dr-* "$1"/etcd-dr-* 2>/dev/null || true')} _ ${data}`,
    `sec datadir_fs sh -c ${q(DATA_DIR_FS)} _ ${data}`,
    // a WAL dir apart from the data dir (ETCD_WAL_DIR): where it is and its file system (plans refuse it)
    `if grep -q '^[[:space:]]*ETCD_WAL_DIR=' ${q(n.etcd.envFile)} 2>/dev/null; then sec waldir_fs sh -c ${q(WAL_DIR_FS)} _ ${q(n.etcd.envFile)}; fi`,
    `sec lock cat ${q(o.lockFile)}`,
    // the locks runs released at their end are kept beside the lock file (`lock.released-<run id>`)
    `sec lock_history sh -c ${q('ls -A "$(dirname "$1")"')} _ ${q(o.lockFile)}`,
    'if [ "$svc" = 0 ] || [ "$proc" = 0 ]; then',
    // a member that does not answer its status (starting, not yet published) would make each of the
    // next calls wait out its own timeout too: one timeout is enough to say it does not serve
    `  if sec endpoint_status ${ctl} endpoint status -w json; then`,
    `    sec member_list ${ctl} member list -w json`,
    // alarm list goes through raft like the health read: without a quorum it would only wait out its
    // timeout a second time, so it is asked only of a member that serves
    `    if sec health ${ctl} endpoint health; then sec alarms ${ctl} alarm list; fi`,
    '  else',
    `    sec health sh -c 'echo "etcd runs but does not answer its endpoint status (not serving yet, or stuck)" >&2; exit 1'`,
    '  fi',
    `elif [ -f ${data}/member/snap/db ]; then`,
    // a stopped member's db is read read-only; etcdutl is the tool from 3.5 on
    `  if command -v etcdutl >/dev/null 2>&1; then sec snapshot_status etcdutl snapshot status ${data}/member/snap/db -w json;`,
    `  else sec snapshot_status env ETCDCTL_API=3 etcdctl snapshot status ${data}/member/snap/db -w json; fi`,
    'fi',
    ...setAsideProbe(data),
    `printf '${SECTION_PREFIX}end 0 \\n'`,
  ].join('\n');
}

/** The `datadir_fs` section: free bytes and type of the file system, and whether the data dir is its root. */
export function parseDataDirFs(sec: Section | undefined): { freeBytes?: number; fsType?: string; mountPoint: boolean } {
  if (!sec || sec.rc !== 0) return { mountPoint: false };
  const [first = '', ...rest] = sec.out.split('\n');
  const [fsType, kib] = first.trim().split(/\s+/);
  return {
    ...(kib && /^\d+$/.test(kib) ? { freeBytes: Number(kib) * 1024 } : {}),
    ...(fsType && /^[A-Za-z][A-Za-z0-9._-]*$/.test(fsType) ? { fsType } : {}),
    mountPoint: rest.some((l) => l.trim() === 'mount-point'),
  };
}

/** The `waldir_fs` section: the WAL dir an env file sets apart from the data dir, and its file system. */
export function parseWalDirFs(sec: Section | undefined): { path: string; freeBytes?: number; fsType?: string; mountPoint: boolean } | undefined {
  if (!sec || sec.rc !== 0) return undefined;
  const [path = '', ...rest] = sec.out.split('\n');
  if (!path.trim()) return undefined;
  return { path: path.trim(), ...parseDataDirFs({ ...sec, out: rest.join('\n') }) };
}

/** a run id in a shell pattern (RUN_ID_RE: 20261124T193012Z-3f9c) */
const RUN_ID_GLOB = `${'[0-9]'.repeat(8)}T${'[0-9]'.repeat(6)}Z-${'[0-9a-f]'.repeat(4)}`;
/** set-aside data dirs read per node, newest run first; older ones are counted, not read */
export const SET_ASIDE_MAX = 8;

/**
 * Data dirs earlier etcd-dr runs set aside, beside the data dir (`<dataDir>.etcd-dr-<run id>`) or inside
 * one that is a mount point (`<dataDir>/etcd-dr-<run id>`), that hold a db: sections `aside_<i>` (path,
 * change time, db bytes), `aside_<i>_wal` (the WAL's head: member and cluster id) and, while etcd is
 * stopped on the node, `aside_<i>_status` (the db's revision, read-only as for a live db).
 */
function setAsideProbe(data: string): string[] {
  return [
    // newest run first: sorted by the run id at the end of the name (21 characters), wherever the dir is
    `ls -d ${data}.etcd-dr-* ${data}/etcd-dr-* 2>/dev/null | awk '{ print substr($0, length($0) - 20) "\t" $0 }' | sort -r | cut -f 2- | { i=0; while IFS= read -r a; do`,
    `  case "$a" in *etcd-dr-${RUN_ID_GLOB}) ;; *) continue ;; esac`,
    '  [ -f "$a/member/snap/db" ] || continue',
    `  i=$((i + 1)); [ "$i" -le ${SET_ASIDE_MAX} ] || continue`,
    `  sec aside_$i sh -c ${q('printf "%s\n%s\n%s\n" "$1" "$(stat -c %Z "$1")" "$(stat -c %s "$1/member/snap/db")"')} _ "$a"`,
    `  sec aside_\${i}_wal sh -c ${q('f=$(ls "$1"/member/wal/*.wal | tail -n 1) && head -c 4096 "$f" | base64 -w0')} _ "$a"`,
    '  if [ "$svc" != 0 ] && [ "$proc" != 0 ]; then',
    '    if command -v etcdutl >/dev/null 2>&1; then sec aside_${i}_status etcdutl snapshot status "$a/member/snap/db" -w json;',
    '    else sec aside_${i}_status env ETCDCTL_API=3 etcdctl snapshot status "$a/member/snap/db" -w json; fi',
    '  fi',
    `done; [ "$i" -le ${SET_ASIDE_MAX} ] || sec aside_skipped echo $((i - ${SET_ASIDE_MAX})); }`,
  ];
}

export interface Section {
  rc: number;
  out: string;
  err: string;
}

/** Splits the probe's stdout into sections; lines that are not sections (login banners, motd) are ignored. */
export function parseSections(stdout: string): Map<string, Section> {
  const out = new Map<string, Section>();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith(SECTION_PREFIX)) continue;
    const [name, rc, b64 = ''] = line.slice(SECTION_PREFIX.length).split(' ');
    if (!name || rc === undefined || !/^\d+$/.test(rc)) continue;
    const text = Buffer.from(b64.trim(), 'base64').toString('utf8');
    if (name.endsWith('.err')) {
      const base = out.get(name.slice(0, -4));
      if (base) base.err = text;
    } else {
      out.set(name, { rc: Number(rc), out: text, err: '' });
    }
  }
  return out;
}
