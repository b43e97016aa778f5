import { readdirSync, readFileSync } from 'node:fs';
import {
  classifyEtcdError,
  etcdErrorCodes,
  etcdErrorHint,
  lastErrorLine,
  RETRYABLE_ETCD_ERRORS,
  type EtcdErrorCode,
} from '../../src/etcd/classify.js';

const VERSIONS = ['3.4', '3.5'] as const;
type V = (typeof VERSIONS)[number];
const dir = (v: V) => new URL(`../fixtures/etcd/${v}/`, import.meta.url);
const read = (v: V, file: string) => readFileSync(new URL(file, dir(v)), 'utf8');

/**
 * What each captured failure must be classified as. A function of the version where etcdctl 3.4 and 3.5
 * print different things for the same failure.
 */
const EXPECTED: Record<string, EtcdErrorCode | undefined | ((v: V) => EtcdErrorCode | undefined)> = {
  // membership changes
  'err-add-right-after-start': 'unhealthy-cluster',
  'err-add-unhealthy-cluster': 'unhealthy-cluster',
  'err-quorum-lost-member-add': 'unhealthy-cluster',
  'err-add-second-learner': 'too-many-learners',
  'err-add-peer-url-exists': 'peer-urls-exist',
  'err-promote-not-in-sync': 'learner-not-ready',
  'err-promote-voter': 'member-not-learner',
  'err-promote-voter-small-id': 'member-not-learner',
  'err-promote-again': 'member-not-learner',
  'err-remove-unknown': 'member-not-found',
  'err-remove-again': 'member-not-found',
  'err-move-leader-to-learner': 'bad-leader-transferee',
  'err-move-leader-no-leader-endpoint': 'not-leader',
  // learners do not serve reads
  'err-get-on-learner': 'learner-rpc-unsupported',
  'err-health-learner-json': 'learner-rpc-unsupported',
  // quorum lost: requests time out
  'err-quorum-lost-put': 'timeout',
  'err-quorum-lost-health-json': 'timeout',
  'quorum-lost-member-list-json': 'timeout',
  // members down
  'err-status-down-endpoint': 'unreachable',
  'endpoint-status-one-down-json': 'unreachable',
  'endpoint-health-one-down-json': 'unreachable',
  // NOSPACE
  'err-put-no-space': 'no-space',
  // TLS: 3.4 only sees the server hang up on a missing client certificate ("broken pipe"), which names
  // nothing TLS; 3.5 reports the server's "certificate required"
  'err-tls-unknown-ca': 'tls',
  'err-tls-no-client-cert': (v) => (v === '3.4' ? 'timeout' : 'tls'),
  // snapshot tools
  'err-restore-data-dir-exists': 'data-dir-exists',
  'err-restore-without-skip-hash-check': 'snapshot-missing-hash',
  'err-restore-bump-without-mark': 'usage',
  'err-snapshot-status-missing': 'no-such-file',
  'err-get-count-only-json': 'usage',
  // etcdctl 3.4 `member promote -w json` crashes after the promote went through
  'member-promote-json': 'etcdctl-crash',
  // successes that print to stderr: nothing to classify
  'endpoint-health-simple': undefined,
  'snapshot-restore': undefined,
  'snapshot-restore-etcdctl': undefined,
  'snapshot-status-etcdctl-json': undefined,
};

/** etcd's own log of a member that cannot join: the condition that stops it must win over what it replays. */
const SERVER_LOGS: Record<string, EtcdErrorCode> = {
  'server-cluster-id-mismatch': 'cluster-id-mismatch',
  'server-member-count-unequal': 'member-count-unequal',
  'server-permanently-removed': 'permanently-removed',
};

const expected = (v: V, name: string) => {
  const e = EXPECTED[name];
  return typeof e === 'function' ? e(v) : e;
};

