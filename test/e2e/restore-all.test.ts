/**
 * `recover --strategy restore-all` on the real lab, etcd 3.4 and 3.5, judged on the nodes: every key back
 * with its value, hashkv equal on every member at one revision, three started voting members of one new
 * cluster, every env file with the full membership, the old data dirs kept. A member that fails during
 * it (its etcd cannot bind its peer port) is set back with every other member, the run goes on with the
 * rejoin path and ends with a working cluster without it; `resume` adds it once it starts. A run
 * killed in the middle of the restore-all steps is finished by `resume`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { breakAllDown, etcdctlInNode, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import type { JournalEvent } from '../../src/apply/rundir.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const table = new FaultTable('restore-all', 'Faults during a restore-all recovery (`--strategy restore-all`)');
const t0 = Date.now();
afterAll(() => table.save({ etcd: '3.4.23 and 3.5.30', lab: `3 nodes on ${e2eNet(150)}x (3.4) and ${e2eNet(151)}x (3.5)`, data: '2000 keys + 3 × 1 MiB values', 'suite time': `${((Date.now() - t0) / 1000).toFixed(1)} s` }));
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');

interface Summary {
  runId: string;
  members: string[];
  runDir: string;
}

function runFiles(dir: string): { journal: JournalEvent[]; plan: Plan } {
  const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JournalEvent);
  return { journal, plan: JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Plan };
}

function lastJson<T>(stdout: string): T {
  return JSON.parse(stdout.slice(stdout.lastIndexOf('\n{\n') + 1)) as T;
}

/** hashkv of every member at one revision, as the nodes answer it (not the run's own report). */
async function hashes(lab: LabState, via: string): Promise<Map<string, number>> {
  const st = await etcdctlInNode(lab, via, ['endpoint', 'status', '--cluster', '-w', 'json'], { timeout: 60 });
  const rev = Math.min(...(JSON.parse(st.stdout) as { Status: { header: { revision: number } } }[]).map((s) => s.Status.header.revision));
  const r = await etcdctlInNode(lab, via, ['endpoint', 'hashkv', '--cluster', `--rev=${rev}`, '-w', 'json'], { timeout: 60 });
  expect(r.code).toBe(0);
  return new Map((JSON.parse(r.stdout) as { Endpoint: string; HashKV: { hash: number } }[]).map((h) => [h.Endpoint, h.HashKV.hash]));
}

/** What every recovery must leave on the nodes. */
async function expectRecovered(lab: LabState, before: Map<string, string>, runId: string, members: string[]) {
  expect(lostOrChanged(before, await keysOf(lab, members[members.length - 1]!))).toEqual([]);
  const h = await hashes(lab, members[0]!);
  expect(h.size).toBe(members.length);
  expect(new Set(h.values()).size).toBe(1);
  const list = await membersOf(lab, members[0]!);
  expect(list.map((m) => m.name).sort()).toEqual([...members].sort());
  expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
  const cluster = lab.nodes.filter((n) => members.includes(n.name)).map((n) => `${n.name}=https://${n.address}:2380`).join(',');
  for (const n of members) {
    const env = await fileIn(lab, n, '/etc/etcd.env');
    expect(env).toContain(`ETCD_INITIAL_CLUSTER=${cluster}\n`);
    expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
    // the old data dir is kept beside the new one, db included
    const aside = await labExec(lab, n, ['sh', '-c', `test -f /var/lib/etcd.etcd-dr-${runId}/member/snap/db && echo kept`]);
    expect(aside.stdout.trim()).toBe('kept');
  }
}

/** Runs etcd-dr as its own process, killed with SIGKILL once its journal shows `pattern`. */
async function killAt(args: string[], state: string, pattern: RegExp): Promise<string> {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
  const runId = await new Promise<string>((resolve, reject) => {
    const t = setInterval(() => {
      for (const r of runIds(join(state, 'runs'))) {
        const j = join(state, 'runs', r, 'journal.jsonl');
        if (existsSync(j) && pattern.test(readFileSync(j, 'utf8'))) {
          clearInterval(t);
          child.kill('SIGKILL');
          resolve(r);
        }
      }
    }, 10);
    child.on('exit', () => {
      clearInterval(t);
      reject(new Error('the run ended before it could be killed'));
    });
  });
  await new Promise((r) => child.once('exit', r));
  return runId;
}

/** Polls `endpoint health` of one member (each answer waits up to 3 s for etcd) until it serves. */
async function servesWithin(lab: LabState, node: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const r = await etcdctlInNode(lab, node, ['endpoint', 'health', '--command-timeout=3s'], { timeout: 30 });
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`${node} does not serve: ${r.stderr}`);
  }
}

