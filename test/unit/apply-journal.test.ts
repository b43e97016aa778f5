import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeLine, lineSum, parseHead, parseJournal } from '../../src/apply/journal-format.js';
import { RunDir } from '../../src/apply/rundir.js';
import { holderAlive, parseRunLock, processStart, RunLock } from '../../src/apply/runlock.js';
import { BastionWriteError, onBastion } from '../../src/util/bastion-fs.js';
import { EXIT, RefusedError } from '../../src/util/errors.js';

/** a journal of n checksummed lines, as the writer makes it */
function journal(events: Record<string, unknown>[]): { text: string; lines: string[]; sums: string[] } {
  let prev = '';
  const lines: string[] = [];
  const sums: string[] = [];
  for (const [i, e] of events.entries()) {
    const { line, sum } = encodeLine(i + 1, prev, JSON.stringify(e));
    lines.push(line);
    sums.push(sum);
    prev = sum;
  }
  return { text: lines.map((l) => `${l}\n`).join(''), lines, sums };
}

const EV = [
  { t: 'a', event: 'run-start', runId: 'r', resumed: false, pid: 1 },
  { t: 'b', event: 'step-start', step: '01-lock' },
  { t: 'c', event: 'step-done', step: '01-lock', ms: 3, outcome: 'done' },
  { t: 'd', event: 'step-start', step: '02-stop-etcd' },
];

describe('journal line format', () => {
  test('a line carries its seq and a sum chained on the previous line', () => {
    const { lines, sums } = journal(EV);
    expect(lines[0]).toMatch(/^\{"seq":1,"t":"a","event":"run-start".*,"sum":"[0-9a-f]{16}"\}$/);
    expect(sums[1]).toBe(lineSum(sums[0]!, lines[1]!.replace(/,"sum":"[0-9a-f]{16}"\}$/, '}')));
    const p = parseJournal(journal(EV).text);
    expect(p.problems).toEqual([]);
    expect(p.events).toEqual(EV);
    expect(p.head).toEqual({ seq: 4, sum: sums[3] });
    expect(p.checkedLines).toBe(4);
  });

  const { text, lines, sums } = journal(EV);
  const legacy = EV.map((e) => `${JSON.stringify(e)}\n`).join('');
  const swap = (i: number, j: number) => {
    const l = [...lines];
    [l[i], l[j]] = [l[j]!, l[i]!];
    return l.map((x) => `${x}\n`).join('');
  };
  // [what, text, head file, events kept, problem (undefined: none), torn tail kept]
  test.each([
    ['intact', text, undefined, 4, undefined, false],
    ['empty', '', undefined, 0, undefined, false],
    ['the last line torn by a crash in its write', text.slice(0, -20), undefined, 3, undefined, true],
    ['the last line whole but its newline missing', text.slice(0, -1), undefined, 4, undefined, false],
    ['a value edited in a line', text.replace('"ms":3', '"ms":4'), undefined, 2, /line 3: its checksum does not match/, false],
    ['a line removed from the middle', lines.filter((_, i) => i !== 1).map((l) => `${l}\n`).join(''), undefined, 1, /line 2: its checksum/, false],
    ['two lines swapped', swap(1, 2), undefined, 1, /line 2/, false],
    ['a line cut in the middle of the file', text.replace(lines[1]!, lines[1]!.slice(0, 10)), undefined, 1, /line 2: not a complete JSON line/, false],
    ['a line without its sum among checksummed ones', `${text}${JSON.stringify(EV[0])}\n`, undefined, 4, /line 5: a line without its checksum/, false],
    ['the end missing (the head file says 4 lines)', lines.slice(0, 2).map((l) => `${l}\n`).join(''), { seq: 4, sum: sums[3]! }, 2, /2 intact line\(s\), but 4 were written durably/, false],
    ['empty, the head file says 4 lines', '', { seq: 4, sum: sums[3]! }, 0, /0 intact line\(s\), but 4/, false],
    ['replaced by another journal of as many lines', journal(EV.map((e) => ({ ...e, t: 'x' }))).text, { seq: 4, sum: sums[3]! }, 4, /line 4: this line differs/, false],
    ['the head one line behind (a crash between the line and the head)', text, { seq: 3, sum: sums[2]! }, 4, undefined, false],
    ['legacy (an older etcd-dr: no seq, no sum)', legacy, undefined, 4, undefined, false],
    ['legacy with a torn last line', legacy.slice(0, -10), undefined, 3, undefined, true],
    ['an empty line in the middle', text.replace('\n', '\n\n'), undefined, 1, /line 2: an empty line/, false],
  ] as const)('%s', (_what, t, head, kept, problem, torn) => {
    const p = parseJournal(t, head);
    expect(p.events.length).toBe(kept);
    if (problem) expect(p.problems.map((x) => `${x.line ? `line ${x.line}: ` : ''}${x.message}`).join('; ')).toMatch(problem);
    else expect(p.problems).toEqual([]);
    expect(p.tornTail !== undefined).toBe(torn);
  });

  test('legacy lines, then checksummed lines continue the count', () => {
    const { line: l5 } = encodeLine(5, '', JSON.stringify({ t: 'e', event: 'step-done', step: '02-stop-etcd', ms: 1, outcome: 'done' }));
    const p = parseJournal(`${legacy}${l5}\n`);
    expect(p.problems).toEqual([]);
    expect(p.legacyLines).toBe(4);
    expect(p.checkedLines).toBe(1);
    expect(p.head.seq).toBe(5);
  });

  test('head file: only a whole one is read', () => {
    expect(parseHead('{"seq":3,"sum":"abc"}\n')).toEqual({ seq: 3, sum: 'abc' });
    expect(parseHead('{"seq":3,"su')).toBeUndefined();
    expect(parseHead('')).toBeUndefined();
    expect(parseHead('{"seq":-1,"sum":""}')).toBeUndefined();
  });
});