describe.each(VERSIONS)('etcd %s captures', (v) => {
  const stderrFiles = readdirSync(dir(v))
    .filter((f) => f.endsWith('.stderr.txt'))
    .map((f) => f.slice(0, -'.stderr.txt'.length))
    .sort();

  it('every captured stderr has an expected class here', () => {
    expect(stderrFiles.length).toBeGreaterThan(25);
    expect(stderrFiles.filter((n) => !(n in EXPECTED))).toEqual([]);
  });

  it.each(stderrFiles)('%s', (name) => {
    const text = read(v, `${name}.stderr.txt`);
    const want = expected(v, name);
    expect(classifyEtcdError(text)).toBe(want);
    if (want !== undefined) expect(etcdErrorCodes(text)[0]).toBe(want);
    else expect(etcdErrorCodes(text)).toEqual([]);
  });

  it.each(Object.entries(SERVER_LOGS))('server log %s', (name, code) => {
    const text = read(v, `${name}.txt`);
    expect(classifyEtcdError(text)).toBe(code);
  });

  it('a removed member replaying old rejected promotes is still "permanently removed"', () => {
    const text = read(v, 'server-permanently-removed.txt');
    const codes = etcdErrorCodes(text);
    expect(codes[0]).toBe('permanently-removed');
    if (v === '3.5') expect(codes).toContain('member-not-learner');
  });

  it('the TLS captures also time out; tls is named first', () => {
    expect(etcdErrorCodes(read(v, 'err-tls-unknown-ca.stderr.txt'))).toEqual(['tls', 'timeout']);
  });

  it.each([
    ['err-promote-not-in-sync', 'etcdserver: can only promote a learner member which is in sync with leader'],
    ['err-add-unhealthy-cluster', 'etcdserver: unhealthy cluster'],
    ['err-restore-data-dir-exists', `data-dir "/tmp/etcd-dr-capture/${v}/restored" ${v === '3.4' ? 'exists' : 'not empty or could not be read'}`],
    ['err-quorum-lost-health-json', 'unhealthy cluster'],
    ['err-status-down-endpoint', `Failed to get the status of endpoint https://127.0.${v === '3.4' ? 30 : 31}.3:2379 (context deadline exceeded)`],
  ])('lastErrorLine of %s', (name, line) => {
    expect(lastErrorLine(read(v, `${name}.stderr.txt`))).toBe(line);
  });

  it('lastErrorLine skips the retry warnings of a long stderr', () => {
    const text = read(v, 'err-get-on-learner.stderr.txt');
    expect(text.split('\n').length).toBeGreaterThan(50);
    expect(lastErrorLine(text)).toBe('etcdserver: rpc not supported for learner');
  });
});

describe('classification rules', () => {
  it.each([
    ['etcdserver: not leader', 'not-leader'],
    ['etcdserver: no leader', 'no-leader'],
    ['etcdserver: leader changed', 'leader-changed'],
    ['etcdserver: member ID already exist', 'member-exists'],
    ['tocommit(1234) is out of range [lastIndex(5)]. Was the raft log corrupted, truncated, or lost?', 'raft-out-of-range'],
    ['alarm:CORRUPT', 'corrupt'],
    ['etcdserver: permission denied', 'auth'],
    ['Error: unknown flag: --bump-revision', 'usage'],
    ['x509: certificate is valid for 10.0.0.1, not 10.0.0.9', 'tls'],
    ['dial tcp 10.0.0.1:2379: connect: no route to host', 'unreachable'],
    ['etcdserver: request timed out', 'timeout'],
    ['all fine', undefined],
    ['', undefined],
  ] as [string, EtcdErrorCode | undefined][])('%j -> %s', (text, code) => {
    expect(classifyEtcdError(text)).toBe(code);
  });

  it('the bare "unhealthy cluster" of etcdctl endpoint health is not etcd refusing a change', () => {
    expect(classifyEtcdError('Error: unhealthy cluster')).toBeUndefined();
  });

  it('a large log is scanned quickly (no backtracking)', () => {
    const big = `${'x'.repeat(1000)}\n`.repeat(50_000) + 'data-dir "' + 'a'.repeat(10_000);
    const t0 = Date.now();
    expect(classifyEtcdError(big)).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('every code has a hint', () => {
    const codes = new Set<EtcdErrorCode>([
      ...Object.values(SERVER_LOGS),
      ...VERSIONS.flatMap((v) => Object.keys(EXPECTED).map((n) => expected(v, n))).filter((c): c is EtcdErrorCode => c !== undefined),
    ]);
    for (const c of codes) expect(etcdErrorHint(c).length).toBeGreaterThan(20);
  });

  it('retries only what can succeed unchanged later', () => {
    expect([...RETRYABLE_ETCD_ERRORS].sort()).toEqual(['leader-changed', 'learner-not-ready', 'no-leader', 'timeout', 'unhealthy-cluster']);
    expect(RETRYABLE_ETCD_ERRORS.has('member-not-learner')).toBe(false);
    expect(RETRYABLE_ETCD_ERRORS.has('etcdctl-crash')).toBe(false);
  });

  it('lastErrorLine falls back to the last non-empty line, CRLF trimmed', () => {
    expect(lastErrorLine('one\r\ntwo\r\n\r\n')).toBe('two');
    expect(lastErrorLine('')).toBe('');
  });
});
