/**
 * Faults during a run, the nodes' side (issue #7): something goes wrong on a node while etcd-dr recovers a
 * 3-node etcd 3.4 lab that holds data. Each fault has a lab of its own (127.0.62.x to 127.0.66.x), built,
 * loaded, broken (every member stopped) and recovered with the fault injected at a moment found from the
 * run's journal or from what runs on the node, never from a fixed delay:
 *
 * 1. the SSH connection of etcd-dr to a node is cut while a command runs there (its sshd session killed
 *    during a wait for etcd to serve, and under an etcdctl call of a member add): the step runs again after
 *    reconnecting, a member is never added twice, and the recovery completes;
 * 2. a joiner is powered off during its join: the run stops naming it, the survivor serves on, and
 *    `resume --exclude` finishes with the smaller cluster; once the node is back, `scale-out` adds it again
 *    (taking over the lock the finished run left on it);
 * 3. a joiner's etcd binary is broken: its join is rolled back with an error that says so, the others keep
 *    their quorum and every key, and `resume` finishes once the binary is back;
 * 4. the survivor's /var/lib is full (a small tmpfs inside that node): the restore fails saying how much room
 *    it needs, nothing is deleted, and `resume` finishes once the disk has room;
 * 5. the restored survivor takes longer to serve than --healthy-timeout: the error names the step, the node
 *    and the timeout, nothing else happened, and `resume` finishes once etcd serves.
 *
 * Every fault ends with every key written before it back unchanged. Each one is a row of docs/faults.md,
 * filled from what the test saw.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { listRuns, RunDir, type JournalEvent } from '../../src/apply/rundir.js';
import { shellQuote } from '../../src/util/quote.js';
import {
  breakAllDown, etcdctlInNode, labEtcdVersion, labExec, loadKeys, mountNodeTmpfs, nodeDiskUsage, powerOff, powerOn, resizeNodeTmpfs, type LabEtcdVersion, type LabState,
} from '../../src/lab/index.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, startLab, stopLab, tempDir, type CliRun } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const KEYS = 2000;
const MIB = 3;
const ALL = ['etcd1', 'etcd2', 'etcd3'];

const table = new FaultTable('nodes', 'Node-side faults during a run');
const suiteStart = Date.now();
let etcdVersion = '';
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------------
// labs, runs and their journals

const labs = new Set<LabState>();
/** state dirs of the runs (journals, plans, db copies): removed after the suite */
const states: string[] = [];

/** A loaded 3-node lab of its own with every member stopped, and every key it held. */
async function brokenLab(base: string, etcd: LabEtcdVersion = '3.4'): Promise<{ lab: LabState; before: Map<string, string>; state: string }> {
  const lab = await startLab(base, { etcd });
  labs.add(lab);
  // the table's version is the suite's own (3.4); a test on another version says so in its row
  if (!etcdVersion && etcd === '3.4') etcdVersion = await labEtcdVersion(lab);
  await loadKeys(lab, { keys: KEYS, mb: MIB });
  const before = await keysOf(lab, 'etcd1');
  expect(before.size).toBe(KEYS + MIB);
  await breakAllDown(lab);
  const state = tempDir('etcd-dr-faults-nodes-');
  states.push(state);
  return { lab, before, state };
}

async function dropLab(lab: LabState): Promise<void> {
  labs.delete(lab);
  await stopLab(lab);
}

interface Summary {
  runId: string;
  members: string[];
  verification: { hashkv: { revision: number; hashes: Record<string, number> }; keys: { count: number } };
  warnings: string[];
}

/** The last JSON document on stdout (the plan may be printed before the summary). */
function summaryOf(r: CliRun): Summary | undefined {
  if (r.code !== 0) return undefined;
  const at = r.stdout.lastIndexOf('\n{\n');
  return JSON.parse(at < 0 ? r.stdout : r.stdout.slice(at + 1)) as Summary;
}

const recover = (lab: LabState, state: string, extra: string[] = []) => runCli(['recover', '-i', lab.inventoryPath, '--state-dir', state, '--yes', '--json', ...extra]);
const resume = (lab: LabState, state: string, extra: string[] = []) => runCli(['resume', '-i', lab.inventoryPath, '--state-dir', state, '--json', ...extra]);

/** The newest run of a state dir (each fault has a state dir of its own). */
function runOf(state: string): RunDir | undefined {
  const id = listRuns(state).pop();
  return id ? new RunDir(state, id) : undefined;
}

function journal(state: string): JournalEvent[] {
  return runOf(state)?.read() ?? [];
}

function planOf(state: string): Plan {
  return JSON.parse(readFileSync(runOf(state)!.planPath, 'utf8')) as Plan;
}

/** Waits until the run's journal has an event `match` accepts (polled every 25 ms), or the run ended. */
async function journalEvent(state: string, match: (e: JournalEvent) => boolean, running: () => boolean, timeoutMs = 120_000): Promise<JournalEvent> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const e = journal(state).find(match);
    if (e) return e;
    if (!running()) throw new Error(`the run ended before the journal showed what the fault waits for: ${JSON.stringify(journal(state).slice(-3))}`);
    if (Date.now() > until) throw new Error(`the journal did not show it within ${timeoutMs} ms`);
    await sleep(25);
  }
}

const stepStart = (suffix: string) => (e: JournalEvent) => e.event === 'step-start' && e.step.endsWith(suffix);

/** Starts a CLI run in this process and tells whether it is still running. */
function background(p: Promise<CliRun>): { result: Promise<CliRun>; running: () => boolean } {
  let done = false;
  const result = p.finally(() => (done = true));
  return { result, running: () => !done };
}