describe('RunDir journal on disk', () => {
  let state: string;
  beforeEach(() => {
    state = mkdtempSync(join(tmpdir(), 'etcd-dr-journal-'));
  });
  afterEach(() => rmSync(state, { recursive: true, force: true }));

  test('every append is checksummed, the head follows, a second writer continues the chain', () => {
    const a = new RunDir(state, '20261206T000000Z-aaaa');
    a.create();
    a.append({ event: 'run-start', runId: a.runId, resumed: false, pid: 1 });
    a.append({ event: 'step-start', step: '01-lock' });
    const b = new RunDir(state, a.runId);
    b.append({ event: 'step-done', step: '01-lock', ms: 1, outcome: 'done' });
    const c = b.check();
    expect(c.problems).toEqual([]);
    expect(c.checkedLines).toBe(3);
    expect(JSON.parse(readFileSync(b.headPath, 'utf8'))).toEqual(c.head);
    expect([...b.read().map((e) => e.event)]).toEqual(['run-start', 'step-start', 'step-done']);
  });

  test('a torn last line is set aside whole before the next append, and the chain goes on', () => {
    const r = new RunDir(state, '20261206T000000Z-bbbb');
    r.create();
    r.append({ event: 'run-start', runId: r.runId, resumed: false, pid: 1 });
    const torn = '{"seq":2,"t":"x","event":"step-do';
    writeFileSync(r.journalPath, readFileSync(r.journalPath, 'utf8') + torn);
    const again = new RunDir(state, r.runId);
    expect(again.check().tornTail).toBe(torn);
    again.append({ event: 'run-start', runId: r.runId, resumed: true, pid: 2 });
    const c = again.check();
    expect(c.problems).toEqual([]);
    expect(c.events.map((e) => e.event)).toEqual(['run-start', 'run-start']);
    const kept = readdirSync(r.dir).filter((f) => f.startsWith('journal.torn-'));
    expect(kept.length).toBe(1);
    expect(readFileSync(join(r.dir, kept[0]!), 'utf8')).toBe(torn);
  });

  test('an old journal (no checksums) is resumed: new lines continue after it', () => {
    const r = new RunDir(state, '20261206T000000Z-cccc');
    r.create();
    writeFileSync(r.journalPath, EV.map((e) => `${JSON.stringify(e)}\n`).join(''));
    r.append({ event: 'run-start', runId: r.runId, resumed: true, pid: 2 });
    const c = r.check();
    expect(c.problems).toEqual([]);
    expect(c.legacyLines).toBe(4);
    expect(c.checkedLines).toBe(1);
  });

  test('nothing is appended to a damaged journal', () => {
    const r = new RunDir(state, '20261206T000000Z-dddd');
    r.create();
    r.append({ event: 'run-start', runId: r.runId, resumed: false, pid: 1 });
    r.append({ event: 'step-start', step: '01-lock' });
    writeFileSync(r.journalPath, readFileSync(r.journalPath, 'utf8').replace('01-lock', '02-lock'));
    const before = readFileSync(r.journalPath, 'utf8');
    expect(() => new RunDir(state, r.runId).append({ event: 'step-done', step: '01-lock', ms: 1, outcome: 'done' })).toThrow(RefusedError);
    expect(readFileSync(r.journalPath, 'utf8')).toBe(before);
  });
});

