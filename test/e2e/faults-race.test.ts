/**
 * Races between bastions, and a lock file a crash left empty (issue 15, items 4 and 2's empty lock), on a
 * 3-node etcd 3.5 lab that lost its quorum.
 *
 * - Two bastions (two state dirs) plan the same recovery; the second waits at its prompt while the first
 *   recovers the cluster. When the second is answered "yes" it takes the locks, reads the facts again under
 *   them, finds the cluster changed and stops before touching anything, listing what changed; its locks are
 *   released, the cluster the first one recovered keeps serving every key, untouched.
 * - An empty lock file on a node: `status` shows it, every plan refuses it (naming --break-lock, which
 *   plans to set it aside), `unlock --empty` sets it aside (kept, not deleted), and a run's lock is never
 *   touched by it.
 */
import { PassThrough, Writable } from 'node:stream';
import { breakAllDown, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import { main } from '../../src/cli/main.js';
import type { Plan } from '../../src/plan/types.js';
import { RunDir } from '../../src/apply/rundir.js';
import { FaultTable } from '../support/fault-table.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { keysOf, lostOrChanged, membersOf, nodeFingerprint } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 600_000;
const NAMES = ['etcd1', 'etcd2', 'etcd3'];
const table = new FaultTable('race', 'Two bastions at once, and a lock file left empty');
const suiteStart = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let lab: LabState;
beforeAll(async () => {
  lab = await startLab(e2eNet(112), { etcd: '3.5' });
  await loadKeys(lab, { keys: 300 });
}, T);
afterAll(async () => {
  table.save({ etcd: '3.5.30', lab: `3 nodes on ${e2eNet(112)}x`, data: '300 keys', 'suite time': `${((Date.now() - suiteStart) / 1000).toFixed(1)} s` });
  await stopLab(lab);
}, T);

/** `recover` without --yes on a terminal that answers only when told to: an operator at the prompt. */
function atPrompt(state: string) {
  const stdin = Object.assign(new PassThrough(), { isTTY: true });
  let err = '';
  let out = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c: Buffer, _e, cb) => (f(c.toString()), cb()) });
  const code = main(['recover', '-i', lab.inventoryPath, '--state-dir', state], {
    stdin,
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: { ...process.env, CI: 'true' },
    cwd: process.cwd(),
    isTTY: false,
  });
  return { stdin, code, stderr: () => err, stdout: () => out };
}

async function locks(): Promise<string[]> {
  return Promise.all(NAMES.map(async (n) => (await labExec(lab, n, ['sh', '-c', 'cat /var/lib/etcd-dr/lock 2>/dev/null || echo none'])).stdout.trim()));
}

it('two bastions: the second, answered at its prompt after the first recovered the cluster, is stopped by the check under the lock', async () => {
  const before = await keysOf(lab, 'etcd1');
  await breakAllDown(lab);
  const state2 = tempDir();
  const second = atPrompt(state2);
  for (const t0 = Date.now(); !second.stderr().includes('Type "yes"'); ) {
    if (Date.now() - t0 > 120_000) throw new Error(`no prompt:\n${second.stderr()}`);
    await sleep(50);
  }
  // meanwhile the first bastion recovers the cluster
  const first = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', tempDir(), '--yes']);
  expect(first.code).toBe(0);
  const recovered = await Promise.all(NAMES.map((n) => nodeFingerprint(lab, n)));
  const t0 = Date.now();
  second.stdin.write('yes\n');
  const code = await second.code;
  const ms = Date.now() - t0;
  expect(code).toBe(3);
  const err = second.stderr();
  expect(err).toContain('the cluster changed since the plan was made');
  expect(err).toContain('before this run took its locks');
  // the first bastion's recovery: a new data dir with a new cluster id in its WAL on every member
  for (const n of NAMES) expect(err).toMatch(new RegExp(` {2}- ${n}: dataDir was .*, now `));
  expect(err).toContain('its locks are released');
  // nothing touched: the nodes as the first bastion left them, no lock, every key, three voting members
  // (etcd-dr's own lock dir changes: the second took its locks and released them, kept as history)
  const noLockDir = (p: string) => p.split('\n').filter((l) => !/ etcd-dr$/.test(l)).join('\n');
  expect((await Promise.all(NAMES.map((n) => nodeFingerprint(lab, n)))).map(noLockDir)).toEqual(recovered.map(noLockDir));
  expect(await locks()).toEqual(['none', 'none', 'none']);
  const secondRun = (second.stdout().match(/^etcd-dr plan (\S+) /m) ?? [])[1]!;
  for (const n of NAMES) expect((await labExec(lab, n, ['test', '-f', `/var/lib/etcd-dr/lock.released-${secondRun}`])).code).toBe(0);
  expect(lostOrChanged(before, await keysOf(lab, 'etcd3'))).toEqual([]);
  expect((await membersOf(lab, 'etcd1')).every((m) => m.started && !m.isLearner)).toBe(true);
  // its run is recorded as refused: nothing to resume
  const run = new RunDir(state2, (second.stdout().match(/^etcd-dr plan (\S+) /m) ?? [])[1] ?? 'none');
  expect(run.read().filter((e) => e.event === 'run-end')).toEqual([expect.objectContaining({ outcome: 'refused' })]);
  expect(run.read().some((e) => e.event === 'step-done')).toBe(false);
  const changes = err.split('\n').filter((l) => l.startsWith('  - '));
  table.add({
    fault: 'two bastions plan the recovery of the same cluster (quorum lost); the second waits at its prompt while the first recovers it, then is answered "yes"',
    expected: 'the second takes the locks, reads the facts again under them, stops before touching anything listing what changed, and releases its locks; the cluster keeps every key',
    seen: `first: recover exit ${first.code}; second: exit ${code} ${(ms / 1000).toFixed(1)} s after "yes", listing ${changes.length} change(s) (${changes.slice(0, 2).map((c) => c.slice(4)).join('; ')}…); node listings unchanged, no lock left, ${before.size} of ${before.size} keys, 3 voting members`,
    pass: true,
  });
}, T);

