/**
 * Inventory hooks on the lab, etcd 3.5: every node runs the lab's apiserver stand-in (a writer that keeps
 * writing keys through every member's client URL and records each write etcd acknowledged), and the
 * inventory's hooks stop it before a recovery and start it after (`lab-apiserver stop|start`, as moving a
 * kube-apiserver manifest out of and back into /etc/kubernetes/manifests does).
 *
 * One lab for the file (127.0.100.x). Judged on the nodes: the writers' own ack logs against the keys read
 * back from the recovered cluster, the writers' state, etcd's state, the run's journal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RunDir, type JournalEvent } from '../../src/apply/rundir.js';
import { ACKED_CHECK } from '../../src/drill/acked.js';
import type { DrillReport } from '../../src/drill/drill.js';
import { ackedWrites, apiserverCtl, breakAllDown, enableApiservers, etcdctlInNode, labExec, type AckedWrite, type LabState } from '../../src/lab/index.js';
import { FaultTable } from '../support/fault-table.js';
import { keysOf } from '../support/keys.js';
import { procState } from '../support/runs.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 240_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const STOP_HOOK = pathToFileURL(join(process.cwd(), 'test', 'support', 'stop-after-step.mjs')).href;
const table = new FaultTable('hooks', 'The apiservers beside etcd: inventory hooks during a recovery (etcd 3.5)');
const suiteStart = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const dirs: string[] = [];
const scratch = () => {
  const d = tempDir();
  dirs.push(d);
  return d;
};

let lab: LabState;
const NODES = ['etcd1', 'etcd2', 'etcd3'];

beforeAll(async () => {
  lab = await startLab(e2eNet(100), { etcd: '3.5' });
  await enableApiservers(lab);
  await untilAcked(5);
}, T);

afterAll(async () => {
  await stopLab(lab);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  table.save({ etcd: '3.5.30', lab: `3 nodes on ${e2eNet(100)}x, every node running the apiserver stand-in (lab-apiserver)`, 'suite time': `${((Date.now() - suiteStart) / 1000).toFixed(1)} s` });
}, T);

/** Waits until every node's writer has `more` acknowledged writes beyond `from` (etcd's own answers, no fixed sleep). */
async function untilAcked(more: number, from: AckedWrite[] = [], timeoutMs = 60_000): Promise<AckedWrite[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const now = ackedWrites(lab.dir);
    const count = (xs: AckedWrite[], n: string) => xs.filter((a) => a.node === n).length;
    if (NODES.every((n) => count(now, n) >= count(from, n) + more)) return now;
    if (Date.now() > deadline) throw new Error(`the writers did not acknowledge ${more} more writes within ${timeoutMs / 1000} s: ${NODES.map((n) => `${n} ${count(now, n)}`).join(', ')}`);
    await sleep(100);
  }
}

async function writerStates(): Promise<string[]> {
  return Promise.all(NODES.map(async (n) => `${n}:${(await apiserverCtl(lab, n, 'status')).stdout.trim().split(' ')[0]}`));
}

/** The acknowledged writes missing from, or changed in, the cluster as `via` serves it now. */
async function lostAcked(acked: AckedWrite[], via = 'etcd1'): Promise<string[]> {
  const keys = await keysOf(lab, via);
  const { createHash } = await import('node:crypto');
  return acked.filter((a) => keys.get(a.key) !== createHash('sha256').update(a.value).digest('hex')).map((a) => a.key);
}

function journalOf(state: string): JournalEvent[] {
  const runs = join(state, 'runs');
  const id = readdirSync(runs)[0]!;
  return new RunDir(state, id).read();
}

const doneAt = (events: JournalEvent[], stepPart: string) => events.filter((e) => e.event === 'step-done' && e.step.includes(stepPart)).map((e) => e.t);
const startAt = (events: JournalEvent[], stepPart: string) => events.filter((e) => e.event === 'step-start' && e.step.includes(stepPart)).map((e) => e.t);
/** when the value says it was written: `<host>/<seq>/<ISO time>` */
const writtenAt = (a: AckedWrite) => a.value.split('/').slice(2).join('/');

