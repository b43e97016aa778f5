import { existsSync, readFileSync } from 'node:fs';
import { ParseError } from '../../src/etcd/errors.js';
import { isJsonObject, JsonSyntaxError, parseJsonExact, uint64ToHex } from '../../src/etcd/json.js';
import { parseTable } from '../../src/etcd/output.js';
import {
  parseMemberAddJson,
  parseMemberAddSimple,
  parseMemberChangeJson,
  parseMemberListJson,
  parseMemberListSimple,
  parseMemberListTable,
  parseMemberPromote,
  parseMemberRemove,
  parseMoveLeader,
} from '../../src/etcd/parse-members.js';
import {
  parseAlarmListJson,
  parseAlarmListSimple,
  parseCountFields,
  parseEndpointFailures,
  parseEndpointHashKvJson,
  parseEndpointHealthJson,
  parseEndpointStatusJson,
  parseFields,
  parseGoDuration,
  parseHumanSize,
  parseKeyCountJson,
  parsePutJson,
  parseRestoreLog,
  parseSnapshotStatusJson,
  parseSnapshotStatusSimple,
  parseSnapshotStatusTable,
} from '../../src/etcd/parse.js';
import { NO_ID } from '../../src/etcd/records.js';

// Every expectation below is derived from the captures themselves (another output format of the same
// state, the decimal ids in the raw text), never from ids typed in here: a re-capture changes every id.
const VERSIONS = ['3.4', '3.5'] as const;
type V = (typeof VERSIONS)[number];
const path = (v: V, name: string) => new URL(`../fixtures/etcd/${v}/${name}`, import.meta.url);
const fx = (v: V, name: string): string => readFileSync(path(v, `${name}.txt`), 'utf8');
const fxErr = (v: V, name: string): string => (existsSync(path(v, `${name}.stderr.txt`)) ? readFileSync(path(v, `${name}.stderr.txt`), 'utf8') : '');
const has = (v: V, name: string): boolean => existsSync(path(v, `${name}.txt`));

const HEX16 = /^[0-9a-f]{16}$/;
/** a decimal uint64 as the 16-digit hex the parsers must give, computed with BigInt (no rounding) */
const hex = (dec: string): string => BigInt(dec).toString(16).padStart(16, '0');
/** every `"KEY":<decimal>` of a raw json text, exactly */
const decimals = (text: string, key: string): string[] => [...text.matchAll(new RegExp(`"${key}":(\\d+)`, 'g'))].map((m) => hex(m[1] as string));

