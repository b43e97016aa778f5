/**
 * What a given etcd version does with each `ETCD_*` line of an env file. etcd reads its flags from
 * `ETCD_<FLAG>` variables; a variable it does not know is only logged ("unrecognized environment
 * variable") and otherwise ignored, so a setting renamed or removed in the version that runs the file is
 * lost without a word at start. The table below says, per flag, from which version it is deprecated,
 * renamed, turned into a feature gate, or gone; `lintEnvFile` turns it into findings with the line.
 *
 * Pure: no I/O. The flag sets of 3.4 and 3.5 are those of etcd 3.4.23 and 3.5.30 (`etcd --help` plus the
 * flags it hides), the versions etcd-dr runs end to end; 3.6 and 3.7 are known from etcd's changelogs and
 * its flag tables (`etcdmain/config.go`: deprecatedFlags, `features`: ExperimentalFlagToFeatureMap).
 */
import { parseEnvFile } from './envfile.js';

export interface MinorVersion {
  major: number;
  minor: number;
}

export type LintSeverity =
  /** etcd refuses to start */
  | 'error'
  /** etcd starts and ignores the line (it only logs it): the setting is lost */
  | 'ignored'
  /** etcd still honours it, with a deprecation warning in its log */
  | 'deprecated';

export interface EnvLintFinding {
  /** 1-based line of the assignment */
  line: number;
  key: string;
  severity: LintSeverity;
  /** what that version does, and what to write instead */
  message: string;
}

/** `--experimental-foo-bar` → `ETCD_EXPERIMENTAL_FOO_BAR`, as etcd's pkg/flags maps them. */
export const envName = (flag: string): string => `ETCD_${flag.replace(/^--/, '').toUpperCase().replaceAll('-', '_')}`;

/** Experimental flags that 3.6 renamed (old name deprecated, still honoured) and 3.7 removed. */
export const RENAMED_IN_3_6: Readonly<Record<string, string>> = {
  'experimental-compact-hash-check-time': 'compact-hash-check-time',
  'experimental-corrupt-check-time': 'corrupt-check-time',
  'experimental-compaction-batch-limit': 'compaction-batch-limit',
  'experimental-compaction-sleep-interval': 'compaction-sleep-interval',
  'experimental-watch-progress-notify-interval': 'watch-progress-notify-interval',
  'experimental-warning-apply-duration': 'warning-apply-duration',
  'experimental-warning-unary-request-duration': 'warning-unary-request-duration',
  'experimental-bootstrap-defrag-threshold-megabytes': 'bootstrap-defrag-threshold-megabytes',
  'experimental-memory-mlock': 'memory-mlock',
  'experimental-snapshot-catchup-entries': 'snapshot-catchup-entries',
  'experimental-downgrade-check-time': 'downgrade-check-time',
  'experimental-peer-skip-client-san-verification': 'peer-skip-client-san-verification',
  'experimental-max-learners': 'max-learners',
  'experimental-enable-distributed-tracing': 'enable-distributed-tracing',
  'experimental-distributed-tracing-address': 'distributed-tracing-address',
  'experimental-distributed-tracing-service-name': 'distributed-tracing-service-name',
  'experimental-distributed-tracing-instance-id': 'distributed-tracing-instance-id',
  'experimental-distributed-tracing-sampling-rate': 'distributed-tracing-sampling-rate',
};

/** Renamed flags whose two names set together make 3.6 refuse to start (the others: the old name's value wins). */
const BOTH_NAMES_REFUSED = new Set([envName('experimental-warning-unary-request-duration')]);

/** Boolean experimental flags that 3.6 turned into feature gates (`--feature-gates=Gate=true`); gone in 3.7. */
export const GATED_IN_3_6: Readonly<Record<string, string>> = {
  'experimental-initial-corrupt-check': 'InitialCorruptCheck',
  'experimental-compact-hash-check-enabled': 'CompactHashCheck',
  'experimental-txn-mode-write-with-shared-buffer': 'TxnModeWriteWithSharedBuffer',
  'experimental-enable-lease-checkpoint': 'LeaseCheckpoint',
  'experimental-enable-lease-checkpoint-persist': 'LeaseCheckpointPersist',
  'experimental-stop-grpc-service-on-defrag': 'StopGRPCServiceOnDefrag',
};

