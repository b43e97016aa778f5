/**
 * The remote shell scripts of every mutating step. Pure: the planner shows them for review and the
 * executor runs exactly these texts. Every value is quoted by `shellQuote`; each script checks before it
 * acts, so running it twice (an interrupted run resumed) is safe, and none of them deletes anything.
 * Scripts print one `etcd-dr:` status word on their last line (`done`, `already`, …) for the journal.
 */
import { etcdctlPrefix } from '../etcd/node.js';
import { shellQuote as q } from '../util/quote.js';
import type { NodeSpec } from '../inventory/types.js';
import type { Action } from './types.js';
import { MEMBER_LISTENERS, MEMBER_PID, memberFunctions } from '../facts/member-process.js';

export { etcdctlPrefix };

const HEAD = 'set -eu';

/**
 * `durable PATH…`: fsync a file or a directory (coreutils 8.24+ `sync FILE`); an older sync that takes no
 * operand, or none at all, falls back to syncing everything. A file is synced before the rename that makes
 * it visible, and its directory after the rename, so a power cut never shows an empty or half-written file.
 */
const DURABLE = 'durable() { sync "$@" 2>/dev/null || sync; }';


/**
 * Take the lock. `breakRun`: the run id of a lock the user chose to break (--break-lock, shown in the plan);
 * that lock file is kept beside as history, and only a lock of exactly that run is broken.
 */
export function lockScript(lockFile: string, runId: string, holder: string, breakRun?: string, breakEmpty?: boolean): string {
  const content = `run=${runId}\nholder=${holder}\n`;
  return [
    HEAD,
    `f=${q(lockFile)}`,
    ...(breakRun ? [`if [ -e "$f" ] && grep -qx ${q(`run=${breakRun}`)} "$f"; then mv -f "$f" "$f".broken-by-${q(runId)}; fi`] : []),
    // a lock file without a run line (created, never written: a crash between the two) is set aside, kept
    ...(breakEmpty ? [`if [ -e "$f" ] && ! grep -q '^run=' "$f"; then mv -f "$f" "$f".empty-broken-by-${q(runId)}; fi`] : []),
    'if [ -e "$f" ]; then',
    `  if grep -qx ${q(`run=${runId}`)} "$f"; then echo etcd-dr:already; exit 0; fi`,
    '  echo "etcd-dr:held-by $(grep ^run= "$f" | cut -d= -f2)" >&2; exit 3',
    'fi',
    'mkdir -p "$(dirname "$f")"',
    // noclobber: two runs racing for the lock cannot both win
    `( set -C; printf %s ${q(content)} > "$f" ) || { echo "etcd-dr:held-by $(grep ^run= "$f" | cut -d= -f2)" >&2; exit 3; }`,
    DURABLE,
    'durable "$f"; durable "$(dirname "$f")"',
    'echo etcd-dr:done',
  ].join('\n');
}

/**
 * Set aside a lock file that names no run (created, never written: a crash between the two); a lock of a
 * run is left alone. Nothing is deleted: it becomes `<lock>.empty-cleared-<time>`.
 */
export function clearEmptyLockScript(lockFile: string): string {
  return [
    HEAD,
    `f=${q(lockFile)}`,
    'if [ ! -e "$f" ]; then echo etcd-dr:already; exit 0; fi',
    `if grep -q '^run=' "$f"; then echo "etcd-dr:held-by $(grep ^run= "$f" | cut -d= -f2)" >&2; exit 3; fi`,
    'mv -f "$f" "$f".empty-cleared-"$(date +%s)"',
    'echo etcd-dr:done',
  ].join('\n');
}

/**
 * The operator's hook commands on one node, in order, each in its own `sh -c` (as root, like every step).
 * The first that fails ends the script with a line naming it and its exit code. Hooks must be idempotent:
 * a resumed run, or a step repeated after a dropped connection, runs them again.
 */