it('an empty lock file: shown by status, refused by a plan (naming --break-lock), set aside by `unlock --empty`; a run\'s lock is never touched', async () => {
  await labExec(lab, 'etcd2', ['sh', '-c', 'mkdir -p /var/lib/etcd-dr && : > /var/lib/etcd-dr/lock']);
  const st = await runCli(['status', '-i', lab.inventoryPath]);
  expect(st.code).toBe(0);
  expect(st.stdout).toContain('etcd2: its etcd-dr lock file is empty');
  const planned = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--force']);
  expect(planned.code).toBe(3);
  expect(planned.stderr).toContain('the etcd-dr lock file on etcd2 is empty');
  expect(planned.stderr).toContain('--break-lock');
  const broken = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--force', '--break-lock', '--format', 'json']);
  expect(broken.code).toBe(0);
  expect((JSON.parse(broken.stdout) as Plan).steps[0]!.action).toEqual({ type: 'lock', breakEmpty: true });
  const cleared = await runCli(['unlock', '--empty', '-i', lab.inventoryPath, '--json']);
  expect(cleared.code).toBe(0);
  expect(JSON.parse(cleared.stdout)).toMatchObject({ command: 'unlock', exitCode: 0, cleared: { etcd2: 'done' } });
  const kept = await labExec(lab, 'etcd2', ['sh', '-c', 'ls /var/lib/etcd-dr']);
  expect(kept.stdout).toMatch(/^lock\.empty-cleared-\d+$/m);
  expect(kept.stdout).not.toMatch(/^lock$/m);
  const after = await runCli(['status', '-i', lab.inventoryPath]);
  expect(after.stdout).not.toContain('lock file is empty');
  // a lock of a run is not an empty lock: unlock --empty leaves it alone
  await labExec(lab, 'etcd3', ['sh', '-c', 'printf "run=20261205T230000Z-aaaa\\nholder=ops@b\\n" > /var/lib/etcd-dr/lock']);
  const none = await runCli(['unlock', '--empty', '-i', lab.inventoryPath]);
  expect(none.code).toBe(0);
  expect(none.stdout).toBe('no empty lock file\n');
  expect((await labExec(lab, 'etcd3', ['cat', '/var/lib/etcd-dr/lock'])).stdout).toContain('run=20261205T230000Z-aaaa');
  await labExec(lab, 'etcd3', ['mv', '/var/lib/etcd-dr/lock', '/var/lib/etcd-dr/lock.test-done']);
  table.add({
    fault: 'an empty etcd-dr lock file on etcd2 (a run crashed between creating and writing it)',
    expected: '`status` shows it; a plan refuses it and names --break-lock, with which the lock step sets it aside; `unlock --empty` sets it aside (kept); a lock naming a run is left alone',
    seen: `status exit ${st.code} with the note; plan exit ${planned.code}; plan --break-lock: lock step breakEmpty; unlock --empty exit ${cleared.code}, ${kept.stdout.trim().split('\n').filter((l) => l.startsWith('lock.empty')).join(', ')}; status after: no note; a run's lock: "${none.stdout.trim()}", kept`,
    pass: true,
  });
}, T);