/** Flags 3.6 removed with the v2 API and the v2 proxy: 3.6 ignores them (only logged). */
export const REMOVED_IN_3_6: Readonly<Record<string, string>> = {
  'enable-v2': 'etcd 3.6 has no v2 API',
  'experimental-enable-v2v3': 'etcd 3.6 has no v2 API',
  proxy: 'etcd 3.6 has no v2 proxy mode',
  'proxy-failure-wait': 'etcd 3.6 has no v2 proxy mode',
  'proxy-refresh-interval': 'etcd 3.6 has no v2 proxy mode',
  'proxy-dial-timeout': 'etcd 3.6 has no v2 proxy mode',
  'proxy-write-timeout': 'etcd 3.6 has no v2 proxy mode',
  'proxy-read-timeout': 'etcd 3.6 has no v2 proxy mode',
};

/** Flags 3.6 still honours but logs as deprecated. */
export const DEPRECATED_IN_3_6: Readonly<Record<string, string>> = {
  'snapshot-count': 'etcd 3.6 deprecates it (it logs a warning at every start) and announces its removal',
  'max-snapshots': 'etcd 3.6 deprecates it (it logs a warning at every start) and announces its removal',
  'v2-deprecation': 'etcd 3.6 ignores the value given and enforces its default',
};

/** Flags 3.5 dropped (3.4 knew them). */
export const REMOVED_IN_3_5: Readonly<Record<string, string>> = {
  debug: 'use ETCD_LOG_LEVEL=debug',
  'log-package-levels': 'use ETCD_LOG_LEVEL',
  'log-output': 'use ETCD_LOG_OUTPUTS',
  'experimental-backend-bbolt-freelist-type': 'use ETCD_BACKEND_BBOLT_FREELIST_TYPE',
};

/** Accepted and ignored by every 3.x (etcd's own list of old v0.4 flags), and read outside the flag set. */
const ALWAYS_KNOWN = [
  'cluster-active-size', 'cluster-remove-delay', 'cluster-sync-interval', 'config', 'force', 'max-result-buffer', 'max-retry-attempts',
  'peer-heartbeat-interval', 'peer-election-timeout', 'retry-interval', 'snapshot', 'v', 'vv', 'config-file',
];

const FLAGS_3_4 = [
  'name', 'data-dir', 'wal-dir', 'snapshot-count', 'heartbeat-interval', 'election-timeout', 'initial-election-tick-advance', 'listen-peer-urls',
  'listen-client-urls', 'max-snapshots', 'max-wals', 'quota-backend-bytes', 'backend-batch-interval', 'backend-batch-limit', 'max-txn-ops',
  'max-request-bytes', 'max-concurrent-streams', 'grpc-keepalive-min-time', 'grpc-keepalive-interval', 'grpc-keepalive-timeout',
  'initial-advertise-peer-urls', 'initial-cluster', 'initial-cluster-state', 'initial-cluster-token', 'advertise-client-urls', 'discovery',
  'discovery-fallback', 'discovery-proxy', 'discovery-srv', 'discovery-srv-name', 'strict-reconfig-check', 'pre-vote', 'auto-compaction-retention',
  'auto-compaction-mode', 'enable-v2', 'cert-file', 'key-file', 'client-cert-auth', 'client-crl-file', 'client-cert-allowed-hostname',
  'trusted-ca-file', 'auto-tls', 'peer-cert-file', 'peer-key-file', 'peer-client-cert-auth', 'peer-trusted-ca-file', 'peer-cert-allowed-cn',
  'peer-cert-allowed-hostname', 'peer-auto-tls', 'peer-crl-file', 'cipher-suites', 'cors', 'host-whitelist', 'auth-token', 'bcrypt-cost',
  'auth-token-ttl', 'enable-pprof', 'metrics', 'listen-metrics-urls', 'logger', 'log-outputs', 'log-level', 'proxy', 'proxy-failure-wait',
  'proxy-refresh-interval', 'proxy-dial-timeout', 'proxy-write-timeout', 'proxy-read-timeout', 'experimental-initial-corrupt-check',
  'experimental-corrupt-check-time', 'experimental-enable-v2v3', 'experimental-backend-bbolt-freelist-type', 'experimental-enable-lease-checkpoint',
  'experimental-compaction-batch-limit', 'experimental-peer-skip-client-san-verification', 'experimental-watch-progress-notify-interval',
  'experimental-warning-apply-duration', 'force-new-cluster', 'debug', 'log-package-levels', 'log-output',
];