it('recover: the beforeStop hook stops every writer while etcd still serves, no acknowledged write is lost, afterVerify starts them again', async () => {
  const state = scratch();
  const r = await runCli(['recover', '--force', '--yes', '-i', lab.inventoryPath, '--state-dir', state]);
  const after = ackedWrites(lab.dir);
  expect({ code: r.code, err: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ code: 0, err: '' });
  const events = journalOf(state);
  const steps = events.filter((e) => e.event === 'step-start').map((e) => (e as { step: string }).step);
  expect(steps.slice(0, 3)).toEqual(['01-lock', '02-hook-before-stop', '03-stop-etcd']);
  expect(steps.slice(-3)).toEqual([expect.stringMatching(/-verify$/), expect.stringMatching(/-hook-after-verify$/), expect.stringMatching(/-unlock$/)]);
  // every write a writer got an OK for was made before etcd was asked to stop
  const stopStart = startAt(events, 'stop-etcd')[0]!;
  const hookDone = doneAt(events, 'hook-before-stop')[0]!;
  const beforeStop = after.filter((a) => writtenAt(a) <= hookDone);
  const lastBefore = beforeStop.map(writtenAt).sort().pop()!;
  expect(lastBefore < stopStart).toBe(true);
  // the writers said they stopped (in the hook's journaled output) and came back at the end
  const hookOut = events.filter((e) => e.event === 'command' && e.step === '02-hook-before-stop').map((e) => (e as { stdout: string }).stdout);
  expect(hookOut).toEqual(NODES.map(() => expect.stringContaining('lab-apiserver: stopped')));
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:running`));
  // they write into the recovered cluster; every acknowledged write, before and after, reads back with its value
  const later = await untilAcked(3, after);
  expect(await lostAcked(later)).toEqual([]);
  table.add({
    fault: 'a writer on every node (the apiservers) writing through every member while `recover --force` runs; hooks beforeStop `lab-apiserver stop`, afterVerify `lab-apiserver start`',
    expected: 'the writers are stopped after the lock and before etcd is stopped; the recovery completes; every write acknowledged before the stop reads back from the recovered cluster; the writers run again at the end',
    seen: `exit 0; steps ${steps.slice(0, 3).join(', ')} … ${steps.slice(-2).join(', ')}; last acknowledged write ${lastBefore} < stop-etcd started ${stopStart}; ${beforeStop.length} writes acknowledged before the stop, ${later.length} in all, 0 lost or changed; writers: ${(await writerStates()).join(', ')}`,
    pass: true,
  });
}, T);

it.each(['all-down', 'majority-lost'])('drill %s with --lab-dir: the hooks run and the drill proves that no acknowledged write was lost', async (scenario) => {
  const dir = scratch();
  const json = join(dir, 'drill.json');
  const r = await runCli(['drill', '-i', lab.inventoryPath, '--scenario', scenario, '--yes', '--state-dir', join(dir, 'state'), '--report', json, '--lab-dir', lab.dir]);
  const report = JSON.parse(readFileSync(json, 'utf8')) as DrillReport;
  expect({ failed: report.checks.filter((c) => !c.pass), error: report.error }).toEqual({ failed: [], error: undefined });
  expect(r.code).toBe(0);
  const acked = report.checks.find((c) => c.name === ACKED_CHECK)!;
  expect(acked).toMatchObject({ pass: true, evidence: expect.stringMatching(/^all \d+ writes acknowledged by the writers on etcd1, etcd2, etcd3 read back/) });
  const events = journalOf(join(dir, 'state'));
  expect(doneAt(events, 'hook-before-stop')).toHaveLength(1);
  expect(doneAt(events, 'hook-after-verify')).toHaveLength(1);
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:running`));
  table.add({
    fault: `drill ${scenario} with --lab-dir on the lab whose writers run: ${scenario === 'all-down' ? 'etcd stopped everywhere under them' : 'etcd stopped everywhere under them and every data dir but one moved aside'}`,
    expected: 'the drill passes, its check of the writers\' acknowledged writes included: none missing or changed after the recovery',
    seen: `exit 0; "${acked.name}": ${acked.evidence}; hooks done: beforeStop, afterVerify`,
    pass: true,
  });
}, T);

