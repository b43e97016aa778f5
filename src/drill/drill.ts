/**
 * A DR drill on a disposable cluster: capture what must survive, inject a failure (or not, for a planned
 * change), act with the same engine as `etcd-dr recover` (or `scale-out`, `scale-in`, `replace`), capture
 * again, and judge: pass only when nothing written before is missing or changed. Timings per phase come
 * from the executor's own step results.
 */
import type { RunResult } from '../apply/executor.js';
import { newRunId } from '../plan/run-id.js';
import type { NodeSpec } from '../inventory/types.js';
import { readFileSync } from 'node:fs';
import { planRecovery } from '../plan/restore-all.js';
import { setAsideScript, stopScript } from '../plan/scripts.js';
import type { Plan } from '../plan/types.js';
import { etcdctlArgv } from '../etcd/commands.js';
import { etcdTarget } from '../etcd/node.js';
import { ApplyError, RefusedError } from '../util/errors.js';
import { captureKeyspace, captureSummary, type Capture } from './capture.js';
import { ackedCheck } from './acked.js';
import { completedCheck, keyChecks, verificationChecks } from './checks.js';
import { runPlannedDrill } from './planned.js';
import { isPlanned, SCENARIO_TEXT } from './scenarios.js';
import type { DrillDeps, DrillOptions, DrillReport, Timings } from './types.js';

export { SCENARIOS, SCENARIO_TEXT, type Scenario } from './scenarios.js';
export type { Check } from './checks.js';
export type { DrillDeps, DrillOptions, DrillReport, Timings } from './types.js';

const now = () => new Date().toISOString();

function strategyText(p: Plan): string | undefined {
  return p.strategy ? `${p.strategy.name} (${p.strategy.chosenBy === 'auto' ? 'chosen by --strategy auto' : p.strategy.chosenBy === 'flag' ? '--strategy' : 'the default'})` : undefined;
}

async function stopAll(d: DrillDeps, nodes: NodeSpec[]): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const c = await d.transport.connect(n);
      const r = await c.sh(stopScript(n, 60), { timeout: 90 });
      if (r.code !== 0) throw new ApplyError(`${n.name}: stopping etcd for the drill failed: ${r.stderr.trim()}`);
    }),
  );
}

/** Writes `count` keys under `/etcd-dr-drill/<id>/late/` in transactions of 100 through `via`. */
async function writeLateKeys(d: DrillDeps, via: NodeSpec, id: string, count: number): Promise<void> {
  const c = await d.transport.connect(via);
  for (let i = 0; i < count; i += 100) {
    const ops: string[] = [];
    for (let k = i; k < Math.min(count, i + 100); k++) ops.push(`put /etcd-dr-drill/${id}/late/key-${String(k).padStart(5, '0')} written-after-the-stale-member-stopped-${k}`);
    const stdin = `\n${ops.join('\n')}\n\n\n`;
    const r = await c.exec(etcdctlArgv(etcdTarget(via, undefined, 30_000), ['txn']), { stdin, timeout: 60 });
    if (r.code !== 0 || !/SUCCESS/.test(r.stdout)) throw new ApplyError(`${via.name}: writing the drill's keys failed: ${r.stderr.trim() || r.stdout.trim()}`);
  }
}

