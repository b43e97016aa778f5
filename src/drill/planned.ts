/**
 * Drills of the planned membership changes: `scale-out`, `scale-in` and `replace` rehearsed on a
 * disposable cluster with the engine of `etcd-dr scale-out|scale-in|replace`, judged like a recovery drill
 * (nothing written before the change missing or changed, hashkv equal, membership as planned) and, from a
 * fresh `etcd-dr status` probe afterwards, on what the change itself must leave behind: env files that
 * agree with the membership, a new member serving with its own env file, a removed member stopped with
 * its data dir set aside.
 */
import type { RunResult } from '../apply/executor.js';
import { newRunId } from '../plan/run-id.js';
import type { ClusterFacts, NodeFacts } from '../facts/types.js';
import { clientUrl, peerUrl, type Inventory, type NodeSpec } from '../inventory/types.js';
import type { PlanContext } from '../plan/context.js';
import { planReplace, planScaleIn, planScaleOut } from '../plan/scale.js';
import { setAsideScript, stopScript } from '../plan/scripts.js';
import type { Plan } from '../plan/types.js';
import { shellQuote as q } from '../util/quote.js';
import { ApplyError, RefusedError } from '../util/errors.js';
import { captureKeyspace, captureSummary } from './capture.js';
import { completedCheck, keyChecks, verificationChecks, type Check } from './checks.js';
import type { DrillDeps, DrillOptions, DrillReport, Timings } from './types.js';
import type { PlannedScenario } from './scenarios.js';

/** The node a planned drill acts on, and the cluster it starts from. */
export interface DrillTarget {
  scenario: PlannedScenario;
  target: string;
  /** members when the drill starts, inventory order */
  members: string[];
  /** the member that led when the target was picked */
  leader?: string;
  description: string;
}

const membersOf = (inv: Inventory, facts: ClusterFacts): string[] =>
  inv.nodes.filter((n) => facts.assessment.members.some((m) => m.name === n.name)).map((n) => n.name);

const leaderOf = (facts: ClusterFacts): string | undefined => facts.assessment.members.find((m) => m.id === facts.assessment.leader)?.name;

/** Why a node that is not a member cannot join now, or undefined when it can. */
export function cannotJoin(f: NodeFacts | undefined): string | undefined {
  if (!f) return 'was not probed';
  if (!f.reachable) return `is unreachable (${f.error ?? 'no reason given'})`;
  if (f.endpoint || f.processRunning || f.service === 'active' || f.service === 'activating') return 'runs etcd';
  if (!f.versions.etcd) return 'has no etcd binary on its PATH';
  return undefined;
}

/**
 * The node the scenario acts on: `requested` (--target) when given, else scale-out's first node that can
 * join, scale-in's leader, replace's last member. Refuses (before anything is changed) a cluster the
 * scenario cannot run on, saying what it needs.
 */