export function hookScript(hook: string, commands: readonly string[]): string {
  return [
    HEAD,
    ...commands.flatMap((c, i) => {
      const which = `${hook} command ${i + 1} of ${commands.length}`;
      return [`# ${which}`, `sh -c ${q(c)} || { rc=$?; echo ${q(`the ${which} failed (`)}"exit $rc"${q(`): ${c.split('\n')[0]}`)} >&2; exit 1; }`];
    }),
    'echo etcd-dr:done',
  ].join('\n');
}

export function unlockScript(lockFile: string, runId: string): string {
  return [
    HEAD,
    `f=${q(lockFile)}`,
    'if [ ! -e "$f" ]; then echo etcd-dr:already; exit 0; fi',
    `grep -qx ${q(`run=${runId}`)} "$f" || { echo "etcd-dr:held-by-other" >&2; exit 3; }`,
    // the lock is etcd-dr's own bookkeeping, not user data: it is kept as history beside the lock
    `mv -f "$f" "$f".released-${q(runId)}`,
    'echo etcd-dr:done',
  ].join('\n');
}

/**
 * Stop this member's etcd and prove it: service inactive, no process of this member (see
 * member-process.ts), its client and peer ports closed on its address. Another etcd on the host (the
 * events cluster) is neither waited for nor touched. `systemctl stop` also holds off a unit's
 * Restart=always; an etcd of this member running outside its unit (started by hand) gets one SIGTERM.
 */
export function stopScript(n: NodeSpec, timeoutSec = 60): string {
  const svc = q(n.etcd.service);
  return [
    HEAD,
    memberFunctions(n),
    `systemctl stop ${svc} || true`,
    `deadline=$(( $(date +%s) + ${timeoutSec} ))`,
    'termed=',
    'while :; do',
    `  active=$(systemctl is-active ${svc} 2>/dev/null || true)`,
    `  proc=$(${MEMBER_PID} || true)`,
    `  port=$(${MEMBER_LISTENERS})`,
    '  if [ "$active" != active ] && [ -z "$proc" ] && [ -z "$port" ]; then echo etcd-dr:stopped; exit 0; fi',
    // the unit is stopped but this member's etcd still runs: it was not started by the unit
    '  case $active in active | activating | deactivating | reloading) ;; *)',
    `    if [ -n "$proc" ] && [ -z "$termed" ]; then echo "etcd-dr: this member's etcd (pid $proc) runs outside ${n.etcd.service}; sending it SIGTERM" >&2; kill -TERM "$proc" 2>/dev/null || true; termed=1; fi ;;`,
    '  esac',
    '  if [ "$(date +%s)" -ge "$deadline" ]; then',
    '    echo "etcd-dr:still-running service=$active pids=$proc port=$port" >&2; exit 1',
    '  fi',
    '  sleep 0.1',
    // as in waitHealthyScript: the loop ends at the first poll after its connection is gone
    '  echo',
    'done',
  ].join('\n');
}

/**
 * Move a data dir aside (never delete). Idempotent: done when the destination exists. The set-aside dir
 * holds a whole db: whatever mode the data dir had, it is closed to group and others (its owner keeps
 * its rights), before the move and again on a repeat.
 *
 * `inside`: the data dir is a mount point, which cannot be renamed (EBUSY): its `member/` dir (all etcd
 * keeps there) moves into `to`, a dir inside the mount, so `to` is a whole data dir again and nothing
 * crosses file systems. What else the mount holds (lost+found) stays.
 */
export function moveAsideScript(from: string, to: string, inside = false): string {
  const what = inside ? '/member' : '';
  return [
    HEAD,
    `src=${q(from)}; dst=${q(to)}`,
    `if [ -e "$dst${what}" ]; then chmod go-rwx "$dst"; echo etcd-dr:already; exit 0; fi`,
    `if [ ! -e "$src${what}" ]; then echo etcd-dr:nothing; exit 0; fi`,
    ...(inside
      ? ['[ -d "$dst" ] || mkdir -m 0700 "$dst"', 'chmod go-rwx "$dst" "$src/member"', 'mv "$src/member" "$dst/member"']
      : ['chmod go-rwx "$src"', 'mv "$src" "$dst"']),
    'echo etcd-dr:done',
  ].join('\n');
}

