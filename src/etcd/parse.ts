/**
 * Parsers for what etcdctl and etcdutl print, in etcd 3.4 and 3.5 (those of the member commands are in
 * parse-members.ts). Each takes the text of one command's output and returns plain data, or throws a
 * ParseError naming the command and showing the start of the text. Ids (member, cluster, leader) come out as 16 lowercase hex digits, read exactly
 * (see json.ts): the form `member list -w table` shows and `member promote` takes.
 *
 * Differences between versions that matter here (all seen in test/fixtures/etcd):
 * - json omits false/zero/empty fields: `isLearner` only when true, `leader` absent without a leader,
 *   `count` absent when 0, `name`/`clientURLs` absent for a member that never started.
 * - `alarm list -w json` prints `{}` on 3.4 when there is no alarm, a header on 3.5.
 * - tables are ASCII (`|`, `+`) on 3.4 and box drawing (`│`, `┌`) on 3.5.
 * - `endpoint status` with an unreachable endpoint prints the others on stdout, exits non-zero and
 *   names the failed one on stderr.
 */
import { ParseError } from './errors.js';
import { isJsonObject, type JsonValue, parseJsonExact, uint64ToHex } from './json.js';
import {
  boundedLines, expectHeader, Fields, objectsOf, parseTable, readArray, readHeader, readObject, root,
} from './output.js';
import {
  type Alarm, type AlarmType, type EndpointFailure, type EndpointHashKv, type EndpointHealth,
  type EndpointStatus, type EndpointStatusResult, type KeyCount, NO_ID, type ResponseHeader, type RestoreLog,
  type SnapshotStatus,
} from './records.js';

// ---------------------------------------------------------------- endpoint status / health / hashkv

/** `endpoint status -w json`, plus the endpoints that failed as its stderr names them. */
export function parseEndpointStatusJson(stdout: string, stderr = '', command = 'etcdctl endpoint status -w json'): EndpointStatusResult {
  // every endpoint failing leaves `[]`; an empty stdout (etcdctl died early) is an error
  const list = readArray(command, stdout);
  const statuses = objectsOf(command, stdout, list).map((f): EndpointStatus => {
    const s = f.object('Status') as Fields;
    const h = s.object('header') as Fields;
    const memberId = h.id('member_id');
    const leader = s.id('leader', true);
    return {
      endpoint: f.str('Endpoint', false),
      memberId,
      clusterId: h.id('cluster_id'),
      leader,
      isLeader: leader !== NO_ID && leader === memberId,
      isLearner: s.bool('isLearner'),
      version: s.str('version'),
      dbSize: s.num('dbSize'),
      dbSizeInUse: s.num('dbSizeInUse'),
      raftTerm: s.num('raftTerm'),
      raftIndex: s.num('raftIndex'),
      raftAppliedIndex: s.num('raftAppliedIndex'),
      revision: h.num('revision'),
      errors: s.strings('errors'),
    };
  });
  return { statuses, failures: parseEndpointFailures(stderr) };
}

/** "Failed to get the status of endpoint https://…:2379 (context deadline exceeded)" lines. */
export function parseEndpointFailures(stderr: string): EndpointFailure[] {
  const out: EndpointFailure[] = [];
  const lead = 'Failed to get the status of endpoint ';
  for (const l of boundedLines(stderr)) {
    if (!l.startsWith(lead)) continue;
    const rest = l.slice(lead.length);
    const sp = rest.indexOf(' ');
    const endpoint = sp < 0 ? rest : rest.slice(0, sp);
    let error = sp < 0 ? '' : rest.slice(sp + 1).trim();
    if (error.startsWith('(') && error.endsWith(')')) error = error.slice(1, -1);
    out.push({ endpoint, error });
  }
  return out;
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A Go duration (`3.497537ms`, `5.001288439s`, `1m2.5s`) in milliseconds; NaN when it is not one. */
export function parseGoDuration(s: string): number {
  const re = /(\d{1,20}(?:\.\d{1,20})?)(ns|us|µs|μs|ms|s|m|h)/y;
  let total = 0;
  let pos = 0;
  if (s === '' || s.length > 100) return NaN;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return NaN;
    total += Number(m[1]) * (DURATION_UNITS[m[2] as string] as number);
    pos = re.lastIndex;
  }
  return total;
}

/** `endpoint health -w json`: one entry per endpoint, healthy or not (etcdctl exits 1 if any is not). */
export function parseEndpointHealthJson(stdout: string, command = 'etcdctl endpoint health -w json'): EndpointHealth[] {
  return objectsOf(command, stdout, readArray(command, stdout)).map((f) => {
    const took = f.str('took');
    const e: EndpointHealth = { endpoint: f.str('endpoint', false), health: f.bool('health'), took, tookMs: parseGoDuration(took) };
    const error = f.str('error');
    if (error !== '') e.error = error;
    return e;
  });
}