/** Waits until the member on `node` answers `endpoint health` (a linearizable read); ms it took. */
async function serves(lab: LabState, node: string, timeoutMs = 90_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const r = await etcdctlInNode(lab, node, ['endpoint', 'health', '--command-timeout=3s'], { timeout: 30 });
    if (r.code === 0) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) throw new Error(`${node} does not serve after ${timeoutMs} ms: ${r.stderr.trim()}`);
    await sleep(250);
  }
}

/** What the cluster looks like through `via`: members, all started voters, env files naming them, keys lost. */
async function clusterState(lab: LabState, via: string, before: Map<string, string>, expected: string[]) {
  const list = await membersOf(lab, via);
  const names = list.map((m) => m.name).sort();
  const voting = list.every((m) => m.started && !m.isLearner);
  const cluster = lab.nodes.filter((n) => expected.includes(n.name)).map((n) => `${n.name}=https://${n.address}:2380`).join(',');
  const envOk = (await Promise.all(expected.map((m) => fileIn(lab, m, '/etc/etcd.env')))).every((t) => t.includes(`ETCD_INITIAL_CLUSTER=${cluster}\n`) && t.includes('ETCD_INITIAL_CLUSTER_STATE=existing\n'));
  const after = await keysOf(lab, via);
  const lost = lostOrChanged(before, after).length;
  const ok = names.join(',') === [...expected].sort().join(',') && voting && envOk && lost === 0;
  return { ok, names, voting, envOk, lost, keys: after.size, text: `members ${names.join(', ')}${voting ? ' (all voting)' : ' (NOT all started voters)'}, env files ${envOk ? 'agree' : 'DISAGREE'}, ${after.size} keys, ${lost} of ${before.size} lost or changed` };
}

/** The error etcd-dr ended with (its last `etcd-dr:` line), and its hint. */
function errorOf(r: CliRun): { message: string; hint: string } {
  const lines = r.stderr.split('\n');
  let at = -1;
  lines.forEach((l, i) => {
    if (l.startsWith('etcd-dr: ') && !/^etcd-dr: (\d+ steps|resuming|run |note:)/.test(l)) at = i;
  });
  const message = at < 0 ? '' : lines[at]!.slice('etcd-dr: '.length);
  const hint = at < 0 ? '' : (lines[at + 1] ?? '').replace(/^\s*→\s*/, '');
  return { message, hint };
}

/** Collects what did not hold, so the row can say so before the test fails on it. */
class Checks {
  readonly misses: string[] = [];
  need(ok: boolean, what: string): boolean {
    if (!ok) this.misses.push(what);
    return ok;
  }
  get ok(): boolean {
    return this.misses.length === 0;
  }
}

const cut = (s: string, n = 240) => (s.length > n ? `${s.slice(0, n)}…` : s);

// ---------------------------------------------------------------------------------------------------
// node-side tools: a binary swapped in one node's mount namespace only; etcd-dr's SSH session cut there

/**
 * Replaces `tool`'s binary inside one node by a bind mount over it (the real one stays reachable at
 * /run/etcd-dr-test/<tool>): a truncated copy of it (`truncate` bytes, as after a failed upgrade: it dies
 * with SIGSEGV), or a shell `script` that calls the real one as it sees fit.
 */
async function swapTool(lab: LabState, node: string, tool: 'etcd' | 'etcdctl' | 'etcdutl', replacement: { truncate: number } | { script: string[] }): Promise<void> {
  const real = `/run/etcd-dr-test/${tool}`;
  const out = `${real}.replacement`;
  const script = [
    'set -eu',
    `real=$(readlink -f "$(command -v ${tool})")`,
    'mkdir -p /run/etcd-dr-test',
    `: > ${real}`,
    `mount --bind "$real" ${real}`,
    'truncate' in replacement ? `head -c ${replacement.truncate} ${real} > ${out}` : `printf '%s\\n' "$1" > ${out}`,
    `chmod 0755 ${out}`,
    `mount --bind ${out} "$real"`,
  ].join('\n');
  const r = await labExec(lab, node, ['sh', '-c', script, '_', 'script' in replacement ? replacement.script.join('\n') : '']);
  expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: '' });
}

/**
 * etcd on one node swapped (see swapTool): `broken` dies with SIGSEGV; `gated` answers --version at once
 * but starts etcd only once /run/etcd-dr-test/go exists.
 */
async function swapEtcd(lab: LabState, node: string, how: 'broken' | 'gated'): Promise<void> {
  await swapTool(
    lab,
    node,
    'etcd',
    how === 'broken'
      ? { truncate: 4_000_000 }
      : {
          script: [
            '#!/bin/sh',
            'case "$1" in --version) exec /run/etcd-dr-test/etcd "$@" ;; esac',
            'while [ ! -e /run/etcd-dr-test/go ]; do sleep 0.2; done',
            'exec /run/etcd-dr-test/etcd "$@"',
          ],
        },
  );
}

interface KilledSession {
  node: string;
  sshd: string;
  args: string;
  /** the process the session was found above */
  pid: string;
}

/**
 * Polls `nodes` until it finds etcd-dr's SSH session (`sshd: <user>@notty`) above a process `pgrep -f
 * pattern` matches (a shell may sit in between) and SIGKILLs it, which drops etcd-dr's connection to that
 * node; gives up when the run ended or after 90 s. `guard` is a shell test that must hold first.
 */
