/**
 * A recovery killed halfway, then started over (issue 15, item 1), on etcd 3.4 and 3.5. etcd3 stopped
 * early while writes went on (its data is stale), then every member stopped; `recover --yes` is killed
 * (SIGKILL) right after it moved etcd1's and etcd2's data dirs aside, before etcd3's. The good copies now
 * sit beside the data dirs; etcd3's stale one is the only live data dir with a db.
 *
 * - A fresh `recover` on the same bastion, and on another one (another state dir), is refused and points
 *   to `resume RUN`; nothing changes on any node; `resume` then finishes with every key.
 * - A fresh `recover --break-lock` from another bastion (the journal lost) restores from the freshest
 *   data, set aside beside etcd1's data dir, keeps that dir as it was (its db's sha256), and every key.
 *
 * Judged on the nodes: every key written before the failure with its value (the late ones too), the key
 * count, hashkv equal on the three members read by etcdctl, three started voting members.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { breakAllDown, etcdctlInNode, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { keysOf, lostOrChanged, membersOf, nodeFingerprint } from '../support/keys.js';
import { procState } from '../support/runs.js';
import { e2eNet } from '../support/net.js';

const T = 600_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const STOP_HOOK = pathToFileURL(join(process.cwd(), 'test', 'support', 'stop-after-step.mjs')).href;
const NAMES = ['etcd1', 'etcd2', 'etcd3'];
const children = new Set<ChildProcess>();
const table = new FaultTable('interrupted', 'A recovery killed halfway, then started over (a stale member left as the only live data dir)');
const suiteStart = Date.now();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  table.save({ lab: `3 nodes on ${e2eNet(110)}x (etcd 3.4) and ${e2eNet(111)}x (etcd 3.5)`, data: '500 keys, then 101 written while etcd3 was stopped, per case', 'suite time': `${((Date.now() - suiteStart) / 1000).toFixed(1)} s` });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));


/**
 * `recover --yes` as an operator's process, stopped by the preloaded hook the moment the journal records
 * `step` done, then killed with SIGKILL there (a terminal's session dying). Returns the run id.
 */
async function recoverKilledAfter(lab: LabState, state: string, step: string): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ETCD_DR_STOP_AFTER_STEP: step };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, ['--import', STOP_HOOK, BIN, 'recover', '-i', lab.inventoryPath, '--state-dir', state, '--yes'], { stdio: ['ignore', 'ignore', 'pipe'], env });
  children.add(child);
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const deadline = Date.now() + 300_000;
  while (procState(child.pid!) !== 'T') {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`recover did not stop after ${step} (exit ${child.exitCode}):\n${err.slice(-3000)}`);
    await sleep(25);
  }
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
  const runs = readdirSync(join(state, 'runs')).filter((d) => existsSync(join(state, 'runs', d, 'plan.json')));
  expect(runs).toHaveLength(1);
  return runs[0]!;
}

function planOf(state: string, runId: string): Plan {
  return JSON.parse(readFileSync(join(state, 'runs', runId, 'plan.json'), 'utf8')) as Plan;
}

/** etcd3 stops; more writes go to etcd1 and etcd2; then every member stops. Returns the keys before the failure. */
async function staleThenAllDown(lab: LabState, prefix: string): Promise<Map<string, string>> {
  await labExec(lab, 'etcd3', ['systemctl', 'stop', 'etcd']);
  await loadKeys(lab, { keys: 101, prefix, node: 'etcd1' });
  const before = await keysOf(lab, 'etcd1');
  await breakAllDown(lab);
  return before;
}

async function sha256On(lab: LabState, node: string, path: string): Promise<string> {
  const r = await labExec(lab, node, ['sha256sum', path]);
  expect(r.code).toBe(0);
  return r.stdout.split(' ')[0]!;
}

/** What must hold on the nodes after the recovery: every key and value, the count, hashkv, membership. */
async function expectEveryKey(lab: LabState, before: Map<string, string>, latePrefix: string): Promise<string> {
  for (const n of NAMES) {
    const after = await keysOf(lab, n);
    expect(lostOrChanged(before, after)).toEqual([]);
    expect(after.size).toBe(before.size);
    expect([...after.keys()].filter((k) => k.startsWith(latePrefix))).toHaveLength(101);
  }
  const h = await etcdctlInNode(lab, 'etcd1', ['endpoint', 'hashkv', '--cluster', '-w', 'json'], { timeout: 60 });
  expect(h.code).toBe(0);
  const hashes = (JSON.parse(h.stdout) as { HashKV: { hash: number } }[]).map((x) => x.HashKV.hash);
  expect(hashes).toHaveLength(3);
  expect(new Set(hashes).size).toBe(1);
  const list = await membersOf(lab, 'etcd1');
  expect(list.map((m) => m.name).sort()).toEqual(NAMES);
  expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
  return `${before.size} of ${before.size} keys with their values on each member (the 101 late ones too), hashkv equal on 3 members, 3 started voting members`;
}

