/**
 * Quorum-loss recovery on the real lab, etcd 3.4 and 3.5: every key back, hashkv equal, three started
 * voting members, final env files, old data dirs kept; the stale member is never the survivor; a
 * powered-off node is left out with --exclude; `plan` changes nothing; a stale plan is refused; a run
 * killed in the middle is finished by `resume`.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { breakAllDown, labExec, loadKeys, powerOff, powerOn, type LabState } from '../../src/lab/index.js';
import type { JournalEvent } from '../../src/apply/rundir.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { fileIn, keysOf, lostOrChanged, membersOf, nodeFingerprint } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');

interface Summary {
  runId: string;
  members: string[];
  runDir: string;
  backup?: string;
  verification: { hashkv: { revision: number; hashes: Record<string, number> }; keys: { count: number }; baseline: { count: number }; leader: string };
}

async function recover(lab: LabState, state: string, extra: string[] = []) {
  const r = await runCli(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--yes', '--json', ...extra]);
  // the plan is printed first, then the JSON summary: take the last JSON document
  const at = r.stdout.lastIndexOf('\n{\n');
  const summary = r.code === 0 ? (JSON.parse(r.stdout.slice(at + 1)) as Summary) : undefined;
  return { ...r, summary };
}

/** A run's journal and plan, from its run dir. */
function runFiles(dir: string): { journal: JournalEvent[]; plan: Plan } {
  const journal = readFileSync(join(dir, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as JournalEvent);
  return { journal, plan: JSON.parse(readFileSync(join(dir, 'plan.json'), 'utf8')) as Plan };
}

/** What must hold after every successful recovery. */
async function expectRecovered(lab: LabState, before: Map<string, string>, s: Summary, members: string[]) {
  const names = lab.nodes.filter((n) => members.includes(n.name)).map((n) => n.name);
  const after = await keysOf(lab, names[names.length - 1]!);
  expect(lostOrChanged(before, after)).toEqual([]);
  expect(new Set(Object.values(s.verification.hashkv.hashes)).size).toBe(1);
  expect(Object.keys(s.verification.hashkv.hashes)).toHaveLength(members.length);
  const list = await membersOf(lab, names[0]!);
  expect(list.map((m) => m.name).sort()).toEqual([...members].sort());
  expect(list.every((m) => m.started && !m.isLearner)).toBe(true);
  const expectedCluster = lab.nodes
    .filter((n) => members.includes(n.name))
    .map((n) => `${n.name}=https://${n.address}:2380`)
    .join(',');
  for (const n of names) {
    const env = await fileIn(lab, n, '/etc/etcd.env');
    expect(env).toContain(`ETCD_INITIAL_CLUSTER=${expectedCluster}\n`);
    expect(env).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
    // the old data dir is kept beside the new one, db included
    const aside = await labExec(lab, n, ['sh', '-c', `test -f /var/lib/etcd.etcd-dr-${s.runId}/member/snap/db && echo kept`]);
    expect(aside.stdout.trim()).toBe('kept');
  }
  // every env file the plan rewrote has this run's backup beside it
  const { plan } = runFiles(s.runDir);
  const rewrites = plan.steps.filter((st) => st.action.type === 'write-env');
  expect(rewrites.length).toBeGreaterThan(0);
  for (const st of rewrites) {
    const a = st.action as Extract<Plan['steps'][number]['action'], { type: 'write-env' }>;
    const bak = await labExec(lab, st.node!, ['sh', '-c', `test -f ${a.backup} && echo kept`]);
    expect(bak.stdout.trim()).toBe('kept');
  }
  // the bastion copy of the survivor's db: private, with its sha256 beside it, the bytes of the db kept aside
  expect(s.backup).toBeDefined();
  expect(statSync(s.backup!).mode & 0o777).toBe(0o600);
  const sha = createHash('sha256').update(readFileSync(s.backup!)).digest('hex');
  expect(readFileSync(`${s.backup!}.sha256`, 'utf8')).toBe(`${sha}  ${basename(s.backup!)}\n`);
  const kept = await labExec(lab, plan.survivor!.name, ['sha256sum', `/var/lib/etcd.etcd-dr-${s.runId}/member/snap/db`]);
  expect(kept.stdout.split(' ')[0]).toBe(sha);
  expect(s.verification.keys.count).toBeGreaterThanOrEqual(s.verification.baseline.count);
}

describe.each([
  ['3.4', e2eNet(13)],
  ['3.5', e2eNet(14)],
] as const)('recover on etcd %s', (version, base) => {
  let lab: LabState;
  beforeAll(async () => {
    lab = await startLab(base, { etcd: version });
    await loadKeys(lab, { keys: 2000, mb: 3 });
  }, T);
  afterAll(async () => stopLab(lab), T);

  it('all members down: recover --yes brings back every key on 3 voting members', async () => {
    const before = await keysOf(lab, 'etcd1');
    expect(before.size).toBeGreaterThanOrEqual(2003);
    await breakAllDown(lab);
    const state = tempDir();
    const r = await recover(lab, state);
    expect(r.stderr).not.toMatch(/FAIL/);
    expect(r.code).toBe(0);
    await expectRecovered(lab, before, r.summary!, ['etcd1', 'etcd2', 'etcd3']);
    // the run's files: plan, journal, log; all private
    const dir = r.summary!.runDir;
    for (const f of ['plan.json', 'journal.jsonl', 'log.jsonl']) expect(statSync(join(dir, f)).mode & 0o777).toBe(0o600);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const { journal, plan } = runFiles(dir);
    expect(journal.at(-1)).toMatchObject({ event: 'run-end', outcome: 'done' });
    // the db copy to the bastion ran alongside the restore: its step only started it, the restore began
    // before the copy ended, and the wait step before the verification found it done
    const [copy, restore, wait] = ['backup-db', 'restore-db', 'backup-wait'].map((t) => plan.steps.find((x) => x.action.type === t)!.id);
    const at = (p: (e: JournalEvent) => boolean) => Date.parse(journal.find(p)!.t);
    expect(journal.find((e) => e.event === 'step-done' && e.step === copy)).toMatchObject({ outcome: 'started' });
    const copied = journal.find((e) => e.event === 'command' && e.step === copy);
    expect(copied).toMatchObject({ code: 0, command: expect.stringMatching(/^download \/var\/lib\/etcd\.etcd-dr-.*\/member\/snap\/db$/) });
    expect(at((e) => e.event === 'step-start' && e.step === restore)).toBeLessThan(Date.parse(copied!.t));
    const waited = journal.find((e) => e.event === 'step-done' && e.step === wait);
    expect(waited).toMatchObject({ outcome: 'done', data: { alongside: copy, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    // status agrees
    const st = await runCli(['status', '-i', lab.inventoryPath]);
    expect(st.code).toBe(0);
  }, T);

  // every case runs on both versions: what the restore does differs (etcdctl on 3.4, etcdutl on 3.5)
  it('`plan recover` changes nothing on any node; a stale plan is refused with what changed', async () => {
    await breakAllDown(lab);
    const fp = await Promise.all(lab.nodes.map((n) => nodeFingerprint(lab, n.name)));
    const state = tempDir();
    const planFile = join(state, 'plan.json');
    const p = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', state, '-o', planFile, '--format', 'markdown']);
    expect(p.code).toBe(0);
    expect(p.stdout).toContain('## Survivor');
    expect(await Promise.all(lab.nodes.map((n) => nodeFingerprint(lab, n.name)))).toEqual(fp);
    expect(existsSync(join(state, 'runs'))).toBe(false);
    // the cluster changes under the plan: etcd2's env file is edited
    await labExec(lab, 'etcd2', ['sh', '-c', 'echo "# edited by hand" >> /etc/etcd.env']);
    const a = await runCli(['apply', planFile, '-i', lab.inventoryPath, '--state-dir', state, '--yes']);
    expect(a.code).toBe(3);
    expect(a.stderr).toMatch(/stale/);
    expect(a.stderr).toMatch(/etcd2: env was/);
    expect(await nodeFingerprint(lab, 'etcd1')).toEqual(fp[0]);
    // a fresh plan of the same state applies
    const p2 = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', state, '-o', planFile]);
    expect(p2.code).toBe(0);
    const a2 = await runCli(['apply', planFile, '-i', lab.inventoryPath, '--state-dir', state, '--yes']);
    expect(a2.code).toBe(0);
    // applying the same plan twice is refused: it is resumed, not re-run
    const a3 = await runCli(['apply', planFile, '-i', lab.inventoryPath, '--state-dir', state, '--yes']);
    expect(a3.code).toBe(3);
    expect(a3.stderr).toMatch(/already started/);
    // the hand edit survived the rewrite (every other line is kept)
    expect(await fileIn(lab, 'etcd2', '/etc/etcd.env')).toContain('# edited by hand\n');
  }, T);

  it('a run killed in the middle (SIGKILL) is finished by `resume`', async () => {
    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const state = tempDir();
    const child = spawn(process.execPath, [BIN, 'recover', '-i', lab.inventoryPath, '--state-dir', state, '--yes'], { stdio: 'ignore', env: { ...process.env, CI: 'true' } });
    // kill it once the second member's promote has started
    const killedAt = await new Promise<string>((resolve, reject) => {
      const t = setInterval(() => {
        const runs = runIds(join(state, 'runs'));
        for (const r of runs) {
          const j = join(state, 'runs', r, 'journal.jsonl');
          if (existsSync(j) && /"step-start","step":"\d+-promote-etcd2"/.test(readFileSync(j, 'utf8'))) {
            clearInterval(t);
            child.kill('SIGKILL');
            resolve(r);
          }
        }
      }, 20);
      child.on('exit', () => {
        clearInterval(t);
        reject(new Error('the run ended before it could be killed'));
      });
    });
    await new Promise((r) => child.once('exit', r));
    const journal = readFileSync(join(state, 'runs', killedAt, 'journal.jsonl'), 'utf8');
    expect(journal).not.toMatch(/"run-end"/);
    // the lock it left is its own: another recover is refused, resume is not
    const other = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', state, '--force']);
    expect(other.code).toBe(3);
    expect(other.stderr).toContain(killedAt);
    const r = await runCli(['resume', '-i', lab.inventoryPath, '--state-dir', state, '--json']);
    expect(r.stderr).toContain(`resuming run ${killedAt}`);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Summary & { steps: { id: string; resumed: boolean }[] };
    expect(s.steps.filter((x) => x.resumed).length).toBeGreaterThan(5);
    expect(lostOrChanged(before, await keysOf(lab, 'etcd3'))).toEqual([]);
    expect((await membersOf(lab, 'etcd1')).every((m) => m.started && !m.isLearner)).toBe(true);
  }, T);

  it('a stale member (stopped before the last writes) is not chosen; no write is lost (--backup-before-restore: the copy ends first)', async () => {
    await labExec(lab, 'etcd1', ['systemctl', 'stop', 'etcd']);
    await loadKeys(lab, { keys: 300, prefix: '/registry/late/', node: 'etcd2' });
    const before = await keysOf(lab, 'etcd2');
    await breakAllDown(lab);
    const state = tempDir();
    const r = await recover(lab, state, ['--backup-before-restore']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Recover cluster k2 from etcd[23]'s data/);
    await expectRecovered(lab, before, r.summary!, ['etcd1', 'etcd2', 'etcd3']);
    // the copy is on the bastion before the restore starts, in a step of its own; nothing waits for it later
    const { journal, plan } = runFiles(r.summary!.runDir);
    expect(plan.steps.some((x) => x.action.type === 'backup-wait')).toBe(false);
    const copy = plan.steps.find((x) => x.action.type === 'backup-db')!.id;
    const restore = plan.steps.find((x) => x.action.type === 'restore-db')!.id;
    const order = journal.flatMap((e) => (e.event === 'command' && e.step === copy ? ['copied'] : e.event === 'step-start' && e.step === restore ? ['restore'] : []));
    expect(order).toEqual(['copied', 'restore']);
    expect(journal.find((e) => e.event === 'step-done' && e.step === copy)).toMatchObject({ outcome: 'done' });
    expect([...(await keysOf(lab, 'etcd1')).keys()].filter((k) => k.startsWith('/registry/late/'))).toHaveLength(300);
  }, T);

  it('a powered-off node: refused without --exclude, recovered without it when excluded', async () => {
    const before = await keysOf(lab, 'etcd1');
    await powerOff(lab, 'etcd3');
    await breakAllDown(lab);
    const state = tempDir();
    const refused = await recover(lab, state);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('--exclude etcd3');
    const r = await recover(lab, state, ['--exclude', 'etcd3']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('etcd3 is excluded');
    await expectRecovered(lab, before, r.summary!, ['etcd1', 'etcd2']);
    await powerOn(lab, 'etcd3');
  }, T);
});

function runIds(dir: string): string[] {
  try {
    return readdirSync(dir).filter((d) => /^\d{8}T/.test(d));
  } catch {
    return [];
  }
}