/** True (exit 0) when the dir in shell variable `v` is the root of a file system of its own. */
const isMountPoint = (v: string) => `{ mountpoint -q "$${v}" 2>/dev/null || [ "$(df -P "$${v}" 2>/dev/null | awk 'NR == 2 { print $6 }')" = "$${v}" ]; }`;

/**
 * Set a data dir aside under `name` (`etcd-dr-<run id>-…`) as the node's disk is now: inside it when it
 * is a mount point (`<dataDir>/<name>`), else beside it (`<dataDir>.<name>`). For what no plan step
 * chose a layout for in advance (a rollback, a drill's injection).
 */
export function setAsideScript(dataDir: string, name: string): string {
  const body = (inside: boolean) => moveAsideScript(dataDir, inside ? `${dataDir}/${name}` : `${dataDir}.${name}`, inside).split('\n').slice(1).map((l) => `  ${l}`);
  return [HEAD, `d=${q(dataDir)}`, `if [ -d "$d" ] && ${isMountPoint('d')}; then (`, ...body(true), ') else (', ...body(false), ') fi'].join('\n');
}

/** The restore-db action's parameters, plus the run id that names the scratch dir and marker. */
export type RestoreParams = Omit<Extract<Action, { type: 'restore-db' }>, 'type'> & { runId: string };

/**
 * Restore a db as a one-member cluster into a scratch dir beside the data dir, then rename it into place,
 * so an interrupted restore never leaves a half-written data dir where etcd would start from it.
 */