/** Runs one drill. Never throws for a failed recovery: that is a failed drill, reported with its error. */
export async function runDrill(d: DrillDeps, o: DrillOptions): Promise<DrillReport> {
  const inv = d.inventory;
  const report: DrillReport = {
    tool: { name: 'etcd-dr', version: d.toolVersion },
    cluster: inv.cluster.name,
    inventory: inv.file,
    scenario: o.scenario,
    kind: isPlanned(o.scenario) ? 'planned' : 'recovery',
    description: SCENARIO_TEXT[o.scenario],
    pass: false,
    startedAt: now(),
    finishedAt: '',
    excluded: [],
    checks: [],
    timings: {},
    missingKeys: [],
    changedKeys: [],
    notes: [],
  };
  if (!inv.cluster.disposable) {
    throw new RefusedError(`cluster ${inv.cluster.name} is not marked disposable: a drill stops etcd and moves data dirs aside`, `set \`cluster.disposable: true\` in ${inv.file}, or pass --disposable, for a cluster you may break`);
  }
  const start = await d.gather();
  if (start.assessment.verdict !== 'healthy') {
    throw new RefusedError(`a drill starts from a healthy cluster; ${inv.cluster.name} is ${start.assessment.verdict}: ${start.assessment.reasons.join('; ')}`, 'bring the cluster back first (etcd-dr status tells what is wrong)');
  }
  const t0 = Date.now();
  if (isPlanned(o.scenario)) {
    await runPlannedDrill(d, { ...o, scenario: o.scenario }, report, start);
    return finish(report, t0);
  }
  const nodes = inv.nodes;
  const first = nodes[0]!;
  const last = nodes[nodes.length - 1]!;
  const drillId = newRunId().toLowerCase();
  let before: Capture;
  let excluded: string[] = [];
  if (o.scenario === 'survivor-stale') {
    if (nodes.length < 3) throw new RefusedError('survivor-stale needs at least 3 members (one stopped early, a quorum still writing)');
    d.note(`stopping etcd on ${first.name} first; it will hold stale data`);
    await stopAll(d, [first]);
    const writer = nodes[1]!;
    await writeLateKeys(d, writer, drillId, o.lateKeys ?? 200);
    report.notes.push(`${first.name} stopped first; ${o.lateKeys ?? 200} keys written under /etcd-dr-drill/${drillId}/late/ after that`);
    d.note('capturing the keyspace (what must survive)');
    before = await captureKeyspace(writer, await d.transport.connect(writer));
  } else {
    d.note('capturing the keyspace (what must survive)');
    before = await captureKeyspace(first, await d.transport.connect(first));
  }
  report.before = captureSummary(before);
  report.timings.captureBeforeMs = before.ms;
  const i0 = Date.now();
  d.note(`injecting: ${SCENARIO_TEXT[o.scenario]}`);
  switch (o.scenario) {
    case 'all-down':
    case 'survivor-stale':
      await stopAll(d, nodes);
      break;
    case 'majority-lost': {
      await stopAll(d, nodes);
      const keeper = nodes.find((n) => n.name === (o.survivor ?? first.name)) ?? first;
      for (const n of nodes.filter((x) => x !== keeper)) {
        const c = await d.transport.connect(n);
        const r = await c.sh(setAsideScript(n.etcd.dataDir, `etcd-dr-drill-${drillId}`), { timeout: 60 });
        if (r.code !== 0) throw new ApplyError(`${n.name}: moving the data dir aside for the drill failed: ${r.stderr.trim()}`);
      }
      report.notes.push(`data dirs of ${nodes.filter((x) => x !== keeper).map((n) => n.name).join(', ')} moved to <dataDir>.etcd-dr-drill-${drillId} (into <dataDir>/etcd-dr-drill-${drillId} where the data dir is a mount point); ${keeper.name} holds the only copy`);
      break;
    }
    case 'node-lost': {
      await stopAll(d, nodes.filter((n) => n !== last));
      if (d.powerOff) {
        await d.powerOff(last.name);
        report.notes.push(`${last.name} powered off`);
      } else {
        await stopAll(d, [last]);
        report.notes.push(`${last.name} treated as lost: etcd stopped there and the recovery leaves it out`);
      }
      excluded = [last.name];
      break;
    }
  }
  report.timings.injectMs = Date.now() - i0;
  report.excluded = excluded;

  // recover with the engine of `etcd-dr recover`
  let result: RunResult | undefined;
  let plan: Plan | undefined;
  try {
    // a powered-off node whose connection is not yet seen as gone loses it during the probe: gather reports it unreachable
    const facts = await d.gather();
    plan = planRecovery(
      { inventory: inv, facts, runId: d.runId, now: new Date(), toolVersion: d.toolVersion, lockFile: d.lockFile, holder: d.holder, ...(d.link ? { link: d.link } : {}), ...(d.peer ? { peer: d.peer } : {}) },
      {
        kind: 'recover', exclude: excluded, learner: true, force: false, localBackup: true, backupDir: d.backupDir,
        ...(o.survivor ? { survivor: o.survivor } : {}), ...(o.strategy ? { strategy: o.strategy } : {}),
      },
    );
    report.runId = plan.runId;
    report.survivor = plan.survivor?.name;
    report.strategy = strategyText(plan);
    await d.confirm(plan);
    const run = d.runDirFor(plan);
    report.runDir = run.dir;
    try {
      result = await d.execute(plan, run);
    } finally {
      // a restore-all that failed went on as rejoin: the run's plan says what ran
      const ran = JSON.parse(readFileSync(run.planPath, 'utf8')) as Plan;
      if (ran.strategy?.name !== plan.strategy?.name) {
        report.strategy = `${strategyText(ran)} after restore-all failed`;
        plan = ran;
      }
    }
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    report.checks.push({ name: 'recovery completed', pass: false, evidence: report.error });
  }
  if (plan && result) {
    report.checks.push(completedCheck('recovery completed', result));
    report.timings = { ...report.timings, ...timingsOf(plan, result) };
    report.checks.push(...verificationChecks(plan, result.verification));
    report.checks.push({ name: 'env files list every member (state existing)', pass: true, evidence: 'checked on every member by the verification step' });
    // after: the same capture through a member of the new cluster
    const via = inv.nodes.find((n) => n.name === plan!.finalMembers[plan!.finalMembers.length - 1])!;
    try {
      // read before the capture: every write in it was acknowledged before the capture's revision
      const acked = d.ackedWrites?.();
      const after = await captureKeyspace(via, await d.transport.connect(via));
      if (acked) report.checks.push(ackedCheck(acked, after));
      report.after = captureSummary(after);
      report.timings.captureAfterMs = after.ms;
      const k = keyChecks(before, after);
      report.missingKeys = k.missing;
      report.changedKeys = k.changed;
      report.checks.push(...k.checks);
    } catch (err) {
      report.checks.push({ name: 'keyspace readable after the recovery', pass: false, evidence: (err as Error).message });
    }
  }
  return finish(report, t0);
}