export function pickTarget(scenario: PlannedScenario, inv: Inventory, facts: ClusterFacts, requested?: string): DrillTarget {
  const cluster = inv.cluster.name;
  const members = membersOf(inv, facts);
  const leader = leaderOf(facts);
  const n = members.length;
  const isMember = (x: string) => members.includes(x);
  const lab = `on the built-in lab: etcd-dr lab up --nodes ${n + 1} --members ${n}`;
  const base = { scenario, members, ...(leader ? { leader } : {}) };
  if (scenario === 'scale-out') {
    if (requested !== undefined) {
      if (isMember(requested)) {
        throw new RefusedError(`${requested} is already a member of cluster ${cluster}: scale-out adds a node that is not one`, `name an inventory node that is not a member (members: ${members.join(', ')})`);
      }
      return { ...base, target: requested, description: describeOut(requested, cluster, n) };
    }
    const others = inv.nodes.filter((s) => !isMember(s.name));
    if (!others.length) {
      throw new RefusedError(
        `the scale-out drill needs an inventory node that is not a member of cluster ${cluster}; every node of ${inv.file} is one (${members.join(', ')})`,
        `add a node with etcd installed and not running to ${inv.file} (${lab}), or shrink the cluster first: etcd-dr drill --scenario scale-in`,
      );
    }
    const why = others.map((s) => [s.name, cannotJoin(facts.nodes.find((f) => f.name === s.name))] as const);
    const ok = why.find(([, w]) => w === undefined);
    if (!ok) {
      throw new RefusedError(
        `the scale-out drill needs an inventory node that can join cluster ${cluster}: ${why.map(([name, w]) => `${name} ${w}`).join('; ')}`,
        'a node that joins must be reachable over SSH, have etcd installed and not run etcd',
      );
    }
    return { ...base, target: ok[0], description: describeOut(ok[0], cluster, n) };
  }
  if (requested !== undefined && !isMember(requested)) {
    throw new RefusedError(`${requested} is not a member of cluster ${cluster}: the ${scenario} drill acts on a member`, `members are: ${members.join(', ')}`);
  }
  if (scenario === 'scale-in') {
    if (n < 2) {
      throw new RefusedError(
        `the scale-in drill needs at least 2 members: removing the only member of cluster ${cluster} (${members.join(', ')}) would leave none`,
        'grow the cluster first: etcd-dr drill --scenario scale-out',
      );
    }
    const target = requested ?? leader ?? members[0]!;
    return {
      ...base,
      target,
      description: `${target}${target === leader ? ', the leader,' : ''} is removed from the healthy cluster ${cluster} (${n} → ${n - 1} members)${target === leader ? ', leadership handed over first' : ''}, while its data stays put`,
    };
  }
  if (n < 3) {
    throw new RefusedError(
      `the replace drill needs at least 3 members: while one is lost the others must keep the quorum, and cluster ${cluster} has ${n} (${members.join(', ')})`,
      'grow the cluster first: etcd-dr drill --scenario scale-out',
    );
  }
  const target = requested ?? members[n - 1]!;
  return {
    ...base,
    target,
    description: `${target}'s host is lost and comes back with its data dir gone; ${target} is replaced in place (removed, then added back empty as a learner and promoted)`,
  };
}

function describeOut(target: string, cluster: string, n: number): string {
  return `${target} joins the healthy cluster ${cluster} (${n} → ${n + 1} members) as a learner, is promoted, and every env file follows`;
}

/** Per-phase times of a membership change, from the plan's steps and the executor's durations. */
export type ChangeTimings = Pick<Timings, 'removesMs' | 'joinsMs' | 'envSyncMs' | 'verifyMs' | 'totalMs'> & Partial<Pick<Timings, 'moveLeaderMs'>>;

export function changeTimings(plan: Plan, r: RunResult): ChangeTimings {
  const ms = new Map(r.steps.map((s) => [s.id, s.ms]));
  const removesMs: Record<string, number> = {};
  const joinsMs: Record<string, number> = {};
  let moveLeaderMs: number | undefined;
  let envSyncMs = 0;
  let verifyMs = 0;
  let removing: string | undefined;
  for (const s of plan.steps) {
    const t = ms.get(s.id) ?? 0;
    const a = s.action;
    if (a.type === 'move-leader') {
      removing = a.from;
      moveLeaderMs = (moveLeaderMs ?? 0) + t;
    }
    if (a.type === 'member-remove') removing = a.name;
    if (s.phase === 'remove' && removing) removesMs[removing] = (removesMs[removing] ?? 0) + t;
    // a joiner's data dir is moved aside in the join phase before the steps tagged with its join
    const joiner = s.join ?? (s.phase === 'join' ? s.node : undefined);
    if (joiner) joinsMs[joiner] = (joinsMs[joiner] ?? 0) + t;
    if (s.phase === 'finalize') envSyncMs += t;
    if (s.phase === 'verify') verifyMs += t;
  }
  return { removesMs, joinsMs, ...(moveLeaderMs !== undefined ? { moveLeaderMs } : {}), envSyncMs, verifyMs, totalMs: r.ms };
}

const factsOf = (facts: ClusterFacts, name: string) => facts.nodes.find((n) => n.name === name);

