/** Parsers of `member list/add/promote/remove` and `move-leader` output (json, table, simple). */
import { parseEnvFile, vars } from './envfile.js';
import { ParseError } from './errors.js';
import {
  boundedLines, expectHeader, Fields, parseTable, readHeader, readMember, readMembers, readObject, root,
} from './output.js';
import type { MemberAddResult, MemberAddSimple, MemberChange, MemberList } from './records.js';

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
