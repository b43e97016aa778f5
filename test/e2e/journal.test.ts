/**
 * The run's files on the bastion under stress (issue 15, items 2 and 3), on a 3-node etcd 3.4 lab:
 *
 * - the run dir's local lock: a `resume` while the first process still holds the run is refused, naming
 *   it; once that process is dead its lock is found stale and taken over;
 * - a journal that was edited, lost its end, or is empty while the nodes hold the run's lock is refused
 *   (exit 3) with what the journal still says and what the nodes show, and nothing changes on a node;
 * - a journal written by an older etcd-dr (no checksums) is resumed, and the recovery keeps every key;
 * - a full bastion disk (the state dir on a 1 MiB tmpfs mounted here) while the survivor's db is copied
 *   ends in exit 8 naming the path and the room needed, the plan having warned; no incomplete copy is
 *   left; after room is made `resume` finishes with every key and a copy that matches the db.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { RunDir } from '../../src/apply/rundir.js';
import { breakAllDown, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import type { Plan } from '../../src/plan/types.js';
import { EXIT } from '../../src/util/errors.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { keysOf, nodeFingerprint } from '../support/keys.js';
import { children, describeJudged, etcdDr, heldAtStep, judge, judgedOk } from '../support/runs.js';
import { e2eNet } from '../support/net.js';

const BASE = e2eNet(120);
const T = 600_000;
const ALL = ['etcd1', 'etcd2', 'etcd3'];

let lab: LabState;
let tmpfs: string | undefined;
const table = new FaultTable('journal', "The run's files on the bastion: its lock, a damaged journal, a full disk");
const suiteStart = Date.now();
const firstLine = (s: string) => s.split('\n').find((l) => l.startsWith('etcd-dr: ') && !l.startsWith('etcd-dr: note')) ?? s.slice(0, 200);

beforeAll(async () => {
  lab = await startLab(BASE, { etcd: '3.4' });
  // 4 MiB of values: the db does not fit the 1 MiB state dir of the full-disk case
  await loadKeys(lab, { keys: 300, mb: 4 });
}, T);

afterAll(async () => {
  table.save({ etcd: '3.4', lab: `3 nodes on ${BASE}x`, data: '300 keys + 4 × 1 MiB values', 'suite time': `${((Date.now() - suiteStart) / 1000).toFixed(1)} s` });
  for (const c of children) c.kill('SIGKILL');
  if (tmpfs) execFileSync('umount', ['-l', tmpfs]);
  await stopLab(lab);
}, T);

const inv = () => ['-i', lab.inventoryPath];
const runIdIn = (state: string) => readdirSync(join(state, 'runs')).find((d) => existsSync(join(state, 'runs', d, 'plan.json')))!;
const fingerprints = () => Promise.all(ALL.map((n) => nodeFingerprint(lab, n)));

test('run dir lock, damaged journals refused with what the nodes show, an old journal resumed', async () => {
  const before = await keysOf(lab, 'etcd1');
  await breakAllDown(lab);
  const state = tempDir('etcd-dr-journal-');

  // the first process holds the run (stopped right after its lock step)
  const first = etcdDr(['recover', ...inv(), '--yes', '--state-dir', state], '*');
  await heldAtStep(first);
  const runId = runIdIn(state);
  const run = new RunDir(state, runId);
  const plan = JSON.parse(readFileSync(run.planPath, 'utf8')) as Plan;
  const second = await runCli(['resume', ...inv(), '--state-dir', state]);
  expect(second.code).toBe(EXIT.refused);
  expect(second.stderr).toContain(`run ${runId} is being run by another etcd-dr process: pid ${first.pid}`);
  table.add({
    fault: '`resume` of a run while the process that runs it is still alive (held right after its lock step)',
    expected: 'refused (exit 3) naming the pid that holds the run; nothing done',
    seen: `exit ${second.code}: "${firstLine(second.stderr)}"`,
    pass: true,
  });
  first.child.kill('SIGKILL');
  await first.exit;

  // a resume takes the dead process's lock over and is held after the last move aside
  const lastAside = plan.steps.filter((s) => s.action.type === 'move-data-dir').at(-1)!.id;
  const mover = etcdDr(['resume', ...inv(), '--state-dir', state], lastAside);
  await heldAtStep(mover);
  mover.child.kill('SIGKILL');
  await mover.exit;
  expect(readdirSync(run.dir).filter((f) => f.startsWith('run.lock.stale-')).length).toBe(1);

  const good = readFileSync(run.journalPath, 'utf8');
  const goodHead = readFileSync(run.headPath, 'utf8');
  const lines = good.trimEnd().split('\n');
  const nodesBefore = await fingerprints();
  const refuse = async (what: string, journal: string, head: string | undefined, expected: RegExp[]) => {
    writeFileSync(run.journalPath, journal);
    if (head === undefined) rmSync(run.headPath, { force: true });
    else writeFileSync(run.headPath, head);
    // a journal with nothing left in it names no run: the operator names it
    const r = await runCli(['resume', ...(journal === '' ? [runId] : []), ...inv(), '--state-dir', state]);
    expect({ what, code: r.code }).toEqual({ what, code: EXIT.refused });
    for (const e of expected) expect({ what, stderr: r.stderr }).toEqual({ what, stderr: expect.stringMatching(e) });
    expect(readFileSync(run.journalPath, 'utf8')).toBe(journal);
    const reason = r.stderr.split('\n').find((l) => /^  - (line \d+: )?(its|it has|this line)/.test(l)) ?? firstLine(r.stderr);
    table.add({
      fault: `the journal of an interrupted recovery (killed after its data dirs were set aside) ${what}; \`resume\``,
      expected: 'refused (exit 3) with what the journal still says and what each node shows (etcd, the run’s lock, data dirs set aside); nothing changes on a node',
      seen: `exit ${r.code}: ${reason.trim()}; the nodes shown: ${r.stderr.includes('holds this run’s lock') ? 'holding the run’s lock, data dirs set aside' : '?'}`,
      pass: true,
    });
    return r.stderr;
  };
  // what the nodes show: all three stopped, holding this run's lock, their data dirs set aside
  const nodesShow = [/what the nodes show:/, /etcd1: etcd stopped .*holds this run’s lock/, new RegExp(`set aside: /var/lib/etcd\\.etcd-dr-${runId}`)];
  const doneLine = lines.findIndex((l) => l.includes(`"event":"step-done","step":"${lastAside}"`));
  await refuse('a step-done line edited', good.replace(lines[doneLine]!, lines[doneLine]!.replace('"outcome":"done"', '"outcome":"dane"')), goodHead, [
    new RegExp(`cannot be trusted .*\\n  - line ${doneLine + 1}: its checksum does not match`),
    /what it still says: \d+ of \d+ steps recorded done/,
    ...nodesShow,
  ]);
  await refuse('its end lost', `${lines.slice(0, -4).join('\n')}\n`, goodHead, [new RegExp(`it has ${lines.length - 4} intact line\\(s\\), but ${JSON.parse(goodHead).seq} were written durably`), ...nodesShow]);
  await refuse('emptied, its head file kept', '', goodHead, [/0 intact line\(s\), but \d+ were written durably/, ...nodesShow]);
  await refuse('emptied, its head file gone too', '', undefined, [/is empty, but etcd1, etcd2, etcd3 hold this run's lock: the run did start/, ...nodesShow]);
  expect(await fingerprints()).toEqual(nodesBefore);

  // the same journal as an older etcd-dr wrote it (no seq, no sum, no head file) is resumed, clearly
  const legacy = lines.map((l) => `${l.replace(/^\{"seq":\d+,/, '{').replace(/,"sum":"[0-9a-f]{16}"\}$/, '}')}\n`).join('');
  writeFileSync(run.journalPath, legacy);
  rmSync(run.headPath, { force: true });
  const resumed = await runCli(['resume', ...inv(), '--state-dir', state]);
  expect(resumed.stderr).toMatch(new RegExp(`the journal's first ${lines.length} line\\(s\\) were written by an older etcd-dr, without checksums`));
  expect(resumed.code).toBe(0);
  const j = await judge(lab, before, ALL);
  expect(describeJudged(j)).toMatch(/\(0 lost or changed\)/);
  expect(judgedOk(j, ALL)).toBe(true);
  // nothing resumed twice: each step of the plan done exactly once
  const done = run.read().flatMap((e) => (e.event === 'step-done' ? [e.step] : []));
  expect(done.sort()).toEqual(plan.steps.map((s) => s.id).sort());
  expect(run.check().problems).toEqual([]);
  expect(existsSync(join(run.dir, 'run.lock'))).toBe(false);
  table.add({
    fault: 'the same journal as an older etcd-dr wrote it (no sequence numbers, no checksums, no head file), after the process holding the run was SIGKILLed (its run.lock left behind)',
    expected: 'the dead process’s lock is taken over; `resume` says the journal has no checksums and finishes: every key, hashkv equal, each step done once',
    seen: `stale lock moved beside; resume exit ${resumed.code}; ${describeJudged(j)}; ${done.length} steps done for ${plan.steps.length} in the plan`,
    pass: true,
  });
}, T);

test('a full bastion disk during the db copy: exit 8 naming the path and the room; resume after room is made keeps every key', async () => {
  const before = await keysOf(lab, 'etcd1');
  await breakAllDown(lab);
  tmpfs = tempDir('etcd-dr-fullstate-');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', tmpfs]);
  const r = await runCli(['recover', ...inv(), '--yes', '--state-dir', tmpfs]);
  const runId = runIdIn(tmpfs);
  expect(r.stdout + r.stderr).toMatch(/the bastion has .* free where the survivor's db copy goes \(.*\), and the db is [\d.]+ MiB/);
  expect(r.stderr).toMatch(/cannot write the copy of etcd\d:\/var\/lib\/etcd\.etcd-dr-.* on the bastion: .*: not enough room \(ENOSPC, .* free there; it needs [\d.]+ MiB\)/);
  expect(r.stderr).toMatch(new RegExp(`make room on the file system of .* \\(at least [\\d.]+ MiB\\), then \`etcd-dr resume ${runId}\`, or \`etcd-dr resume ${runId} --backup-dir <a dir with room>\``));
  expect(r.stderr).not.toMatch(/Unhandled|internal error|\n\s+at /);
  expect(r.code).toBe(EXIT.bastionWrite);
  // no incomplete copy is left to look like a complete one, and the journal is whole
  const backups = join(tmpfs, 'backups', runId);
  expect(existsSync(backups) ? readdirSync(backups) : []).toEqual([]);
  const run = new RunDir(tmpfs, runId);
  expect(run.check().problems).toEqual([]);

  execFileSync('mount', ['-o', 'remount,size=64m', tmpfs]);
  const resumed = await runCli(['resume', ...inv(), '--state-dir', tmpfs]);
  expect(resumed.stderr).not.toMatch(/internal error/);
  expect(resumed.code).toBe(0);
  const j = await judge(lab, before, ALL);
  expect(describeJudged(j)).toMatch(/\(0 lost or changed\)/);
  expect(judgedOk(j, ALL)).toBe(true);
  // the bastion's copy is whole: its sha256 file, and the db kept aside on the node, agree
  const plan = JSON.parse(readFileSync(run.planPath, 'utf8')) as Plan;
  const b = plan.steps.find((s) => s.action.type === 'backup-db')!;
  const a = b.action as Extract<Plan['steps'][number]['action'], { type: 'backup-db' }>;
  const sha = createHash('sha256').update(readFileSync(a.localPath)).digest('hex');
  expect(readFileSync(`${a.localPath}.sha256`, 'utf8')).toMatch(new RegExp(`^${sha}  `));
  expect((await labExec(lab, b.node!, ['sha256sum', a.remoteDb])).stdout).toMatch(new RegExp(`^${sha} `));
  table.add({
    fault: "the state dir on a 1 MiB tmpfs: no room for the survivor's db copy during `recover` (all members down)",
    expected: 'the plan warns; the run ends with exit 8 naming the path, the room needed and how to go on; no incomplete copy left; after room is made `resume` finishes with every key and a copy matching the db',
    seen: `recover exit ${r.code}: "${r.stderr.split('\n').find((l) => l.includes('cannot write')) ?? firstLine(r.stderr)}"; backups left: none; after a remount with 64 MiB, resume exit ${resumed.code}; ${describeJudged(j)}; copy sha256 matches the db kept aside`,
    pass: true,
  });
}, T);
