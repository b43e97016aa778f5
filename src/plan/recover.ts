import { sha256Hex as sha256 } from '../util/hash.js';
import { EtcdCapabilityError } from '../etcd/errors.js';
import { restoreTool, supportsBumpRevision } from '../etcd/version.js';
import { canonFacts } from '../facts/assess.js';
import type { ClusterFacts, NodeFacts } from '../facts/types.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import { clientUrl, peerUrl } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { editEnvText } from './envedit.js';
import { envLintWarnings } from './envcheck.js';
import { withHooks } from './hooks.js';
import {
  etcdctlPrefix,
  lockScript,
  moveAsideScript,
  restoreScript,
  startScript,
  stopScript,
  unlockScript,
  waitHealthyScript,
  publishCommands,
  writeEnvScript,
} from './scripts.js';
import { emptyLocks } from './emptylock.js';
import { inventoryFingerprint } from './seal.js';
import { chooseSurvivor } from './survivor.js';
import { dataDirRow, layoutOf, refuseWalDir, roomCheck, setAsidePath } from './datadir-layout.js';
import { refuseUnfinished } from './unfinished.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type Plan, type RecoverIntent, type Step } from './types.js';

export interface PlanContext {
  inventory: Inventory;
  facts: ClusterFacts;
  runId: string;
  now: Date;
  toolVersion: string;
  /** lock file on every node */
  lockFile: string;
  /** who runs it, for the lock file (user@bastion) */
  holder: string;
  /** how a run of this bastion ended, when it finished: its locks left on nodes are stale (see endedRun) */
  runEnded?: (runId: string) => string | undefined;
  /** the run's journal is in this bastion's state dir (it can be resumed here) */
  runHere?: (runId: string) => boolean;
}

/**
 * Other runs' locks on the nodes: those of runs that finished on this bastion are stale and taken over by
 * the plan (said in its warnings); the others are live. `breakRun` is the one run whose lock the lock step
 * breaks (a stale one, or the one --break-lock names); locks of several runs are refused.
 */
export function otherLocks(ctx: PlanContext, o: { breakLock: boolean; flag: boolean }): { breakRun?: string; breakEmpty?: boolean; warnings: string[] } {
  const empty = emptyLocks(ctx.facts.nodes, o);
  const locked = ctx.facts.nodes.filter((n) => n.lock && n.lock.runId !== ctx.runId);
  if (!locked.length) return empty;
  const runs = [...new Set(locked.map((n) => n.lock!.runId))];
  const ended = new Map(runs.flatMap((r) => {
    const how = ctx.runEnded?.(r);
    return how ? [[r, how] as const] : [];
  }));
  const live = locked.filter((n) => !ended.has(n.lock!.runId));
  if (live.length && !o.breakLock) {
    throw new RefusedError(
      `another etcd-dr run holds the lock: ${live.map((n) => `${n.name} by run ${n.lock!.runId}${n.lock!.holder ? ` (${n.lock!.holder})` : ''}`).join(', ')}`,
      `wait for it to finish, or \`etcd-dr resume ${[...new Set(live.map((n) => n.lock!.runId))].join(' / ')}\` it${ctx.runHere && live.every((n) => !ctx.runHere!(n.lock!.runId)) ? ' on the bastion that started it' : ''}${o.flag ? '; a lock left by a run that is dead is broken with --break-lock' : ''}`,
    );
  }
  if (runs.length > 1) {
    throw new RefusedError(`several runs hold locks (${runs.join(', ')}); a plan takes over one run's lock at a time`, 'resume or finish those runs first');
  }
  const run = runs[0]!;
  const on = locked.map((n) => n.name).join(', ');
  const how = ended.get(run);
  return {
    breakRun: run,
    ...(empty.breakEmpty ? { breakEmpty: true } : {}),
    warnings: [
      ...empty.warnings,
      how
        ? `${on} still hold${locked.length === 1 ? 's' : ''} the lock of run ${run}, which ${how}: a node it could not reach at its end keeps it; this plan takes it over (the old lock is kept beside)`
        : `--break-lock: the lock of run ${run} (${locked.map((n) => n.lock!.holder ?? '?').filter((h, i, a) => a.indexOf(h) === i).join(', ')}) is broken on ${on}; make sure that run is dead`,
    ],
  };
}