function finish(report: DrillReport, t0: number): DrillReport {
  report.pass = report.checks.length > 0 && report.checks.every((c) => c.pass);
  report.finishedAt = now();
  report.timings.totalMs ??= Date.now() - t0;
  return report;
}

/** Per-phase timings from the plan's phases and the executor's step durations. */
export function timingsOf(plan: Plan, r: RunResult): Pick<Timings, 'stopMs' | 'backupMs' | 'restoreMs' | 'firstMemberServingMs' | 'joinsMs' | 'verifyMs' | 'totalMs'> {
  const ms = new Map(r.steps.map((s) => [s.id, s.ms]));
  const sum = (pred: (s: Plan['steps'][number]) => boolean) => plan.steps.filter(pred).reduce((a, s) => a + (ms.get(s.id) ?? 0), 0);
  const firstIdx = plan.steps.map((s) => s.phase).lastIndexOf('first-member');
  const firstMemberServingMs = plan.steps.slice(0, firstIdx + 1).reduce((a, s) => a + (ms.get(s.id) ?? 0), 0);
  const joinsMs: Record<string, number> = {};
  for (const s of plan.steps) if (s.join) joinsMs[s.join] = (joinsMs[s.join] ?? 0) + (ms.get(s.id) ?? 0);
  return {
    stopMs: sum((s) => s.phase === 'stop'),
    backupMs: sum((s) => s.phase === 'backup'),
    restoreMs: sum((s) => s.phase === 'restore'),
    firstMemberServingMs,
    joinsMs,
    verifyMs: sum((s) => s.phase === 'verify'),
    totalMs: r.ms,
  };
}