/** The env file of `name` names it and its own URLs. Problems, or none. */
function ownEnvProblems(f: NodeFacts | undefined, spec: NodeSpec): string[] {
  const env = f?.env;
  if (!env?.exists) return [`no ${spec.etcd.envFile}`];
  const v = env.vars;
  const p: string[] = [];
  if (v.ETCD_NAME !== spec.name) p.push(`ETCD_NAME=${v.ETCD_NAME ?? ''}`);
  if (!(v.ETCD_INITIAL_ADVERTISE_PEER_URLS ?? '').split(',').includes(peerUrl(spec))) p.push(`ETCD_INITIAL_ADVERTISE_PEER_URLS=${v.ETCD_INITIAL_ADVERTISE_PEER_URLS ?? ''}`);
  if (!(v.ETCD_ADVERTISE_CLIENT_URLS ?? '').split(',').includes(clientUrl(spec))) p.push(`ETCD_ADVERTISE_CLIENT_URLS=${v.ETCD_ADVERTISE_CLIENT_URLS ?? ''}`);
  return p;
}

/** The joined member is a voting member that serves, with its own env file. Problems, or none. */
function joinedProblems(after: ClusterFacts, spec: NodeSpec): { problems: string[]; id?: string; revision?: number } {
  const m = after.assessment.members.find((x) => x.name === spec.name);
  const f = factsOf(after, spec.name);
  const problems: string[] = [];
  if (!m) problems.push('not in the member list');
  else if (m.isLearner) problems.push('still a learner');
  if (!f?.healthy || !f.endpoint) problems.push(`does not serve clients${f?.healthError ? ` (${f.healthError})` : ''}`);
  problems.push(...ownEnvProblems(f, spec).map((x) => `env file: ${x}`));
  return { problems, ...(m ? { id: m.id } : {}), ...(f?.endpoint ? { revision: f.endpoint.revision } : {}) };
}

export interface PlannedCheckInput {
  pick: DrillTarget;
  inventory: Inventory;
  plan: Plan;
  result: RunResult;
  /** facts when the drill started (before any injection) */
  before: ClusterFacts;
  /** facts probed once the change was applied */
  after: ClusterFacts;
}