function runIds(dir: string): string[] {
  try {
    return readdirSync(dir).filter((d) => /^\d{8}T/.test(d));
  } catch {
    return [];
  }
}

/**
 * etcd on `node` answers --version but will not start (it exits 1, as with a bad flag or a broken disk)
 * until /run/etcd-dr-test/go exists: a bind mount over its binary in that node only (the real one stays
 * at /run/etcd-dr-test/etcd).
 */
async function etcdWontStart(lab: LabState, node: string): Promise<void> {
  const script = [
    '#!/bin/sh',
    'case "$1" in --version) exec /run/etcd-dr-test/etcd "$@" ;; esac',
    '[ -e /run/etcd-dr-test/go ] && exec /run/etcd-dr-test/etcd "$@"',
    'echo "etcd: cannot start here" >&2; exit 1',
  ].join('\n');
  const r = await labExec(lab, node, [
    'sh',
    '-c',
    [
      'set -eu',
      'real=$(readlink -f "$(command -v etcd)")',
      'mkdir -p /run/etcd-dr-test; rm -f /run/etcd-dr-test/go',
      ': > /run/etcd-dr-test/etcd',
      'mount --bind "$real" /run/etcd-dr-test/etcd',
      'printf \'%s\\n\' "$1" > /run/etcd-dr-test/etcd.replacement',
      'chmod 0755 /run/etcd-dr-test/etcd.replacement',
      'mount --bind /run/etcd-dr-test/etcd.replacement "$real"',
    ].join('\n'),
    '_',
    script,
  ]);
  expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
}