export function restoreScript(p: RestoreParams): string {
  // a data dir that is a mount point: the scratch dir is inside it (same file system), and only its member/ is renamed into place
  const inside = p.inside === true;
  const scratch = inside ? `${p.dataDir}/etcd-dr-${p.runId}-restoring` : `${p.dataDir}.etcd-dr-${p.runId}-restoring`;
  const args = [
    'snapshot',
    'restore',
    p.db,
    `--data-dir=${scratch}`,
    `--name=${p.name}`,
    `--initial-cluster=${p.initialCluster}`,
    `--initial-cluster-token=${p.token}`,
    `--initial-advertise-peer-urls=${p.peerUrl}`,
    '--skip-hash-check',
    ...(p.bumpRevision !== undefined ? [`--bump-revision=${p.bumpRevision}`] : []),
    ...(p.markCompacted ? ['--mark-compacted'] : []),
  ];
  const restore = `${p.tool === 'etcdctl' ? 'ETCDCTL_API=3 etcdctl' : 'etcdutl'} ${args.map(q).join(' ')}`;
  // inside a mount point the marker travels in member/, so it appears with the one rename that finishes the restore
  const marker = inside ? `${p.dataDir}/member/.etcd-dr-restored-${p.runId}` : `${p.dataDir}/.etcd-dr-restored-${p.runId}`;
  return [
    HEAD,
    // the scratch dir and every file the restore writes hold the whole db: private whatever the login's umask
    'umask 077',
    `data=${q(p.dataDir)}; scratch=${q(scratch)}; marker=${q(marker)}; db=${q(p.db)}`,
    // A restore of this run that is still going (etcd-dr was killed and the run resumed before that
    // restore ended: a remote command runs on until it next writes to the lost connection) would write
    // into the same scratch dir as this one. Every restore holds a lock on the db it reads (flock, no
    // new file), so this one waits for the other to end and then sees what it left.
    `if [ -e "$db" ] && command -v flock >/dev/null 2>&1; then exec 9<"$db"; if ! flock -n 9; then echo "etcd-dr: another restore of this run is still running on this node (left by an interrupted attempt); waiting for it to end" >&2; flock -w ${RESTORE_LOCK_WAIT_S} 9 || { echo "etcd-dr:restore-busy another restore of $db still runs after ${RESTORE_LOCK_WAIT_S} s; find it with: pgrep -af 'snapshot restore'" >&2; exit 1; }; fi; fi`,
    'if [ -e "$marker" ]; then echo etcd-dr:already; exit 0; fi',
    inside
      ? 'if [ -e "$data/member" ]; then echo "etcd-dr:data-dir-exists $data/member (it should have been set aside)" >&2; exit 1; fi'
      : 'if [ -e "$data" ]; then echo "etcd-dr:data-dir-exists $data (it should have been moved aside)" >&2; exit 1; fi',
    // a scratch dir left by an interrupted attempt of this run is set aside, not reused or deleted
    'if [ -e "$scratch" ]; then mv "$scratch" "$scratch.interrupted.$(date +%s)"; fi',
    // a failed restore says why and how much room it needs; its incomplete scratch dir stays for the user to look at
    inside ? 'parent=$data' : 'parent=$(dirname "$data")',
    `free=$(df -Pk "$parent" 2>/dev/null | awk 'NR == 2 { print int($4 / 1024) }' || true)`,
    'if out=$(',
    `${restore} 2>&1`,
    `); then printf '%s\\n' "$out" >&2; else`,
    `  rc=$?; printf '%s\\n' "$out" >&2`,
    `  part=$(du -sk "$scratch" 2>/dev/null | awk '{ print int($1 / 1024) }' || true)`,
    // the restored db is about as large as the snapshot, and the restore preallocates a 64 MB WAL file
    `  need=$(( $(stat -c %s "$db" 2>/dev/null || echo 0) / 1048576 + ${WAL_MIB} ))`,
    `  echo "etcd-dr:restore-failed (exit $rc) $(printf '%s\\n' "$out" | tail -n 1); $parent had \${free:-?} MiB free and this restore needs about $need MiB (the db and a 64 MB WAL); the incomplete $scratch (\${part:-?} MiB) may be removed" >&2`,
    '  exit 1',
    'fi',
    ...(inside
      ? [
          'chmod 0700 "$scratch" "$scratch/member"',
          `touch "$scratch/member/.etcd-dr-restored-${p.runId}"`,
          'mv "$scratch/member" "$data/member"',
          // the scratch dir is empty now
          'rmdir "$scratch" 2>/dev/null || true',
        ]
      : ['chmod 0700 "$scratch"', 'touch "$scratch/.etcd-dr-restored-' + p.runId + '"', 'mv "$scratch" "$data"']),
    'echo etcd-dr:done',
  ].join('\n');
}

/** seconds the restore step may take on a node (a large db on a slow disk) */
export const RESTORE_TIMEOUT_S = 3600;
/** seconds a restore waits for another restore of the same run to end: it answers before its step times out */
export const RESTORE_LOCK_WAIT_S = RESTORE_TIMEOUT_S - 600;

/** MiB a new data dir needs beside its db: etcd preallocates a 64 MB WAL file (plans and the restore say so) */
export const WAL_MIB = 62;

/** sha256 of the empty text: what a plan records as the "before" of an env file that does not exist yet. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Rewrite an env file atomically: keep a backup beside it (once per run), write a temp file in the same
 * directory with the same owner and mode, rename it over. Refuses when the file is neither the content
 * the plan was made from nor the content it writes (someone else changed it since).
 * A file that does not exist counts as empty text (EMPTY_SHA256): it is created with mode 0640, and a
 * `<backup>.absent` marker records that there was nothing to back up, so a rollback sets it aside.
 */
