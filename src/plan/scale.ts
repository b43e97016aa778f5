/**
 * Planned membership changes of a cluster that has its quorum: scale-out (add nodes), scale-in (remove
 * members) and replace (remove a member, then add its replacement). Pure, like the recovery planner:
 * facts and an intent in, a Plan out, every remote script shown for review.
 *
 * One member changes at a time. A new member joins as a learner and is promoted once caught up, so a
 * node that never starts cannot take the quorum away; its join steps carry `join` so the executor rolls a
 * failed join back. After each change every member's env file is rewritten to the membership of that
 * moment (ETCD_INITIAL_CLUSTER in inventory order, state existing), so a run that stops anywhere leaves
 * env files that agree with the cluster.
 */
import { canonFacts } from '../facts/assess.js';
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { peerUrl, type NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { initialCluster, StepBuilder } from './builder.js';
import { factOf, type PlanContext } from './context.js';
import { dataDirRow, refuseWalDir, roomCheck } from './datadir-layout.js';
import { envLintWarnings } from './envcheck.js';
import { envForNewNode } from './new-node-env.js';
import { checkCluster, checkNewNode, faultTolerance, firstServing, lockNodes, refuseUnknown, toleranceWarning, type Checked } from './scale-checks.js';
import { inventoryFingerprint } from './seal.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type DataDirRow, type Intent, type Phase, type Plan, type ReplaceIntent, type ScaleInIntent, type ScaleOutIntent } from './types.js';

/** A membership change as it is planned: the members after the steps so far, and what the plan must say. */
class Change {
  readonly b: StepBuilder;
  readonly warnings: string[] = [];
  /** members after the steps so far, inventory order */
  current: NodeSpec[];
  private readonly movedAside = new Set<string>();
  private readonly dataDirs: DataDirRow[] = [];
  private lockNodes: string[] = [];

  constructor(
    private readonly ctx: PlanContext,
    members: NodeSpec[],
  ) {
    this.b = new StepBuilder(ctx.runId);
    this.current = [...members];
    for (const n of ctx.facts.nodes) this.b.trackEnv(n.name, n.env?.exists && n.env.text !== undefined ? n.env.text : null);
  }

  /** inventory order */
  ordered(names: Iterable<string>): NodeSpec[] {
    const set = new Set(names);
    return this.ctx.inventory.nodes.filter((s) => set.has(s.name));
  }

  /** Every member's env file to the membership of this moment. */
  syncMemberEnvs(phase: Phase, why: string, except?: string): void {
    const cluster = this.ordered(this.current.map((s) => s.name));
    for (const m of this.current) if (m.name !== except) this.b.writeCluster(m, cluster, { phase, why });
  }

  moveAside(n: NodeSpec, phase: Phase, why: string): void {
    if (this.movedAside.has(n.name)) return;
    const f = factOf(this.ctx, n.name);
    if (!f.dataDir?.exists) return;
    this.movedAside.add(n.name);
    this.dataDirs.push(dataDirRow(n, f, this.ctx.runId));
    this.b.moveAside(n, f, phase, why);
  }

  /** Remove member `m` through `via` (which stays a member); `stays`: the members left once this change and any later ones in the plan are done. */
  remove(m: NodeSpec, via: NodeSpec, stays: NodeSpec[]): void {
    const reachable = factOf(this.ctx, m.name).reachable;
    if (reachable) refuseWalDir(m, factOf(this.ctx, m.name));
    this.b.moveLeader(m, via, stays);
    this.b.memberRemove(m, via, `${m.name} leaves the membership; the quorum is counted without it from here on`);
    this.current = this.current.filter((s) => s.name !== m.name);
    if (reachable) {
      this.b.stop(m, 'remove', `${m.name} is no longer a member; its etcd must not run (a removed member's etcd may also have exited by itself)`);
      this.moveAside(m, 'remove', `the removed member's data stays beside it, untouched; it must never start from it again`);
    } else {
      this.warnings.push(
        `${m.name} is unreachable: its etcd is not stopped and its data dir is not moved aside. It is no longer a member; make sure it never starts from ${m.etcd.dataDir} again (move it aside when the host is back)`,
      );
    }
    this.syncMemberEnvs('remove', `every member's env file lists the membership without ${m.name}, state existing, because etcd may restart at any time`);
  }

  /** Add node `j` as a learner through `via`, start it, promote it, wait until it serves, update every env file. */
  join(j: NodeSpec, via: NodeSpec): void {
    const f = factOf(this.ctx, j.name);
    const db = factOf(this.ctx, via.name).endpoint?.dbSize;
    refuseWalDir(j, f);
    const room = db === undefined ? undefined : roomCheck(j, f, db, 'its copy of the db from the leader');
    if (room) this.warnings.push(room);
    this.moveAside(j, 'join', `${j.name} joins with an empty data dir; what was there stays beside it, untouched`);
    const cluster = this.ordered([...this.current, j].map((s) => s.name));
    this.b.memberAdd(j, via, true, 'as a learner, a member that never starts cannot take the quorum away');
    const own = this.b.envOf(j.name) ?? null;
    const ownVars = own === null ? undefined : vars(parseEnvFile(own));
    const isOwn = ownVars !== undefined && ownVars['ETCD_NAME'] === j.name && (ownVars['ETCD_INITIAL_ADVERTISE_PEER_URLS'] ?? '').split(',').includes(peerUrl(j));
    const members = [...this.current, j].map((c) => c.name).join(', ');
    if (isOwn) {
      this.b.writeCluster(j, cluster, { phase: 'join', join: j.name, why: `${j.name} joins an existing cluster of ${members}` });
    } else {
      const template = this.current.find((m) => typeof this.b.envOf(m.name) === 'string')!;
      const made = envForNewNode({ spec: template, text: this.b.envOf(template.name)! }, j, initialCluster(cluster));
      this.warnings.push(
        own === null
          ? `${j.name} has no ${j.etcd.envFile}: the plan writes one made from ${template.name}'s, with ${j.name}'s name, URLs and certificate files; review it`
          : `${j.name}'s ${j.etcd.envFile} is written for another member (ETCD_NAME=${ownVars?.['ETCD_NAME'] ?? ''}): the plan replaces it with one made from ${template.name}'s (the old one is kept as a backup); review it`,
        ...made.warnings,
      );
      this.b.writeEnv(j, made.text, {
        phase: 'join',
        join: j.name,
        why: `${j.name}'s env file, made from ${template.name}'s: its own name, URLs and certificates, the cluster of ${members}, state existing`,
      });
    }
    const ev = f.versions.etcd;
    const cv = factOf(this.ctx, via.name).versions.etcd;
    if (ev && cv && (ev.major !== cv.major || ev.minor !== cv.minor)) {
      this.warnings.push(`${j.name} has etcd ${ev.raw}, the cluster runs ${cv.raw}: members of one cluster should run the same minor version`);
    }
    this.b.joinerStart(j);
    this.b.promote(j, via);
    this.b.waitServing(j, via, 'the member serves clients before anything else changes');
    this.current = this.ordered([...this.current.map((s) => s.name), j.name]);
    this.syncMemberEnvs('finalize', `every member's env file lists the membership with ${j.name}, state existing, because etcd may restart at any time`, j.name);
  }

  lock(nodes: string[], checked: Checked): void {
    this.lockNodes = nodes;
    this.warnings.push(...checked.lockWarnings);
    this.b.lock(nodes, { lockFile: this.ctx.lockFile, holder: this.ctx.holder, ...(checked.breakRun ? { breakRun: checked.breakRun } : {}) });
  }

  plan(intent: Intent, o: { via: NodeSpec; summary: string }): Plan {
    const { ctx } = this;
    const final = this.current;
    this.b.verify(o.via, final, 'every member healthy, one leader, no learner, no alarm, the same hash at one revision, env files listing exactly these members', { envFiles: true });
    this.b.unlock(this.lockNodes, ctx.lockFile);
    return {
      format: PLAN_FORMAT,
      version: PLAN_FORMAT_VERSION,
      runId: ctx.runId,
      createdAt: ctx.now.toISOString(),
      tool: { name: 'etcd-dr', version: ctx.toolVersion },
      inventory: { file: ctx.inventory.file, cluster: ctx.inventory.cluster.name, fingerprint: inventoryFingerprint(ctx.inventory) },
      intent,
      lockFile: ctx.lockFile,
      holder: ctx.holder,
      factsDigest: ctx.facts.digest,
      facts: canonFacts(ctx.facts.nodes),
      summary: o.summary,
      finalMembers: final.map((m) => m.name),
      ...(this.dataDirs.length ? { dataDirs: this.dataDirs } : {}),
      warnings: [...this.warnings, ...envLintWarnings(ctx.inventory, ctx.facts)],
      steps: this.b.steps,
    };
  }
}

/** `etcd-dr scale-out --node NAME…`: add inventory nodes that are not members, one at a time. */
export function planScaleOut(ctx: PlanContext, intent: ScaleOutIntent): Plan {
  if (!intent.nodes.length) throw new RefusedError('name at least one node to add', 'etcd-dr scale-out --node NAME');
  refuseUnknown(ctx, intent.nodes);
  const checked = checkCluster(ctx, { verb: 'scale-out' });
  const { members } = checked;
  const joiners = intent.nodes.map((n) => checkNewNode(ctx, n, members, 'scale-out'));
  const b = new Change(ctx, members);
  b.lock(lockNodes(ctx, [...members.map((m) => m.name), ...intent.nodes]), checked);
  const via = firstServing(ctx, members)!;
  for (const j of joiners) b.join(j, via);
  const finalCount = members.length + joiners.length;
  if (finalCount % 2 === 0) b.warnings.push(`${finalCount} members tolerate no more failures than ${finalCount - 1} (${faultTolerance(finalCount)}), and need ${finalCount / 2 + 1} for a quorum`);
  return b.plan(intent, {
    via,
    summary: `Add ${joiners.map((j) => j.name).join(', ')} to cluster ${ctx.inventory.cluster.name} (${members.length} → ${finalCount} members), one at a time as learners.`,
  });
}

/** `etcd-dr scale-in --member NAME…`: remove members one at a time, leadership moved away first. */
export function planScaleIn(ctx: PlanContext, intent: ScaleInIntent): Plan {
  if (!intent.members.length) throw new RefusedError('name at least one member to remove', 'etcd-dr scale-in --member NAME');
  refuseUnknown(ctx, intent.members);
  const checked = checkCluster(ctx, { verb: 'scale-in' });
  const { members } = checked;
  const notMembers = intent.members.filter((n) => !members.some((m) => m.name === n));
  if (notMembers.length) throw new RefusedError(`not a member of the cluster: ${notMembers.join(', ')}`, `members are: ${members.map((m) => m.name).join(', ')}`);
  const stays = members.filter((m) => !intent.members.includes(m.name));
  if (!stays.length) {
    throw new RefusedError(`removing ${intent.members.join(', ')} would leave no member: the cluster and all its data would be gone`, 'keep at least one member');
  }
  const b = new Change(ctx, members);
  b.lock(lockNodes(ctx, members.map((m) => m.name)), checked);
  const via = firstServing(ctx, stays)!;
  const leaving = b.ordered(intent.members);
  for (const m of leaving) b.remove(m, via, stays);
  const w = toleranceWarning(members.length, stays.length);
  if (w) b.warnings.unshift(w);
  for (const m of leaving) {
    b.warnings.push(`etcd on ${m.name} stays enabled at boot; after a reboot it would fail to start (it is no longer a member): \`systemctl disable ${m.etcd.service}\` there if the host stays`);
  }
  return b.plan(intent, {
    via,
    summary: `Remove ${leaving.map((m) => m.name).join(', ')} from cluster ${ctx.inventory.cluster.name} (${members.length} → ${stays.length} members), one at a time.`,
  });
}

/** `etcd-dr replace --member NAME [--with NODE]`: remove a (dead) member first, then add its replacement. */
export function planReplace(ctx: PlanContext, intent: ReplaceIntent): Plan {
  const withName = intent.with ?? intent.member;
  refuseUnknown(ctx, [intent.member, ...(intent.with && intent.with !== intent.member ? [intent.with] : [])]);
  const checked = checkCluster(ctx, { verb: 'replace', mayBeDown: intent.member });
  const { members } = checked;
  const target = members.find((m) => m.name === intent.member);
  if (!target) throw new RefusedError(`${intent.member} is not a member of the cluster`, `to add a node, use: etcd-dr scale-out --node ${intent.member}`);
  const stays = members.filter((m) => m.name !== target.name);
  if (!stays.length) throw new RefusedError(`${target.name} is the only member: removing it would leave no cluster to join`, 'a one-member cluster is grown first (etcd-dr scale-out), or recovered from its data (etcd-dr recover)');
  const tf = factOf(ctx, target.name);
  const inPlace = withName === target.name;
  if (inPlace && !tf.reachable) {
    throw new RefusedError(
      `${target.name} is unreachable (${tf.error ?? 'no reason given'}): it cannot be rebuilt in place`,
      `bring the host back (wiped or not: its data dir is moved aside), or replace it with another node: --with NODE`,
    );
  }
  const replacement = inPlace ? target : checkNewNode(ctx, withName, members, 'replace');
  if (inPlace && !tf.versions.etcd) throw new RefusedError(`${target.name} has no etcd binary on its PATH`, 'install the same etcd version as the cluster\'s members there first');
  const b = new Change(ctx, members);
  b.lock(lockNodes(ctx, [...members.map((m) => m.name), replacement.name]), checked);
  const via = firstServing(ctx, stays)!;
  b.remove(target, via, stays);
  b.join(replacement, via);
  const w = toleranceWarning(members.length, stays.length);
  if (w) b.warnings.unshift(`while ${target.name} is replaced, ${w}`);
  if (!inPlace && tf.reachable) {
    b.warnings.push(`etcd on ${target.name} stays enabled at boot; after a reboot it would fail to start (it is no longer a member): \`systemctl disable ${target.etcd.service}\` there if the host stays`);
  }
  return b.plan(intent, {
    via,
    summary: inPlace
      ? `Replace member ${target.name} of cluster ${ctx.inventory.cluster.name} in place: remove it, move its data aside, add it back empty as a learner.`
      : `Replace member ${target.name} of cluster ${ctx.inventory.cluster.name} with ${replacement.name}: remove ${target.name}, then add ${replacement.name} as a learner.`,
  });
}
