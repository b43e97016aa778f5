/**
 * Parsers for what etcdctl and etcdutl print, in etcd 3.4 and 3.5. Each takes the text of one
 * command's output and returns plain data, or throws a ParseError naming the command and showing the
 * start of the text. Ids (member, cluster, leader) come out as 16 lowercase hex digits, read exactly
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
import { isJsonObject, JsonSyntaxError, parseJsonExact, uint64ToHex, type JsonObject, type JsonValue } from './json.js';
import { parseEnvFile, vars } from './envfile.js';

/** `0000000000000000`: the leader field of a member that knows no leader. */
export const NO_ID = '0000000000000000';

export interface ResponseHeader {
  clusterId: string;
  /** the member that answered */
  memberId: string;
  raftTerm: number;
  revision: number;
}

export interface Member {
  id: string;
  /** empty for a member that was added but never started */
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  /** etcdctl's own rule: a member is started once it has published its name */
  started: boolean;
}

export interface MemberList {
  header: ResponseHeader;
  members: Member[];
}

export interface EndpointStatus {
  endpoint: string;
  memberId: string;
  clusterId: string;
  /** NO_ID when this member knows no leader */
  leader: string;
  isLeader: boolean;
  isLearner: boolean;
  version: string;
  dbSize: number;
  dbSizeInUse: number;
  raftTerm: number;
  raftIndex: number;
  raftAppliedIndex: number;
  revision: number;
  /** e.g. `etcdserver: no leader`, `memberID:… alarm:NOSPACE` */
  errors: string[];
}

export interface EndpointFailure {
  endpoint: string;
  error: string;
}

export interface EndpointStatusResult {
  statuses: EndpointStatus[];
  /** endpoints etcdctl could not reach (from its stderr) */
  failures: EndpointFailure[];
}

export interface EndpointHealth {
  endpoint: string;
  health: boolean;
  /** as printed, e.g. `3.497537ms` */
  took: string;
  tookMs: number;
  error?: string;
}

export interface EndpointHashKv {
  endpoint: string;
  memberId: string;
  clusterId: string;
  revision: number;
  hash: number;
  compactRevision: number;
}

export type AlarmType = 'NONE' | 'NOSPACE' | 'CORRUPT' | `UNKNOWN(${string})`;

export interface Alarm {
  memberId: string;
  alarm: AlarmType;
}

export interface SnapshotStatus {
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
  /** storage version (etcdutl 3.6+ only) */
  version?: string;
}

export interface MemberChange {
  memberId: string;
  clusterId: string;
}

export interface MemberAddSimple extends MemberChange {
  /** the ETCD_* lines etcdctl prints for the new member (ETCD_NAME, ETCD_INITIAL_CLUSTER, …) */
  env: Record<string, string>;
}

export interface MemberAddResult {
  header: ResponseHeader;
  member: Member;
  /** the membership after the add, the new member included */
  members: Member[];
}

export interface KeyCount {
  header: ResponseHeader;
  count: number;
}

export interface RestoreLog {
  /** id of the member the restore created (from "added member") */
  memberId?: string;
  /** id of the restored cluster */
  clusterId?: string;
  /** revision before and after --bump-revision (3.5 logs it) */
  latestRevision?: number;
  bumpedRevision?: number;
}

// ---------------------------------------------------------------- helpers

function readJson(command: string, text: string): JsonValue {
  const trimmed = text.trim();
  if (trimmed === '') throw new ParseError(command, 'no output', text);
  try {
    return parseJsonExact(trimmed);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new ParseError(command, `not JSON (${e.message})`, text);
    throw e;
  }
}

function readObject(command: string, text: string): JsonObject {
  const v = readJson(command, text);
  if (!isJsonObject(v)) throw new ParseError(command, 'expected a JSON object', text);
  return v;
}

function readArray(command: string, text: string): JsonValue[] {
  const v = readJson(command, text);
  if (!Array.isArray(v)) throw new ParseError(command, 'expected a JSON array', text);
  return v;
}

class Fields {
  constructor(
    readonly command: string,
    readonly text: string,
    readonly obj: JsonObject,
    readonly where: string,
  ) {}

  fail(reason: string): never {
    throw new ParseError(this.command, `${this.where}: ${reason}`, this.text);
  }

  /** a uint64 id as hex; `optional` ids that are absent (json omits zero) come back as NO_ID */
  id(key: string, optional = false): string {
    const v = this.obj[key];
    if (v === undefined && optional) return NO_ID;
    const hex = uint64ToHex(v);
    if (hex === undefined) this.fail(`"${key}" is not an unsigned 64-bit id (${JSON.stringify(String(v))})`);
    return hex;
  }

