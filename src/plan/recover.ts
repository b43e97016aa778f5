/**
 * The quorum-loss recovery (rejoin): which survivor, which members, in which order, and what a reviewer is
 * warned of; the steps are spelled by the plan builder (builder.ts). Pure.
 */
import { canonFacts } from '../facts/assess.js';
import { peerUrl, type NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { initialCluster, StepBuilder } from './builder.js';
import { otherLocks, type PlanContext } from './context.js';
import { envLintWarnings } from './envcheck.js';
import { withHooks } from './hooks.js';
import { BUMP_REVISION, restoreCapabilities } from './restore-tool.js';
import { inventoryFingerprint } from './seal.js';
import { chooseSurvivor } from './survivor.js';
import { dataDirRow, layoutOf, refuseWalDir, roomCheck } from './datadir-layout.js';
import { refuseUnfinished } from './unfinished.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type Plan, type RecoverIntent } from './types.js';

/** Plan the quorum-loss recovery of procedure.md: one survivor restored alone, the others re-added one by one. */
export function planRecover(ctx: PlanContext, intent: RecoverIntent): Plan {
  const { inventory, facts, runId } = ctx;
  const a = facts.assessment;
  const unknown = [...intent.exclude, ...(intent.survivor ? [intent.survivor] : [])].filter((n) => !inventory.nodes.some((s) => s.name === n));
  if (unknown.length) {
    throw new RefusedError(`not in the inventory: ${unknown.join(', ')}`, `members are: ${inventory.nodes.map((n) => n.name).join(', ')}`);
  }
  // another run's lock is said first: while that run works, the cluster looks like anything (half restored)
  const lock = otherLocks(ctx, { breakLock: intent.breakLock === true, flag: true });
  if (a.verdict !== 'quorum-lost' && !intent.force) {
    throw new RefusedError(
      `the cluster is ${a.verdict}, not quorum-lost: ${a.reasons.join('; ')}`,
      'a cluster that still has a quorum is changed with scale-in, scale-out or replace; --force plans a recovery anyway (it restarts the cluster from one member)',
    );
  }
  const specOf = (name: string) => inventory.nodes.find((s) => s.name === name)!;
  const factOf = (name: string) => facts.nodes.find((n) => n.name === name)!;
  const unreachable = facts.nodes.filter((n) => !n.reachable && !intent.exclude.includes(n.name));
  if (unreachable.length) {
    throw new RefusedError(
      `cannot reach ${unreachable.map((n) => `${n.name} (${n.error ?? 'unreachable'})`).join(', ')}`,
      `bring the node back, or leave it out with ${unreachable.map((n) => `--exclude ${n.name}`).join(' ')} (the cluster then comes back without it)`,
    );
  }
  const breakRun = lock.breakRun;
  // a run that set data aside and did not end: said before anything else, it is resumed, not started over
  const unfinished = refuseUnfinished(ctx, intent);
  const choice = chooseSurvivor(facts.nodes, { survivor: intent.survivor, exclude: intent.exclude });
  const survivor = specOf(choice.name);
  const survivorFacts = factOf(choice.name);
  const reachable = facts.nodes.filter((n) => n.reachable).map((n) => n.name);
  const members = inventory.nodes.filter((s) => !intent.exclude.includes(s.name));
  const joiners = members.filter((s) => s.name !== survivor.name);
  const warnings = [...choice.warnings, ...lock.warnings, ...unfinished];
  for (const x of intent.exclude) warnings.push(`${x} is excluded: the cluster comes back without it (${members.length} members); add it later with scale-out`);
  // every member writes a new data dir beside the one moved aside: the survivor by the restore, the others
  // from the leader's snapshot; a full disk fails that step (nothing is lost), but a reviewer should know first
  // (in a data dir that is a mount point that is refused instead: see datadir-layout.ts)
  for (const m of members) refuseWalDir(m, factOf(m.name));
  const dbBytes = choice.source ? survivorFacts.dataDir?.setAside?.find((d) => d.path === choice.source!.path)?.dbBytes : survivorFacts.dataDir?.dbBytes;
  if (dbBytes !== undefined) {
    for (const m of members) {
      const w = roomCheck(m, factOf(m.name), dbBytes, m.name === survivor.name ? 'the restore' : 'its copy of the db from the leader');
      if (w) warnings.push(w);
    }
  }

  const b = new StepBuilder(runId);
  b.lock(reachable, { lockFile: ctx.lockFile, holder: ctx.holder, ...(breakRun ? { breakRun } : {}), ...(lock.breakEmpty ? { breakEmpty: true } : {}) });
  b.stopAll(reachable.map(specOf), 'no member may run while the cluster is rebuilt; a graceful stop also commits the last WAL entries into the db');
  for (const m of members) {
    const f = factOf(m.name);
    if (!f.dataDir?.exists) continue;
    b.moveAside(
      m,
      f,
      'backup',
      m.name === survivor.name
        ? choice.source
          ? `the survivor is restored from ${choice.source.path}, which holds fresher data; this one is kept beside too, untouched`
          : 'the survivor is restored from this copy; nothing is deleted'
        : 'the member rejoins with an empty data dir; its old data stays beside it, untouched',
    );
  }
  // the freshest data may sit in a dir an interrupted run set aside: the restore reads that db, read-only
  const survivorDb = choice.source?.db ?? `${b.asidePath(survivor, survivorFacts)}/member/snap/db`;
  const backupPath = intent.localBackup ? `${intent.backupDir}/${runId}/${survivor.name}-db` : undefined;
  const alongside = !intent.backupBeforeRestore;
  if (backupPath) {
    b.backupDb(
      survivor,
      survivorDb,
      backupPath,
      alongside,
      alongside
        ? 'a copy of the only data that matters, on the bastion. It runs alongside the next steps, so a large db does not hold ' +
            'the recovery up: the restore only reads this db, and it stays kept aside on the node'
        : 'a copy of the only data that matters, on the bastion, before anything is restored (--backup-before-restore)',
    );
  }
  const { tool, bump } = restoreCapabilities(survivorFacts);
  if (!bump) {
    warnings.push(
      `${survivor.name} runs etcd ${survivorFacts.versions.etcd?.raw ?? 'unknown'}, which lacks --bump-revision/--mark-compacted (3.4.27+, 3.5.10+): ` +
        'after the restore, restart the kube-apiservers (and other watchers) so no watcher trusts revisions that went backwards',
    );
  }
  b.restore(
    survivor,
    {
      tool,
      db: survivorDb,
      dataDir: survivor.etcd.dataDir,
      name: survivor.name,
      peerUrl: peerUrl(survivor),
      initialCluster: initialCluster([survivor]),
      token: `etcd-dr-${runId}`,
      ...(bump ? { bumpRevision: BUMP_REVISION } : {}),
      markCompacted: bump,
      ...(layoutOf(survivorFacts) === 'inside' ? { inside: true } : {}),
    },
    `a one-member cluster from ${survivor.name}'s db; the new token gives a new cluster id, so no old member can rejoin by accident`,
  );

  // env files: each node's content as the plan rewrites it
  for (const m of members) {
    const env = factOf(m.name).env;
    if (!env?.exists || env.text === undefined) {
      throw new RefusedError(`${m.name}: ${m.etcd.envFile} is missing or unreadable`, 'etcd-dr edits an existing kubespray env file; restore it first');
    }
    b.trackEnv(m.name, env.text);
  }
  b.writeCluster(survivor, [survivor], { phase: 'first-member', why: 'the survivor alone in ETCD_INITIAL_CLUSTER, state existing: what a later restart must find' });
  b.startFirst(survivor, 'the cluster serves writes again from here on');

  const publishVia = intent.learner ? survivor : undefined;
  const current: NodeSpec[] = [survivor];
  for (const j of joiners) {
    const cluster = [...current, j];
    b.memberAdd(
      j,
      survivor,
      intent.learner,
      intent.learner ? 'as a learner, a member that never starts cannot take the quorum away' : 'the voting add of the manual procedure (--no-learner): the quorum grows at once',
    );
    b.writeCluster(j, cluster, { phase: 'join', join: j.name, why: `${j.name} joins an existing cluster of ${cluster.map((c) => c.name).join(', ')}` });
    b.joinerStart(j);
    if (intent.learner) b.promote(j, survivor);
    if (!intent.learner) b.waitServing(j, undefined, 'the member serves clients before the next one is added (a voting member that does not serve puts the quorum at risk)');
    current.push(j);
  }
  // A promoted member serves clients only once etcd has published its name through the cluster, which can
  // take up to etcd's request timeout after its start. With learners nothing waits on that between joins
  // (a learner cannot take the quorum away, and etcd itself refuses the next add until every voter is
  // connected), so each member's wait overlaps the next joins instead of adding to the recovery time.
  if (publishVia) for (const j of joiners) b.waitServing(j, publishVia, 'every member serves clients before the env files are finalised');
  for (const m of members) {
    b.writeCluster(m, members, { phase: 'finalize', slug: `env-${m.name}-final`, why: 'every env file lists all members, state existing, because etcd may restart at any time' });
  }
  if (backupPath && alongside) b.backupWait(survivor, survivorDb, backupPath);
  b.verify(
    survivor,
    members,
    'every member healthy, one leader, no learner, no alarm, the same hash at one revision, no fewer keys than the restored survivor served, env files listing every member',
  );
  b.unlock(reachable, ctx.lockFile);

  return withHooks({
    format: PLAN_FORMAT,
    version: PLAN_FORMAT_VERSION,
    runId,
    createdAt: ctx.now.toISOString(),
    tool: { name: 'etcd-dr', version: ctx.toolVersion },
    inventory: { file: inventory.file, cluster: inventory.cluster.name, fingerprint: inventoryFingerprint(inventory) },
    intent,
    lockFile: ctx.lockFile,
    holder: ctx.holder,
    factsDigest: facts.digest,
    facts: canonFacts(facts.nodes),
    summary:
      `Recover cluster ${inventory.cluster.name} from ${survivor.name}'s data` +
      (choice.source ? ` set aside by run ${choice.source.runId} (${choice.source.path})` : '') +
      (joiners.length ? `, then re-add ${joiners.map((j) => j.name).join(', ')} one at a time${intent.learner ? ' as learners' : ''}` : '') +
      (intent.exclude.length ? `; ${intent.exclude.join(', ')} left out` : '') +
      '.',
    survivor: { name: choice.name, reason: choice.reason, evidence: choice.evidence, ...(choice.source ? { source: choice.source } : {}) },
    finalMembers: members.map((m) => m.name),
    dataDirs: members.filter((m) => factOf(m.name).dataDir?.exists).map((m) => dataDirRow(m, factOf(m.name), runId)),
    warnings: [...warnings, ...envLintWarnings(inventory, facts)],
    steps: b.steps,
  }, inventory, reachable);
}