describe.each([
  ['3.4', e2eNet(150)],
  ['3.5', e2eNet(151)],
] as const)('recover --strategy restore-all on etcd %s', (version, base) => {
  let lab: LabState;
  beforeAll(async () => {
    lab = await startLab(base, { etcd: version });
    await loadKeys(lab, { keys: 2000, mb: 3 });
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('every member restored from the survivor\'s db and started at once: no member add, every key back', async () => {
    const before = await keysOf(lab, 'etcd1');
    expect(before.size).toBeGreaterThanOrEqual(2003);
    await breakAllDown(lab);
    const state = tempDir();
    const r = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--strategy', 'restore-all', '--yes', '--json']);
    expect(r.code).toBe(0);
    // with --json the text plan goes to stderr, for the person confirming
    expect(r.stderr).toMatch(/Strategy: restore-all \(--strategy\)/);
    expect(r.stderr).toMatch(/faster: /);
    const s = lastJson<Summary>(r.stdout);
    await expectRecovered(lab, before, s.runId, ['etcd1', 'etcd2', 'etcd3']);
    const { journal, plan } = runFiles(s.runDir);
    expect(plan.strategy?.name).toBe('restore-all');
    expect(journal.at(-1)).toMatchObject({ event: 'run-end', outcome: 'done' });
    const ran = new Set(journal.flatMap((e) => (e.event === 'step-done' ? [plan.steps.find((x) => x.id === e.step)!.action.type] : [])));
    expect(ran).toEqual(new Set(['lock', 'stop-etcd', 'move-data-dir', 'backup-db', 'send-db', 'backup-wait', 'restore-all', 'start-all', 'verify', 'unlock']));
    // the members received the db while the bastion copied it: the send started before the copy ended
    const send = plan.steps.find((x) => x.action.type === 'send-db')!.id;
    const sendStart = journal.find((e) => e.event === 'step-start' && e.step === send)!;
    const copied = journal.find((e) => e.event === 'command' && e.command.startsWith('download '))!;
    expect(Date.parse(sendStart.t)).toBeLessThan(Date.parse(copied.t));
    expect(journal.find((e) => e.event === 'step-done' && e.step === send)).toMatchObject({ data: { followed: true } });
    // every other member got the bastion's copy, byte for byte, and keeps it beside its data dir
    const sha = readFileSync(`${(plan.steps.find((x) => x.action.type === 'backup-db')!.action as { localPath: string }).localPath}.sha256`, 'utf8').split(' ')[0];
    for (const n of ['etcd2', 'etcd3']) {
      const got = await labExec(lab, n, ['sha256sum', `/var/lib/etcd.etcd-dr-${s.runId}-db`]);
      expect(got.stdout.split(' ')[0]).toBe(sha);
    }
    // one cluster from the start: the members' ids come from the one token and their peer URLs
    const st = await runCli(['status', '-i', lab.inventoryPath]);
    expect(st.code).toBe(0);
  }, T);

  it('a member that cannot start is set back with every other; the rejoin path brings the others back, `resume` adds it once it can', async () => {
    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const state = tempDir();
    await etcdWontStart(lab, 'etcd3');
    const r = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--strategy', 'restore-all', '--yes', '--healthy-timeout', '60']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/etcd3/);
    const id = runIds(join(state, 'runs'))[0]!;
    const runDir = join(state, 'runs', id);
    const { journal, plan } = runFiles(runDir);
    // the run's plan became its fallback, the one it started with kept beside
    expect(plan.strategy?.name).toBe('rejoin');
    expect(plan.steps.some((x) => /^\d+-fb-/.test(x.id))).toBe(true);
    const amended = journal.find((e) => e.event === 'plan-amended') as Extract<JournalEvent, { event: 'plan-amended' }>;
    expect(existsSync(amended.previousPlan)).toBe(true);
    expect(journal.some((e) => e.event === 'rollback' && (e.undone ?? []).some((u) => /restore-all|start-all/.test(u)))).toBe(true);
    // a working cluster without etcd3: every key on etcd1 and etcd2, hashkv equal. etcd2 was promoted but
    // the run stopped before its wait: it serves once etcd's own publish retry comes (up to 15 s)
    expect(lostOrChanged(before, await keysOf(lab, 'etcd1'))).toEqual([]);
    await servesWithin(lab, 'etcd2', 60_000);
    expect(lostOrChanged(before, await keysOf(lab, 'etcd2'))).toEqual([]);
    const list = await membersOf(lab, 'etcd1');
    expect(list.map((m) => m.name).sort()).toEqual(['etcd1', 'etcd2']);
    expect(new Set((await hashes(lab, 'etcd1')).values()).size).toBe(1);
    // every member's restored data dir of the undone restore-all is kept, set aside
    for (const n of ['etcd1', 'etcd2', 'etcd3']) {
      const kept = await labExec(lab, n, ['sh', '-c', `ls -d /var/lib/etcd.etcd-dr-${id}-restore-all-* 2>/dev/null | wc -l`]);
      expect(Number(kept.stdout.trim())).toBeGreaterThanOrEqual(n === 'etcd3' ? 0 : 1);
    }
    // etcd3 can start again: resume runs its join once more
    await labExec(lab, 'etcd3', ['touch', '/run/etcd-dr-test/go']);
    const again = await runCli(['resume', id, '-i', lab.inventoryPath, '--state-dir', state, '--json']);
    expect(again.code).toBe(0);
    await expectRecovered(lab, before, id, ['etcd1', 'etcd2', 'etcd3']);
    const failedStep = journal.find((e) => e.event === 'step-failed')!;
    table.add({
      fault: `etcd ${version}: etcd on etcd3 exits at every start (a wrapper bind-mounted over its binary in the node) during \`recover --strategy restore-all\``,
      expected:
        'restore-all\'s start fails on etcd3; every member is set back (etcd stopped, restored data dirs set aside, env files put back) and the run goes on with the rejoin path, whose join of etcd3 is rolled back: a working cluster of etcd1, etcd2 with every key; `resume` adds etcd3 once its etcd starts',
      seen: `step ${failedStep.event === 'step-failed' ? `${failedStep.step}: ${failedStep.error.slice(0, 160)}` : '?'}; plan amended (${amended.changes.length} changes, the plan it started with kept beside), strategy now ${plan.strategy?.name}; recover exit ${r.code}; members ${list.map((m) => m.name).join(', ')} serving, 0 of ${before.size} keys lost or changed, hashkv equal; resume exit ${again.code}: 3 voting members, env files agree, old data dirs kept, every key`,
      pass: true,
    });
  }, T);

  it('the majority-lost drill with --strategy restore-all passes and its reports say which strategy ran', async () => {
    const dir = tempDir();
    const md = join(dir, 'drill.md');
    const json = join(dir, 'drill.json');
    const r = await runCli(['drill', '-i', lab.inventoryPath, '--scenario', 'majority-lost', '--strategy', 'restore-all', '--yes', '--state-dir', join(dir, 'state'), '--report', json, '--markdown', md]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/RTO \d+\.\d+ s with restore-all \(--strategy\)/);
    expect((JSON.parse(readFileSync(json, 'utf8')) as { strategy?: string; pass: boolean })).toMatchObject({ pass: true, strategy: 'restore-all (--strategy)' });
    expect(readFileSync(md, 'utf8')).toContain('strategy **restore-all (--strategy)**');
    expect((await membersOf(lab, 'etcd1')).every((m) => m.started && !m.isLearner)).toBe(true);
  }, T);

  it('a run killed while it sends the db on as the bastion copies it is finished by `resume`: the copy made again, no cut copy put in place', async () => {
    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const state = tempDir();
    const id = await killAt(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--strategy', 'restore-all', '--yes'], state, /"step-start","step":"\d+-send-db"/);
    const cut = readFileSync(join(state, 'runs', id, 'journal.jsonl'), 'utf8');
    expect(cut).not.toMatch(/"run-end"/);
    expect(cut).not.toMatch(/"step-done","step":"\d+-send-db"/);
    // no member holds a copy in place yet: at most the temp file the cut receive wrote
    for (const n of ['etcd2', 'etcd3']) {
      const placed = await labExec(lab, n, ['sh', '-c', `test -e /var/lib/etcd.etcd-dr-${id}-db && echo placed || echo none`]);
      expect(placed.stdout.trim()).toBe('none');
    }
    const r = await runCli(['resume', id, '-i', lab.inventoryPath, '--state-dir', state, '--json']);
    expect(r.code).toBe(0);
    await expectRecovered(lab, before, id, ['etcd1', 'etcd2', 'etcd3']);
    const { journal, plan } = runFiles(join(state, 'runs', id));
    expect(plan.strategy?.name).toBe('restore-all');
    const backup = plan.steps.find((x) => x.action.type === 'backup-db')!.action as { localPath: string };
    const sha = readFileSync(`${backup.localPath}.sha256`, 'utf8').split(' ')[0]!;
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    for (const n of ['etcd2', 'etcd3']) {
      const got = await labExec(lab, n, ['sha256sum', `/var/lib/etcd.etcd-dr-${id}-db`]);
      expect(got.stdout.split(' ')[0]).toBe(sha);
      const part = await labExec(lab, n, ['sh', '-c', `test -e /var/lib/etcd.etcd-dr-${id}-db.part && echo left || echo gone`]);
      expect(part.stdout.trim()).toBe('gone');
    }
    const send = plan.steps.find((x) => x.action.type === 'send-db')!.id;
    table.add({
      fault: `etcd ${version}: SIGKILL of \`recover --strategy restore-all\` once step ${send} (the db sent on to the members while the bastion copies it) has started`,
      expected: 'no member has a copy in place; `resume` makes the bastion\'s copy again (the cut one has no sha256), sends it, puts each member\'s copy in place once its sha256 matches, and finishes as restore-all with every key',
      seen: `journal: no run-end and no ${send} done after the kill, no copy in place on etcd2/etcd3; resume exit ${r.code}, ${journal.filter((e) => e.event === 'step-start' && e.step === send).length} start(s) of ${send}; each member's copy has the bastion's sha256, no temp file left; 3 voting members, 0 of ${before.size} keys lost or changed, hashkv equal`,
      pass: true,
    });
  }, T);

  it('a run killed during the restore-all steps is finished by `resume`', async () => {
    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const state = tempDir();
    const id = await killAt(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--strategy', 'restore-all', '--yes'], state, /"step-start","step":"\d+-restore-all"/);
    expect(readFileSync(join(state, 'runs', id, 'journal.jsonl'), 'utf8')).not.toMatch(/"run-end"/);
    const r = await runCli(['resume', id, '-i', lab.inventoryPath, '--state-dir', state, '--json']);
    expect(r.stderr).toContain(`resuming run ${id}`);
    expect(r.code).toBe(0);
    await expectRecovered(lab, before, id, ['etcd1', 'etcd2', 'etcd3']);
    const { journal, plan } = runFiles(join(state, 'runs', id));
    // it finished as restore-all: no fallback, no member add
    expect(plan.strategy?.name).toBe('restore-all');
    expect(journal.some((e) => e.event === 'plan-amended')).toBe(false);
    const restoreStep = plan.steps.find((x) => x.action.type === 'restore-all')!.id;
    table.add({
      fault: `etcd ${version}: SIGKILL of \`recover --strategy restore-all\` once step ${restoreStep} (the restore on every member) has started`,
      expected: 'no run-end in the journal; `resume` repeats the restore (each node waits for a restore still running, then finds its marker) and finishes as restore-all with every key',
      seen: `journal: no run-end after the kill; resume exit ${r.code}, ${journal.filter((e) => e.event === 'step-start' && e.step === restoreStep).length} start(s) of ${restoreStep}; 3 voting members, env files agree, old data dirs kept, 0 of ${before.size} keys lost or changed, hashkv equal`,
      pass: true,
    });
  }, T);
});