/** What the change must leave behind, judged from a fresh probe of every node. Pure. */
export function plannedChecks(x: PlannedCheckInput): Check[] {
  const { pick, inventory: inv, plan, result, before, after } = x;
  const spec = (name: string) => inv.nodes.find((n) => n.name === name)!;
  const final = plan.finalMembers;
  const checks: Check[] = [];
  const names = membersOf(inv, after);
  const a = after.assessment;
  const healthy = a.verdict === 'healthy' && [...names].sort().join(',') === [...final].sort().join(',');
  checks.push({
    name: 'etcd-dr status after the change: healthy, members as planned',
    pass: healthy,
    evidence: `${a.verdict}: ${a.reasons.join('; ')}; members ${names.join(', ') || 'none'}${healthy ? '' : ` (planned: ${final.join(', ')})`}`,
  });

  // every member's env file lists exactly the membership, with state existing and its own name
  const expected = final.map((m) => `${m}=${peerUrl(spec(m))}`);
  const envProblems: string[] = [];
  for (const m of final) {
    const env = factsOf(after, m)?.env;
    if (!env?.exists) {
      envProblems.push(`${m}: no ${spec(m).etcd.envFile}`);
      continue;
    }
    const listed = (env.vars.ETCD_INITIAL_CLUSTER ?? '').split(',').filter(Boolean);
    if ([...listed].sort().join(',') !== [...expected].sort().join(',')) envProblems.push(`${m}: ETCD_INITIAL_CLUSTER=${env.vars.ETCD_INITIAL_CLUSTER ?? ''}`);
    if (env.vars.ETCD_INITIAL_CLUSTER_STATE !== 'existing') envProblems.push(`${m}: ETCD_INITIAL_CLUSTER_STATE=${env.vars.ETCD_INITIAL_CLUSTER_STATE ?? ''}`);
    if (env.vars.ETCD_NAME !== m) envProblems.push(`${m}: ETCD_NAME=${env.vars.ETCD_NAME ?? ''}`);
  }
  checks.push({
    name: 'env files agree with the membership',
    pass: envProblems.length === 0,
    evidence: envProblems.length
      ? `expected ETCD_INITIAL_CLUSTER=${expected.join(',')}; ${envProblems.join('; ')}`
      : `${final.join(', ')}: ETCD_INITIAL_CLUSTER=${expected.join(',')}, state existing, each its own ETCD_NAME`,
  });

  const t = spec(pick.target);
  if (pick.scenario === 'scale-out') {
    const j = joinedProblems(after, t);
    checks.push({
      name: `${t.name} joined: a voting member serving clients with its own env file`,
      pass: j.problems.length === 0,
      evidence: j.problems.length ? j.problems.join('; ') : `member ${j.id}, serving at revision ${j.revision}; ${t.etcd.envFile} names ${t.name} and its own URLs`,
    });
  } else if (pick.scenario === 'replace') {
    const j = joinedProblems(after, t);
    const oldId = before.assessment.members.find((m) => m.name === t.name)?.id;
    if (oldId && j.id === oldId) j.problems.push(`still member ${oldId}: not a new member`);
    checks.push({
      name: `${t.name} replaced in place: a new member serving clients with its own env file`,
      pass: j.problems.length === 0 && j.id !== undefined,
      evidence: j.problems.length ? j.problems.join('; ') : `member ${oldId ?? '?'} removed, ${t.name} back as member ${j.id}, serving at revision ${j.revision}; ${t.etcd.envFile} names ${t.name} and its own URLs`,
    });
  } else {
    const step = plan.steps.find((s) => s.action.type === 'move-leader' && s.action.from === t.name);
    const outcome = step ? result.steps.find((s) => s.id === step.id)?.outcome : undefined;
    const now = leaderOf(after);
    const handed = (outcome === 'done' || outcome === 'already') && now !== undefined && now !== t.name;
    checks.push({
      name: `leadership handed over before ${t.name} was removed`,
      pass: handed,
      evidence: !step
        ? 'the plan has no leadership step'
        : outcome === 'done'
          ? `${t.name} led when the step ran: leadership moved before the removal; leader now ${now ?? 'unknown'}`
          : outcome === 'already'
            ? `${t.name} did not lead when the step ran (${pick.leader === t.name ? 'leadership changed after the drill picked it' : `the leader was ${pick.leader ?? 'unknown'}`}): nothing to hand over; leader now ${now ?? 'unknown'}`
            : `the step ended ${outcome ?? 'without a result'}; leader now ${now ?? 'unknown'}`,
    });
    const f = factsOf(after, t.name);
    const aside = plan.steps.find((s) => s.action.type === 'move-data-dir' && s.node === t.name)?.action;
    const to = aside?.type === 'move-data-dir' ? aside.to : undefined;
    const problems: string[] = [];
    if (a.members.some((m) => m.name === t.name)) problems.push('still in the member list');
    if (!f?.reachable) problems.push(`cannot be probed (${f?.error ?? 'not probed'})`);
    else {
      if (f.processRunning || f.endpoint || f.service === 'active' || f.service === 'activating') problems.push(`etcd still runs (service ${f.service})`);
      if (f.dataDir?.exists) problems.push(`${t.etcd.dataDir} is still there`);
      if (!to) problems.push('the plan sets no data dir aside');
      else if (!f.dataDir?.movedAside.includes(to)) problems.push(`${to} not found (set aside: ${f.dataDir?.movedAside.join(', ') || 'none'})`);
    }
    checks.push({
      name: `${t.name} left: etcd stopped, data dir set aside`,
      pass: problems.length === 0,
      evidence: problems.length ? problems.join('; ') : `not a member; etcd ${f!.service}; ${t.etcd.dataDir} kept as ${to}`,
    });
  }
  return checks;
}