  /** a count or index; json omits zeros */
  num(key: string): number {
    const v = this.obj[key];
    if (v === undefined) return 0;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'bigint') this.fail(`"${key}" is too large for a count (${v})`);
    return this.fail(`"${key}" is not a number`);
  }

  str(key: string, optional = true): string {
    const v = this.obj[key];
    if (v === undefined && optional) return '';
    if (typeof v !== 'string') this.fail(`"${key}" is not a string`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.obj[key];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') this.fail(`"${key}" is not true/false`);
    return v;
  }

  strings(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(`"${key}" is not a list of strings`);
    return v as string[];
  }

  object(key: string, optional = false): Fields | undefined {
    const v = this.obj[key];
    if (v === undefined && optional) return undefined;
    if (!isJsonObject(v)) return this.fail(`"${key}" is not an object`);
    return new Fields(this.command, this.text, v, `${this.where}.${key}`);
  }

  array(key: string, optional = true): JsonValue[] {
    const v = this.obj[key];
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) return this.fail(`"${key}" is not a list`);
    return v;
  }
}

function root(command: string, text: string, obj: JsonObject): Fields {
  return new Fields(command, text, obj, 'output');
}

function readHeader(f: Fields): ResponseHeader {
  const h = f.object('header') as Fields;
  return { clusterId: h.id('cluster_id'), memberId: h.id('member_id'), raftTerm: h.num('raft_term'), revision: h.num('revision') };
}

function readMember(f: Fields): Member {
  const name = f.str('name');
  return {
    id: f.id('ID'),
    name,
    peerUrls: f.strings('peerURLs'),
    clientUrls: f.strings('clientURLs'),
    isLearner: f.bool('isLearner'),
    started: name !== '',
  };
}

function readMembers(f: Fields, key = 'members'): Member[] {
  return f.array(key).map((m, i) => {
    if (!isJsonObject(m)) return f.fail(`${key}[${i}] is not an object`);
    return readMember(new Fields(f.command, f.text, m, `${f.where}.${key}[${i}]`));
  });
}

function objectsOf(command: string, text: string, list: JsonValue[]): Fields[] {
  return list.map((v, i) => {
    if (!isJsonObject(v)) throw new ParseError(command, `entry ${i} is not an object`, text);
    return new Fields(command, text, v, `entry ${i}`);
  });
}

/** Lines of at most `max` characters; longer ones are cut, so no regex ever runs over a huge line. */
function boundedLines(text: string, max = 4096): string[] {
  return text.split('\n').map((l) => (l.length > max ? l.slice(0, max) : l).replace(/\r$/, ''));
}

// ---------------------------------------------------------------- member list / add / promote / remove

export function parseMemberListJson(text: string, command = 'etcdctl member list -w json'): MemberList {
  const f = root(command, text, readObject(command, text));
  if (f.obj['members'] === undefined) f.fail('no "members" list');
  return { header: readHeader(f), members: readMembers(f) };
}

export interface TableMember {
  id: string;
  status: 'started' | 'unstarted';
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
}

/** etcdctl prints ids in text with `%x`: no leading zeros, so an id below 2^60 has fewer than 16 digits. */
const HEX_ID = /^[0-9a-f]{1,16}$/;

function hexId(s: string): string | undefined {
  return HEX_ID.test(s) && !/^0+$/.test(s) ? s.padStart(16, '0') : undefined;
}

function splitUrls(s: string): string[] {
  return s === '' ? [] : s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

function tableMember(command: string, text: string, cells: string[]): TableMember {
  const [rawId, status, name, peers, clients, learner] = cells as [string, string, string, string, string, string?];
  const id = hexId(rawId);
  if (id === undefined) throw new ParseError(command, `member id ${JSON.stringify(rawId)} is not a hex id`, text);
  if (status !== 'started' && status !== 'unstarted') throw new ParseError(command, `member status ${JSON.stringify(status)}`, text);
  return {
    id,
    status,
    name,
    peerUrls: splitUrls(peers),
    clientUrls: splitUrls(clients),
    isLearner: learner === 'true',
  };
}

/** `member list -w table`: ids in hex as etcd prints them. */
export function parseMemberListTable(text: string, command = 'etcdctl member list -w table'): TableMember[] {
  const t = parseTable(text, command);
  expectHeader(t, ['ID', 'STATUS', 'NAME', 'PEER ADDRS', 'CLIENT ADDRS'], command, text);
  return t.rows.map((r) => tableMember(command, text, r));
}

/** `member list` (simple): `id, status, name, peer urls, client urls, is learner` per line. */
export function parseMemberListSimple(text: string, command = 'etcdctl member list'): TableMember[] {
  return boundedLines(text)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const cells = l.split(', ');
      if (cells.length < 5) throw new ParseError(command, `line ${JSON.stringify(l)} has ${cells.length} fields, expected 6`, text);
      return tableMember(command, text, cells.map((c) => c.trim()));
    });
}