describe.each(VERSIONS)('etcd %s', (v) => {
  describe('member list', () => {
    const listFixtures = ['member-list-json', 'member-list-4-json', 'member-list-one-down-json', 'small-id-member-list-json', 'restored-member-list-json'];
    it.each(listFixtures)('%s: ids are exact 16-digit hex of the decimal ids in the text', (name) => {
      const text = fx(v, name);
      const l = parseMemberListJson(text);
      expect(l.members.map((m) => m.id)).toEqual(decimals(text, 'ID'));
      expect(l.header.clusterId).toBe(decimals(text, 'cluster_id')[0]);
      expect(l.header.memberId).toBe(decimals(text, 'member_id')[0]);
      for (const m of l.members) {
        expect(m.id).toMatch(HEX16);
        expect(m.peerUrls.length).toBeGreaterThan(0);
        expect(m.started).toBe(m.name !== '');
      }
    });

    it('json, table and simple agree, the unstarted learner included', () => {
      const json = parseMemberListJson(fx(v, 'member-list-json')).members;
      const table = parseMemberListTable(fx(v, 'member-list-table'));
      const simple = parseMemberListSimple(fx(v, 'member-list-simple'));
      const fromJson = json.map((m) => ({
        id: m.id,
        status: m.started ? 'started' : 'unstarted',
        name: m.name,
        peerUrls: m.peerUrls,
        clientUrls: m.clientUrls,
        isLearner: m.isLearner,
      }));
      expect(table).toEqual(fromJson);
      expect(simple).toEqual(fromJson);
      const learners = json.filter((m) => m.isLearner);
      expect(learners).toHaveLength(1);
      expect(learners[0]).toMatchObject({ name: '', started: false, clientUrls: [] });
      expect(json.filter((m) => m.started).map((m) => m.name).sort()).toEqual(['etcd1', 'etcd2', 'etcd3']);
    });

    it('the table of 4 members after a promote has no learner and agrees with json', () => {
      const json = parseMemberListJson(fx(v, 'member-list-4-json')).members;
      const table = parseMemberListTable(fx(v, 'member-list-4-table'));
      expect(table.map((m) => m.id)).toEqual(json.map((m) => m.id));
      expect(table.every((m) => !m.isLearner && m.status === 'started')).toBe(true);
      const after = parseMemberListTable(fx(v, 'member-list-after-promote-table'));
      expect(after).toHaveLength(4);
      expect(after.every((m) => !m.isLearner)).toBe(true);
    });

    it('a member id below 2^60 keeps its leading zero in every format (small-id capture)', () => {
      const json = parseMemberListJson(fx(v, 'small-id-member-list-json'));
      const simple = parseMemberListSimple(fx(v, 'small-id-member-list-simple'));
      const id = json.members[0]!.id;
      expect(id).toMatch(HEX16);
      expect(id.startsWith('0')).toBe(true);
      expect(simple[0]!.id).toBe(id);
      // etcdctl prints it without leading zeros; the parsers pad it back
      expect(fx(v, 'small-id-member-list-simple').startsWith(id.replace(/^0+/, '') + ',')).toBe(true);
      const t = parseTable(fx(v, 'small-id-endpoint-status-table'));
      expect(t.rows[0]![1]!.padStart(16, '0')).toBe(id);
    });

    it('member list -w fields prints the same ids in decimal', () => {
      const text = fx(v, 'member-list-fields');
      const ids = [...text.matchAll(/^"ID" : (\d+)$/gm)].map((m) => hex(m[1] as string));
      expect(ids).toEqual(parseMemberListJson(fx(v, 'member-list-json')).members.map((m) => m.id));
      const f = parseFields(text);
      expect(hex(f['ClusterID'] as string)).toBe(parseMemberListJson(fx(v, 'member-list-json')).header.clusterId);
      // repeated keys keep the last member's value
      expect(hex(f['ID'] as string)).toBe(ids[ids.length - 1]);
    });

    it('a restored member is alone, in a new cluster', () => {
      const before = parseMemberListJson(fx(v, 'member-list-json'));
      const after = parseMemberListJson(fx(v, 'restored-member-list-json'));
      expect(after.members).toHaveLength(1);
      expect(after.members[0]!.name).toBe('etcd3');
      expect(after.header.clusterId).not.toBe(before.header.clusterId);
    });
  });

  it('member list without quorum: 3.4 answers from the local member, 3.5 prints nothing and fails', () => {
    if (v === '3.4') {
      const l = parseMemberListJson(fx(v, 'quorum-lost-member-list-json'));
      expect(l.members.length).toBeGreaterThan(0);
    } else {
      expect(fx(v, 'quorum-lost-member-list-json')).toBe('');
      expect(() => parseMemberListJson(fx(v, 'quorum-lost-member-list-json'))).toThrow(ParseError);
      expect(fxErr(v, 'quorum-lost-member-list-json')).toContain('context deadline exceeded');
    }
  });

  describe('member add / promote / remove / move-leader', () => {
    it('member add -w json: the new learner, unnamed, and the membership after the add', () => {
      const text = fx(v, 'member-add-learner-json');
      const r = parseMemberAddJson(text);
      expect(r.member).toMatchObject({ isLearner: true, name: '', started: false });
      expect(r.member.id).toBe(decimals(text, 'ID')[0]);
      expect(r.members.map((m) => m.id)).toContain(r.member.id);
      expect(r.members).toHaveLength(4);
      expect(r.header.clusterId).toMatch(HEX16);
    });

    it.each(['member-add-learner-simple', 'member-add-learner-again-simple'])('%s: ids and the ETCD_* lines', (name) => {
      const text = fx(v, name);
      const r = parseMemberAddSimple(text);
      expect(r.memberId).toMatch(HEX16);
      expect(r.clusterId).toMatch(HEX16);
      expect(text).toContain(`Member ${r.memberId.replace(/^0+/, '')} added to cluster ${r.clusterId.replace(/^0+/, '')}`);
      expect(r.env['ETCD_NAME']).toBe('etcd4');
      expect(r.env['ETCD_INITIAL_CLUSTER_STATE']).toBe('existing');
      expect(r.env['ETCD_INITIAL_CLUSTER']!.split(',').map((e) => e.split('=')[0]).sort()).toEqual(['etcd1', 'etcd2', 'etcd3', 'etcd4']);
      expect(r.env['ETCD_INITIAL_ADVERTISE_PEER_URLS']).toMatch(/^https:\/\/127\.0\.3[01]\.4:2380$/);
      // the cluster id is that of the running cluster
      expect(r.clusterId).toBe(parseMemberListJson(fx(v, 'member-list-json')).header.clusterId);
    });

    it('member promote (simple) names the promoted member and the cluster', () => {
      const r = parseMemberPromote(fx(v, 'member-promote-simple'));
      expect(r.memberId).toMatch(HEX16);
      expect(r.clusterId).toBe(parseMemberListJson(fx(v, 'member-list-json')).header.clusterId);
      // the promoted learner is a voting member in the member list of 4
      const four = parseMemberListJson(fx(v, 'member-list-4-json')).members;
      expect(four.find((m) => m.id === r.memberId)).toMatchObject({ isLearner: false, name: 'etcd4' });
    });

    it('member promote -w json: 3.5 prints the membership, 3.4 crashes after promoting (no stdout)', () => {
      if (v === '3.5') {
        const r = parseMemberChangeJson(fx(v, 'member-promote-json'));
        expect(r.members.filter((m) => m.isLearner)).toHaveLength(0);
        expect(r.members).toHaveLength(4);
      } else {
        expect(fx(v, 'member-promote-json')).toBe('');
        expect(fxErr(v, 'member-promote-json')).toMatch(/^panic: /);
        expect(() => parseMemberChangeJson(fx(v, 'member-promote-json'))).toThrow(/no output/);
      }
    });

    it.each(['member-remove-json', 'member-remove-learner-json', 'member-remove-stopped-json'])('%s: the membership after the remove', (name) => {
      const text = fx(v, name);
      const r = parseMemberChangeJson(text);
      expect(r.members.map((m) => m.id)).toEqual(decimals(text, 'ID'));
      expect(r.members.every((m) => !m.isLearner)).toBe(true);
    });

    it('member remove (simple)', () => {
      const r = parseMemberRemove(fx(v, 'member-remove-promoted-simple'));
      expect(r.memberId).toMatch(HEX16);
      expect(r.memberId).toBe(parseMemberAddSimple(fx(v, 'member-add-learner-again-simple')).memberId);
    });

    it('move-leader: from the old leader to a voting member', () => {
      const r = parseMoveLeader(fx(v, 'move-leader'));
      const ids = parseMemberListJson(fx(v, 'member-list-json')).members.map((m) => m.id);
      expect(ids).toContain(r.from);
      expect(ids).toContain(r.to);
      expect(r.from).not.toBe(r.to);
    });
  });

  describe('endpoint status', () => {
    const statusFixtures = [
      'endpoint-status-json',
      'endpoint-status-cluster-json',
      'endpoint-status-one-down-json',
      'endpoint-status-with-learner-json',
      'endpoint-status-nospace-json',
      'quorum-lost-endpoint-status-json',
      'restored-endpoint-status-json',
    ];
    it.each(statusFixtures)('%s: exact ids, numbers, leader flags', (name) => {
      const text = fx(v, name);
      const r = parseEndpointStatusJson(text, fxErr(v, name));
      expect(r.statuses.map((s) => s.memberId)).toEqual(decimals(text, 'member_id'));
      for (const s of r.statuses) {
        expect(s.clusterId).toMatch(HEX16);
        expect(s.leader).toMatch(HEX16);
        expect(s.isLeader).toBe(s.leader === s.memberId);
        expect(s.version).toBe(v === '3.4' ? '3.4.23' : '3.5.30');
        expect(s.dbSize).toBeGreaterThan(0);
        expect(s.raftIndex).toBeGreaterThan(0);
        expect(s.revision).toBeGreaterThan(0);
        expect(s.endpoint).toMatch(/^https:\/\/127\.0\.3[01]\.\d:2379$/);
      }
    });

    it('a healthy cluster: one leader that every member agrees on, no errors, no failures', () => {
      const r = parseEndpointStatusJson(fx(v, 'endpoint-status-json'), fxErr(v, 'endpoint-status-json'));
      expect(r.statuses).toHaveLength(3);
      expect(r.failures).toEqual([]);
      expect(r.statuses.filter((s) => s.isLeader)).toHaveLength(1);
      expect(new Set(r.statuses.map((s) => s.leader)).size).toBe(1);
      expect(r.statuses.every((s) => s.errors.length === 0 && !s.isLearner)).toBe(true);
    });

    it('the table shows the same members and leader', () => {
      const json = parseEndpointStatusJson(fx(v, 'endpoint-status-json')).statuses;
      const t = parseTable(fx(v, 'endpoint-status-table'));
      expect(t.header.slice(0, 5)).toEqual(['ENDPOINT', 'ID', 'VERSION', 'DB SIZE', 'IS LEADER']);
      expect(t.rows.map((r) => [r[0], r[1]!.padStart(16, '0'), r[4] === 'true'])).toEqual(json.map((s) => [s.endpoint, s.memberId, s.isLeader]));
    });

    it('--cluster lists every member from one endpoint', () => {
      const r = parseEndpointStatusJson(fx(v, 'endpoint-status-cluster-json'));
      expect(r.statuses.map((s) => s.memberId).sort()).toEqual(parseEndpointStatusJson(fx(v, 'endpoint-status-json')).statuses.map((s) => s.memberId).sort());
    });

    it('with a learner: the learner says so', () => {
      const r = parseEndpointStatusJson(fx(v, 'endpoint-status-with-learner-json'));
      expect(r.statuses.filter((s) => s.isLearner)).toHaveLength(1);
      expect(r.statuses.find((s) => s.isLearner)!.isLeader).toBe(false);
    });

    it('one member down: the others on stdout, the down one from stderr', () => {
      const r = parseEndpointStatusJson(fx(v, 'endpoint-status-one-down-json'), fxErr(v, 'endpoint-status-one-down-json'));
      expect(r.statuses).toHaveLength(2);
      expect(r.failures).toEqual([{ endpoint: v === '3.4' ? 'https://127.0.30.3:2379' : 'https://127.0.31.3:2379', error: 'context deadline exceeded' }]);
    });

    it.each(['err-status-down-endpoint', 'err-tls-unknown-ca', 'err-tls-no-client-cert'])('%s: every endpoint failing leaves [] and a failure', (name) => {
      const r = parseEndpointStatusJson(fx(v, name), fxErr(v, name));
      expect(r.statuses).toEqual([]);
      expect(r.failures).toHaveLength(1);
      expect(r.failures[0]!.endpoint).toMatch(/^https:\/\/127\.0\.3[01]\.\d:2379$/);
    });

    it('quorum lost: no leader (NO_ID) and the error says so', () => {
      const [s] = parseEndpointStatusJson(fx(v, 'quorum-lost-endpoint-status-json')).statuses;
      expect(s!.leader).toBe(NO_ID);
      expect(s!.isLeader).toBe(false);
      expect(s!.errors).toEqual(['etcdserver: no leader']);
    });

    it('NOSPACE: the alarm in errors, the small member id padded', () => {
      const [s] = parseEndpointStatusJson(fx(v, 'endpoint-status-nospace-json')).statuses;
      expect(s!.errors.join()).toContain('alarm:NOSPACE');
      expect(s!.memberId).toBe(parseMemberListJson(fx(v, 'small-id-member-list-json')).members[0]!.id);
    });

    it('restored member: its own leader; 3.5 restored with --bump-revision serves revision +1e9', () => {
      const [s] = parseEndpointStatusJson(fx(v, 'restored-endpoint-status-json')).statuses;
      const [before] = parseEndpointStatusJson(fx(v, 'endpoint-status-json')).statuses;
      expect(s!.isLeader).toBe(true);
      expect(s!.revision).toBe(v === '3.5' ? before!.revision + 1_000_000_000 : before!.revision);
    });
  });

  describe('endpoint health / hashkv', () => {
    it('healthy: every endpoint, took parsed in ms', () => {
      const r = parseEndpointHealthJson(fx(v, 'endpoint-health-json'));
      expect(r).toHaveLength(3);
      for (const h of r) {
        expect(h.health).toBe(true);
        expect(h.error).toBeUndefined();
        expect(h.tookMs).toBeGreaterThan(0);
        expect(h.tookMs).toBeLessThan(1000);
      }
      const t = parseTable(fx(v, 'endpoint-health-table'));
      expect(t.header).toEqual(['ENDPOINT', 'HEALTH', 'TOOK', 'ERROR']);
      expect(t.rows.every((r) => r[1] === 'true')).toBe(true);
    });

    it.each([
      ['endpoint-health-one-down-json', 3, 'context deadline exceeded'],
      ['err-quorum-lost-health-json', 1, 'context deadline exceeded'],
      ['err-health-learner-json', 1, 'etcdserver: rpc not supported for learner'],
    ])('%s: the failed endpoint with its error', (name, count, error) => {
      const r = parseEndpointHealthJson(fx(v, name));
      expect(r).toHaveLength(count);
      const bad = r.filter((h) => !h.health);
      expect(bad).toHaveLength(1);
      expect(bad[0]!.error).toBe(error);
      expect(bad[0]!.tookMs).toBeGreaterThan(1000);
    });

    it('hashkv: one hash at one revision, same member ids as endpoint status', () => {
      const text = fx(v, 'endpoint-hashkv-json');
      const r = parseEndpointHashKvJson(text);
      expect(r.map((h) => h.memberId)).toEqual(decimals(text, 'member_id'));
      expect(new Set(r.map((h) => h.hash)).size).toBe(1);
      expect(new Set(r.map((h) => h.revision)).size).toBe(1);
      expect(r.every((h) => h.compactRevision === -1)).toBe(true);
      const t = parseTable(fx(v, 'endpoint-hashkv-table'));
      expect(t.rows.map((row) => [row[0], Number(row[1])])).toEqual(r.map((h) => [h.endpoint, h.hash]));
    });
  });

  describe('alarms', () => {
    it('none: json ({} on 3.4, a header on 3.5) and simple (empty) both give []', () => {
      expect(fx(v, 'alarm-list-json').trim() === '{}').toBe(v === '3.4');
      expect(parseAlarmListJson(fx(v, 'alarm-list-json'))).toEqual([]);
      expect(parseAlarmListSimple(fx(v, 'alarm-list-simple'))).toEqual([]);
    });

    it('NOSPACE: json and simple agree, member id exact', () => {
      const json = parseAlarmListJson(fx(v, 'alarm-list-nospace-json'));
      const simple = parseAlarmListSimple(fx(v, 'alarm-list-nospace-simple'));
      expect(json).toEqual([{ memberId: parseMemberListJson(fx(v, 'small-id-member-list-json')).members[0]!.id, alarm: 'NOSPACE' }]);
      expect(simple).toEqual(json);
    });
  });

  describe('snapshot status and restore', () => {
    const statusJson = ['snapshot-status-json', ...(v === '3.5' ? ['snapshot-status-etcdctl-json'] : [])];
    it.each(statusJson)('%s', (name) => {
      const s = parseSnapshotStatusJson(fx(v, name));
      expect(s.revision).toBe(parseEndpointStatusJson(fx(v, 'endpoint-status-json')).statuses[0]!.revision);
      expect(s.totalKey).toBeGreaterThan(0);
      expect(s.totalSize % 4096).toBe(0);
      expect(s.version).toBeUndefined();
    });

    it('table and simple agree with json (sizes rounded to kB)', () => {
      const json = parseSnapshotStatusJson(fx(v, 'snapshot-status-json'));
      const rounded = { ...json, totalSize: Math.round(json.totalSize / 1000) * 1000 };
      expect(parseSnapshotStatusTable(fx(v, 'snapshot-status-table'))).toEqual(rounded);
      expect(parseSnapshotStatusSimple(fx(v, 'snapshot-status-simple'))).toEqual(rounded);
    });

    it('restore log: the new member and cluster ids (the restored member list confirms them)', () => {
      const log = parseRestoreLog(fxErr(v, 'snapshot-restore'));
      const restored = parseMemberListJson(fx(v, 'restored-member-list-json'));
      expect(log.memberId).toBe(restored.members[0]!.id);
      expect(log.clusterId).toBe(restored.header.clusterId);
      if (v === '3.5') {
        // restored with --bump-revision=1000000000 --mark-compacted
        expect(log.bumpedRevision).toBe((log.latestRevision as number) + 1_000_000_000);
      } else {
        expect(log.latestRevision).toBeUndefined();
      }
    });

    if (v === '3.5') {
      it('restore log of the deprecated etcdctl restore on 3.5: same ids, no bump', () => {
        const log = parseRestoreLog(fxErr(v, 'snapshot-restore-etcdctl'));
        expect(log.memberId).toMatch(HEX16);
        expect(log.clusterId).toMatch(HEX16);
        expect(log.bumpedRevision).toBeUndefined();
      });
    }
  });

  describe('get (key counts) and put', () => {
    it.each([
      ['get-count-json', 7],
      ['get-count-all-json', 7],
      ['get-count-pods-json', 5],
      ['get-count-none-json', 0],
      ['restored-get-count-json', 7],
    ])('%s counts %i keys', (name, count) => {
      const text = fx(v, name);
      const r = parseKeyCountJson(text);
      expect(r.count).toBe(count);
      expect(r.header.memberId).toBe(decimals(text, 'member_id')[0]);
    });

    it('restored keeps every key the cluster had', () => {
      expect(parseKeyCountJson(fx(v, 'restored-get-count-json')).count).toBe(parseKeyCountJson(fx(v, 'get-count-all-json')).count);
    });

    if (v === '3.5') {
      it.each([
        ['get-count-only-fields', 7],
        ['get-count-only-none-fields', 0],
      ])('%s: --count-only -w fields', (name, count) => {
        expect(parseCountFields(fx(v, name))).toBe(count);
      });
    }

    it('put -w json: the header with the new revision', () => {
      const h = parsePutJson(fx(v, 'put-json'));
      expect(h.revision).toBeGreaterThan(1);
      expect(h.clusterId).toBe(parseMemberListJson(fx(v, 'member-list-json')).header.clusterId);
      const r = parsePutJson(fx(v, 'restored-put-json'));
      expect(r.revision).toBe(parseKeyCountJson(fx(v, 'restored-get-count-json')).header.revision + 1);
    });
  });

  it('every json fixture that a parser reads is covered above (a new capture gets a test)', () => {
    const covered = /^(member-|endpoint-|alarm-|snapshot-status|get-count|put-json|restored-|quorum-lost-|small-id-|move-leader|err-)/;
    const manifest = fx(v, 'MANIFEST').split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0] as string);
    expect(manifest.length).toBeGreaterThan(70);
    for (const name of manifest) {
      if (/^(etcd|etcdctl|etcdutl)-version$|^server-|^snapshot-restore|^put-simple$/.test(name)) continue;
      expect(`${name}: ${covered.test(name)}`).toBe(`${name}: true`);
      expect(has(v, name)).toBe(true);
    }
  });
});