const ADDED_IN_3_5 = [
  'listen-client-http-urls', 'backend-bbolt-freelist-type', 'enable-grpc-gateway', 'socket-reuse-port', 'socket-reuse-address', 'raft-read-timeout',
  'raft-write-timeout', 'v2-deprecation', 'client-cert-file', 'client-key-file', 'peer-client-cert-file', 'peer-client-key-file',
  'self-signed-cert-validity', 'tls-min-version', 'tls-max-version', 'enable-log-rotation', 'log-rotation-config-json',
  'experimental-enable-distributed-tracing', 'experimental-distributed-tracing-address', 'experimental-distributed-tracing-service-name',
  'experimental-distributed-tracing-instance-id', 'experimental-distributed-tracing-sampling-rate', 'experimental-compact-hash-check-enabled',
  'experimental-compact-hash-check-time', 'experimental-enable-lease-checkpoint-persist', 'experimental-compaction-sleep-interval',
  'experimental-downgrade-check-time', 'experimental-memory-mlock', 'experimental-txn-mode-write-with-shared-buffer',
  'experimental-bootstrap-defrag-threshold-megabytes', 'experimental-stop-grpc-service-on-defrag', 'unsafe-no-fsync',
  'experimental-snapshot-catchup-entries',
];

const FLAGS_3_5 = [...FLAGS_3_4.filter((f) => !(f in REMOVED_IN_3_5)), ...ADDED_IN_3_5];

/** Names that exist only from 3.6 on: the renamed flags' new names and the feature gates. */
const ADDED_IN_3_6 = [...Object.values(RENAMED_IN_3_6), 'feature-gates', 'log-format'];

const KNOWN: Record<string, ReadonlySet<string>> = {
  '3.4': new Set([...FLAGS_3_4, ...ALWAYS_KNOWN].map(envName)),
  '3.5': new Set([...FLAGS_3_5, ...ALWAYS_KNOWN].map(envName)),
};

const byEnv = (table: Readonly<Record<string, string>>) => new Map(Object.entries(table).map(([flag, v]) => [envName(flag), { flag, v }]));
const RENAMED = byEnv(RENAMED_IN_3_6);
const GATED = byEnv(GATED_IN_3_6);
const REMOVED_36 = byEnv(REMOVED_IN_3_6);
const DEPRECATED_36 = byEnv(DEPRECATED_IN_3_6);
const REMOVED_35 = byEnv(REMOVED_IN_3_5);
const NEW_36 = new Map(ADDED_IN_3_6.map((f) => [envName(f), f]));
const OLD_NAME_OF = new Map(Object.entries(RENAMED_IN_3_6).map(([old, neu]) => [envName(neu), envName(old)]));

const atLeast = (v: MinorVersion, major: number, minor: number) => v.major > major || (v.major === major && v.minor >= minor);
const truthy = (value: string | undefined) => /^(1|t|true)$/i.test((value ?? '').trim());

/** The gates a `--feature-gates` value sets: `A=true,B=false` → {A: true, B: false}. */
export function parseFeatureGates(value: string): Map<string, boolean> {
  const out = new Map<string, boolean>();
  for (const part of value.split(',')) {
    const [k, v] = part.split('=').map((s) => s.trim());
    if (k) out.set(k, truthy(v));
  }
  return out;
}

/**
 * Findings for every `ETCD_*` assignment that etcd `version` rejects, ignores or deprecates, in line
 * order. `ETCDCTL_*` lines are for etcdctl and never linted. A version older than 3.4 gets no findings.
 */