/** etcd's advice for a restore that Kubernetes watchers must notice: a revision jump past anything seen. */
export const BUMP_REVISION = 1_000_000_000;


/** Restore tool and --bump-revision support of the survivor, from its installed tools' versions. */
export function restoreCapabilities(n: NodeFacts): { tool: 'etcdctl' | 'etcdutl'; bump: boolean } {
  const v = n.versions.etcd ?? n.versions.etcdctl;
  const bumpBy = n.versions.etcdutl ?? n.versions.etcdctl;
  let tool: 'etcdctl' | 'etcdutl' = 'etcdctl';
  if (v) {
    try {
      tool = restoreTool(v, { etcdutlPresent: Boolean(n.versions.etcdutl) });
    } catch (e) {
      if (e instanceof EtcdCapabilityError) throw new RefusedError(`${n.name}: ${e.message}`);
      throw e;
    }
  }
  return { tool, bump: bumpBy ? supportsBumpRevision(bumpBy) : false };
}

export function initialCluster(specs: NodeSpec[]): string {
  return specs.map((s) => `${s.name}=${peerUrl(s)}`).join(',');
}

/** The commands the verify step runs through `via` against `members`, for review. */
export function verifyCommands(via: NodeSpec, members: NodeSpec[]): string[] {
  return [
    `${etcdctlPrefix(via, members.map(clientUrl))} endpoint status -w json`,
    `${etcdctlPrefix(via)} member list -w json`,
    `${etcdctlPrefix(via, members.map(clientUrl))} endpoint hashkv --rev=<revision> -w json`,
    `${etcdctlPrefix(via)} alarm list`,
  ];
}

/** A new member's start: it joins with an empty data dir (the wait for it to serve is a step of its own). */
export function joinerStartStep(j: NodeSpec): Omit<Step, 'id'> & { slug: string } {
  return {
    slug: `start-${j.name}`,
    phase: 'join',
    node: j.name,
    join: j.name,
    action: { type: 'start-etcd', waitHealthy: false },
    commands: [startScript(j)],
    why: 'starts with an empty data dir and fetches everything from the leader',
  };
}

/** A joined learner's promotion to a voting member, through `via`. */
export function promoteStep(j: NodeSpec, via: NodeSpec): Omit<Step, 'id'> & { slug: string } {
  return {
    slug: `promote-${j.name}`,
    phase: 'join',
    node: j.name,
    join: j.name,
    action: { type: 'promote', via: via.name, name: j.name },
    commands: [`${etcdctlPrefix(via)} member promote <id of ${j.name}>   # retried while etcd says the learner is not in sync`],
    why: 'a learner that caught up becomes a voting member',
  };
}

