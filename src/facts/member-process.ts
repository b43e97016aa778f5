/**
 * This member's etcd, and only it. A kubespray master runs two etcd clusters from the same binary (etcd
 * and etcd-events), so "a process named etcd" says nothing about the member at hand. Every check of
 * whether a member's etcd runs, has stopped or must be restarted (the probe, the stop wait, the
 * executor's running check, the drill's injections) asks these shell functions, built from the
 * inventory's node:
 *   - its process: the unit's main PID (`systemctl show -p MainPID --value <service>`); else, for an etcd
 *     started outside its unit (by hand, or a service manager that does not say), the etcd process whose
 *     data dir (`--data-dir`, `ETCD_DATA_DIR`) or peer listener (`--listen-peer-urls`,
 *     `ETCD_LISTEN_PEER_URLS`) is this member's;
 *   - its listeners: TCP listeners on this member's own address and its client or peer port, never any
 *     listener on a port of that number.
 */
import { urlHost, type NodeSpec } from '../inventory/types.js';
import { shellQuote as q } from '../util/quote.js';

/** Shell function names the scripts call after `memberFunctions(n)`. */
export const MEMBER_PID = 'etcd_dr_member_pid';
export const MEMBER_LISTENERS = 'etcd_dr_member_listeners';

/**
 * The definitions of `etcd_dr_member_pid` (prints the pid of this member's etcd and succeeds, or fails)
 * and `etcd_dr_member_listeners` (prints this member's listening sockets, if any). POSIX sh, mawk.
 * Reading another process's environment needs root (the scripts run as root or through sudo); without
 * it only the command line is matched.
 */
export function memberFunctions(n: NodeSpec): string {
  const dataDir = n.etcd.dataDir.replace(/\/+$/, '') || '/';
  const peer = `${urlHost(n.address)}:${n.etcd.peerPort}`;
  // one record per NUL-separated argument or variable; `--data-dir X` and `--data-dir=X` both count
  const match = [
    'function norm(v) { sub(/\\/+$/, "", v); return v }',
    'function peer(v,  a, i, k) { k = split(v, a, ","); for (i = 1; i <= k; i++) { sub(/^[a-z]+:\\/\\//, "", a[i]); sub(/\\/+$/, "", a[i]); if (a[i] == p) return 1 } return 0 }',
    '{ v = $0; val = v; sub(/^[^=]*=/, "", val) }',
    '(prev == "--data-dir" || prev == "-data-dir") && norm(v) == d { f = 1 }',
    '(prev == "--listen-peer-urls" || prev == "-listen-peer-urls") && peer(v) { f = 1 }',
    '(v ~ /^(--?data-dir|ETCD_DATA_DIR)=/) && norm(val) == d { f = 1 }',
    '(v ~ /^(--?listen-peer-urls|ETCD_LISTEN_PEER_URLS)=/) && peer(val) { f = 1 }',
    '{ prev = v }',
    'END { exit !f }',
  ].join(' ');
  return [
    `${MEMBER_PID}() {`,
    `  _mp=$(systemctl show -p MainPID --value ${q(n.etcd.service)} 2>/dev/null || true)`,
    '  case $_mp in "" | 0 | *[!0-9]*) ;; *) if [ -d "/proc/$_mp" ]; then echo "$_mp"; return 0; fi ;; esac',
    '  for _md in /proc/[0-9]*; do',
    '    [ "$(cat "$_md/comm" 2>/dev/null)" = etcd ] || continue',
    `    if { tr '\\000' '\\n' < "$_md/cmdline"; tr '\\000' '\\n' < "$_md/environ"; } 2>/dev/null | awk -v d=${q(dataDir)} -v p=${q(peer)} ${q(match)}; then echo "\${_md#/proc/}"; return 0; fi`,
    '  done',
    '  return 1',
    '}',
    `${MEMBER_LISTENERS}() {`,
    // ss reads an IPv6 address in a filter only in brackets; without them it fails and the port looked closed
    `  ss -Hltn ${q(`( sport = :${n.etcd.clientPort} or sport = :${n.etcd.peerPort} )`)} ${q(`src ${urlHost(n.address)}`)} 2>/dev/null || true`,
    '}',
  ].join('\n');
}

/** Prints `etcd-dr:running` or `etcd-dr:not-running` for this member's etcd (whatever its service manager says). */
export function memberRunsScript(n: NodeSpec): string {
  return ['set -eu', memberFunctions(n), `if ${MEMBER_PID} >/dev/null; then echo etcd-dr:running; else echo etcd-dr:not-running; fi`].join('\n');
}
