/**
 * What the probe reads of earlier runs, from its sections: the set-aside data dirs (path, run, when, db
 * revision, WAL cluster id), the locks released at a run's end, and a lock file left empty by a crash.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { factsFromSections } from '../../src/facts/gather.js';
import { parseSections, probeScript, SECTION_PREFIX } from '../../src/facts/probe-script.js';
import { nodeSpec } from '../support/facts.js';

const X = '20261205T230000Z-aaaa';
const wal = readFileSync(new URL('../fixtures/wal/3.4-single-33fe3a4f450c4896.head', import.meta.url)).toString('base64');
const status = JSON.stringify({ hash: 1234, revision: 1601, totalKey: 601, totalSize: 2_000_000 });

function sections(pairs: [string, number, string][]): string {
  return pairs.map(([n, rc, out]) => `${SECTION_PREFIX}${n} ${rc} ${Buffer.from(out).toString('base64')}`).join('\n');
}

describe('set-aside data dirs in the facts', () => {
  it('reads path, run, time, size, cluster id and revision of each, newest first', () => {
    const out = sections([
      ['service', 3, 'inactive'],
      ['aside_1', 0, `/var/lib/etcd.etcd-dr-${X}\n1796511605\n2000000\n`],
      ['aside_1_wal', 0, wal],
      ['aside_1_status', 0, status],
      ['aside_2', 0, '/var/lib/etcd/etcd-dr-20261101T100000Z-0bad\n1796000000\n1000\n'],
      ['aside_2_status', 1, 'Error: bad db'],
      ['lock_history', 0, `lock.released-20261101T100000Z-0bad\nlock.broken-by-${X}\nlock.released-garbage\n`],
      ['end', 0, ''],
    ]);
    const f = factsFromSections(nodeSpec(1), parseSections(out), 5);
    expect(f.dataDir!.setAside).toEqual([
      {
        path: `/var/lib/etcd.etcd-dr-${X}`,
        runId: X,
        at: '2026-12-05T23:00:05.000Z',
        dbBytes: 2_000_000,
        walMemberId: '33fe3a4f450c4896',
        walClusterId: 'dc31597569ae4d89',
        db: { revision: 1601, totalKey: 601, totalSize: 2_000_000, hash: 1234 },
      },
      { path: '/var/lib/etcd/etcd-dr-20261101T100000Z-0bad', runId: '20261101T100000Z-0bad', at: new Date(1796000000 * 1000).toISOString(), dbBytes: 1000, dbError: 'snapshot status failed: Error: bad db' },
    ]);
    expect(f.releasedRuns).toEqual(['20261101T100000Z-0bad']);
    expect(f.lock).toBeUndefined();
    expect(f.lockEmpty).toBeUndefined();
  });

  it.each([
    ['an empty lock file', '', { lockEmpty: true }],
    ['a lock file cut before its run line', 'hold', { lockEmpty: true }],
    ['a whole lock', `run=${X}\nholder=ops@b pid 1\n`, { lock: { runId: X, holder: 'ops@b pid 1' } }],
  ])('%s', (_n, text, want) => {
    const f = factsFromSections(nodeSpec(1), parseSections(sections([['lock', 0, text], ['end', 0, '']])), 5);
    expect(f).toMatchObject(want);
    if (!('lockEmpty' in want)) expect(f.lockEmpty).toBeUndefined();
  });

  it('the probe reads set-aside dirs read-only, only named by a run id, and their db only while etcd is stopped', () => {
    const s = probeScript(nodeSpec(1), { lockFile: '/var/lib/etcd-dr/lock', commandTimeout: 3 });
    expect(s).toContain('ls -d /var/lib/etcd.etcd-dr-* /var/lib/etcd/etcd-dr-* 2>/dev/null | awk');
    expect(s).toContain('case "$a" in *etcd-dr-[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9]Z-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]) ;; *) continue ;; esac');
    expect(s).toContain('if [ "$svc" != 0 ] && [ "$proc" != 0 ]; then');
    expect(s).not.toMatch(/\b(rm|mv|cp|touch)\s/);
  });

  it('run for real: finds the dirs named by a run id that hold a db, beside the data dir and inside it, newest run first', () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-aside-'));
    try {
      const data = join(dir, 'data dir');
      const mk = (d: string, db = true) => {
        mkdirSync(join(d, 'member', 'wal'), { recursive: true });
        mkdirSync(join(d, 'member', 'snap'), { recursive: true });
        if (db) writeFileSync(join(d, 'member', 'snap', 'db'), 'x'.repeat(10));
        writeFileSync(join(d, 'member', 'wal', '0000000000000000-0000000000000000.wal'), Buffer.from(wal, 'base64'));
      };
      mk(data);
      mk(`${data}.etcd-dr-20261101T100000Z-0bad`);
      mk(`${data}.etcd-dr-${X}`);
      mk(join(data, 'etcd-dr-20261120T100000Z-cafe'));
      mk(`${data}.etcd-dr-${X}-restoring`);
      mk(`${data}.etcd-dr-drill-1234`);
      mk(`${data}.etcd-dr-20261121T100000Z-beef`, false);
      const spec = nodeSpec(1);
      const script = probeScript({ ...spec, etcd: { ...spec.etcd, dataDir: data } }, { lockFile: join(dir, 'lock'), commandTimeout: 1 });
      const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', timeout: 60_000 });
      const f = factsFromSections(spec, parseSections(r.stdout), 5);
      expect(f.dataDir!.setAside!.map((d) => [d.path, d.runId, d.dbBytes, d.walClusterId])).toEqual([
        [`${data}.etcd-dr-${X}`, X, 10, 'dc31597569ae4d89'],
        [join(data, 'etcd-dr-20261120T100000Z-cafe'), '20261120T100000Z-cafe', 10, 'dc31597569ae4d89'],
        [`${data}.etcd-dr-20261101T100000Z-0bad`, '20261101T100000Z-0bad', 10, 'dc31597569ae4d89'],
      ]);
      expect(f.dataDir!.setAside![0]!.at).toMatch(/^\d{4}-\d\d-\d\dT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