async function sh(d: DrillDeps, n: NodeSpec, script: string, what: string, timeout = 90): Promise<string> {
  const r = await (await d.transport.connect(n)).sh(script, { timeout });
  if (r.code !== 0) throw new ApplyError(`${n.name}: ${what} failed: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** `systemctl disable` etcd and say whether it was enabled; `enable` it again. */
async function bootSetting(d: DrillDeps, n: NodeSpec, to: 'disable' | 'enable'): Promise<boolean> {
  const svc = q(n.etcd.service);
  const script =
    to === 'disable'
      ? `if systemctl is-enabled --quiet ${svc} 2>/dev/null; then systemctl disable ${svc} >/dev/null 2>&1 || exit 1; echo etcd-dr:was-enabled; else echo etcd-dr:was-disabled; fi`
      : `systemctl enable ${svc} >/dev/null 2>&1 && echo etcd-dr:enabled`;
  const out = await sh(d, n, script, `systemctl ${to} ${n.etcd.service}`, 60);
  return /etcd-dr:was-enabled/.test(out);
}

/**
 * The remaining members serve without the lost one: probed until they do (a lost leader costs an election)
 * or a minute has passed. The evidence says how long after the loss they served.
 */
async function quorumWhileLost(d: DrillDeps, t: NodeSpec, lostAt: number): Promise<Check> {
  const name = `the quorum held while ${t.name} was lost`;
  for (;;) {
    const a = (await d.gather()).assessment;
    const ok = a.verdict === 'degraded' && a.healthyVoting >= a.quorum;
    const waited = Date.now() - lostAt;
    if (ok || waited > 60_000) {
      return { name, pass: ok, evidence: `${a.verdict}: ${a.reasons.join('; ')}${ok ? ` (the others served ${(waited / 1000).toFixed(1)} s after the loss)` : ''}` };
    }
    d.note(`the other members do not serve yet (${a.verdict}: ${a.reasons[0] ?? ''}); probing again`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * replace's injection: the member's host is lost and comes back with an empty disk. Through the lab it
 * is powered off while it serves and powered on again; etcd is disabled at boot for that power cycle, so
 * the host does not start etcd from the data it had (a rebuilt host has none), and enabled again once
 * the data dir is gone. Without the lab its etcd is stopped instead. Either way the data dir is moved
 * aside (kept), and while the member is away the others must keep the quorum.
 */
async function loseAndWipe(d: DrillDeps, t: NodeSpec, drillId: string, report: DrillReport): Promise<Check> {
  const aside = `${t.etcd.dataDir}.etcd-dr-drill-${drillId}`;
  let held: Check;
  if (d.powerOff && d.powerOn) {
    const wasEnabled = await bootSetting(d, t, 'disable');
    try {
      d.note(`powering ${t.name} off while it serves`);
      await d.powerOff(t.name);
      report.notes.push(`${t.name} powered off while serving (every process of the host killed at once)`);
      held = await quorumWhileLost(d, t, Date.now());
      d.note(`powering ${t.name} on again (etcd disabled at boot for this power cycle) and wiping its data dir`);
      await d.powerOn(t.name);
      await sh(d, t, setAsideScript(t.etcd.dataDir, `etcd-dr-drill-${drillId}`), 'moving the data dir aside for the drill');
    } finally {
      if (wasEnabled) await bootSetting(d, t, 'enable');
    }
    report.notes.push(`${t.name} powered on with etcd disabled at boot for that power cycle (enabled again afterwards), so it came back without starting etcd`);
  } else {
    await sh(d, t, stopScript(t, 60), 'stopping etcd for the drill');
    report.notes.push(`${t.name}'s etcd stopped (without --lab-dir the host's loss is played by stopping etcd there)`);
    held = await quorumWhileLost(d, t, Date.now());
    await sh(d, t, setAsideScript(t.etcd.dataDir, `etcd-dr-drill-${drillId}`), 'moving the data dir aside for the drill');
  }
  report.notes.push(`${t.name}'s data dir moved to ${aside} (its member/ into ${t.etcd.dataDir}/etcd-dr-drill-${drillId} where the data dir is a mount point): the host came back with an empty disk`);
  return held;
}