/** `endpoint hashkv -w json`. */
export function parseEndpointHashKvJson(stdout: string, command = 'etcdctl endpoint hashkv -w json'): EndpointHashKv[] {
  return objectsOf(command, stdout, readArray(command, stdout)).map((f) => {
    const hk = f.object('HashKV') as Fields;
    const h = hk.object('header') as Fields;
    return {
      endpoint: f.str('Endpoint', false),
      memberId: h.id('member_id'),
      clusterId: h.id('cluster_id'),
      revision: h.num('revision'),
      hash: hk.num('hash'),
      compactRevision: hk.num('compact_revision'),
    };
  });
}

// ---------------------------------------------------------------- alarms

const ALARMS: Record<string, AlarmType> = { '0': 'NONE', '1': 'NOSPACE', '2': 'CORRUPT', NONE: 'NONE', NOSPACE: 'NOSPACE', CORRUPT: 'CORRUPT' };

function alarmType(v: string): AlarmType {
  return ALARMS[v] ?? `UNKNOWN(${v})`;
}

/** `alarm list -w json`: `{}` (3.4) or a bare header (3.5) when there is none. */
export function parseAlarmListJson(stdout: string, command = 'etcdctl alarm list -w json'): Alarm[] {
  const f = root(command, stdout, readObject(command, stdout));
  return f.array('alarms').map((a, i) => {
    if (!isJsonObject(a)) return f.fail(`alarms[${i}] is not an object`);
    const af = new Fields(command, stdout, a, `alarms[${i}]`);
    const raw = a['alarm'];
    return { memberId: af.id('memberID'), alarm: alarmType(raw === undefined ? '0' : String(raw)) };
  });
}

/** `alarm list` (simple): `memberID:<decimal> alarm:NOSPACE` per line. */
export function parseAlarmListSimple(stdout: string, command = 'etcdctl alarm list'): Alarm[] {
  const out: Alarm[] = [];
  for (const l of boundedLines(stdout)) {
    if (l.trim() === '') continue;
    const m = /^memberID:(\d{1,20}) alarm:([A-Z0-9_]{1,32})\s*$/.exec(l);
    const id = m ? uint64ToHex(BigInt(m[1] as string)) : undefined;
    if (!m || id === undefined) throw new ParseError(command, `line ${JSON.stringify(l)} is not "memberID:<id> alarm:<type>"`, stdout);
    out.push({ memberId: id, alarm: alarmType(m[2] as string) });
  }
  return out;
}

// ---------------------------------------------------------------- snapshot status

/** `snapshot status -w json` (etcdctl 3.4/3.5, etcdutl 3.5+). */
export function parseSnapshotStatusJson(stdout: string, command = 'snapshot status -w json'): SnapshotStatus {
  const f = root(command, stdout, readObject(command, stdout));
  // json omits zeros, but a real db is never 0 bytes: without totalSize this is not a snapshot status
  if (f.obj['totalSize'] === undefined) f.fail('no "totalSize"');
  const s: SnapshotStatus = { hash: f.num('hash'), revision: f.num('revision'), totalKey: f.num('totalKey'), totalSize: f.num('totalSize') };
  const version = f.str('version');
  if (version !== '') s.version = version;
  return s;
}

const SIZE_UNITS: Record<string, number> = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };

/** `20 kB` → 20000 (go-humanize, SI units, as etcdctl prints sizes); NaN otherwise. */
export function parseHumanSize(s: string): number {
  const m = /^(\d{1,15}(?:\.\d{1,6})?) ?(B|kB|MB|GB|TB)$/.exec(s.trim());
  return m ? Math.round(Number(m[1]) * (SIZE_UNITS[m[2] as string] as number)) : NaN;
}

function snapshotFromCells(cells: string[], command: string, text: string): SnapshotStatus {
  const [hash, revision, keys, size] = cells as [string, string, string, string];
  if (!/^[0-9a-f]{1,8}$/.test(hash) || !/^\d+$/.test(revision) || !/^\d+$/.test(keys)) {
    throw new ParseError(command, 'expected hash (hex), revision, total keys, total size', text);
  }
  // sizes are rounded by the printer: only json gives the exact size
  return { hash: parseInt(hash, 16), revision: Number(revision), totalKey: Number(keys), totalSize: parseHumanSize(size) };
}