export function lintEnvFile(text: string, version: MinorVersion): EnvLintFinding[] {
  const v = `${version.major}.${version.minor}`;
  const assignments = parseEnvFile(text).lines.filter((l) => l.kind === 'assignment' && l.key?.startsWith('ETCD_'));
  const set = new Map(assignments.map((l) => [l.key!, l]));
  const gates = parseFeatureGates(set.get('ETCD_FEATURE_GATES')?.value ?? '');
  const out: EnvLintFinding[] = [];
  const add = (line: number, key: string, severity: LintSeverity, message: string) => out.push({ line, key, severity, message });
  const is36 = atLeast(version, 3, 6);
  const is37 = atLeast(version, 3, 7);

  for (const l of assignments) {
    const key = l.key!;
    const line = l.lineNo;
    const renamed = RENAMED.get(key);
    const gated = GATED.get(key);
    if (renamed && is36) {
      const to = envName(renamed.v);
      if (is37) add(line, key, 'ignored', `etcd ${v} no longer knows ${key} (removed in 3.7) and ignores it, only logging it: its setting is lost; rename it to ${to}`);
      else if (set.has(to) && BOTH_NAMES_REFUSED.has(key)) add(line, key, 'error', `${key} and ${to} are both set: etcd ${v} refuses to start with both; keep only ${to}`);
      else if (set.has(to)) add(line, key, 'deprecated', `${key} and ${to} are both set: etcd ${v} uses ${key}'s value and logs a deprecation warning; keep only ${to}`);
      else add(line, key, 'deprecated', `etcd ${v} still honours ${key} but logs it as deprecated, and 3.7 ignores it: rename it to ${to}`);
      continue;
    }
    if (gated && is36) {
      const gate = gated.v;
      if (is37) add(line, key, 'ignored', `etcd ${v} no longer knows ${key} (removed in 3.7) and ignores it, only logging it: the feature stays at its default; set ETCD_FEATURE_GATES=${gate}=${truthy(l.value) ? 'true' : 'false'} instead`);
      else if (gates.has(gate)) add(line, key, 'error', `${key} and ETCD_FEATURE_GATES=${gate}=… are both set: etcd ${v} refuses to start with both forms; keep only ETCD_FEATURE_GATES`);
      else add(line, key, 'deprecated', `etcd ${v} still honours ${key} but logs it as deprecated, and 3.7 ignores it: write ETCD_FEATURE_GATES=${gate}=${truthy(l.value) ? 'true' : 'false'} instead`);
      continue;
    }
    const removed36 = REMOVED_36.get(key);
    if (removed36 && is36) {
      const harmless = (key === 'ETCD_PROXY' && /^off$/i.test(l.value ?? '')) || (key === 'ETCD_ENABLE_V2' && !truthy(l.value));
      add(
        line,
        key,
        'ignored',
        `${removed36.v}: etcd ${v} ignores ${key}, only logging it` +
          (harmless ? `; \`${l.value}\` asked for nothing, so nothing is lost: remove the line` : key.includes('V2') ? '; clients of the v2 API (old flannel, old scripts) stop working: move them to v3 and remove the line' : '; remove the line'),
      );
      continue;
    }
    const dep36 = DEPRECATED_36.get(key);
    if (dep36 && is36) {
      add(line, key, 'deprecated', `${dep36.v}; the line still works in ${v}`);
      continue;
    }
    const neu = NEW_36.get(key);
    if (neu && !is36) {
      const old = OLD_NAME_OF.get(key);
      add(line, key, 'ignored', `${key} is a 3.6 name: etcd ${v} does not know it and ignores it, only logging it${old ? `; until every member runs 3.6, write ${old}` : ''}`);
      continue;
    }
    const removed35 = REMOVED_35.get(key);
    if (removed35 && atLeast(version, 3, 5)) {
      add(line, key, 'ignored', `etcd ${v} no longer knows ${key} (removed in 3.5) and ignores it, only logging it: ${removed35.v}`);
      continue;
    }
    const known = KNOWN[v];
    if (known && !known.has(key)) {
      add(line, key, 'ignored', `etcd ${v} has no flag for ${key} and ignores it, only logging it: a typo, or a flag of another version? (check \`etcd --help\` on the node)`);
    }
  }
  return out;
}

/** One line of a plan's warnings: `etcd1: /etc/etcd.env:17: ETCD_ENABLE_V2: …`. */
export function formatFinding(node: string, file: string, f: EnvLintFinding): string {
  const what = f.severity === 'error' ? 'etcd will not start' : f.severity === 'ignored' ? 'ignored' : 'deprecated';
  return `${node}: ${file}:${f.line}: ${f.key} (${what}): ${f.message}`;
}