/** `node bin/etcd-dr.js ARGS`, held (SIGSTOP) the moment the journal records `step` done. */
function orchestrate(args: string[], step: string): { child: ChildProcess; exit: Promise<number | null> } {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', ETCD_DR_STOP_AFTER_STEP: step };
  delete env['NODE_OPTIONS'];
  const child = spawn(process.execPath, ['--import', STOP_HOOK, BIN, ...args], { stdio: ['ignore', 'ignore', 'ignore'], env });
  return { child, exit: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}


it('killed between the beforeStop hook and the stop; a writer started again meanwhile; resume stops it again and finishes', async () => {
  await breakAllDown(lab);
  const state = scratch();
  const o = orchestrate(['recover', '--yes', '-i', lab.inventoryPath, '--state-dir', state], '02-hook-before-stop');
  const deadline = Date.now() + 120_000;
  while (procState(o.child.pid!) !== 'T') {
    if (Date.now() > deadline) throw new Error('etcd-dr did not reach the end of its beforeStop hook');
    await sleep(25);
  }
  o.child.kill('SIGKILL');
  await o.exit;
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:stopped`));
  // someone (a person, a config tool) starts an apiserver again before the run is resumed
  expect((await apiserverCtl(lab, 'etcd2', 'start')).code).toBe(0);
  const r = await runCli(['resume', '-i', lab.inventoryPath, '--state-dir', state]);
  expect({ code: r.code, err: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({ code: 0, err: '' });
  const events = journalOf(state);
  // the resumed process ran the beforeStop hook again before it stopped anything
  const resumedAt = events.filter((e) => e.event === 'run-start').pop()!.t;
  const resumed = events.filter((e) => e.t >= resumedAt && e.event === 'step-start').map((e) => (e as { step: string }).step);
  expect(resumed.slice(0, 2)).toEqual(['02-hook-before-stop', '03-stop-etcd']);
  const again = events.filter((e) => e.t >= resumedAt && e.event === 'command' && e.step === '02-hook-before-stop' && e.node === 'etcd2').map((e) => (e as { stdout: string }).stdout);
  expect(again.join('')).toContain('lab-apiserver: stopped');
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:running`));
  const acked = await untilAcked(2, ackedWrites(lab.dir));
  expect(await lostAcked(acked)).toEqual([]);
  table.add({
    fault: 'etcd-dr SIGKILLed right after step 02-hook-before-stop (all members down, writers stopped), then the writer on etcd2 started again by hand before `resume`',
    expected: 'resume runs the beforeStop hook again before anything else (it must be idempotent), so the writer started meanwhile is stopped before etcd is touched; the recovery completes; no acknowledged write lost',
    seen: `resume exit 0; resumed steps began ${resumed.slice(0, 2).join(', ')}; etcd2's hook said "${again.join('').trim().split('\n')[0]}"; writers at the end: ${(await writerStates()).join(', ')}; ${acked.length} acknowledged writes, 0 lost or changed`,
    pass: true,
  });
}, T);