export function writeEnvScript(p: { path: string; backup: string; beforeSha256: string; afterSha256: string; content: string }): string {
  return [
    HEAD,
    `f=${q(p.path)}; bak=${q(p.backup)}`,
    `if [ -e "$f" ]; then cur=$(sha256sum "$f" 2>/dev/null | cut -d" " -f1 || true); else cur=${EMPTY_SHA256}; fi`,
    `if [ "$cur" = ${q(p.afterSha256)} ]; then echo etcd-dr:already; exit 0; fi`,
    `if [ "$cur" != ${q(p.beforeSha256)} ]; then echo "etcd-dr:changed-since-plan $f sha256=$cur" >&2; exit 3; fi`,
    DURABLE,
    // the backup is written beside, synced, then renamed into place: it exists whole or not at all
    'if [ -e "$f" ]; then',
    '  if [ ! -e "$bak" ]; then btmp=$(mktemp "$(dirname "$bak")/.$(basename "$bak").etcd-dr.XXXXXX"); cp -p "$f" "$btmp"; durable "$btmp"; mv -f "$btmp" "$bak"; durable "$(dirname "$bak")"; fi',
    'else [ -e "$bak.absent" ] || { : > "$bak.absent"; durable "$(dirname "$bak")"; }; fi',
    'tmp=$(mktemp "$(dirname "$f")/.$(basename "$f").etcd-dr.XXXXXX")',
    `printf %s ${q(p.content)} > "$tmp"`,
    'if [ -e "$f" ]; then chmod --reference="$f" "$tmp"; chown --reference="$f" "$tmp"; else chmod 0640 "$tmp"; fi',
    'durable "$tmp"',
    'mv -f "$tmp" "$f"',
    'durable "$(dirname "$f")"',
    `[ "$(sha256sum "$f" | cut -d" " -f1)" = ${q(p.afterSha256)} ] || { echo etcd-dr:write-mismatch >&2; exit 1; }`,
    'echo etcd-dr:done',
  ].join('\n');
}

/**
 * Undo a write-env of this run: the backup goes back in place (atomically); a file the run created
 * (its `<backup>.absent` marker exists) is set aside under `<path>.etcd-dr-<run id>-rolled-back-<time>`.
 */
export function restoreEnvScript(path: string, backup: string, runId: string): string {
  return [
    HEAD,
    `f=${q(path)}; bak=${q(backup)}`,
    DURABLE,
    'if [ -e "$bak" ]; then',
    '  tmp=$(mktemp "$(dirname "$f")/.$(basename "$f").etcd-dr.XXXXXX")',
    '  cp -p "$bak" "$tmp"; durable "$tmp"; mv -f "$tmp" "$f"; durable "$(dirname "$f")"',
    '  echo etcd-dr:done; exit 0',
    'fi',
    'if [ -e "$bak.absent" ]; then',
    '  if [ -e "$f" ]; then mv "$f" "$f".etcd-dr-' + q(runId) + '-rolled-back-"$(date +%s)"; echo etcd-dr:done; else echo etcd-dr:already; fi',
    '  exit 0',
    'fi',
    'echo etcd-dr:no-backup',
  ].join('\n');
}

/** Start etcd without waiting on the service manager; readiness is checked with etcd's own health. */
export function startScript(n: NodeSpec): string {
  const svc = q(n.etcd.service);
  return [HEAD, `if [ "$(systemctl is-active ${svc} 2>/dev/null || true)" = active ]; then echo etcd-dr:already; exit 0; fi`, `systemctl start --no-block ${svc}`, 'echo etcd-dr:done'].join('\n');
}

/**
 * The commands of a wait for a promoted learner. A publish request it made as a learner (while it caught up
 * from the leader's snapshot) is retried only after etcd's request timeout (15 s with
 * ETCD_ELECTION_TIMEOUT=5000), so a just-promoted member may not serve for that long. Restarting it makes it
 * publish at once, as the voter it now is.
 */
export function publishCommands(via: NodeSpec, j: NodeSpec): string[] {
  return [
    serveCheckScript(j),
    `${etcdctlPrefix(via)} member list -w json   # when it does not: is it a voting member, and are there 3 or more?`,
    `# only then, and when etcd runs on every other voting member (the quorum holds without it):\n${restartScript(j)}`,
    waitHealthyScript(j, 120),
  ];
}