async function killSessionAbove(lab: LabState, nodes: string[], pattern: string, running: () => boolean, guard = 'true'): Promise<KilledSession | undefined> {
  const script = [
    `${guard} || exit 1`,
    `for p in $(pgrep -f ${shellQuote(pattern)}); do`,
    '  q=$p; for i in 1 2 3 4; do q=$(ps -o ppid= -p "$q" | tr -d " "); [ -n "$q" ] || break',
    '    args=$(ps -o args= -p "$q")',
    '    case "$args" in "sshd: "*@notty) kill -9 "$q" && echo "$q|$args|$p"; exit 0 ;; esac',
    '  done',
    'done',
    'exit 1',
  ].join('\n');
  const until = Date.now() + 90_000;
  while (running() && Date.now() < until) {
    const tries = await Promise.all(nodes.map(async (node) => ({ node, r: await labExec(lab, node, ['sh', '-c', script], { timeout: 30 }) })));
    const hit = tries.find((t) => t.r.code === 0);
    if (hit) {
      const [sshd = '', args = '', pid = ''] = hit.r.stdout.trim().split('|');
      return { node: hit.node, sshd, args, pid };
    }
  }
  return undefined;
}

/**
 * `recover` in the background; once a swapped tool on `survivor` holds (`guard` holds and a process
 * matches `pattern`), etcd-dr's SSH session there is cut. Returns what was killed, the run, its journal.
 */
async function recoverCuttingSession(lab: LabState, state: string, survivor: string, pattern: string, guard: string): Promise<{ killed: KilledSession | undefined; r: CliRun; events: JournalEvent[] }> {
  const run = background(recover(lab, state));
  await journalEvent(state, (e) => e.event === 'run-start', run.running);
  expect(planOf(state).survivor?.name).toBe(survivor);
  const killed = await killSessionAbove(lab, [survivor], pattern, run.running, guard);
  const r = await run.result;
  return { killed, r, events: journal(state) };
}

/** The node's own etcd binary back in place. */
async function restoreEtcd(lab: LabState, node: string): Promise<void> {
  const r = await labExec(lab, node, ['sh', '-c', 'set -eu\nreal=$(readlink -f "$(command -v etcd)")\numount "$real"\numount -l /run/etcd-dr-test/etcd\netcd --version | head -n 1']);
  expect(r.stdout).toMatch(/^etcd Version: /);
}

const sha256In = async (lab: LabState, node: string, path: string) => (await labExec(lab, node, ['sha256sum', path])).stdout.split(' ')[0] ?? `(${path} unreadable)`;

// ---------------------------------------------------------------------------------------------------

afterAll(async () => {
  for (const lab of [...labs]) await dropLab(lab);
  for (const s of states) rmSync(s, { recursive: true, force: true });
  table.save({
    etcd: etcdVersion,
    lab: `3 nodes each, on ${e2eNet(62)}x to ${e2eNet(66)}x and ${e2eNet(72)}x to ${e2eNet(74)}x (one lab per fault; ${e2eNet(74)}x runs etcd 3.5)`,
    data: `${KEYS} keys + ${MIB} × 1 MiB values`,
    'suite time': sec(Date.now() - suiteStart),
  });
}, T);