it('a failing beforeStop stops the run before etcd is stopped; a failing afterVerify leaves a verified cluster and says so; resume finishes each time', async () => {
  // the same hooks, but each held back on etcd2 by a file there until the test removes it
  const inv = join(scratch(), 'inventory.yaml');
  const text = readFileSync(lab.inventoryPath, 'utf8').replace(/^hooks:[\s\S]*$/m, '');
  writeFileSync(
    inv,
    `${text}hooks:\n  beforeStop: ["test ! -e /root/hold-before || { echo held by /root/hold-before >&2; exit 5; }", "lab-apiserver stop"]\n` +
      '  afterVerify: ["test ! -e /root/hold-after || { echo held by /root/hold-after >&2; exit 6; }", "lab-apiserver start"]\n  timeout: 60\n',
  );
  for (const f of ['/root/hold-before', '/root/hold-after']) expect((await labExec(lab, 'etcd2', ['touch', f])).code).toBe(0);
  const state = scratch();
  const first = await runCli(['recover', '--force', '--yes', '-i', inv, '--state-dir', state]);
  expect(first.code).toBe(1);
  expect(first.stderr).toContain('etcd2: the beforeStop hook (etcd was not stopped anywhere yet) failed: the beforeStop command 1 of 2 failed (exit 5)');
  expect(first.stderr).toContain('etcd was not stopped on any node; the hook may have run through on others');
  const active = await Promise.all(NODES.map(async (n) => (await labExec(lab, n, ['systemctl', 'is-active', 'etcd'])).stdout.trim()));
  expect(active).toEqual(['active', 'active', 'active']);
  const statusAfterBefore = await runCli(['status', '-i', inv]);
  expect(statusAfterBefore.code).toBe(0);

  expect((await labExec(lab, 'etcd2', ['rm', '/root/hold-before'])).code).toBe(0);
  const second = await runCli(['resume', '-i', inv, '--state-dir', state]);
  expect(second.code).toBe(1);
  expect(second.stderr).toContain('etcd2: the afterVerify hook (the cluster is recovered and verified; the control plane is not restarted yet) failed: the afterVerify command 1 of 2 failed (exit 6)');
  expect(second.stderr).toMatch(/the cluster is recovered, verified and serving; the control plane was not restarted where the hook failed\. Fix the cause, then `etcd-dr resume \d{8}T\d{6}Z-[0-9a-f]{4}`: it runs the hook again on every node and releases the locks/);
  // recovered and verified: the cluster serves; the writers stay stopped where the hook did not run through
  const health = await etcdctlInNode(lab, 'etcd1', ['endpoint', 'health', '--cluster'], { timeout: 60 });
  expect(health.code).toBe(0);
  expect((await writerStates()).find((s) => s.startsWith('etcd2'))).toBe('etcd2:stopped');

  expect((await labExec(lab, 'etcd2', ['rm', '/root/hold-after'])).code).toBe(0);
  const third = await runCli(['resume', '-i', inv, '--state-dir', state]);
  expect({ code: third.code, err: third.code === 0 ? '' : third.stderr.slice(-2000) }).toEqual({ code: 0, err: '' });
  const events = journalOf(state);
  const verifiedOnce = events.filter((e) => e.event === 'step-done' && /^\d+-verify$/.test(e.step)).length;
  expect(verifiedOnce).toBe(1);
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:running`));
  const acked = await untilAcked(2, ackedWrites(lab.dir));
  expect(await lostAcked(acked)).toEqual([]);
  table.add({
    fault: 'beforeStop hook failing on etcd2 (exit 5), `recover --force` on a serving cluster',
    expected: 'the run stops at the hook with an error naming the node, the hook and that etcd was not stopped; etcd still runs everywhere; `resume` once the cause is fixed goes on',
    seen: `exit 1: "${first.stderr.split('\n').find((l) => l.includes('beforeStop hook'))?.trim().slice(0, 200)}"; etcd: ${active.join(', ')}; status exit ${statusAfterBefore.code}`,
    pass: true,
  });
  table.add({
    fault: 'afterVerify hook failing on etcd2 (exit 6) after the recovery verified',
    expected: 'the run ends with exit 1 saying the cluster is recovered and verified and the control plane not restarted, and how to go on; the cluster serves; `resume` runs the hook again and releases the locks, without verifying twice',
    seen: `exit 1: "${second.stderr.split('\n').find((l) => l.includes('afterVerify hook'))?.trim().slice(0, 200)}"; endpoint health --cluster exit ${health.code}; resume exit 0, verify ran once; writers: ${(await writerStates()).join(', ')}; ${acked.length} acknowledged writes, 0 lost or changed`,
    pass: true,
  });
}, T);

it('a bad hook in the inventory: exit 2 with file:line, field and fix, nothing done on any node', async () => {
  const inv = join(scratch(), 'inventory.yaml');
  writeFileSync(inv, `${readFileSync(lab.inventoryPath, 'utf8').replace(/^hooks:[\s\S]*$/m, '')}hooks:\n  beforeStop: lab-apiserver stop\n`);
  const line = readFileSync(inv, 'utf8').split('\n').findIndex((l) => l.startsWith('  beforeStop:')) + 1;
  const before = ackedWrites(lab.dir).length;
  const r = await runCli(['recover', '--force', '--yes', '-i', inv, '--state-dir', scratch()]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain(`${inv}:${line}:15: hooks.beforeStop: expected a list (commands run on every node before etcd is stopped, in order, as root), got the string "lab-apiserver stop"`);
  expect(await writerStates()).toEqual(NODES.map((n) => `${n}:running`));
  await untilAcked(1, ackedWrites(lab.dir));
  expect(ackedWrites(lab.dir).length).toBeGreaterThan(before);
}, T);
