/**
 * What nodes print is not trusted: garbage, wrong JSON, huge output and terminal escape sequences from
 * the probe become warnings, never a crash; text that reaches the operator's terminal is made safe; a db
 * whose revision cannot be read stops the automatic survivor choice; and the step scripts keep what they
 * set aside private. (test/e2e/security.test.ts does the same against a real node with a fake etcdctl.)
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { factsFromSections } from '../../src/facts/gather.js';
import type { Section } from '../../src/facts/probe-script.js';
import { parseSections, SECTION_PREFIX } from '../../src/facts/probe-script.js';
import { chooseSurvivor } from '../../src/plan/survivor.js';
import { moveAsideScript } from '../../src/plan/scripts.js';
import { RefusedError } from '../../src/util/errors.js';
import { formatLogLine } from '../../src/util/log.js';
import { terminalSafe, terminalSafeProgress } from '../../src/util/terminal.js';
import { node, nodeSpec } from '../support/facts.js';
import { ALL_LATIN1, HOSTILE_PIECES, randomString, seededRng } from '../support/seeded.js';

/** What a terminal would act on: C0 but tab and newline, DEL, C1, bidirectional overrides and isolates. */
const TERMINAL_ACTS_ON = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

describe('terminalSafe', () => {
  it.each([
    ['plain text, tabs and newlines stay', 'etcd2: ok\tfine\nnext ✓ ü 中文', 'etcd2: ok\tfine\nnext ✓ ü 中文'],
    ['a screen clear', 'Error: \x1b[2J', 'Error: \\u001b[2J'],
    ['a title change (OSC … BEL)', '\x1b]0;owned\x07', '\\u001b]0;owned\\u0007'],
    ['a carriage return that would rewrite the line', 'bad\rgood', 'bad\\u000dgood'],
    ['an 8-bit CSI', 'x\u009b2Jy', 'x\\u009b2Jy'],
    ['DEL and NUL', 'a\x7fb\0c', 'a\\u007fb\\u0000c'],
    ['a right-to-left override', 'abc\u202edef', 'abc\\u202edef'],
  ])('%s', (_what, input, want) => {
    expect(terminalSafe(input)).toBe(want);
  });

  it('seeded: nothing a terminal acts on survives, and safe text is left as it is', () => {
    const rng = seededRng(0x7e4a);
    for (let i = 0; i < 3000; i++) {
      const s = randomString(rng, 40);
      const out = terminalSafe(s);
      expect({ i, unsafe: TERMINAL_ACTS_ON.test(out) }).toEqual({ i, unsafe: false });
      if (!TERMINAL_ACTS_ON.test(s)) expect(out).toBe(s);
    }
    expect(TERMINAL_ACTS_ON.test(terminalSafe(ALL_LATIN1))).toBe(false);
  });

  it('seeded: JSON made terminal-safe is still JSON of the same value (a C1 control or bidi override becomes a \\u escape)', () => {
    const rng = seededRng(0x150d);
    for (let i = 0; i < 1000; i++) {
      const v = { warnings: [randomString(rng, 30), randomString(rng, 30)], nested: { [randomString(rng, 5)]: randomString(rng, 30) } };
      const text = terminalSafe(JSON.stringify(v, null, 2));
      expect(TERMINAL_ACTS_ON.test(text)).toBe(false);
      expect(JSON.parse(text)).toEqual(v);
    }
    expect(terminalSafe(JSON.stringify('a\\\u009bb'))).toBe('"a\\\\\\u009bb"');
  });

  it('readable log lines on stderr are terminal-safe, whatever a field holds', () => {
    const line = formatLogLine({ level: 50, time: 0, node: 'etcd2', msg: 'step failed \x1b[31m', error: 'etcd-dr:held-by x\x1b]0;t\x07', said: { nested: '\u009b' } });
    expect(TERMINAL_ACTS_ON.test(line)).toBe(false);
    expect(line).toContain('etcd2: step failed \\u001b[31m');
  });

  it('progress titles and details are made safe; the view gets everything else as it was', () => {
    const seen: unknown[] = [];
    const p = terminalSafeProgress({
      start: (s: { id: string; title: string; done: boolean }[]) => seen.push(s),
      event: (e: { type: string; step?: string; title?: string; detail?: string; ms?: number }) => seen.push(e),
      stop: () => seen.push('stop'),
    });
    p.start([{ id: '01-lock', title: 'take the lock', done: false }]);
    p.event({ type: 'step-failed', step: '01-lock', ms: 12, detail: 'etcd3: failed: \x1b[2Jgone' });
    p.event({ type: 'step-done', step: '02-stop' });
    p.stop();
    expect(seen).toEqual([
      [{ id: '01-lock', title: 'take the lock', done: false }],
      { type: 'step-failed', step: '01-lock', ms: 12, detail: 'etcd3: failed: \\u001b[2Jgone' },
      { type: 'step-done', step: '02-stop' },
      'stop',
    ]);
  });
});

