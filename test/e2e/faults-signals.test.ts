/**
 * Faults during a run, the orchestrator's side (issue #7): the etcd-dr process itself killed or
 * interrupted while it recovers a 3-node etcd 3.4 lab that holds data; the SIGKILL chain also on etcd 3.5.
 *
 * - SIGKILL at every step boundary. The boundaries are the steps of the plan the run wrote, so a step
 *   added to the planner is covered without touching this file. The kills are chained: `recover` is killed
 *   right after its first step, then each `resume` runs one more step and is killed right after it, until
 *   the last one; a final `resume` finishes. "Right after" is exact: a preloaded hook
 *   (test/support/stop-after-step.mjs) stops the process the moment the journal records the step done,
 *   and the test kills it there, so no code of the next step has run whatever the machine's load.
 * - SIGKILL in the middle of the long steps: a recovery runs on its own and is killed in each long step
 *   as it comes (each later than the last one killed), found by what the run is doing, not by time: etcd
 *   started and not serving yet, a member add etcd refused and the step retries, a learner catching up, a
 *   member that does not serve yet. Each kill is resumed, and the resumed run goes on to the next one.
 * - SIGINT and SIGTERM while a step runs: the step finishes, the run stops before the next one, the
 *   journal says so, the exit code is 130 / 143 (README's exit-code table), and `resume` finishes.
 *
 * After each recovery: every key written before the failure is back unchanged, hashkv agrees on all
 * members, three voting members, final env files, no lock left, and nothing deleted (every data dir moved
 * aside is there, the survivor's db copy on the bastion matches its sha256). Every fault is a row of
 * docs/faults.md, filled from what the test saw.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { title } from '../../src/apply/titles.js';
import { RunDir, type JournalEvent } from '../../src/apply/rundir.js';
import { breakAllDown, etcdctlInNode, labEtcdVersion, labExec, loadKeys, type LabState } from '../../src/lab/index.js';
import type { Action, Plan, Step } from '../../src/plan/types.js';
import { EXIT } from '../../src/util/errors.js';
import { startLab, stopLab, tempDir } from '../support/cli.js';
import { FaultTable } from '../support/fault-table.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from '../support/keys.js';
import { procState } from '../support/runs.js';
import { e2eNet } from '../support/net.js';

const BASE = e2eNet(60);
/** the etcd 3.5 lab's, for the SIGKILL chain */
const BASE35 = e2eNet(61);
const KEYS = 400;
const MIB = 2;
const T = 600_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const STOP_HOOK = pathToFileURL(join(process.cwd(), 'test', 'support', 'stop-after-step.mjs')).href;
const WAITER = join(process.cwd(), 'test', 'support', 'wait-on-node.mjs');

const table = new FaultTable('signals', 'Orchestrator killed or interrupted during a 3-node recovery');
const suiteStart = Date.now();
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

// ---------------------------------------------------------------------------------------------------
// the etcd-dr process under test

interface Orchestrator {
  child: ChildProcess;
  pid: number;
  started: number;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: () => boolean;
}

const children = new Set<ChildProcess>();