describe('parse errors', () => {
  it.each([
    ['empty output', () => parseMemberListJson(''), /no output/],
    ['not json', () => parseMemberListJson('Error: context deadline exceeded'), /not JSON/],
    ['no members list', () => parseMemberListJson('{"header":{"cluster_id":1,"member_id":2}}'), /no "members" list/],
    ['negative id', () => parseMemberListJson('{"header":{"cluster_id":1,"member_id":2},"members":[{"ID":-5}]}'), /not an unsigned 64-bit id/],
    ['id above uint64', () => parseMemberListJson('{"header":{"cluster_id":18446744073709551616,"member_id":2},"members":[]}'), /not an unsigned 64-bit id/],
    ['endpoint status not a list', () => parseEndpointStatusJson('{}'), /expected a JSON array/],
    ['table row of another command', () => parseMemberListTable('+--+\n| A |\n+--+\n| x |\n'), /column 1 is "A"/],
    ['simple member line too short', () => parseMemberListSimple('abc, started\n'), /has 2 fields/],
    ['bad member status', () => parseMemberListSimple('abc, running, n, https://a:2380, https://a:2379, false\n'), /member status/],
    ['zero member id in text', () => parseMemberListSimple('0, started, n, https://a:2380, https://a:2379, false\n'), /not a hex id/],
    ['no promote line', () => parseMemberPromote('OK\n'), /Member <id> promoted/],
    ['no leadership line', () => parseMoveLeader(''), /Leadership transferred/],
    ['alarm line', () => parseAlarmListSimple('memberID:x alarm:NOSPACE\n'), /is not "memberID/],
    ['snapshot status without size', () => parseSnapshotStatusJson('{"hash":1}'), /no "totalSize"/],
    ['fields without a count', () => parseCountFields('"Revision" : 8\n'), /no "Count" field/],
  ])('%s', (_name, f, msg) => {
    let err: unknown;
    try {
      f();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ParseError);
    expect((err as Error).message).toMatch(msg);
  });

  it('a ParseError keeps only the start of a huge output', () => {
    const huge = `x${'y'.repeat(100_000)}`;
    try {
      parseMemberListJson(huge);
      throw new Error('no error');
    } catch (e) {
      expect(e).toBeInstanceOf(ParseError);
      expect((e as ParseError).excerpt.length).toBeLessThanOrEqual(501);
      expect((e as ParseError).command).toBe('etcdctl member list -w json');
    }
  });
});

describe('small helpers', () => {
  it.each([
    ['3.497537ms', 3.497537],
    ['5.001288439s', 5001.288439],
    ['1m2.5s', 62_500],
    ['250µs', 0.25],
    ['100ns', 0.0001],
    ['1h', 3_600_000],
    ['', NaN],
    ['5', NaN],
    ['3 ms', NaN],
  ])('parseGoDuration(%j) = %d', (s, ms) => {
    const got = parseGoDuration(s);
    if (Number.isNaN(ms)) expect(got).toBeNaN();
    else expect(got).toBeCloseTo(ms, 9);
  });

  it.each([
    ['20 kB', 20_000],
    ['1.5 MB', 1_500_000],
    ['0 B', 0],
    ['2 GB', 2e9],
    ['20 KiB', NaN],
    ['x', NaN],
  ])('parseHumanSize(%j) = %d', (s, n) => {
    if (Number.isNaN(n)) expect(parseHumanSize(s)).toBeNaN();
    else expect(parseHumanSize(s)).toBe(n);
  });

  it('parseEndpointFailures reads only the failure lines', () => {
    expect(parseEndpointFailures('noise\nFailed to get the status of endpoint https://a:2379 (context deadline exceeded)\nmore\n')).toEqual([
      { endpoint: 'https://a:2379', error: 'context deadline exceeded' },
    ]);
    expect(parseEndpointFailures('')).toEqual([]);
  });

  it('parseTable rejects rows of unequal width and text that is not a table', () => {
    expect(() => parseTable('| A | B |\n| 1 |\n')).toThrow(/a row has 1 cells, the header 2/);
    expect(() => parseTable('hello\n')).toThrow(/not a table row/);
    expect(() => parseTable('')).toThrow(/no table/);
  });
});

describe('parseJsonExact (json.ts)', () => {
  it.each(VERSIONS)('reads every json capture of %s like JSON.parse, except that large integers are exact', (v) => {
    const dir = new URL(`../fixtures/etcd/${v}/`, import.meta.url);
    const names = fx(v, 'MANIFEST').split('\n').map((l) => l.split('\t')[0] as string).filter((n) => n.endsWith('-json') && has(v, n) && fx(v, n).trim() !== '');
    expect(names.length).toBeGreaterThan(30);
    for (const n of names) {
      const text = readFileSync(new URL(`${n}.txt`, dir), 'utf8');
      const exact = parseJsonExact(text.trim());
      const plain = JSON.parse(text) as unknown;
      // the same document once bigints are rounded the way JSON.parse rounds them
      expect(JSON.parse(JSON.stringify(exact, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x)))).toEqual(plain);
    }
  });

  it.each([
    ['17948944390879619426', 17948944390879619426n],
    ['9007199254740991', 9007199254740991],
    ['9007199254740992', 9007199254740992n],
    ['-9007199254740993', -9007199254740993n],
    ['1.5', 1.5],
    ['1e3', 1000],
    ['-0', -0],
    ['"a\\"b\\u00e9"', 'a"bé'],
    ['[1, {"a": null}, true, false]', [1, { a: null }, true, false]],
  ])('%s', (text, want) => {
    const got = parseJsonExact(text);
    if (typeof want === 'object') expect(JSON.parse(JSON.stringify(got))).toEqual(want);
    else expect(got).toBe(want);
  });

  it('__proto__ is a plain key, not a prototype change', () => {
    const o = parseJsonExact('{"__proto__": {"polluted": 1}}');
    expect(isJsonObject(o)).toBe(true);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.keys(o as object)).toEqual(['__proto__']);
  });

  it.each(['', '{', '[1,]', '{"a":1,}', '01', '1.', '1e', '"\\x"', '"a\nb"', 'nul', '{} x', '-', `${'['.repeat(300)}${']'.repeat(300)}`])(
    'refuses %j',
    (text) => {
      expect(() => parseJsonExact(text)).toThrow(JsonSyntaxError);
    },
  );

  it.each([
    [0, '0000000000000000'],
    [1n, '0000000000000001'],
    [41171150887173753n, '009244f18f9fbe79'],
    [(1n << 64n) - 1n, 'ffffffffffffffff'],
  ] as [number | bigint, string][])('uint64ToHex(%p) = %s', (v, want) => {
    expect(uint64ToHex(v)).toBe(want);
  });

  it.each([[-1], [-1n], [1n << 64n], [1.5], [2 ** 60], ['1'], [null], [undefined]] as [Parameters<typeof uint64ToHex>[0]][])('uint64ToHex(%p) is undefined', (v) => {
    expect(uint64ToHex(v)).toBeUndefined();
  });
});