describe.each([
  ['3.4', e2eNet(110)],
  ['3.5', e2eNet(111)],
] as const)('a recovery killed halfway, started over, on etcd %s', (version, base) => {
  let lab: LabState;
  beforeAll(async () => {
    lab = await startLab(base, { etcd: version });
    await loadKeys(lab, { keys: 500 });
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('a fresh recover (this bastion or another) is refused, pointing to resume, and changes nothing; resume keeps every key', async () => {
    const before = await staleThenAllDown(lab, '/registry/late1/');
    const state = tempDir();
    const x = await recoverKilledAfter(lab, state, '04-move-aside-etcd2');
    const plan = planOf(state, x);
    expect(plan.steps.find((s) => s.id === '04-move-aside-etcd2')!.action).toMatchObject({ type: 'move-data-dir', from: '/var/lib/etcd' });
    expect(plan.survivor!.name).not.toBe('etcd3');
    // the state the issue found: etcd1's and etcd2's data set aside, etcd3's stale data the only live db
    for (const n of ['etcd1', 'etcd2']) expect((await labExec(lab, n, ['test', '-e', '/var/lib/etcd'])).code).not.toBe(0);
    expect((await labExec(lab, 'etcd3', ['test', '-f', '/var/lib/etcd/member/snap/db'])).code).toBe(0);
    const prints = await Promise.all(NAMES.map((n) => nodeFingerprint(lab, n)));

    const same = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--yes']);
    expect(same.code).toBe(3);
    expect(same.stderr).toContain(`etcd-dr resume ${x}`);
    const other = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', tempDir(), '--yes']);
    expect(other.code).toBe(3);
    expect(other.stderr).toContain(`etcd-dr resume ${x}\` it on the bastion that started it`);
    expect(await Promise.all(NAMES.map((n) => nodeFingerprint(lab, n)))).toEqual(prints);

    const r = await runCli(['resume', x, '-i', lab.inventoryPath, '--state-dir', state]);
    expect(r.stderr).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
    const kept = await expectEveryKey(lab, before, '/registry/late1/');
    const said = (e: string) => e.trim().split('\n').filter((l) => l.startsWith('etcd-dr:') || l.startsWith('  ')).join(' ').slice(0, 400);
    table.add({
      fault: `etcd ${version}: etcd3 stopped early, writes went on, all members stopped; \`recover --yes\` SIGKILLed right after 04-move-aside-etcd2 (etcd1's and etcd2's data dirs set aside, etcd3's stale one left); then a fresh \`recover --yes\` on the same bastion and from another state dir`,
      expected: 'both refused before anything is touched, pointing to `resume RUN`; nothing changes on any node; `resume` finishes with every key',
      seen: `same bastion exit ${same.code}: ${said(same.stderr)}; other state dir exit ${other.code}; node listings unchanged; resume exit ${r.code}; ${kept}`,
      pass: true,
    });
  }, T);

  it('recover --break-lock from another bastion restores from the freshest data, set aside beside a data dir, keeps that dir, and every key', async () => {
    const before = await staleThenAllDown(lab, '/registry/late2/');
    const first = tempDir();
    const z = await recoverKilledAfter(lab, first, '04-move-aside-etcd2');
    const asideDb = `/var/lib/etcd.etcd-dr-${z}/member/snap/db`;
    const sha = await sha256On(lab, 'etcd1', asideDb);

    // what the plan shows, before anything is done
    const shown = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', tempDir(), '--break-lock', '--format', 'json']);
    expect(shown.code).toBe(0);
    const p = JSON.parse(shown.stdout) as Plan;
    expect(p.survivor).toMatchObject({ name: 'etcd1', source: { path: `/var/lib/etcd.etcd-dr-${z}`, runId: z } });
    expect(p.survivor!.evidence.filter((e) => e.chosen)).toEqual([expect.objectContaining({ node: 'etcd1', state: 'set-aside', source: `/var/lib/etcd.etcd-dr-${z}` })]);
    const md = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', tempDir(), '--break-lock', '--format', 'markdown']);
    expect(md.stdout).toContain(`set aside by run ${z}`);

    const r = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', tempDir(), '--yes', '--break-lock', '--json']);
    expect(r.stderr).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`from etcd1's data set aside by run ${z} (/var/lib/etcd.etcd-dr-${z})`);
    const kept = await expectEveryKey(lab, before, '/registry/late2/');
    // the set-aside dir it restored from is kept as it was; etcd3's stale data dir was moved aside, not
    // deleted (beside the one the resumed run of the first test set aside)
    expect(await sha256On(lab, 'etcd1', asideDb)).toBe(sha);
    expect((await labExec(lab, 'etcd3', ['sh', '-c', 'ls -d /var/lib/etcd.etcd-dr-*/member/snap/db | wc -l'])).stdout.trim()).toBe('2');
    table.add({
      fault: `etcd ${version}: the same interrupted run, then \`recover --yes --break-lock\` from another state dir (the first bastion's journal lost)`,
      expected: "the plan restores from the freshest data, set aside beside etcd1's data dir, and shows where it comes from; that dir is kept as it was; every key",
      seen: `plan: survivor etcd1 from ${p.survivor!.source!.path} (evidence row marked, markdown says "set aside by run"); recover exit ${r.code}; ${kept}; the set-aside db's sha256 unchanged`,
      pass: true,
    });
  }, T);
});