describe('node-side faults during a recovery (3 nodes; etcd 3.4 unless the test names another)', () => {
  it('the SSH connection to a node is cut while a command runs there: the step runs again, the recovery completes', async () => {
    const { lab, before, state } = await brokenLab(e2eNet(62));
    const run = background(recover(lab, state));
    await journalEvent(state, (e) => e.event === 'run-start', run.running);
    const survivor = planOf(state).survivor!.name;
    // once the survivor is started, cut etcd-dr's connection under the first wait for etcd to serve found on any node
    await journalEvent(state, stepStart(`-start-${survivor}`), run.running);
    // the wait script is the one that can time out (the one-shot serve check cannot); the bracket keeps
    // pgrep from matching the kill script itself
    const killed = await killSessionAbove(lab, ALL, 'etcd-dr:timeou[t]', run.running);
    const r = await run.result;
    const events = journal(state);
    const retry = events.find((e): e is Extract<JournalEvent, { event: 'step-retry' }> => e.event === 'step-retry');
    const stepDone = retry ? events.find((e): e is Extract<JournalEvent, { event: 'step-done' }> => e.event === 'step-done' && e.step === retry.step) : undefined;
    // the repeated step re-ran its check on the node: commands of that step on that node after the retry
    const rechecks = retry ? events.slice(events.indexOf(retry)).filter((e) => e.event === 'command' && e.step === retry.step && e.node === retry.node).length : 0;
    const cluster = await clusterState(lab, 'etcd3', before, ALL);
    const s = summaryOf(r);
    const c = new Checks();
    c.need(killed !== undefined, 'an sshd session serving a wait was found and killed');
    c.need(retry !== undefined && retry.node === killed?.node, 'the journal has a step-retry on the node whose session was killed');
    c.need(stepDone !== undefined, 'the retried step is done');
    c.need(rechecks >= 1, 'the step ran its commands again on that node');
    c.need(r.code === 0, `recover exits 0 (exit ${r.code}: ${cut(errorOf(r).message)})`);
    c.need(new Set(Object.values(s?.verification.hashkv.hashes ?? {})).size === 1 && Object.keys(s?.verification.hashkv.hashes ?? {}).length === 3, 'hashkv equal on 3 members');
    c.need(cluster.ok, 'cluster: 3 voting members, env files, every key');
    table.add({
      fault: `SSH connection cut mid-command: etcd-dr's sshd session on ${killed?.node ?? '?'} (${killed?.args ?? '?'}, pid ${killed?.sshd ?? '?'}) SIGKILLed while it ran step ${retry?.step ?? '?'}'s wait for etcd to serve (script pid ${killed?.pid ?? '?'})`,
      expected: 'the step is repeated after reconnecting (it checks before it acts), the journal records that its first attempt has an unknown outcome; the recovery completes with every key',
      seen:
        `journal: step-retry of ${retry?.step ?? '(none)'} on ${retry?.node ?? '?'} ("${cut(retry?.error.split('`')[0] ?? '', 80)}…"), ${rechecks} command(s) of the step run again there, then step-done "${stepDone?.outcome ?? '-'}" after ${stepDone ? sec(stepDone.ms) : '-'}; ` +
        `recover exit ${r.code}; ${cluster.text}; hashkv ${new Set(Object.values(s?.verification.hashkv.hashes ?? {})).size === 1 ? 'equal' : 'DIFFERS'} at revision ${s?.verification.hashkv.revision ?? '-'}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it('the SSH connection to the survivor is cut after a member add was applied, before its answer came back: the member list decides, no member added twice', async () => {
    const { lab, before, state } = await brokenLab(e2eNet(72));
    const survivor = 'etcd1';
    // etcdctl on the survivor: the first `member add` that etcd applies prints its answer, then holds the
    // exit (the answer stays unread) until the test has cut the connection; every other call is the real one
    await swapTool(lab, survivor, 'etcdctl', {
      script: [
        '#!/bin/sh',
        'case "$*" in *"member add"*) ;; *) exec /run/etcd-dr-test/etcdctl "$@" ;; esac',
        '/run/etcd-dr-test/etcdctl "$@"; rc=$?',
        'if [ "$rc" = 0 ] && [ ! -e /run/etcd-dr-test/held ]; then : > /run/etcd-dr-test/held; sleep 30; fi',
        'exit $rc',
      ],
    });
    const { killed, r, events } = await recoverCuttingSession(lab, state, survivor, '^sleep 30$', '[ -e /run/etcd-dr-test/held ]');
    // progress lines of the add step: `+3.1 s 10-add-etcd2 the answer to the member add was lost (…)`
    const lost = r.stderr.split('\n').find((l) => /^\+\S+ m?s \d+-add-\S+ the answer to the member add was lost/.test(l)) ?? '';
    const addStep = lost.split(' ')[2] ?? '';
    const done = events.find((e): e is Extract<JournalEvent, { event: 'step-done' }> => e.event === 'step-done' && e.step === addStep);
    const members = await membersOf(lab, survivor);
    const cluster = await clusterState(lab, survivor, before, ALL);
    const c = new Checks();
    c.need(killed !== undefined, `etcd-dr's sshd session on ${survivor} was killed while a member add it made held its answer`);
    c.need(lost !== '', 'the add step says its answer was lost and that the member list shows the member added');
    c.need(done !== undefined, `the add step ${addStep || '?'} is done`);
    c.need(r.code === 0, `recover exits 0 (exit ${r.code}: ${cut(errorOf(r).message)})`);
    c.need(members.length === 3, `exactly 3 members, none added twice (${members.map((m) => m.name || '(unstarted)').join(', ')})`);
    c.need(cluster.ok, 'cluster: 3 voting members, env files, every key');
    table.add({
      fault: `SSH connection to the survivor ${survivor} cut (its sshd session ${killed?.args ?? '?'}, pid ${killed?.sshd ?? '?'}, SIGKILLed) after etcd applied a \`member add\` and before etcd-dr read the answer (an etcdctl wrapper bind-mounted in the node holds it)`,
      expected: 'the add step reconnects, reads the member list, finds the member it added and goes on, saying so; no member added twice; the recovery completes with every key',
      seen:
        `"${cut(lost.split(' ').slice(3).join(' '), 200)}"; ${addStep || '(no add step)'} done "${done?.outcome ?? '-'}" after ${done ? sec(done.ms) : '-'}; recover exit ${r.code}; ` +
        `${members.length} members (${members.map((m) => m.name || '(unstarted)').join(', ')}); ${cluster.text}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it.each([
    ['3.4', e2eNet(73), 'etcdctl'],
    ['3.5', e2eNet(74), 'etcdutl'],
  ] as const)('etcd %s: the SSH connection to the survivor is cut while its restore runs: the repeated restore waits for the one still running, never beside it', async (version, base, tool) => {
    const { lab, before, state } = await brokenLab(base, version);
    const survivor = 'etcd1';
    const log = '/run/etcd-dr-test/restores';
    // the restore tool on the survivor (etcdctl on 3.4, etcdutl from 3.5): every `snapshot restore` notes
    // when it starts and ends; the first one takes 8 s longer (a large db), so it is still running when
    // its connection goes away
    await swapTool(lab, survivor, tool, {
      script: [
        '#!/bin/sh',
        `case "$*" in *"snapshot restore"*) ;; *) exec /run/etcd-dr-test/${tool} "$@" ;; esac`,
        `echo "start $$ $(date +%s.%N)" >> ${log}`,
        'if [ ! -e /run/etcd-dr-test/slow ]; then : > /run/etcd-dr-test/slow; sleep 8; fi',
        `/run/etcd-dr-test/${tool} "$@"; rc=$?`,
        `echo "end $$ $(date +%s.%N)" >> ${log}`,
        'exit $rc',
      ],
    });
    const { killed, r, events } = await recoverCuttingSession(lab, state, survivor, '^sleep 8$', '[ -e /run/etcd-dr-test/slow ]');
    const retry = events.find((e): e is Extract<JournalEvent, { event: 'step-retry' }> => e.event === 'step-retry');
    const restoreCmds = events.filter((e): e is Extract<JournalEvent, { event: 'command' }> => e.event === 'command' && e.step === retry?.step);
    const waited = restoreCmds.find((e) => e.stderr.includes('another restore of this run is still running'));
    // [start, end] of each restore (by its process id), in the order they started
    const byPid = new Map<string, number[]>();
    for (const l of (await labExec(lab, survivor, ['cat', log])).stdout.trim().split('\n')) {
      const [what, pid = '', at] = l.split(' ');
      if (what === 'start') byPid.set(pid, [Number(at)]);
      else byPid.get(pid)?.push(Number(at));
    }
    const spans = [...byPid.values()];
    const apart = spans.length === 2 && spans[0]!.length === 2 && spans[1]![0]! >= spans[0]![1]!;
    const keptAside = (await labExec(lab, survivor, ['sh', '-c', 'ls -1d /var/lib/etcd.etcd-dr-*-restoring.interrupted.* 2>/dev/null || true'])).stdout.trim();
    const cluster = await clusterState(lab, survivor, before, ALL);
    const c = new Checks();
    c.need(killed !== undefined, `etcd-dr's sshd session on ${survivor} was killed while the first restore ran`);
    c.need(retry !== undefined && /-restore-/.test(retry.step), `the journal has a step-retry of the restore step (${retry?.step ?? 'none'})`);
    c.need(waited !== undefined, 'the repeated restore says it waits for the one still running');
    c.need(apart, `the two restores ran one after the other (${spans.map((s) => s.map((t) => t.toFixed(2)).join('–')).join(', ')})`);
    c.need(keptAside !== '', 'the first restore\'s scratch dir is kept aside, not deleted');
    c.need(r.code === 0, `recover exits 0 (exit ${r.code}: ${cut(errorOf(r).message)})`);
    c.need(cluster.ok, 'cluster: 3 voting members, env files, every key');
    const gap = apart ? spans[1]![0]! - spans[0]![1]! : NaN;
    table.add({
      fault: `etcd ${version}: SSH connection to the survivor ${survivor} cut (its sshd session ${killed?.args ?? '?'}, pid ${killed?.sshd ?? '?'}, SIGKILLed) while its restore ran; that restore (an ${tool} wrapper makes it 8 s slower) goes on without a connection`,
      expected: 'the restore step is repeated after reconnecting; the repeated restore waits for the running one (a lock on the db both read) and then sets its scratch dir aside; never two restores at once; the recovery completes with every key',
      seen:
        `step-retry of ${retry?.step ?? '(none)'}; "${cut(waited?.stderr.trim().split('\n')[0] ?? '(no wait)', 120)}"; restores ran ${spans.map((s) => s.map((t) => t.toFixed(2)).join('–')).join(' and ')} (${apart ? `the second began ${gap.toFixed(2)} s after the first ended` : 'OVERLAPPING'}); ` +
        `kept aside: ${keptAside || '(nothing)'}; recover exit ${r.code}; ${cluster.text}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it('a joiner is powered off during its join: the run stops naming it, the survivor serves, `resume --exclude` finishes smaller', async () => {
    const { lab, before, state } = await brokenLab(e2eNet(63));
    const run = background(recover(lab, state));
    await journalEvent(state, (e) => e.event === 'run-start', run.running);
    const plan = planOf(state);
    const survivor = plan.survivor!.name;
    const victim = plan.finalMembers.filter((m) => m !== survivor).pop()!;
    // the last joiner loses power while its member-add runs (etcd makes that step wait ~5 s for the new voters)
    const during = await journalEvent(state, stepStart(`-add-${victim}`), run.running);
    await powerOff(lab, victim);
    const r = await run.result;
    const err = errorOf(r);
    const events = journal(state);
    const failed = events.find((e): e is Extract<JournalEvent, { event: 'step-failed' }> => e.event === 'step-failed');
    const rollback = events.find((e): e is Extract<JournalEvent, { event: 'rollback' }> => e.event === 'rollback');
    const health = await etcdctlInNode(lab, survivor, ['endpoint', 'health', '--command-timeout=5s'], { timeout: 30 });
    const between = lostOrChanged(before, await keysOf(lab, survivor)).length;
    const betweenMembers = (await membersOf(lab, survivor)).map((m) => m.name).sort();

    const res = await resume(lab, state, ['--exclude', victim]);
    const s = summaryOf(res);
    const amended = journal(state).find((e): e is Extract<JournalEvent, { event: 'plan-amended' }> => e.event === 'plan-amended');
    const keep = plan.finalMembers.filter((m) => m !== victim);
    const cluster = await clusterState(lab, survivor, before, keep);
    const c = new Checks();
    c.need(r.code === 1, `recover exits 1 (exit ${r.code})`);
    c.need(err.message.startsWith(`${victim} cannot be reached`) && err.message.includes(failed?.step ?? '?'), 'the error names the node and the step');
    c.need(err.hint.includes(`--exclude ${victim}`) && err.hint.includes('resume'), 'the hint gives both ways on');
    c.need(rollback !== undefined && rollback.detail.includes(`removed ${victim} from the membership`) && !rollback.detail.startsWith(`removed ${victim} from the membership FAILED`), 'the rollback removed it from the membership');
    c.need(health.code === 0, `the survivor serves (${cut(health.stdout.trim() || health.stderr.trim())})`);
    c.need(between === 0 && !betweenMembers.includes(victim), 'between the runs: every key on the survivor, the victim not a member');
    c.need(res.code === 0, `resume --exclude exits 0 (exit ${res.code}: ${cut(errorOf(res).message)})`);
    c.need(amended !== undefined && existsSync(amended.previousPlan), 'the journal records the amended plan, the one the run started with kept beside');
    c.need(JSON.stringify(s?.members) === JSON.stringify(keep), `the run ends with ${keep.join(', ')}`);
    c.need(cluster.ok, `cluster: ${keep.length} voting members, env files, every key`);

    // the node comes back (its etcd starts at boot with the old env file and fails: it is no longer a
    // member), still holding the lock the run took before it lost power: `scale-out` takes that lock over,
    // since the run finished on this bastion, and brings the node back as a member
    await powerOn(lab, victim);
    const lockBack = await labExec(lab, victim, ['cat', '/var/lib/etcd-dr/lock'], { timeout: 20 });
    const out = await runCli(['scale-out', '--node', victim, '-i', lab.inventoryPath, '--state-dir', state, '--yes', '--json']);
    const outSummary = summaryOf(out);
    const takeover = (outSummary?.warnings ?? []).find((l) => l.includes(`the lock of run ${plan.runId}`) && l.includes('takes it over')) ?? '';
    const broken = await labExec(lab, victim, ['sh', '-c', `ls /var/lib/etcd-dr/ | grep -c '^lock.broken-by-' || true`], { timeout: 20 });
    const back = await clusterState(lab, survivor, before, plan.finalMembers);
    c.need(lockBack.code === 0 && lockBack.stdout.includes(`run=${plan.runId}`), `back on, ${victim} still holds the run's lock`);
    c.need(takeover !== '', 'the scale-out plan says it takes over the lock of the finished run');
    c.need(out.code === 0, `scale-out --node ${victim} exits 0 (exit ${out.code}: ${cut(errorOf(out).message)})`);
    c.need(broken.stdout.trim() === '1', 'the old lock is kept beside (lock.broken-by-<run>)');
    c.need(JSON.stringify(outSummary?.members) === JSON.stringify(plan.finalMembers) && back.ok, `the cluster is ${plan.finalMembers.join(', ')} again, every key`);
    table.add({
      fault: `joiner ${victim} powered off (lab power-off) while step ${during.event === 'step-start' ? during.step : '?'} ran; the run then needs it for ${failed?.step ?? '?'}; later the node comes back`,
      expected:
        `the run stops with an error naming ${victim} and the step, its join rolled back, the survivor serving; \`resume --exclude ${victim}\` finishes with the smaller cluster and every key; ` +
        `once ${victim} is back, \`scale-out --node ${victim}\` takes over the lock the finished run left there and adds it again`,
      seen:
        `recover exit ${r.code}: "${cut(err.message, 300)}" → "${cut(err.hint, 200)}"; rollback: ${cut(rollback?.detail ?? '(none)', 200)}; ` +
        `${survivor} endpoint health exit ${health.code}, ${before.size - between}/${before.size} keys, members ${betweenMembers.join(', ')}; ` +
        `resume --exclude ${victim} exit ${res.code} (${amended?.changes.length ?? 0} plan changes journaled as plan-amended), summary members ${s?.members.join(', ') ?? '-'}; ${cluster.text}; ` +
        `powered on: ${victim}'s lock ${lockBack.stdout.includes(`run=${plan.runId}`) ? 'still that run\'s' : 'GONE'}; scale-out exit ${out.code} ("${cut(takeover, 160)}"), old lock kept beside: ${broken.stdout.trim() === '1' ? 'yes' : 'no'}; ${back.text}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it("a joiner's etcd binary is broken: its join is rolled back, quorum and keys kept; `resume` finishes once it is fixed", async () => {
    const { lab, before, state } = await brokenLab(e2eNet(64));
    const run = background(recover(lab, state));
    // the plan is made (every node probed) before the binary breaks: the fault comes during the run
    await journalEvent(state, stepStart('-lock'), run.running);
    const plan = planOf(state);
    const survivor = plan.survivor!.name;
    const victim = plan.finalMembers.filter((m) => m !== survivor).pop()!;
    await swapEtcd(lab, victim, 'broken');
    const r = await run.result;
    const err = errorOf(r);
    const events = journal(state);
    const failed = events.find((e): e is Extract<JournalEvent, { event: 'step-failed' }> => e.event === 'step-failed');
    const rollback = events.find((e): e is Extract<JournalEvent, { event: 'rollback' }> => e.event === 'rollback');
    const others = plan.finalMembers.filter((m) => m !== victim);
    // members that joined before serve once etcd has published them (up to its request timeout)
    const waits = await Promise.all(others.map((m) => serves(lab, m)));
    const members = await membersOf(lab, survivor);
    const keysEach = await Promise.all(others.map(async (m) => lostOrChanged(before, await keysOf(lab, m)).length));
    const victimState = (await labExec(lab, victim, ['systemctl', 'is-active', 'etcd'])).stdout.trim();

    await restoreEtcd(lab, victim);
    const res = await resume(lab, state);
    const s = summaryOf(res);
    const cluster = await clusterState(lab, victim, before, ALL);
    const c = new Checks();
    c.need(r.code === 1, `recover exits 1 (exit ${r.code})`);
    c.need(err.message.includes(`${victim}: etcd is not running`) && err.message.includes('SIGSEGV') && err.message.includes('binary'), 'the error says etcd died and its binary fails');
    c.need(err.hint.includes(`reinstall etcd on ${victim}`) && err.hint.includes('rolled back') && err.hint.includes('etcd-dr resume'), 'the hint says what to do and that resume runs the join again');
    c.need(
      failed?.step.includes(victim) === true &&
        rollback !== undefined &&
        rollback.detail.startsWith(`removed ${victim} from the membership; stopped etcd on ${victim};`) &&
        rollback.detail.includes('set /var/lib/etcd aside') &&
        !rollback.detail.includes('FAILED'),
      'the join is rolled back completely',
    );
    c.need(members.map((m) => m.name).sort().join(',') === [...others].sort().join(',') && members.every((m) => m.started && !m.isLearner), `members ${others.join(', ')}, all voting`);
    c.need(keysEach.every((n) => n === 0), 'every key on every remaining member');
    c.need(victimState !== 'active' && victimState !== 'activating', `etcd is not running on ${victim}`);
    c.need(res.code === 0, `resume exits 0 (exit ${res.code}: ${cut(errorOf(res).message)})`);
    c.need(JSON.stringify(s?.members) === JSON.stringify(ALL) && cluster.ok, 'cluster: 3 voting members, env files, every key');
    table.add({
      fault: `etcd binary of joiner ${victim} broken during the run (a truncated copy bind-mounted over it inside the node: it dies with SIGSEGV)`,
      expected: 'the join is rolled back (member removed, etcd stopped, data dir set aside); the error says etcd died and its binary fails, and what to do; the other members keep their quorum and every key; `resume` finishes once the binary is fixed',
      seen:
        `recover exit ${r.code} in ${failed?.step ?? '?'}: "${cut(err.message, 190)}" → "${cut(err.hint, 260)}"; rollback: ${rollback?.detail ?? '(none)'}; ` +
        `${others.join(', ')} serve (after ${waits.map(sec).join(', ')}), members ${members.map((m) => `${m.name}${m.isLearner ? ' (learner)' : ''}`).sort().join(', ')}, keys lost or changed ${keysEach.join(', ')}; etcd on ${victim}: ${victimState}; ` +
        `binary restored, resume exit ${res.code}; ${cluster.text}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it("the survivor's /var/lib is full: the restore fails saying so, nothing is deleted, `resume` finishes once there is room", async () => {
    const { lab, before, state } = await brokenLab(e2eNet(65));
    const survivor = 'etcd1';
    const db = '/var/lib/etcd/member/snap/db';
    const dbSha = Object.fromEntries(await Promise.all(ALL.map(async (n) => [n, await sha256In(lab, n, db)] as const)));
    const dbKiB = Number((await labExec(lab, survivor, ['du', '-k', '--apparent-size', db])).stdout.split('\t')[0]);
    const holds = (await labExec(lab, survivor, ['sh', '-c', 'du -sk /var/lib/etcd /var/lib/etcd-dr 2>/dev/null | awk "{ s += \\$1 } END { print s }"'])).stdout.trim();
    // a /var/lib that holds the data dir and has room for half the db: the restore cannot write a copy of it
    const small = await mountNodeTmpfs(lab, survivor, '/var/lib', { sizeKiB: Number(holds) + Math.floor(dbKiB / 2), carry: ['etcd', 'etcd-dr'] });
    const planFile = join(state, 'plan.json');
    const p = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--state-dir', state, '-o', planFile]);
    expect(p.code).toBe(0);
    const plan = JSON.parse(readFileSync(planFile, 'utf8')) as Plan;
    const r = await runCli(['apply', planFile, '-i', lab.inventoryPath, '--state-dir', state, '--yes', '--json']);
    const err = errorOf(r);
    const events = journal(state);
    const failed = events.find((e): e is Extract<JournalEvent, { event: 'step-failed' }> => e.event === 'step-failed');
    const asideSha = Object.fromEntries(await Promise.all(ALL.map(async (n) => [n, await sha256In(lab, n, `/var/lib/etcd.etcd-dr-${plan.runId}/member/snap/db`)] as const)));
    const left = (await labExec(lab, survivor, ['sh', '-c', 'ls -1 /var/lib; systemctl is-active etcd || true'])).stdout.trim().split('\n');
    const backup = plan.steps.find((s) => s.action.type === 'backup-db');
    const backupPath = backup?.action.type === 'backup-db' ? backup.action.localPath : '';
    const backupSha = backupPath && existsSync(`${backupPath}.sha256`) ? readFileSync(`${backupPath}.sha256`, 'utf8').split(' ')[0] : '(none)';
    const full = await nodeDiskUsage(lab, survivor, '/var/lib');

    // room is made (the disk grows); the same run goes on
    const grown = await resizeNodeTmpfs(lab, survivor, '/var/lib', small.sizeKiB + 300 * 1024);
    const res = await resume(lab, state);
    const s = summaryOf(res);
    const cluster = await clusterState(lab, survivor, before, ALL);
    const kept = (await labExec(lab, survivor, ['sh', '-c', 'ls -1d /var/lib/etcd.etcd-dr-*'])).stdout.trim().split('\n');
    const c = new Checks();
    c.need(plan.survivor?.name === survivor, `the plan restores from ${survivor}`);
    const roomNote = plan.warnings.find((w) => w.startsWith(`${survivor}: /var/lib has `) && w.includes('the restore needs about')) ?? '';
    c.need(roomNote !== '', 'the plan warns that the survivor lacks room for the restore, before anything runs');
    c.need(r.code === 1 && failed?.step.endsWith(`restore-${survivor}`) === true, `apply exits 1 in the restore step (exit ${r.code}, ${failed?.step ?? 'no step failed'})`);
    c.need(/no space left on device/.test(err.message) && /\/var\/lib had \d+ MiB free and this restore needs about \d+ MiB/.test(err.message) && err.message.includes('may be removed'), 'the error says the disk is full, how much room the restore needs, what it left');
    c.need(err.hint.includes('make room') && err.hint.includes(`etcd-dr resume ${plan.runId}`) && err.hint.includes('untouched'), 'the hint says to make room and resume, and that nothing was touched');
    c.need(ALL.every((n) => asideSha[n] === dbSha[n]), 'every data dir moved aside, its db unchanged');
    c.need(backupSha === dbSha[survivor], "the bastion's copy of the survivor's db matches it");
    c.need(!left.includes('etcd') && left.some((l) => l.endsWith('-restoring')) && !left.includes('active'), 'no data dir in place, the incomplete restore beside, etcd not running');
    c.need(res.code === 0, `resume exits 0 (exit ${res.code}: ${cut(errorOf(res).message)})`);
    c.need(JSON.stringify(s?.members) === JSON.stringify(ALL) && cluster.ok, 'cluster: 3 voting members, env files, every key');
    c.need(kept.some((k) => k.endsWith(`etcd-dr-${plan.runId}`)) && kept.some((k) => /-restoring\.interrupted\.\d+$/.test(k)), 'after the resume: the old data dir and the failed restore both kept');
    table.add({
      fault: `${survivor}'s /var/lib full: a ${Math.round(small.sizeKiB / 1024)} MiB tmpfs inside the node holding its data dir with ${Math.round(small.freeKiB / 1024)} MiB free, for a ${Math.round(dbKiB / 1024)} MiB db`,
      expected: "the plan warns that there is not enough room; the restore fails with an error that says the disk is full and how much room it needs; nothing is deleted (every data dir moved aside intact, the bastion copy matching); `resume` finishes once the disk has room",
      seen:
        `plan: "${cut(roomNote, 120)}"; apply exit ${r.code} in ${failed?.step ?? '?'}: "${cut(err.message.replace(/^.*?etcd-dr:restore-failed /, '… '), 330)}" → "${cut(err.hint, 220)}"; ` +
        `db sha256 before = moved-aside copy on ${ALL.filter((n) => asideSha[n] === dbSha[n]).join(', ')}, bastion copy ${backupSha === dbSha[survivor] ? 'matches' : 'DIFFERS'}; ${survivor}'s /var/lib: ${left.filter((l) => l !== 'inactive').join(', ')} (${full.freeKiB} KiB free); ` +
        `disk grown to ${Math.round(grown.sizeKiB / 1024)} MiB, resume exit ${res.code}; ${cluster.text}; kept: ${kept.map((k) => k.replace(/^\/var\/lib\//, '')).join(', ')}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);

  it('the restored survivor is slower to serve than --healthy-timeout: a timeout naming the step and node, nothing else done; `resume` finishes', async () => {
    const { lab, before, state } = await brokenLab(e2eNet(66));
    const timeout = 10;
    // etcd on the survivor starts only when the test lets it: longer than the timeout
    await swapEtcd(lab, 'etcd1', 'gated');
    const t0 = Date.now();
    const r = await recover(lab, state, ['--healthy-timeout', String(timeout)]);
    const took = Date.now() - t0;
    const err = errorOf(r);
    const plan = planOf(state);
    const survivor = plan.survivor!.name;
    const events = journal(state);
    const failed = events.find((e): e is Extract<JournalEvent, { event: 'step-failed' }> => e.event === 'step-failed');
    const started = events.filter((e) => e.event === 'step-start').map((e) => (e as { step: string }).step);
    const states = Object.fromEntries(await Promise.all(ALL.map(async (n) => [n, (await labExec(lab, n, ['systemctl', 'is-active', 'etcd'])).stdout.trim()] as const)));

    // etcd gets going; once it serves, the same run goes on
    expect((await labExec(lab, survivor, ['touch', '/run/etcd-dr-test/go'])).code).toBe(0);
    const waited = await serves(lab, survivor);
    const res = await resume(lab, state);
    const s = summaryOf(res);
    const cluster = await clusterState(lab, survivor, before, ALL);
    const c = new Checks();
    c.need(survivor === 'etcd1', 'the plan restores from etcd1 (whose etcd is slow)');
    c.need(r.code === 1, `recover exits 1 (exit ${r.code})`);
    c.need(failed?.step.endsWith(`start-${survivor}`) === true && failed.ms >= timeout * 1000, `the start step fails after at least ${timeout} s`);
    c.need(
      err.message.startsWith(`${survivor}: etcd did not serve within ${timeout} s; step ${failed?.step ?? '?'} (`) && err.message.includes('(service activating)'),
      'the error names the node, the timeout, the step, and says the service is still starting',
    );
    c.need(err.hint.includes(`etcd-dr resume ${plan.runId}`) && err.hint.includes('--healthy-timeout'), 'the hint says how to go on');
    c.need(started[started.length - 1] === failed?.step && !started.some((x) => /-add-/.test(x)), 'no step after it started: no member was added');
    c.need(states[survivor] === 'activating' && ALL.filter((n) => n !== survivor).every((n) => states[n] === 'inactive'), 'etcd still starting on the survivor, stopped elsewhere');
    c.need(res.code === 0, `resume exits 0 (exit ${res.code}: ${cut(errorOf(res).message)})`);
    c.need(JSON.stringify(s?.members) === JSON.stringify(ALL) && cluster.ok, 'cluster: 3 voting members, env files, every key');
    table.add({
      fault: `etcd on the survivor ${survivor} slower to serve than --healthy-timeout ${timeout} (a wrapper bind-mounted over its binary holds the start until the test lets it go)`,
      expected: 'the run stops with a timeout error naming the step, the node and the timeout; nothing after the step ran; `resume` finishes once etcd serves',
      seen:
        `recover exit ${r.code} after ${sec(took)} (step ${failed?.step ?? '?'} failed after ${failed ? sec(failed.ms) : '-'}): "${cut(err.message, 330)}" → "${cut(err.hint, 260)}"; ` +
        `last step started ${started[started.length - 1] ?? '-'}; etcd: ${ALL.map((n) => `${n} ${states[n]}`).join(', ')}; ` +
        `released, ${survivor} served ${sec(waited)} later; resume exit ${res.code}; ${cluster.text}`,
      pass: c.ok,
    });
    expect(c.misses).toEqual([]);
    await dropLab(lab);
  }, T);
});