describe('run dir lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-runlock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const deadPid = (): number => {
    const r = spawnSync('sh', ['-c', 'echo $$']);
    return Number(String(r.stdout).trim());
  };

  // [what, the lock file found, taken?, message]
  test.each([
    ['no lock', undefined, true, undefined],
    ['held by a live process (pid 1 on this host)', (): string => JSON.stringify({ pid: 1, host: hostname(), since: 'then' }), false, /being run by another etcd-dr process: pid 1/],
    ['held by a dead process', (): string => JSON.stringify({ pid: deadPid(), host: hostname(), since: 'then' }), true, undefined],
    ['held by a live pid that was reused (start time differs)', (): string => JSON.stringify({ pid: 1, host: hostname(), since: 'then', startTicks: (processStart(1) ?? 0) + 1 }), true, undefined],
    ['held on another host', (): string => JSON.stringify({ pid: 1, host: 'elsewhere.example', since: 'then' }), false, /on another host, elsewhere.example/],
    ['empty (a crash between create and write)', (): string => '', true, undefined],
    ['not a lock of etcd-dr', (): string => 'hello', false, /not a lock this etcd-dr wrote/],
  ] as const)('%s', (_what, found, taken, message) => {
    const l = new RunLock(dir, 'r');
    if (found) writeFileSync(l.path, found());
    if (taken) {
      l.acquire('resume r');
      expect(parseRunLock(readFileSync(l.path, 'utf8'))?.pid).toBe(process.pid);
      // taken twice by the same process: fine
      new RunLock(dir, 'r').acquire();
      l.release();
      expect(existsSync(l.path)).toBe(false);
      if (found) expect(readdirSync(dir).some((f) => f.startsWith('run.lock.stale-'))).toBe(true);
    } else {
      expect(() => l.acquire()).toThrow(message!);
      expect(readFileSync(l.path, 'utf8')).toBe(found!());
    }
  });

  test('holderAlive: this process is alive, a dead pid is not', () => {
    expect(holderAlive({ pid: process.pid, host: hostname(), since: '' })).toBe(true);
    expect(holderAlive({ pid: deadPid(), host: hostname(), since: '' })).toBe(false);
    expect(holderAlive({ pid: process.pid, host: 'x', since: '' })).toBeUndefined();
  });
});

describe('a failed write on the bastion', () => {
  test.each([
    ['ENOSPC', /(not enough room|the file system is full) \(ENOSPC.*; it needs 2.0 MiB\)/, /make room on the file system of \/x\/y \(at least 2.0 MiB\)/],
    ['EROFS', /\/x\/y: EROFS/, /make \/x\/y writable/],
  ])('%s becomes exit 8 naming the path, the room and how to go on', (code, message, hint) => {
    const e = (() => {
      try {
        onBastion('/x/y', 'the journal', () => {
          throw Object.assign(new Error(`${code}: fail`), { code });
        }, { needBytes: 2 << 20, runId: 'r1', runDir: '/s/runs/r1' });
      } catch (err) {
        return err as BastionWriteError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(BastionWriteError);
    expect(e.exitCode).toBe(EXIT.bastionWrite);
    expect(e.message).toMatch(/^cannot write the journal on the bastion: \/x\/y: /);
    expect(e.message).toMatch(message);
    expect(e.hint).toMatch(hint);
    expect(e.hint).toMatch(/`etcd-dr resume r1`, or copy \/s\/runs\/r1 into <other state dir>\/runs\//);
  });

  test('anything else is not a write failure', () => {
    expect(() =>
      onBastion('/x', 'y', () => {
        throw new TypeError('bug');
      }),
    ).toThrow(TypeError);
  });
});