export { roomWarning } from './datadir-layout.js';

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

  const steps: Step[] = [];
  let seq = 0;
  const add = (s: Omit<Step, 'id'> & { slug: string }) => {
    const { slug, ...rest } = s;
    seq += 1;
    steps.push({ id: `${String(seq).padStart(2, '0')}-${slug}`, ...rest });
  };

  add({
    slug: 'lock',
    phase: 'lock',
    nodes: reachable,
    action: { type: 'lock', ...(breakRun ? { breakRun } : {}), ...(lock.breakEmpty ? { breakEmpty: true } : {}) },
    commands: [lockScript(ctx.lockFile, runId, ctx.holder, breakRun, lock.breakEmpty)],
    why: 'a second etcd-dr run against this cluster is refused while this one works',
  });
  add({
    slug: 'stop-etcd',
    phase: 'stop',
    nodes: reachable,
    action: { type: 'stop-etcd' },
    commands: reachable.map((n) => `# ${n}\n${stopScript(specOf(n))}`),
    why: 'no member may run while the cluster is rebuilt; a graceful stop also commits the last WAL entries into the db',
  });
  const aside = (n: NodeSpec) => setAsidePath(n.etcd.dataDir, layoutOf(factOf(n.name)), `etcd-dr-${runId}`);
  for (const m of members) {
    const f = factOf(m.name);
    if (!f.dataDir?.exists) continue;
    const inside = layoutOf(f) === 'inside';
    add({
      slug: `move-aside-${m.name}`,
      phase: 'backup',
      node: m.name,
      action: { type: 'move-data-dir', from: m.etcd.dataDir, to: aside(m), ...(inside ? { inside } : {}) },
      commands: [moveAsideScript(m.etcd.dataDir, aside(m), inside)],
      why:
        m.name === survivor.name
          ? choice.source
            ? `the survivor is restored from ${choice.source.path}, which holds fresher data; this one is kept beside too, untouched`
            : 'the survivor is restored from this copy; nothing is deleted'
          : 'the member rejoins with an empty data dir; its old data stays beside it, untouched',
    });
  }
  // the freshest data may sit in a dir an interrupted run set aside: the restore reads that db, read-only
  const survivorDb = choice.source?.db ?? `${aside(survivor)}/member/snap/db`;
  const backupPath = intent.localBackup ? `${intent.backupDir}/${runId}/${survivor.name}-db` : undefined;
  const alongside = !intent.backupBeforeRestore;
  if (backupPath) {
    add({
      slug: `backup-db-${survivor.name}`,
      phase: 'backup',
      node: survivor.name,
      action: { type: 'backup-db', remoteDb: survivorDb, localPath: backupPath, ...(alongside ? { alongside } : {}) },
      commands: [`cat ${survivorDb}   # streamed to ${backupPath} (mode 0600, sha256 recorded)${alongside ? ', alongside the next steps' : ''}`],
      why: alongside
        ? 'a copy of the only data that matters, on the bastion. It runs alongside the next steps, so a large db does not hold ' +
          'the recovery up: the restore only reads this db, and it stays kept aside on the node'
        : 'a copy of the only data that matters, on the bastion, before anything is restored (--backup-before-restore)',
    });
  }
  const { tool, bump } = restoreCapabilities(survivorFacts);
  if (!bump) {
    warnings.push(
      `${survivor.name} runs etcd ${survivorFacts.versions.etcd?.raw ?? 'unknown'}, which lacks --bump-revision/--mark-compacted (3.4.27+, 3.5.10+): ` +
        'after the restore, restart the kube-apiservers (and other watchers) so no watcher trusts revisions that went backwards',
    );
  }
  const restore = {
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
  };
  add({
    slug: `restore-${survivor.name}`,
    phase: 'restore',
    node: survivor.name,
    action: { type: 'restore-db', ...restore },
    commands: [restoreScript({ ...restore, runId })],
    why: `a one-member cluster from ${survivor.name}'s db; the new token gives a new cluster id, so no old member can rejoin by accident`,
  });

  // env files: track each node's content as the plan rewrites it
  const envNow = new Map<string, string>();
  for (const m of members) {
    const env = factOf(m.name).env;
    if (!env?.exists || env.text === undefined) {
      throw new RefusedError(`${m.name}: ${m.etcd.envFile} is missing or unreadable`, 'etcd-dr edits an existing kubespray env file; restore it first');
    }
    envNow.set(m.name, env.text);
  }
  const writeEnv = (m: NodeSpec, cluster: NodeSpec[], phase: Step['phase'], why: string, join?: string) => {
    const before = envNow.get(m.name)!;
    const { text: after, diff } = editEnvText(before, {
      ETCD_INITIAL_CLUSTER: initialCluster(cluster),
      ETCD_INITIAL_CLUSTER_STATE: 'existing',
    });
    if (after === before) return;
    envNow.set(m.name, after);
    const params = {
      path: m.etcd.envFile,
      backup: `${m.etcd.envFile}.etcd-dr-${runId}.bak`,
      beforeSha256: sha256(before),
      afterSha256: sha256(after),
      content: after,
    };
    add({
      slug: `env-${m.name}${phase === 'finalize' ? '-final' : ''}`,
      phase,
      node: m.name,
      ...(join ? { join } : {}),
      action: { type: 'write-env', ...params },
      commands: [writeEnvScript(params)],
      envDiff: diff,
      why,
    });
  };

  writeEnv(survivor, [survivor], 'first-member', 'the survivor alone in ETCD_INITIAL_CLUSTER, state existing: what a later restart must find');
  add({
    slug: `start-${survivor.name}`,
    phase: 'first-member',
    node: survivor.name,
    action: { type: 'start-etcd', waitHealthy: true, baseline: true },
    commands: [startScript(survivor), waitHealthyScript(survivor, 120)],
    why: 'the cluster serves writes again from here on',
  });

  const waitFor = (j: NodeSpec, why: string) =>
    add({
      slug: `wait-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'wait-healthy', endpointOf: j.name, ...(intent.learner ? { publishVia: survivor.name } : {}) },
      commands: intent.learner ? publishCommands(survivor, j) : [waitHealthyScript(j, 120)],
      why,
    });
  const current: NodeSpec[] = [survivor];
  for (const j of joiners) {
    const cluster = [...current, j];
    add({
      slug: `add-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'member-add', via: survivor.name, name: j.name, peerUrl: peerUrl(j), learner: intent.learner },
      commands: [
        `${etcdctlPrefix(survivor)} member list -w json   # skip the add when ${j.name} is already a member`,
        `${etcdctlPrefix(survivor)} member add ${j.name} --peer-urls=${peerUrl(j)}${intent.learner ? ' --learner' : ''}   # retried while etcd says "unhealthy cluster"`,
      ],
      why: intent.learner
        ? 'as a learner, a member that never starts cannot take the quorum away'
        : 'the voting add of the manual procedure (--no-learner): the quorum grows at once',
    });
    writeEnv(j, cluster, 'join', `${j.name} joins an existing cluster of ${cluster.map((c) => c.name).join(', ')}`, j.name);
    add(joinerStartStep(j));
    if (intent.learner) add(promoteStep(j, survivor));
    if (!intent.learner) waitFor(j, 'the member serves clients before the next one is added (a voting member that does not serve puts the quorum at risk)');
    current.push(j);
  }
  // A promoted member serves clients only once etcd has published its name through the cluster, which can
  // take up to etcd's request timeout after its start. With learners nothing waits on that between joins
  // (a learner cannot take the quorum away, and etcd itself refuses the next add until every voter is
  // connected), so each member's wait overlaps the next joins instead of adding to the recovery time.
  if (intent.learner) for (const j of joiners) waitFor(j, 'every member serves clients before the env files are finalised');
  for (const m of members) {
    writeEnv(m, members, 'finalize', 'every env file lists all members, state existing, because etcd may restart at any time');
  }
  if (backupPath && alongside) {
    add({
      slug: `backup-done-${survivor.name}`,
      phase: 'backup',
      node: survivor.name,
      action: { type: 'backup-wait', remoteDb: survivorDb, localPath: backupPath },
      commands: [`# wait for the copy of ${survivorDb} to ${backupPath}; copy it now if the run was resumed before it ended`],
      why: 'the run is not over until the bastion holds the copy, with its sha256',
    });
  }
  add({
    slug: 'verify',
    phase: 'verify',
    nodes: members.map((m) => m.name),
    action: { type: 'verify', via: survivor.name, members: members.map((m) => m.name) },
    commands: verifyCommands(survivor, members),
    why: 'every member healthy, one leader, no learner, no alarm, the same hash at one revision, no fewer keys than the restored survivor served, env files listing every member',
  });
  add({
    slug: 'unlock',
    phase: 'unlock',
    nodes: reachable,
    action: { type: 'unlock' },
    commands: [unlockScript(ctx.lockFile, runId)],
    why: 'the run is over',
  });

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
    steps,
  }, inventory, reachable);
}