describe('the probe over hostile output', () => {
  const spec = nodeSpec(2);
  const ok = (out: string): Section => ({ rc: 0, out, err: '' });
  /** the sections of a running member whose etcdctl printed `out` (exit `rc`, stderr `err`) for every call */
  function running(out: string, rc = 0, err = ''): Map<string, Section> {
    const s = new Map<string, Section>([
      ['service', ok('active\n')],
      ['proc', ok('39\n')],
      ['etcd_version', ok('etcd Version: 3.4.23\nGit SHA: Not provided (use ./build instead of go build)\nGo Version: go1.19.8\nGo OS/Arch: linux/amd64\n')],
      ['etcdctl_version', ok('etcdctl version: 3.4.23\nAPI version: 3.4\n')],
      ['env', ok('ETCD_NAME=etcd2\nETCD_DATA_DIR=/var/lib/etcd\n')],
      ['datadir', ok('member\n')],
      ['db_bytes', ok('20480\n')],
    ]);
    for (const k of ['endpoint_status', 'member_list', 'alarms', 'health']) s.set(k, { rc, out, err });
    return s;
  }

  const garbage = (seed: number, n: number) => {
    const rng = seededRng(seed);
    return Array.from({ length: n }, () => String.fromCharCode(rng.int(0, 255))).join('') + '\x1b[31m}{"not": etcd\n';
  };

  it.each([
    ['random bytes', garbage(1, 3000)],
    ['JSON of the wrong shape', '[{"Endpoint":"https://10.0.0.2:2379","Status":{"header":{"cluster_id":"zzz","member_id":-1,"revision":"many"},"version":5,"raftIndex":{}}}]\n'],
    ['JSON of another type', '"just a string"\n'],
    ['ids that do not fit 64 bits', '{"header":{"cluster_id":99999999999999999999999,"member_id":1},"members":[{"ID":-5,"name":"x"}]}\n'],
    ['5 MiB of text', 'A'.repeat(5 * 1024 * 1024)],
    ['deeply nested JSON', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['an empty output', ''],
  ])('%s: warnings that name the command, bounded in size whatever the output size; no crash', (_what, out) => {
    const f = factsFromSections(spec, running(out), 10);
    expect(f.endpoint).toBeUndefined();
    expect(f.members).toBeUndefined();
    const w = f.warnings.join('\n');
    expect(w).toMatch(/endpoint status: unexpected output from etcdctl endpoint status -w json/);
    expect(w).toMatch(/member list: unexpected output from etcdctl member list -w json/);
    for (const x of f.warnings) expect(x.length).toBeLessThan(10_000);
  });

  it('a failing etcdctl that prints escape sequences: reported, and its text is shown safe on a terminal', () => {
    const f = factsFromSections(spec, running('', 1, 'Error: \x1b]2;owned\x07\x1b[2J\u009b2J context deadline exceeded\n'), 10);
    expect(f.warnings).toContainEqual(expect.stringMatching(/^etcd runs but endpoint status failed: Error: .*context deadline exceeded$/));
    expect(TERMINAL_ACTS_ON.test(terminalSafe(f.warnings.join('\n')))).toBe(false);
  });

  it('a stopped member whose snapshot status is unreadable gets a dbError, not a revision', () => {
    const s = running('');
    for (const k of ['endpoint_status', 'member_list', 'alarms', 'health']) s.delete(k);
    s.set('service', ok('inactive\n'));
    s.set('snapshot_status', ok(garbage(2, 500)));
    const f = factsFromSections(spec, s, 10);
    expect(f.dataDir?.db).toBeUndefined();
    expect(f.dataDir?.dbError).toMatch(/^snapshot status: unexpected output from (etcdctl )?snapshot status -w json: not JSON/);
  });

  it('seeded: 500 probe outputs of random sections and lines never throw', () => {
    const rng = seededRng(0x9a0b);
    const names = ['service', 'proc', 'etcd_version', 'etcdctl_version', 'etcdutl_version', 'env', 'datadir', 'db_bytes', 'wal_files', 'wal_head', 'moved_aside', 'lock', 'endpoint_status', 'member_list', 'alarms', 'health', 'snapshot_status', 'end'];
    for (let i = 0; i < 500; i++) {
      const lines: string[] = [];
      for (let j = rng.int(0, 30); j > 0; j--) {
        const body = rng.next() < 0.5 ? randomString(rng, 30) : rng.pick(HOSTILE_PIECES).repeat(rng.int(1, 50));
        const b64 = rng.next() < 0.8 ? Buffer.from(body, 'utf8').toString('base64') : body;
        lines.push(rng.next() < 0.8 ? `${SECTION_PREFIX}${rng.pick(names)}${rng.next() < 0.2 ? '.err' : ''} ${rng.int(0, 3)} ${b64}` : body);
      }
      expect(() => factsFromSections(spec, parseSections(lines.join('\n')), 5)).not.toThrow();
    }
  });
});

describe('survivor choice when a db cannot be read', () => {
  const stopped = () => [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i * 100, version: '3.4.23' }));
  const unreadable = () => {
    const nodes = stopped();
    delete nodes[1]!.dataDir!.db;
    nodes[1]!.dataDir!.dbError = 'snapshot status: unexpected output from etcdctl snapshot status -w json: not JSON';
    return nodes;
  };

  it('is refused: the unreadable member may be the freshest; the refusal names it and both ways on', () => {
    let err: unknown;
    try {
      chooseSurvivor(unreadable(), { exclude: [] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RefusedError);
    const e = err as RefusedError;
    expect(e.message).toMatch(/^the revision of the data of etcd2 could not be read, so the freshest member is not known/);
    expect(e.message).toContain('etcd2: snapshot status: unexpected output');
    expect(e.hint).toContain('--survivor NAME');
    expect(e.hint).toContain('--exclude etcd2');
  });

  it('the operator decides: --survivor picks one (the unreadable db is in the warnings), --exclude leaves it out', () => {
    const c = chooseSurvivor(unreadable(), { exclude: [], survivor: 'etcd3' });
    expect(c.name).toBe('etcd3');
    expect(c.warnings).toContainEqual(expect.stringMatching(/^etcd2: snapshot status: unexpected output/));
    expect(chooseSurvivor(unreadable(), { exclude: ['etcd2'] }).name).toBe('etcd3');
    // all readable: the freshest, as before
    expect(chooseSurvivor(stopped(), { exclude: [] }).name).toBe('etcd3');
  });
});

describe('a moved-aside data dir is private, whatever mode it had', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-aside-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sh = (script: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8' });

  it('a world-readable data dir is closed to group and others when set aside; a repeat closes it again', () => {
    const data = join(dir, 'etcd');
    mkdirSync(join(data, 'member', 'snap'), { recursive: true });
    writeFileSync(join(data, 'member', 'snap', 'db'), 'the whole keyspace');
    chmodSync(data, 0o755);
    const aside = `${data}.etcd-dr-20261124T193012Z-3f9c`;
    const r = sh(moveAsideScript(data, aside));
    expect(r.stdout.trim().split('\n').pop()).toBe('etcd-dr:done');
    expect((statSync(aside).mode & 0o777).toString(8)).toBe('700');
    // someone opens it again; the step run once more (a resumed run) closes it
    chmodSync(aside, 0o775);
    expect(sh(moveAsideScript(data, aside)).stdout.trim()).toBe('etcd-dr:already');
    expect((statSync(aside).mode & 0o777).toString(8)).toBe('700');
  });
});