/** One `endpoint health` of a member, answered within 0.5 s or taken as not serving (yet): a serving member answers in milliseconds. */
export function serveCheckScript(n: NodeSpec): string {
  return [HEAD, `if ${etcdctlPrefix(n, undefined, 500)} endpoint health >/dev/null 2>&1; then echo etcd-dr:healthy; else echo etcd-dr:not-serving; fi`].join('\n');
}

/** Restart etcd without waiting for it (the wait is etcd's own health, polled by the next command). */
export function restartScript(n: NodeSpec): string {
  return [HEAD, `systemctl restart --no-block ${q(n.etcd.service)}`, 'echo etcd-dr:done'].join('\n');
}

/** Polls in a row that must show the service failed before a wait for a member gives up on it. */
export const FAILED_POLLS = 3;

/**
 * Poll `endpoint health` of one member until it serves, or fail after the timeout with the last answer.
 * Every answer of etcd's (unhealthy cluster, no leader, leader changed, a dial timeout) means "not yet".
 * A failed service ends the wait early, once it shows failed on FAILED_POLLS polls in a row: right after
 * a start queued with --no-block the service manager can still show the failure from before the start.
 */
export function waitHealthyScript(n: NodeSpec, timeoutSec: number): string {
  return [
    HEAD,
    `deadline=$(( $(date +%s) + ${timeoutSec} ))`,
    'failed=0',
    'while :; do',
    `  if out=$(${etcdctlPrefix(n, undefined, 2000)} endpoint health 2>&1); then echo etcd-dr:healthy; exit 0; fi`,
    // etcdctl's answer on one line, without its JSON log lines, so the last line of stderr says it all
    `  said=$(printf '%s\\n' "$out" | grep -v '^{' | tr '\\n' ' ')`,
    `  state=$(systemctl is-active ${q(n.etcd.service)} 2>/dev/null || true)`,
    `  if [ "$state" = failed ]; then failed=$((failed + 1)); else failed=0; fi`,
    `  if [ "$failed" -ge ${FAILED_POLLS} ]; then echo "etcd-dr:service-failed $said" >&2; exit 1; fi`,
    `  if [ "$(date +%s)" -ge "$deadline" ]; then echo "etcd-dr:timeout after ${timeoutSec} s; its last answer: $said(service $state)" >&2; exit 1; fi`,
    '  sleep 0.2',
    // an empty line per poll: a wait whose SSH connection is gone (etcd-dr killed, the network cut) dies
    // at this write (SIGPIPE) instead of polling on until its deadline
    '  echo',
    'done',
  ].join('\n');
}

/** The size of a file on the node in bytes (the db the bastion is about to copy), or a failure. */
export function fileSizeScript(path: string): string {
  return `stat -L -c %s -- ${q(path)}`;
}

/**
 * `db_sha256`: the sha256 of stdin in hex. OpenSSL's digest where it works (it uses the CPU's SHA
 * instructions: about 4 times less CPU than coreutils' sha256sum for a db of gigabytes, on a node
 * whose etcd and kube-apiserver share that CPU), else sha256sum. Tried on one byte first, so an openssl
 * that refuses the digest never cuts the stream it would hash.
 */
const DB_SHA256 = [
  'db_sha256() { sha256sum | cut -d" " -f1; }',
  'if printf x | openssl dgst -sha256 -r >/dev/null 2>&1; then db_sha256() { openssl dgst -sha256 -r | cut -d" " -f1; }; fi',
].join('\n');

/** Moves the file in shell variable f aside to a name of its own (`<f>.mismatch.<time>[.<k>]`), never over another. */
const MOVE_MISMATCH_ASIDE = 'm="$f.mismatch.$(date +%s)"; k=0; while [ -e "$m" ]; do k=$((k + 1)); m="$f.mismatch.$(date +%s).$k"; done; mv "$f" "$m"';

