/**
 * The recovery's strategies: `rejoin` (planRecover: the survivor restored alone, the others added one at a
 * time) and `restore-all` (the survivor's db restored on every member at once, one token, the full
 * initial cluster, every member started together: one election, no member add). `auto` runs the one the
 * cost model says is faster. Pure.
 */
import { DEFAULT_ELECTION_TIMEOUT_MS } from '../facts/assess.js';
import type { NodeFacts } from '../facts/types.js';
import { peerUrl, type NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { ASSUMED_LINK, estimate, type CostEstimate, type LinkRate } from './cost.js';
import { layoutOf } from './datadir-layout.js';
import { initialCluster, restoreDbAction, slugOf, stepId, StepBuilder } from './builder.js';
import type { PlanContext } from './context.js';
import { planRecover } from './recover.js';
import { BUMP_REVISION, restoreCapabilities } from './restore-tool.js';
import { WAL_MIB } from './scripts.js';
import type { Plan, RecoverIntent, Step } from './types.js';

export interface StrategyContext extends PlanContext {
  /** the bastion ⇄ node rate an earlier copy measured (ASSUMED_LINK otherwise) */
  link?: LinkRate;
  /** the node ⇄ node rate an earlier rejoin's catch-up measured (assumed from the link otherwise) */
  peer?: LinkRate;
}

/** Plan a quorum-loss recovery with the strategy the intent names (default rejoin). */
export function planRecovery(ctx: StrategyContext, intent: RecoverIntent): Plan {
  const asked = intent.strategy ?? 'rejoin';
  // every refusal of the recovery itself (verdict, locks, unreachable nodes, env files) is rejoin's
  const rejoin = planRecover(ctx, { ...intent, strategy: 'rejoin' });
  const est = costOf(ctx, rejoin);
  const withStrategy = (p: Plan, name: 'rejoin' | 'restore-all', extra: string[] = []): Plan => ({
    ...p,
    intent: { ...intent, strategy: asked },
    strategy: { name, chosenBy: intent.strategy === undefined ? 'default' : asked === 'auto' ? 'auto' : 'flag', ...(est ? { estimate: est } : {}) },
    warnings: [...p.warnings, ...extra],
  });
  if (asked === 'rejoin') return withStrategy(rejoin, 'rejoin');
  const unfit = restoreAllRefusal(ctx, intent, rejoin);
  if (asked === 'auto') {
    if (unfit) return withStrategy(rejoin, 'rejoin', [`--strategy auto runs rejoin: restore-all cannot run here (${unfit.message})`]);
    if (!est || est.faster === 'rejoin') return withStrategy(rejoin, 'rejoin');
  } else if (unfit) {
    throw unfit;
  }
  return withStrategy(planRestoreAll(ctx, intent), 'restore-all');
}

function costOf(ctx: StrategyContext, p: Plan): CostEstimate | undefined {
  const db = ctx.facts.nodes.find((n) => n.name === p.survivor?.name)?.dataDir?.dbBytes;
  if (db === undefined) return undefined;
  const timeouts = ctx.facts.nodes.map((n) => Number(n.env?.vars.ETCD_ELECTION_TIMEOUT)).filter((ms) => Number.isInteger(ms) && ms > 0);
  return estimate({
    dbBytes: db,
    members: p.finalMembers.length,
    electionTimeoutMs: timeouts.length ? Math.max(...timeouts) : DEFAULT_ELECTION_TIMEOUT_MS,
    link: ctx.link ?? ASSUMED_LINK,
    ...(ctx.peer ? { peer: ctx.peer } : {}),
  });
}

/** Where a member keeps the copy of the survivor's db it restores from (beside its data dir, never deleted). */
export function sentDbPath(spec: NodeSpec, runId: string): string {
  return `${spec.etcd.dataDir}.etcd-dr-${runId}-db`;
}

/**
 * Why restore-all cannot run on this cluster, or undefined. Checked before anything is stopped: every
 * member must run the same etcd version with the same restore tool (one restore, the same flags, every
 * member), the copy to the bastion must be on (it is what is sent), and each member needs room for its
 * new data dir (and, besides the survivor, for the copy it restores from).
 */
export function restoreAllRefusal(ctx: PlanContext, intent: RecoverIntent, rejoin: Plan): RefusedError | undefined {
  if (!intent.localBackup) {
    return new RefusedError('restore-all sends the bastion\'s copy of the survivor\'s db to every member, and --no-local-backup turns that copy off', 'drop --no-local-backup, or use --strategy rejoin');
  }
  const facts = (name: string): NodeFacts => ctx.facts.nodes.find((n) => n.name === name)!;
  const members = rejoin.finalMembers.map(facts);
  const mounts = members.filter((n) => layoutOf(n) === 'inside');
  if (mounts.length) {
    return new RefusedError(
      `restore-all does not handle a data dir that is its own mount point yet (${mounts.map((n) => n.name).join(', ')}): its copy of the db and its set-aside dirs would land beside the mount, on another file system`,
      'use --strategy rejoin, which restores inside the mount point',
    );
  }
  const version = (n: NodeFacts) => n.versions.etcd?.raw ?? '?';
  const versions = [...new Set(members.map(version))];
  if (versions.length > 1 || versions[0] === '?') {
    return new RefusedError(
      `restore-all restores the same db with the same flags on every member, and the members run different or unknown etcd versions: ${members.map((n) => `${n.name} ${version(n)}`).join(', ')}`,
      'install one etcd version on every member first, or use --strategy rejoin',
    );
  }
  const caps = members.map((n) => ({ n, c: restoreCapabilities(n) }));
  if (new Set(caps.map(({ c }) => `${c.tool}/${c.bump}`)).size > 1) {
    return new RefusedError(
      `restore-all runs one restore command on every member, and their restore tools differ: ${caps.map(({ n, c }) => `${n.name} ${c.tool}${c.bump ? ' (--bump-revision)' : ''}`).join(', ')}`,
      'install etcdutl of the same version on every member, or use --strategy rejoin',
    );
  }
  const survivor = rejoin.survivor!.name;
  const db = facts(survivor).dataDir?.dbBytes ?? 0;
  const short = members.flatMap((n) => {
    const free = n.dataDir?.freeBytes;
    const need = (n.name === survivor ? db : 2 * db) + WAL_MIB * 1048576;
    return free !== undefined && free < need ? [`${n.name} has ${Math.floor(free / 1048576)} MiB free and needs about ${Math.ceil(need / 1048576)} MiB`] : [];
  });
  if (short.length) {
    return new RefusedError(
      `restore-all: not enough room beside the data dir (${short.join('; ')}: the copy of the db, the restored db and a 64 MB WAL)`,
      'make room there first, or use --strategy rejoin (a joiner needs room for the db only)',
    );
  }
  return undefined;
}

/** The restore-all plan: rejoin's checks and first steps, then every member restored and started at once. */
export function planRestoreAll(ctx: PlanContext, intent: RecoverIntent): Plan {
  const { runId, inventory, facts } = ctx;
  // the copy to the bastion runs alongside: the sends follow it as it is written, and every member's
  // copy is put in place only once it matches the complete copy's sha256
  const base = planRecover(ctx, { ...intent, strategy: 'rejoin', backupBeforeRestore: false });
  const cut = base.steps.findIndex((s) => s.action.type === 'backup-db');
  const backup = base.steps[cut]!.action as Extract<Step['action'], { type: 'backup-db' }>;
  const pre = base.steps.slice(0, cut + 1).map((s, i) =>
    i === cut ? { ...s, why: 'a copy of the only data that matters, on the bastion, and the source every other member restores from: the next step sends it on to them as it is written' } : s,
  );
  const rest = base.steps.slice(cut + 1);
  const spec = (name: string) => inventory.nodes.find((s) => s.name === name)!;
  const members = base.finalMembers.map(spec);
  const survivor = spec(base.survivor!.name);
  const others = members.filter((m) => m.name !== survivor.name);
  const survivorFacts = facts.nodes.find((n) => n.name === survivor.name)!;
  const { tool, bump } = restoreCapabilities(survivorFacts);

  const b = new StepBuilder(runId, pre);
  const to = others.map((m) => ({ node: m.name, path: sentDbPath(m, runId) }));
  if (to.length) {
    b.sendDb(
      backup.localPath,
      { node: survivor.name, remoteDb: backup.remoteDb },
      to,
      `every member restores the survivor's db: the bastion's copy goes to ${others.map((m) => m.name).join(', ')} at once as it is made, each copy hashed there and put in place once it matches the complete copy's sha256`,
    );
  }
  b.backupWait(survivor, backup.remoteDb, backup.localPath);
  const restore = {
    tool,
    initialCluster: initialCluster(members),
    token: `etcd-dr-${runId}`,
    ...(bump ? { bumpRevision: BUMP_REVISION } : {}),
    markCompacted: bump,
    members: members.map((m) => ({
      node: m.name,
      db: m.name === survivor.name ? backup.remoteDb : sentDbPath(m, runId),
      dataDir: m.etcd.dataDir,
      name: m.name,
      peerUrl: peerUrl(m),
    })),
  };
  b.restoreAll(
    restore,
    `the same db restored on every member at once with one new token and the full initial cluster, each with its own name and peer URL: a new cluster of ${members.length} members, no member add`,
  );
  for (const m of members) {
    b.trackEnv(m.name, facts.nodes.find((n) => n.name === m.name)!.env!.text!);
    b.writeCluster(m, members, { phase: 'restore', allAtOnce: true, why: 'every member listed, state existing: what etcd reads at any later restart' });
  }
  b.startAll(members, survivor, 'every member starts at once: one election for the whole cluster, then each serves');
  // the verification and what follows it (the afterVerify hook, the unlock) as rejoin has them
  for (const s of rest.slice(rest.findIndex((x) => x.action.type === 'verify'))) {
    const { id, ...r } = s;
    b.add({ slug: slugOf(id), ...r });
  }
  const steps = b.steps;
  // the survivor-then-rejoin path, run when a member cannot take part; its own token, so no member of the
  // undone restore-all (one that could not be stopped) can talk to it
  const fallback = rest.map((s, i) => ({
    ...s,
    id: stepId(steps.length + 1 + i, `fb-${slugOf(s.id)}`),
    ...(s.action.type === 'restore-db' ? restoreDbAction({ ...s.action, token: `etcd-dr-${runId}-fb` }, runId) : {}),
  }));
  return {
    ...base,
    intent,
    summary:
      `Recover cluster ${inventory.cluster.name} from ${survivor.name}'s data restored on every member at once (${members.map((m) => m.name).join(', ')})` +
      (intent.exclude.length ? `; ${intent.exclude.join(', ')} left out` : '') +
      '; if a member cannot take part, every member is set back and the survivor is restored alone, the others re-added one at a time.',
    steps,
    fallback,
  };
}
