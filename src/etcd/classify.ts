/**
 * Turns what etcdctl, etcdutl or etcd printed on failure into a code the apply engine can branch on
 * (retry, treat as done, stop and explain). Works on a command's stderr, on etcd's own log, or on
 * both concatenated. Every pattern is a plain substring or a bounded regex, so a 100 MB log is
 * scanned in linear time.
 *
 * Each rule below was seen in test/fixtures/etcd (captured from real etcd 3.4.23 and 3.5.30) except
 * where its comment says it comes from etcd's source.
 */

export type EtcdErrorCode =
  | 'learner-not-ready'
  | 'member-not-learner'
  | 'too-many-learners'
  | 'learner-rpc-unsupported'
  | 'peer-urls-exist'
  | 'member-exists'
  | 'member-not-found'
  | 'bad-leader-transferee'
  | 'not-leader'
  | 'no-leader'
  | 'leader-changed'
  | 'unhealthy-cluster'
  | 'permanently-removed'
  | 'cluster-id-mismatch'
  | 'member-count-unequal'
  | 'raft-out-of-range'
  | 'data-dir-exists'
  | 'snapshot-missing-hash'
  | 'no-space'
  | 'corrupt'
  | 'auth'
  | 'tls'
  | 'usage'
  | 'no-such-file'
  | 'etcdctl-crash'
  | 'unreachable'
  | 'timeout';

interface Rule {
  code: EtcdErrorCode;
  /** substrings (any one matches) */
  any?: readonly string[];
  /** or a regex with bounded repetition */
  re?: RegExp;
  /** what it means and what to do, for the operator */
  hint: string;
}

/** In priority order: the most specific first (a failed promote also mentions timeouts, etc.). */
const RULES: readonly Rule[] = [
  // what etcd logs when a member cannot take part in its cluster at all: in a member's log these outweigh
  // the errors it replays from its WAL (a removed member's log also shows old rejected promotes)
  {
    code: 'permanently-removed',
    any: ['the member has been permanently removed from the cluster'],
    hint: 'this member was removed from the cluster; it can only rejoin with an empty data dir after a new member add',
  },
  {
    code: 'cluster-id-mismatch',
    re: /cluster ID mismatch/i,
    hint: 'members of two different clusters are talking to each other: a data dir or ETCD_INITIAL_CLUSTER belongs to another cluster',
  },
  {
    code: 'member-count-unequal',
    any: ['member count is unequal'],
    hint: "ETCD_INITIAL_CLUSTER does not list the cluster's current members; make it match `member list`",
  },
  {
    code: 'learner-not-ready',
    any: ['can only promote a learner member which is in sync with leader'],
    hint: 'the learner has not caught up with the leader yet; wait and retry the promote',
  },
  {
    code: 'member-not-learner',
    any: ['can only promote a learner member'],
    hint: 'the member is already a voting member (an earlier promote may have succeeded); check the member list',
  },
  {
    code: 'too-many-learners',
    any: ['too many learner members in cluster'],
    hint: 'etcd allows one learner at a time; promote or remove the existing learner first',
  },
  {
    code: 'learner-rpc-unsupported',
    any: ['rpc not supported for learner'],
    hint: 'a learner does not serve this request (reads, health); ask a voting member, or promote the learner first',
  },
  {
    code: 'peer-urls-exist',
    any: ['Peer URLs already exists'],
    hint: 'a member with this peer URL is already in the cluster; remove it first or reuse it',
  },
  {
    // etcd source: membership.ErrIDExists
    code: 'member-exists',
    any: ['member ID already exist'],
    hint: 'a member with this id is already in the cluster',
  },
  {
    code: 'member-not-found',
    any: ['etcdserver: member not found'],
    hint: 'no member with this id (it may have been removed already); check the member list',
  },
  {
    code: 'bad-leader-transferee',
    any: ['bad leader transferee'],
    hint: 'leadership can only move to a started voting member',
  },
  {
    // `etcdserver: not leader` is from etcd's source; "no leader endpoint given" was captured
    code: 'not-leader',
    any: ['etcdserver: not leader', 'no leader endpoint given'],
    hint: 'the request must reach the leader; give etcdctl every member endpoint',
  },
  {
    code: 'no-leader',
    any: ['etcdserver: no leader'],
    hint: 'the member knows no leader: quorum is lost or an election is in progress',
  },
  {
    // etcd source: ErrLeaderChanged
    code: 'leader-changed',
    any: ['etcdserver: leader changed'],
    hint: 'leadership changed during the request; retry',
  },
  {
    // only etcd's own message: etcdctl's `endpoint health` prints a bare "unhealthy cluster" for any failure
    code: 'unhealthy-cluster',
    any: ['etcdserver: unhealthy cluster'],
    hint:
      'etcd refuses the membership change: the member handling it has not been connected to every voting member ' +
      'for 5 s, or the change would leave the cluster without quorum; wait and retry, and bring down members back first',
  },
  {
    // etcd/raft: a member whose data dir is older than what the leader knows it had
    code: 'raft-out-of-range',
    re: /tocommit\(\d{1,20}\) is out of range/,
    hint: "the member's data dir is behind what the cluster expects (restored or copied); remove the member and add it back empty",
  },
  {
    code: 'data-dir-exists',
    re: /data-dir "[^"\n]{0,4096}" (?:exists|not empty)/,
    hint: 'snapshot restore needs a data dir that does not exist; move the old one aside first',
  },
  {
    code: 'snapshot-missing-hash',
    any: ['snapshot missing hash but --skip-hash-check=false'],
    hint: 'a db copied from a data dir has no snapshot hash; restore it with --skip-hash-check',
  },
  {
    code: 'no-space',
    any: ['database space exceeded', 'alarm:NOSPACE'],
    hint: 'the backend quota is exhausted (NOSPACE alarm): compact, defragment and disarm the alarm before writing',
  },
  {
    // etcd source: ErrCorrupt / the CORRUPT alarm
    code: 'corrupt',
    any: ['alarm:CORRUPT', 'etcdserver: corrupt cluster'],
    hint: 'etcd detected inconsistent data between members (CORRUPT alarm); do not write until it is resolved',
  },
  {
    // etcd source: rpctypes auth errors
    code: 'auth',
    any: ['etcdserver: permission denied', 'etcdserver: user name is empty', 'etcdserver: invalid auth token', 'authentication failed, invalid user ID or password'],
    hint: 'etcd authentication is enabled and refused the request; give etcd-dr a user with the root role',
  },
  {
    code: 'tls',
    any: ['x509: ', 'tls: bad certificate', 'tls: failed to verify', 'authentication handshake failed', 'tls: unknown certificate authority', 'tls: certificate required'],
    hint: 'the TLS handshake failed: check the CA, client certificate and key paths and that the certificates cover the address',
  },
  {
    code: 'usage',
    any: ['unknown flag: ', 'is only for `--write-out', 'unknown command "', 'Error: too many arguments', '--mark-compacted required if'],
    hint: 'the etcd tool does not accept these arguments: its version differs from the one the command was built for',
  },
  {
    code: 'no-such-file',
    any: ['no such file or directory'],
    hint: 'a file the command needs does not exist on the node',
  },
  {
    code: 'etcdctl-crash',
    re: /^panic: /m,
    hint: 'the tool crashed (Go panic); the operation may still have taken effect: check the cluster state before retrying',
  },
  {
    code: 'unreachable',
    any: ['connection refused', 'no route to host', 'all SubConns are in TransientFailure', 'i/o timeout', 'network is unreachable'],
    hint: 'the endpoint does not answer: etcd is not running there or the address/port is wrong',
  },
  {
    code: 'timeout',
    any: ['context deadline exceeded', 'etcdserver: request timed out', 'DeadlineExceeded'],
    hint: 'the request timed out: the cluster may have lost quorum or be overloaded',
  },
];