/**
 * restore-all: is the copy of the db a member restores from already there, whole (its sha256 matches)?
 * `etcd-dr:already` or `etcd-dr:missing`; a copy that does not match is set aside, never reused or deleted.
 */
export function sentDbCheckScript(dst: string, sha256: string): string {
  return [
    HEAD,
    `f=${q(dst)}`,
    'if [ ! -e "$f" ]; then echo etcd-dr:missing; exit 0; fi',
    DB_SHA256,
    `if [ "$(db_sha256 < "$f")" = ${q(sha256)} ]; then echo etcd-dr:already; exit 0; fi`,
    MOVE_MISMATCH_ASIDE,
    'echo etcd-dr:missing',
  ].join('\n');
}

/**
 * restore-all: receive the survivor's db on stdin into a private temp file beside `dst`, hashing it as
 * it is written (the bastion may still be copying it from the survivor, so the sha256 to match is not
 * known yet), make it durable, and say what was written: `etcd-dr:received <sha256> <bytes>`. The file
 * stays a temp file until commitDbScript renames it into place once the bastion's sha256 matched it: a
 * copy cut short or wrong never stands where a restore would read it. A failed write leaves the file
 * short, which its size says.
 */
export function receiveDbScript(dst: string): string {
  return [
    HEAD,
    'umask 077',
    `part=${q(`${dst}.part`)}`,
    'mkdir -p "$(dirname "$part")"',
    DB_SHA256,
    'got=$(tee "$part" | db_sha256)',
    'size=$(stat -c %s "$part") || exit 1',
    'sync "$part" 2>/dev/null || true',
    'echo "etcd-dr:received $got $size"',
  ].join('\n');
}

/**
 * restore-all: the received copy (receiveDbScript's temp file, whose sha256 matched the bastion's copy)
 * renamed into place, durably. A file already at `dst` is moved aside, never deleted. Run again after
 * the rename, it finds the copy in place: `etcd-dr:already`.
 */
export function commitDbScript(dst: string, bytes: number | string): string {
  const n = q(String(bytes));
  return [
    HEAD,
    `f=${q(dst)}; part=${q(`${dst}.part`)}`,
    `if [ ! -e "$part" ] && [ "$(stat -c %s "$f" 2>/dev/null)" = ${n} ]; then echo etcd-dr:already; exit 0; fi`,
    `if [ "$(stat -c %s "$part" 2>/dev/null)" != ${n} ]; then echo "etcd-dr:copy-mismatch $part is not the "${n}" bytes received" >&2; exit 1; fi`,
    `if [ -e "$f" ]; then ${MOVE_MISMATCH_ASIDE}; fi`,
    'mv -f "$part" "$f"',
    'sync "$(dirname "$f")" 2>/dev/null || true',
    'echo etcd-dr:done',
  ].join('\n');
}

/**
 * Why a member's etcd is not running: the last lines of its log (journald, else what the service manager
 * shows), and `etcd-dr:binary-fails …` when the etcd binary itself fails to run (`etcd --version`).
 */
export function etcdExitedScript(n: NodeSpec): string {
  const svc = q(n.etcd.service);
  return [
    `out=$(journalctl -u ${svc} -n 20 --no-pager 2>/dev/null || true)`,
    `case "$out" in '' | '-- No entries --') out=$(systemctl status ${svc} 2>&1 | tail -n 20 || true) ;; esac`,
    `printf '%s\\n' "$out"`,
    'rc=0; v=$(etcd --version 2>&1) || rc=$?',
    'if [ "$rc" -ne 0 ]; then sig=; [ "$rc" -gt 128 ] && sig=" (SIG$(kill -l $((rc - 128)) 2>/dev/null || echo $((rc - 128))))"; echo "etcd-dr:binary-fails exit $rc$sig $(printf %s "$v" | head -n 1)"; fi',
  ].join('\n');
}