/** `snapshot status -w table`: hash in hex, size rounded (`20 kB`). */
export function parseSnapshotStatusTable(stdout: string, command = 'snapshot status -w table'): SnapshotStatus {
  const t = parseTable(stdout, command);
  expectHeader(t, ['HASH', 'REVISION', 'TOTAL KEYS', 'TOTAL SIZE'], command, stdout);
  if (t.rows.length !== 1) throw new ParseError(command, `expected one row, found ${t.rows.length}`, stdout);
  return snapshotFromCells(t.rows[0] as string[], command, stdout);
}

/** `snapshot status` (simple): `2d0f1632, 8, 16, 20 kB`. */
export function parseSnapshotStatusSimple(stdout: string, command = 'snapshot status'): SnapshotStatus {
  const line = boundedLines(stdout).find((l) => l.trim() !== '');
  if (line === undefined) throw new ParseError(command, 'no output', stdout);
  const cells = line.split(',').map((c) => c.trim());
  if (cells.length < 4) throw new ParseError(command, 'expected hash, revision, total keys, total size', stdout);
  return snapshotFromCells(cells, command, stdout);
}

// ---------------------------------------------------------------- get / put

/** `get --prefix --keys-only --limit=1 -w json`: `count` is the size of the whole range. */
export function parseKeyCountJson(stdout: string, command = 'etcdctl get --prefix --keys-only --limit=1 -w json'): KeyCount {
  const f = root(command, stdout, readObject(command, stdout));
  return { header: readHeader(f), count: f.num('count') };
}

/**
 * `-w fields` output (`"Key" : value` lines) as a map of raw values: used for 3.5's
 * `get --count-only -w fields` (`"Count" : 7`) and `member list -w fields`.
 * Repeated keys (one per member) keep their last value.
 */
export function parseFields(stdout: string, command = 'etcdctl -w fields'): Record<string, string> {
  const out: Record<string, string> = {};
  let any = false;
  for (const l of boundedLines(stdout)) {
    if (l.trim() === '') continue;
    const m = /^"([A-Za-z]{1,64})" : (.*)$/.exec(l);
    if (!m) throw new ParseError(command, `line ${JSON.stringify(l.slice(0, 100))} is not "Field" : value`, stdout);
    out[m[1] as string] = (m[2] as string).trim();
    any = true;
  }
  if (!any) throw new ParseError(command, 'no fields', stdout);
  return out;
}

/** 3.5 `get --prefix --count-only -w fields`. */
export function parseCountFields(stdout: string, command = 'etcdctl get --prefix --count-only -w fields'): number {
  const f = parseFields(stdout, command);
  const c = f['Count'];
  if (c === undefined || !/^\d{1,15}$/.test(c)) throw new ParseError(command, 'no "Count" field', stdout);
  return Number(c);
}

/** `put -w json`: the header, whose revision is the one the put created. */
export function parsePutJson(stdout: string, command = 'etcdctl put -w json'): ResponseHeader {
  return readHeader(root(command, stdout, readObject(command, stdout)));
}

// ---------------------------------------------------------------- snapshot restore log

/**
 * What `snapshot restore` logs on stderr: the id of the member it created and of the new cluster
 * (3.4 logs zap JSON lines, 3.5 zap console lines with a JSON tail; zap drops leading zeros of hex
 * ids) and, with --bump-revision, the revisions. Fields not found stay undefined.
 */
export function parseRestoreLog(stderr: string): RestoreLog {
  const out: RestoreLog = {};
  for (const l of boundedLines(stderr, 65536)) {
    const brace = l.indexOf('{');
    if (brace < 0) continue;
    let obj: JsonValue;
    try {
      obj = parseJsonExact(l.slice(brace));
    } catch {
      continue;
    }
    if (!isJsonObject(obj)) continue;
    const msg = typeof obj['msg'] === 'string' ? obj['msg'] : l.slice(0, brace);
    if (msg.includes('added member')) {
      const peer = obj['added-peer-id'];
      const cluster = obj['cluster-id'];
      if (typeof peer === 'string' && /^[0-9a-f]{1,16}$/.test(peer)) out.memberId = peer.padStart(16, '0');
      if (typeof cluster === 'string' && /^[0-9a-f]{1,16}$/.test(cluster)) out.clusterId = cluster.padStart(16, '0');
    } else if (msg.includes('bumping latest revision')) {
      const before = obj['latest-revision'];
      const after = obj['new-latest-revision'];
      if (typeof before === 'number') out.latestRevision = before;
      if (typeof after === 'number') out.bumpedRevision = after;
    }
  }
  return out;
}