/**
 * Runs a planned drill from a healthy cluster (`start`). scale-out and scale-in are planned before
 * anything is read or changed, so a cluster they cannot run on is refused untouched; replace is planned
 * after its injection, like a recovery. A failed change is a failed drill, reported with its error.
 */
export async function runPlannedDrill(d: DrillDeps, o: DrillOptions & { scenario: PlannedScenario }, report: DrillReport, start: ClusterFacts): Promise<void> {
  const inv = d.inventory;
  const spec = (name: string) => inv.nodes.find((n) => n.name === name)!;
  const pick = pickTarget(o.scenario, inv, start, o.target);
  report.target = pick.target;
  report.description = pick.description;
  report.members = { before: pick.members };
  const ctx = (facts: ClusterFacts): PlanContext => ({ inventory: inv, facts, runId: d.runId, now: new Date(), toolVersion: d.toolVersion, lockFile: d.lockFile, holder: d.holder });
  let plan: Plan | undefined;
  if (o.scenario !== 'replace') {
    plan = o.scenario === 'scale-out' ? planScaleOut(ctx(start), { kind: 'scale-out', nodes: [pick.target] }) : planScaleIn(ctx(start), { kind: 'scale-in', members: [pick.target] });
    report.runId = plan.runId;
    await d.confirm(plan);
  }
  const serving = (name: string) => {
    const f = factsOf(start, name);
    return Boolean(f?.reachable && f.endpoint && f.healthy);
  };
  const reader = spec(pick.members.find((m) => m !== pick.target && serving(m)) ?? pick.members[0]!);
  d.note(`capturing the keyspace through ${reader.name} (what must survive)`);
  const before = await captureKeyspace(reader, await d.transport.connect(reader));
  report.before = captureSummary(before);
  report.timings.captureBeforeMs = before.ms;

  const i0 = Date.now();
  if (o.scenario === 'replace') {
    d.note(`injecting: ${pick.description}`);
    report.checks.push(await loseAndWipe(d, spec(pick.target), newRunId().toLowerCase(), report));
  }
  report.timings.injectMs = Date.now() - i0;

  let result: RunResult | undefined;
  try {
    if (!plan) {
      plan = planReplace(ctx(await d.gather()), { kind: 'replace', member: pick.target });
      report.runId = plan.runId;
      await d.confirm(plan);
    }
    const run = d.runDirFor(plan);
    report.runDir = run.dir;
    result = await d.execute(plan, run);
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    report.checks.push({ name: `${o.scenario} completed`, pass: false, evidence: report.error });
  }
  if (plan) report.notes.push(...plan.warnings.map((w) => `plan: ${w}`));
  if (!plan || !result) return;
  if (o.scenario === 'replace') report.timings.degradedMs = Date.now() - i0;
  report.checks.push(completedCheck(`${o.scenario} completed`, result, plan.summary));
  report.timings = { ...report.timings, ...changeTimings(plan, result) };
  report.members.after = plan.finalMembers;
  report.checks.push(...verificationChecks(plan, result.verification));
  try {
    d.note('probing every node (etcd-dr status) after the change');
    const after = await d.gather();
    report.checks.push(...plannedChecks({ pick, inventory: inv, plan, result, before: start, after }));
  } catch (err) {
    report.checks.push({ name: 'etcd-dr status after the change: healthy, members as planned', pass: false, evidence: (err as Error).message });
  }
  // read back through the member that changed when it is one (it must serve everything), else the last one
  const via = spec(plan.finalMembers.includes(pick.target) ? pick.target : plan.finalMembers[plan.finalMembers.length - 1]!);
  try {
    const after = await captureKeyspace(via, await d.transport.connect(via));
    report.after = captureSummary(after);
    report.timings.captureAfterMs = after.ms;
    const k = keyChecks(before, after, 'the change');
    report.missingKeys = k.missing;
    report.changedKeys = k.changed;
    report.checks.push(...k.checks);
  } catch (err) {
    report.checks.push({ name: 'keyspace readable after the change', pass: false, evidence: (err as Error).message });
  }
}