export function parseMemberAddJson(text: string, command = 'etcdctl member add -w json'): MemberAddResult {
  const f = root(command, text, readObject(command, text));
  const m = f.object('member') as Fields;
  return { header: readHeader(f), member: readMember(m), members: readMembers(f) };
}

function memberLine(text: string, command: string, verb: string): MemberChange {
  // "Member 8e9e05c52164694d added to cluster ef37ad9dc622a7c4"
  for (const l of boundedLines(text)) {
    const words = l.trim().split(/ +/);
    if (words.length === 6 && words[0] === 'Member' && words[2] === verb && (words[4] === 'cluster')) {
      const memberId = hexId(words[1] as string);
      const clusterId = hexId(words[5] as string);
      if (memberId !== undefined && clusterId !== undefined) return { memberId, clusterId };
    }
  }
  throw new ParseError(command, `no "Member <id> ${verb} … cluster <id>" line`, text);
}

/** `member add` (simple): the new member's id, the cluster id and the ETCD_* lines to configure it with. */
export function parseMemberAddSimple(text: string, command = 'etcdctl member add'): MemberAddSimple {
  const change = memberLine(text, command, 'added');
  const env = vars(parseEnvFile(boundedLines(text).filter((l) => l.startsWith('ETCD_')).join('\n')));
  return { ...change, env };
}

/** `member promote` (simple): "Member … promoted in cluster …". */
export function parseMemberPromote(text: string, command = 'etcdctl member promote'): MemberChange {
  return memberLine(text, command, 'promoted');
}

/** `member remove` (simple): "Member … removed from cluster …". */
export function parseMemberRemove(text: string, command = 'etcdctl member remove'): MemberChange {
  return memberLine(text, command, 'removed');
}

/** `member remove -w json` and (3.5) `member promote -w json`: the membership after the change. */
export function parseMemberChangeJson(text: string, command = 'etcdctl member remove -w json'): MemberList {
  const f = root(command, text, readObject(command, text));
  return { header: readHeader(f), members: readMembers(f) };
}

/** `move-leader`: "Leadership transferred from <hex> to <hex>". */
export function parseMoveLeader(text: string, command = 'etcdctl move-leader'): { from: string; to: string } {
  for (const l of boundedLines(text)) {
    const w = l.trim().split(/ +/);
    if (w.length === 6 && w[0] === 'Leadership' && w[1] === 'transferred' && w[2] === 'from' && w[4] === 'to') {
      const from = hexId(w[3] as string);
      const to = hexId(w[5] as string);
      if (from !== undefined && to !== undefined) return { from, to };
    }
  }
  throw new ParseError(command, 'no "Leadership transferred from <id> to <id>" line', text);
}

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

// ---------------------------------------------------------------- tables

export interface Table {
  header: string[];
  rows: string[][];
}

const isBorder = (l: string) => /^[+┌├└╞╘─-]/.test(l);

/** A `-w table` output, ASCII (3.4) or box drawing (3.5), as header and rows of trimmed cells. */
export function parseTable(text: string, command = 'etcdctl -w table'): Table {
  const rows: string[][] = [];
  for (const raw of boundedLines(text, 65536)) {
    const l = raw.trim();
    if (l === '' || isBorder(l)) continue;
    const sep = l[0];
    if (sep !== '|' && sep !== '│') throw new ParseError(command, `line ${JSON.stringify(l.slice(0, 100))} is not a table row`, text);
    const cells = l.split(sep).slice(1, -1).map((c) => c.trim());
    rows.push(cells);
  }
  const [header, ...body] = rows;
  if (!header) throw new ParseError(command, 'no table', text);
  for (const r of body) {
    if (r.length !== header.length) throw new ParseError(command, `a row has ${r.length} cells, the header ${header.length}`, text);
  }
  return { header, rows: body };
}

function expectHeader(t: Table, prefix: string[], command: string, text: string): void {
  prefix.forEach((h, i) => {
    if (t.header[i] !== h) throw new ParseError(command, `column ${i + 1} is ${JSON.stringify(t.header[i])}, expected ${h}`, text);
  });
}