function matches(rule: Rule, text: string): boolean {
  if (rule.any) for (const s of rule.any) if (text.includes(s)) return true;
  return rule.re ? rule.re.test(text) : false;
}

/** The most specific code for an error output, or undefined when nothing known matches. */
export function classifyEtcdError(text: string): EtcdErrorCode | undefined {
  for (const r of RULES) if (matches(r, text)) return r.code;
  return undefined;
}

/** Every code that matches, most specific first (a log can show several problems). */
export function etcdErrorCodes(text: string): EtcdErrorCode[] {
  return RULES.filter((r) => matches(r, text)).map((r) => r.code);
}

/** What a code means and what to do about it, for messages to the operator. */
export function etcdErrorHint(code: EtcdErrorCode): string {
  return (RULES.find((r) => r.code === code) as Rule).hint;
}

/** Codes for which repeating the same command later can succeed without anyone changing anything. */
export const RETRYABLE_ETCD_ERRORS: ReadonlySet<EtcdErrorCode> = new Set<EtcdErrorCode>([
  'learner-not-ready',
  'unhealthy-cluster',
  'leader-changed',
  'no-leader',
  'timeout',
]);

/**
 * The line etcdctl ends with (`Error: etcdserver: …`), without etcdctl's retry warnings before it;
 * else the last non-empty line. For short messages to the operator.
 */
export function lastErrorLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.replace(/\r$/, '').trim()).filter((l) => l !== '');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i] as string;
    if (l.startsWith('Error: ')) return l.slice('Error: '.length).slice(0, 1000);
  }
  return (lines[lines.length - 1] ?? '').slice(0, 1000);
}