/** `node bin/etcd-dr.js ARGS` as an operator runs it (CI=true: one progress line per event on stderr). */
function orchestrate(args: string[], stopAfterStep?: string): Orchestrator {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
  delete env['NODE_OPTIONS'];
  if (stopAfterStep) env['ETCD_DR_STOP_AFTER_STEP'] = stopAfterStep;
  const child = spawn(process.execPath, [...(stopAfterStep ? ['--import', STOP_HOOK] : []), BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  const err: Buffer[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  child.stdout!.resume();
  let done = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid!, started: Date.now(), stderr: () => Buffer.concat(err).toString('utf8'), exit, exited: () => done };
}


const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives a value; fails when the run under watch exits first or time runs out. */
async function until<T>(what: string, o: Orchestrator | undefined, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 300_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (o?.exited()) {
      const e = await o.exit;
      throw new Error(`waiting for ${what}: etcd-dr exited first (code ${e.code}, signal ${e.signal}):\n${o.stderr().slice(-3000)}`);
    }
    if (Date.now() > deadline) throw new Error(`waiting for ${what}: not within ${timeoutMs / 1000} s${o ? `\n${o.stderr().slice(-3000)}` : ''}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------------
// the run's files on the bastion

function runIdIn(state: string): string | undefined {
  const dir = join(state, 'runs');
  if (!existsSync(dir)) return undefined;
  return readdirSync(dir).find((d) => existsSync(join(dir, d, 'plan.json')));
}

function journalOf(state: string, runId: string): JournalEvent[] {
  return new RunDir(state, runId).read();
}

/** The events one process wrote: from its run-start on. */
function segmentOf(events: JournalEvent[], pid: number): JournalEvent[] {
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i]!;
    if (e.event === 'run-start' && e.pid === pid) return events.slice(i);
  }
  return [];
}

const doneIn = (events: JournalEvent[], step: string) => events.find((e): e is Extract<JournalEvent, { event: 'step-done' }> => e.event === 'step-done' && e.step === step);
const startsIn = (events: JournalEvent[]) => events.flatMap((e) => (e.event === 'step-start' ? [e.step] : []));
const runEndIn = (events: JournalEvent[]) => events.find((e): e is Extract<JournalEvent, { event: 'run-end' }> => e.event === 'run-end');
/** The step that started in these events and has not finished. */
function runningIn(events: JournalEvent[]): string | undefined {
  const starts = startsIn(events);
  const last = starts[starts.length - 1];
  return last !== undefined && !doneIn(events, last) ? last : undefined;
}

// ---------------------------------------------------------------------------------------------------
// "in the middle of a step": what the run is doing, seen from its journal, its progress lines and etcd

const MID_STEP_ACTIONS: readonly Action['type'][] = ['start-etcd', 'member-add', 'promote', 'wait-healthy', 'verify'];

function midStepCandidate(s: Step): boolean {
  if (!MID_STEP_ACTIONS.includes(s.action.type)) return false;
  // a start without the wait is one short command
  return s.action.type !== 'start-etcd' || s.action.waitHealthy;
}

/**
 * Evidence that `step` is under way with more to do, or undefined: a progress note of the step (etcd-dr
 * notes only what happens inside a step: a refused member add being retried, a learner catching up, checks
 * that do not agree yet, …), the start command journaled while the step waits for etcd to serve, or the
 * member a wait-healthy step waits for not serving yet. `events` are the process's own journal events,
 * `stderr` its progress lines.
 */
async function midStep(lab: LabState, step: Step, events: JournalEvent[], stderr: string): Promise<string | undefined> {
  if (!startsIn(events).includes(step.id) || doneIn(events, step.id)) return undefined;
  // progress notes of this step: `+5.1 s 14-add-etcd3 attempt 1: unhealthy-cluster: …`
  const note = stderr
    .split('\n')
    .filter((l) => l.startsWith('+') && l.split(' ')[2] === step.id)
    .pop();
  if (note) return `the step reporting "${note.split(' ').slice(3).join(' ').split(';')[0]}"`;
  const a = step.action;
  if (a.type === 'start-etcd' && events.some((e) => e.event === 'command' && e.step === step.id)) return `etcd started on ${step.node}, the step waiting until it serves`;
  if (a.type === 'wait-healthy') {
    const h = await etcdctlInNode(lab, a.endpointOf, ['endpoint', 'health', '--dial-timeout=1s', '--command-timeout=1s'], { timeout: 20 });
    if (h.code !== 0) return `${a.endpointOf} not serving yet, the step polling its health`;
  }
  return undefined;
}

/** What happened when a signal was sent in the middle of a step. */
interface MidStepSignal {
  step: Step;
  /** its index in the plan */
  idx: number;
  why: string;
  /** how long the step had run when the signal was sent */
  intoStepMs: number;
  exit: { code: number | null; signal: NodeJS.Signals | null };
  /** from the signal to the exit */
  exitMs: number;
  /** the process's own journal events, read after it exited */
  events: JournalEvent[];
  stderr: string;
}

/** A run's files, found once the run wrote its plan. */
class RunFiles {
  runId = '';
  plan: Plan | undefined;
  constructor(readonly state: string) {}
  journal(): JournalEvent[] {
    this.runId ||= runIdIn(this.state) ?? '';
    if (!this.runId) return [];
    this.plan ??= JSON.parse(readFileSync(join(this.state, 'runs', this.runId, 'plan.json'), 'utf8')) as Plan;
    return journalOf(this.state, this.runId);
  }
  /** keeps a process's progress lines beside the run's files, for whoever looks into a failure */
  keep(o: Orchestrator, label: string): void {
    writeFileSync(join(this.state, `process-${o.pid}-${label}.stderr`), o.stderr());
  }
}

/**
 * Waits until a step after plan index `afterIdx` is under way with more to do (see midStep), sends `sig`,
 * and waits for the process to exit. Undefined when the run ends before that.
 */
async function signalMidStep(lab: LabState, f: RunFiles, o: Orchestrator, sig: NodeJS.Signals, afterIdx: number): Promise<MidStepSignal | undefined> {
  const hit = await until(`a long step under way, to send ${sig}`, undefined, async () => {
    if (o.exited()) return { ended: true as const };
    const seg = segmentOf(f.journal(), o.pid);
    const idx = f.plan ? f.plan.steps.findIndex((x) => x.id === runningIn(seg)) : -1;
    const s = f.plan?.steps[idx];
    if (!s || idx <= afterIdx || !midStepCandidate(s)) return undefined;
    const why = await midStep(lab, s, seg, o.stderr());
    if (!why) return undefined;
    // looking took time (a health check waits out its timeout): the step must still be running now
    if (o.exited() || runningIn(segmentOf(f.journal(), o.pid)) !== s.id) return undefined;
    return { ended: false as const, step: s, why };
  });
  if (hit.ended) {
    f.keep(o, 'ended');
    return undefined;
  }
  // the step the signal lands in is the one running at this instant
  const seg = segmentOf(f.journal(), o.pid);
  const landed = runningIn(seg) ?? hit.step.id;
  const started = seg.find((e) => e.event === 'step-start' && e.step === landed)!;
  const sentAt = Date.now();
  try {
    process.kill(o.pid, sig);
  } catch (err) {
    // the run ended between the last look and the signal: nothing was interrupted
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    f.keep(o, 'ended');
    return undefined;
  }
  const exit = await o.exit;
  const exitMs = Date.now() - sentAt;
  f.keep(o, sig);
  const idx = f.plan!.steps.findIndex((x) => x.id === landed);
  return {
    step: f.plan!.steps[idx]!,
    idx,
    why: landed === hit.step.id ? hit.why : `aimed at ${hit.step.id} (${hit.why}), which had finished when the signal went out`,
    intoStepMs: sentAt - Date.parse(started.t),
    exit,
    exitMs,
    events: segmentOf(f.journal(), o.pid),
    stderr: o.stderr(),
  };
}

// ---------------------------------------------------------------------------------------------------
// the end state

interface EndState {
  keysBefore: number;
  keysAfter: number;
  lost: string[];
  revision: number;
  hashes: number[];
  members: { name: string; isLearner: boolean; started: boolean }[];
  envFinal: string[];
  asideKept: string[];
  asideExpected: number;
  envBackupsKept: number;
  envBackupsExpected: number;
  backup: { path: string; ok: boolean; partsLeft: string[] };
  locksLeft: string[];
  doneTwice: string[];
  notDone: string[];
}

async function endState(lab: LabState, before: Map<string, string>, plan: Plan, events: JournalEvent[]): Promise<EndState> {
  const after = await keysOf(lab, 'etcd3');
  const st = await etcdctlInNode(lab, 'etcd1', ['endpoint', 'status', '-w', 'json'], { timeout: 60 });
  const revision = (JSON.parse(st.stdout) as { Status: { header: { revision: number } } }[])[0]!.Status.header.revision;
  const hashes = await Promise.all(
    lab.nodes.map(async (n) => {
      const r = await etcdctlInNode(lab, n.name, ['endpoint', 'hashkv', `--rev=${revision}`, '-w', 'json'], { timeout: 60 });
      return (JSON.parse(r.stdout) as { HashKV: { hash: number } }[])[0]!.HashKV.hash;
    }),
  );
  const cluster = lab.nodes.map((n) => `${n.name}=https://${n.address}:2380`).join(',');
  const envFinal: string[] = [];
  for (const n of lab.nodes) {
    const env = await fileIn(lab, n.name, '/etc/etcd.env');
    if (env.includes(`ETCD_INITIAL_CLUSTER=${cluster}\n`) && env.includes('ETCD_INITIAL_CLUSTER_STATE=existing\n')) envFinal.push(n.name);
  }
  const kept = async (node: string, test: string) => (await labExec(lab, node, ['sh', '-c', `${test} && echo kept || true`])).stdout.trim() === 'kept';
  const asides = plan.steps.flatMap((s) => (s.action.type === 'move-data-dir' ? [{ node: s.node!, to: s.action.to }] : []));
  const asideKept: string[] = [];
  for (const a of asides) if (await kept(a.node, `test -f '${a.to}/member/snap/db'`)) asideKept.push(a.node);
  const envWrites = plan.steps.flatMap((s) => (s.action.type === 'write-env' ? [{ node: s.node!, backup: s.action.backup }] : []));
  const backups = new Set(envWrites.map((w) => `${w.node} ${w.backup}`));
  let envBackupsKept = 0;
  for (const b of backups) {
    const [node, path] = b.split(' ') as [string, string];
    if (await kept(node, `test -f '${path}'`)) envBackupsKept++;
  }
  // the bastion copy of the survivor's db: its recorded sha256, and the same bytes as the db kept aside on the node
  const bs = plan.steps.find((s) => s.action.type === 'backup-db');
  const b = bs?.action as Extract<Action, { type: 'backup-db' }> | undefined;
  let backupOk = false;
  // the temp file of a copy a killed process left is gone once a later process copied again
  const partsLeft = b && existsSync(dirname(b.localPath)) ? readdirSync(dirname(b.localPath)).filter((x) => x.endsWith('.part')) : [];
  if (bs && b && existsSync(b.localPath) && existsSync(`${b.localPath}.sha256`)) {
    const sha = createHash('sha256').update(readFileSync(b.localPath)).digest('hex');
    const remote = await labExec(lab, bs.node!, ['sha256sum', b.remoteDb]);
    backupOk = readFileSync(`${b.localPath}.sha256`, 'utf8').startsWith(`${sha}  `) && remote.stdout.startsWith(`${sha} `);
  }
  const locksLeft: string[] = [];
  for (const n of lab.nodes) if (await kept(n.name, `test -e '${plan.lockFile}'`)) locksLeft.push(n.name);
  const doneCount = new Map<string, number>();
  for (const e of events) if (e.event === 'step-done') doneCount.set(e.step, (doneCount.get(e.step) ?? 0) + 1);
  return {
    keysBefore: before.size,
    keysAfter: after.size,
    lost: lostOrChanged(before, after),
    revision,
    hashes,
    members: await membersOf(lab, 'etcd1'),
    envFinal,
    asideKept,
    asideExpected: asides.length,
    envBackupsKept,
    envBackupsExpected: backups.size,
    backup: { path: b?.localPath ?? '(no backup step)', ok: backupOk, partsLeft },
    locksLeft,
    doneTwice: [...doneCount].filter(([, c]) => c > 1).map(([s]) => s),
    notDone: plan.steps.filter((s) => !doneCount.has(s.id)).map((s) => s.id),
  };
}

function endStateGood(e: EndState, nodes: number): boolean {
  return (
    e.lost.length === 0 &&
    new Set(e.hashes).size === 1 &&
    e.members.length === nodes &&
    e.members.every((m) => m.started && !m.isLearner) &&
    e.envFinal.length === nodes &&
    e.asideKept.length === e.asideExpected &&
    e.envBackupsKept === e.envBackupsExpected &&
    e.backup.ok &&
    e.backup.partsLeft.length === 0 &&
    e.locksLeft.length === 0 &&
    e.doneTwice.length === 0 &&
    e.notDone.length === 0
  );
}

function describeEnd(e: EndState): string {
  return [
    `${e.keysAfter - e.lost.length}/${e.keysBefore} keys unchanged (${e.lost.length} lost or changed)`,
    `hashkv at revision ${e.revision}: ${new Set(e.hashes).size === 1 ? `equal on ${e.hashes.length} members` : `differs ${JSON.stringify(e.hashes)}`}`,
    `${e.members.filter((m) => m.started && !m.isLearner).length} started voting members of ${e.members.length}`,
    `final env files on ${e.envFinal.length} nodes`,
    `old data dirs kept ${e.asideKept.length}/${e.asideExpected}`,
    `env backups kept ${e.envBackupsKept}/${e.envBackupsExpected}`,
    `bastion db copy ${e.backup.ok ? 'matches its sha256 and the db kept aside' : 'MISSING or changed'}${e.backup.partsLeft.length ? ` (incomplete copies left: ${e.backup.partsLeft.join(', ')})` : ', no incomplete copy left'}`,
    `locks left: ${e.locksLeft.length}`,
    `every step done exactly once${e.doneTwice.length ? ` EXCEPT ${e.doneTwice.join(', ')}` : ''}${e.notDone.length ? `; NOT done: ${e.notDone.join(', ')}` : ''}`,
  ].join('; ');
}

function expectEndState(e: EndState, nodes: number): void {
  expect(e.lost).toEqual([]);
  expect(e.keysBefore).toBeGreaterThanOrEqual(KEYS + MIB);
  expect(new Set(e.hashes).size).toBe(1);
  expect(e.members).toHaveLength(nodes);
  expect(e.members.every((m) => m.started && !m.isLearner)).toBe(true);
  expect(e.envFinal).toHaveLength(nodes);
  expect(e.asideKept).toHaveLength(e.asideExpected);
  expect(e.asideExpected).toBe(nodes);
  expect(e.envBackupsKept).toBe(e.envBackupsExpected);
  expect(e.backup.ok).toBe(true);
  expect(e.backup.partsLeft).toEqual([]);
  expect(e.locksLeft).toEqual([]);
  expect(e.doneTwice).toEqual([]);
  expect(e.notDone).toEqual([]);
}

/**
 * The last process of a faulted recovery exited 0 and closed the run, and the cluster is whole. Then the
 * run's files go (a failed test leaves them, with every process's progress lines, for a look).
 */
function expectFinished(exit: { code: number | null }, events: JournalEvent[], end: Awaited<ReturnType<typeof endState>>, f: RunFiles): void {
  expect(exit.code).toBe(0);
  expect(runEndIn(events)?.outcome).toBe('done');
  expectEndState(end, 3);
  rmSync(f.state, { recursive: true, force: true });
}

/**
 * SIGKILL right after every step of the plan, chained: `recover` is killed after its first step, each
 * `resume` after the next one, and a last `resume` closes the run. One row per kill, `label` before each.
 */
async function sigkillChain(lab: LabState, label: string): Promise<void> {
  const before = await keysOf(lab, 'etcd1');
  await breakAllDown(lab);
  const f = new RunFiles(tempDir('etcd-dr-faults-signals-'));
  const args = (cmd: 'recover' | 'resume') => [cmd, '-i', lab.inventoryPath, '--state-dir', f.state, ...(cmd === 'recover' ? ['--yes'] : [])];
  const t0 = Date.now();

  interface Kill {
    /** the step after which the process was killed */
    step: string;
    /** the process's own journal events, read after the kill */
    events: JournalEvent[];
    ms: number;
    exit: { code: number | null; signal: NodeJS.Signals | null };
    /** the process was held by the hook right after the step when the kill came */
    held: boolean;
    /** steps the whole journal showed done right after the kill */
    doneAtKill: string[];
  }
  const kills: Kill[] = [];

  /** One link of the chain: start etcd-dr, kill it right after `stopAfter` (`*`: its first step) is done. */
  const link = async (cmd: 'recover' | 'resume', stopAfter: string): Promise<void> => {
    const o = orchestrate(args(cmd), stopAfter);
    await until(`${stopAfter === '*' ? 'the first step' : stopAfter} done (${cmd})`, o, () => {
      const done = segmentOf(f.journal(), o.pid).some((e) => e.event === 'step-done' && (stopAfter === '*' || e.step === stopAfter));
      return done && procState(o.pid) === 'T' ? true : undefined;
    });
    const held = procState(o.pid) === 'T';
    process.kill(o.pid, 'SIGKILL');
    const exit = await o.exit;
    f.keep(o, `${cmd}-killed`);
    const journal = f.journal();
    const events = segmentOf(journal, o.pid);
    const finished = events.flatMap((e) => (e.event === 'step-done' ? [e.step] : []));
    kills.push({ step: finished[finished.length - 1] ?? '?', events, ms: Date.now() - o.started, exit, held, doneAtKill: [...new Set(journal.flatMap((e) => (e.event === 'step-done' ? [e.step] : [])))] });
  };

  try {
    await link('recover', '*');
    for (const s of f.plan!.steps.slice(1)) await link('resume', s.id);
  } catch (err) {
    table.add({ fault: `${label}SIGKILL chain, process ${kills.length + 1}`, expected: 'killed right after its step, then resumed', seen: `broke: ${(err as Error).message.split('\n')[0]}`, pass: false });
    throw err;
  }
  // the last resume: nothing left to do but to close the run
  const fin = orchestrate(args('resume'));
  const finExit = await fin.exit;
  f.keep(fin, 'resume-last');
  const finEvents = segmentOf(f.journal(), fin.pid);
  const plan = f.plan!;
  const steps = plan.steps;
  const end = await endState(lab, before, plan, f.journal());
  const total = Date.now() - t0;

  // one row per kill: what the journal held, and where the next process took over
  const rows = kills.map((k, j) => {
    const idx = steps.findIndex((s) => s.id === k.step);
    const s = steps[idx]!;
    const next = j + 1 < kills.length ? kills[j + 1]!.events : finEvents;
    const resumedAt = startsIn(next)[0];
    const noRunEnd = !runEndIn(k.events);
    const expectNext = steps[idx + 1]?.id;
    const pass =
      k.exit.signal === 'SIGKILL' &&
      k.held &&
      noRunEnd &&
      k.doneAtKill.join() === steps.slice(0, idx + 1).map((x) => x.id).join() &&
      resumedAt === expectNext &&
      // after the last step, the next process has no step left: it only closes the run
      (expectNext !== undefined || runEndIn(finEvents)?.outcome === 'done');
    return {
      fault: `${label}SIGKILL right after step ${idx + 1}/${steps.length} ${s.id} (${title(s)})`,
      expected: expectNext ? `journal: ${idx === 0 ? 'step 1' : `steps 1–${idx + 1}`} done, no run-end; \`resume\` starts at ${expectNext}, redoes nothing` : 'journal: every step done, no run-end; `resume` runs no step and closes the run',
      seen:
        `killed ${sec(k.ms)} after ${j === 0 ? '`recover`' : '`resume`'} started (${k.exit.signal ?? `exit ${k.exit.code}`}; held right after the step: ${k.held ? 'yes' : 'no'}); ` +
        `journal: ${k.doneAtKill.length} step${k.doneAtKill.length === 1 ? '' : 's'} done, last ${k.doneAtKill[k.doneAtKill.length - 1]}, ${noRunEnd ? 'no run-end' : 'a run-end'}; ` +
        (resumedAt ? `the next \`resume\` started at ${resumedAt}` : `the next \`resume\` started no step, run-end ${runEndIn(next)?.outcome ?? 'missing'}`),
      pass,
    };
  });
  for (const r of rows) table.add(r);
  table.add({
    fault: `${label}end state after a SIGKILL at each of the ${kills.length} step boundaries (${kills.length + 1} etcd-dr processes)`,
    expected: 'the last `resume` exits 0; every key back, hashkv equal, 3 started voting members, final env files, no lock, old data dirs and the bastion db copy kept, no incomplete copy left',
    seen: `last \`resume\` exit ${finExit.code}; ${describeEnd(end)}; the chain took ${sec(total)}`,
    pass: finExit.code === 0 && endStateGood(end, 3),
  });

  expect(rows.filter((r) => !r.pass)).toEqual([]);
  // every boundary of the plan was hit, once, in order
  expect(kills.map((k) => k.step)).toEqual(steps.map((s) => s.id));
  expect(startsIn(finEvents)).toEqual([]);
  expectFinished(finExit, finEvents, end, f);
}

// ---------------------------------------------------------------------------------------------------

const versions: string[] = [];

/** A describe block's lab: up with the suite's data before its tests, down (with any etcd-dr left) after. */
function labHooks(base: string, etcd: '3.4' | '3.5', set: (lab: LabState) => void): void {
  let lab: LabState | undefined;
  beforeAll(async () => {
    lab = await startLab(base, { etcd });
    set(lab);
    versions.push(await labEtcdVersion(lab));
    await loadKeys(lab, { keys: KEYS, mb: MIB });
  }, T);
  afterAll(async () => {
    for (const c of children) c.kill('SIGKILL');
    if (lab) await stopLab(lab);
  }, T);
}

afterAll(() => {
  table.save({
    etcd: versions.join(' (every fault); ') + (versions.length > 1 ? ' (the SIGKILL chain)' : ''),
    lab: `3 nodes on ${BASE}x${versions.length > 1 ? ` and, for etcd 3.5, ${BASE35}x` : ''}`,
    data: `${KEYS} keys + ${MIB} × 1 MiB values`,
    'suite time': sec(Date.now() - suiteStart),
  });
});

describe('etcd-dr killed or interrupted during a 3-node recovery (etcd 3.4)', () => {
  let lab: LabState;
  labHooks(BASE, '3.4', (l) => (lab = l));

  it('SIGKILL right after every step of the plan, chained: each `resume` takes over at the next step; nothing lost', () => sigkillChain(lab, ''), T);

  it('SIGKILL in the middle of every long step as it comes (etcd not serving yet, an add refused, a learner catching up): each resumed, nothing lost', async () => {
    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const f = new RunFiles(tempDir('etcd-dr-faults-signals-'));
    const t0 = Date.now();
    const kills: MidStepSignal[] = [];
    let o = orchestrate(['recover', '-i', lab.inventoryPath, '--state-dir', f.state, '--yes']);
    // each process runs until a long step after the last one killed is under way, and is killed there
    for (;;) {
      const k = await signalMidStep(lab, f, o, 'SIGKILL', kills.at(-1)?.idx ?? -1);
      if (!k) break;
      kills.push(k);
      o = orchestrate(['resume', '-i', lab.inventoryPath, '--state-dir', f.state]);
    }
    const finExit = await o.exit;
    const finEvents = segmentOf(f.journal(), o.pid);
    const plan = f.plan!;
    const end = await endState(lab, before, plan, f.journal());

    const rows = kills.map((k, j) => {
      const next = j + 1 < kills.length ? kills[j + 1]!.events : finEvents;
      const resumedAt = startsIn(next)[0];
      const redo = doneIn(next, k.step.id);
      const noRunEnd = !runEndIn(k.events);
      const notDone = !doneIn(k.events, k.step.id);
      return {
        fault: `SIGKILL in the middle of step ${k.idx + 1}/${plan.steps.length} ${k.step.id} (${title(k.step)}): ${k.why}`,
        expected: `${k.step.id} not recorded done, no run-end; \`resume\` runs it again from its start and it completes`,
        seen:
          `killed ${sec(k.intoStepMs)} into the step (${k.exit.signal ?? `exit ${k.exit.code}`}); journal: ${k.step.id} ${notDone ? 'not done' : 'DONE'}, ${noRunEnd ? 'no run-end' : 'a run-end'}; ` +
          `the next \`resume\` started at ${resumedAt ?? 'nothing'}: ${redo ? `${redo.outcome} in ${sec(redo.ms)}` : 'NOT done'}`,
        pass: k.exit.signal === 'SIGKILL' && notDone && noRunEnd && resumedAt === k.step.id && redo !== undefined,
      };
    });
    for (const r of rows) table.add(r);
    table.add({
      fault: `end state after ${kills.length} kills in the middle of steps`,
      expected: 'the last `resume` exits 0; every key back, hashkv equal, 3 started voting members, final env files, no lock, old data dirs and the bastion db copy kept, no incomplete copy left',
      seen: `last \`resume\` exit ${finExit.code}; ${describeEnd(end)}; the ${kills.length + 1} processes took ${sec(Date.now() - t0)}`,
      pass: finExit.code === 0 && endStateGood(end, 3),
    });

    expect(rows.filter((r) => !r.pass)).toEqual([]);
    expect(kills.length).toBeGreaterThanOrEqual(2);
    expectFinished(finExit, finEvents, end, f);
  }, T);

  it('SIGINT and SIGTERM during a step: the step finishes, exit 130 / 143, the journal says where, `resume` finishes', async () => {
    // the exit codes the test expects are the documented ones
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    expect(readme).toMatch(new RegExp(`^\\| ${EXIT.interrupted} \\| [^\\n]*SIGINT`, 'm'));
    expect(readme).toMatch(new RegExp(`^\\| ${EXIT.terminated} \\| [^\\n]*SIGTERM`, 'm'));

    const before = await keysOf(lab, 'etcd1');
    await breakAllDown(lab);
    const f = new RunFiles(tempDir('etcd-dr-faults-signals-'));
    const t0 = Date.now();
    const resume = () => orchestrate(['resume', '-i', lab.inventoryPath, '--state-dir', f.state]);

    const first = orchestrate(['recover', '-i', lab.inventoryPath, '--state-dir', f.state, '--yes']);
    const int = await signalMidStep(lab, f, first, 'SIGINT', -1);
    if (!int) throw new Error('the recovery ended before a long step could be interrupted');
    const second = resume();
    const term = await signalMidStep(lab, f, second, 'SIGTERM', int.idx);
    if (!term) throw new Error('the resumed run ended before a long step could be stopped');
    const last = resume();
    const lastExit = await last.exit;
    f.keep(last, 'resume-last');
    const lastEvents = segmentOf(f.journal(), last.pid);
    const plan = f.plan!;
    const end = await endState(lab, before, plan, f.journal());

    const check = (sig: 'SIGINT' | 'SIGTERM', code: number, r: MidStepSignal, nextEvents: JournalEvent[]) => {
      const nextId = plan.steps[r.idx + 1]?.id;
      const done = doneIn(r.events, r.step.id);
      const nextStarted = nextId !== undefined && startsIn(r.events).includes(nextId);
      const end = runEndIn(r.events);
      const resumedAt = startsIn(nextEvents)[0];
      const row = {
        fault: `${sig} while step ${r.idx + 1}/${plan.steps.length} ${r.step.id} runs (${title(r.step)}): ${r.why}`,
        expected: `${r.step.id} finishes, ${nextId} does not start; exit ${code}; journal run-end "interrupted" naming ${nextId}; \`resume\` starts there`,
        seen:
          `sent ${sec(r.intoStepMs)} into the step; exit ${r.exit.code ?? r.exit.signal} ${sec(r.exitMs)} after it; ${r.step.id} ${done ? `${done.outcome} (${sec(done.ms)})` : 'NOT done'}, ` +
          `${nextId} ${nextStarted ? 'STARTED' : 'not started'}; run-end ${end?.outcome ?? 'missing'}: "${end?.error ?? ''}"; the next \`resume\` started at ${resumedAt ?? 'nothing'}`,
        pass:
          r.exit.code === code &&
          done !== undefined &&
          !nextStarted &&
          end?.outcome === 'interrupted' &&
          (end.error ?? '').includes(`${sig}: stopped before step ${nextId}`) &&
          r.stderr.includes(`${sig}: finishing the current step`) &&
          resumedAt === nextId,
      };
      table.add(row);
      return { row, done, nextStarted, end };
    };
    const i = check('SIGINT', EXIT.interrupted, int, term.events);
    const t = check('SIGTERM', EXIT.terminated, term, lastEvents);
    table.add({
      fault: 'end state after the SIGINT and the SIGTERM',
      expected: 'the last `resume` exits 0; every key back, hashkv equal, 3 started voting members, final env files, no lock, old data dirs and the bastion db copy kept, no incomplete copy left',
      seen: `last \`resume\` exit ${lastExit.code}; ${describeEnd(end)}; the three processes took ${sec(Date.now() - t0)}`,
      pass: lastExit.code === 0 && endStateGood(end, 3),
    });

    expect(int.exit).toEqual({ code: EXIT.interrupted, signal: null });
    expect(term.exit).toEqual({ code: EXIT.terminated, signal: null });
    for (const x of [i, t]) {
      expect(x.done).toBeDefined();
      expect(x.nextStarted).toBe(false);
      expect(x.end).toMatchObject({ outcome: 'interrupted' });
      expect(x.row.pass).toBe(true);
    }
    expectFinished(lastExit, lastEvents, end, f);
  }, T);

  it("SIGKILL while a wait for etcd to serve polls on a node: the wait ends there with its connection, not at its deadline", async () => {
    // etcd3 stopped: the wait polls until its deadline (120 s), as while a member is slow to serve
    await labExec(lab, 'etcd3', ['systemctl', 'stop', 'etcd']);
    const child = spawn(process.execPath, [WAITER, lab.inventoryPath, 'etcd3', '120'], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    const out: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => out.push(c));
    // the wait's shell on the node (its command line holds the script; the bracket keeps pgrep's own out)
    const pids = await until('the wait polling on etcd3', undefined, async () => {
      const r = await labExec(lab, 'etcd3', ['pgrep', '-f', 'deadlin[e]=']);
      const p = r.stdout.trim().split('\n').filter(Boolean);
      return p.length ? p : undefined;
    }, 60_000);
    // which of those processes still run on etcd3
    const alive = async () => (await labExec(lab, 'etcd3', ['sh', '-c', `for p in ${pids.join(' ')}; do kill -0 $p 2>/dev/null && echo $p; done; true`])).stdout.trim();
    await sleep(1000);
    const pollingBefore = await alive();
    child.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => child.once('exit', r));
    children.delete(child);
    const goneMs = await until('the wait on etcd3 to end', undefined, async () => ((await alive()) === '' ? Date.now() - killedAt : undefined), 150_000);
    await labExec(lab, 'etcd3', ['systemctl', 'start', 'etcd']);
    const pass = pollingBefore !== '' && goneMs < 5000;
    table.add({
      fault: 'the process running a wait for etcd to serve (etcd3 stopped, the wait polling with a 120 s deadline) SIGKILLed',
      expected: "the wait's shell on the node ends within a poll or two of the lost connection (it writes a line per poll and dies of SIGPIPE), not at its deadline",
      seen: `wait shell pid ${pids.join(', ')} on etcd3 polling 1 s after it started: ${pollingBefore !== '' ? 'yes' : 'NO'}; gone ${sec(goneMs)} after the SIGKILL; the waiting process had printed: ${Buffer.concat(out).toString('utf8').trim().replace(/\n/g, ' | ')}`,
      pass,
    });
    expect(pollingBefore).not.toBe('');
    expect(goneMs).toBeLessThan(5000);
  }, T);
});

// etcd 3.5 restores with etcdutl and its members differ in how they start and join: every step boundary
// again, on a lab of its own
describe('etcd-dr killed right after every step of a 3-node recovery (etcd 3.5)', () => {
  let lab: LabState;
  labHooks(BASE35, '3.5', (l) => (lab = l));

  it('SIGKILL right after every step of the plan, chained, on etcd 3.5: each `resume` takes over at the next step; nothing lost', async () => {
    await sigkillChain(lab, `etcd ${await labEtcdVersion(lab)}: `);
  }, T);
});
