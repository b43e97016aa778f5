/**
 * What a membership change (scale-out, scale-in, replace) requires of the cluster and of a new node before
 * anything is planned: a quorum, every member known and healthy, no half-done join, no other run's lock.
 * Pure.
 */
import type { NodeFacts } from '../facts/types.js';
import { peerUrl, type NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { factOf, otherLocks, type PlanContext } from './context.js';

/** How many members may fail while the rest keep a quorum. */
export function faultTolerance(members: number): number {
  return members < 1 ? 0 : Math.floor((members - 1) / 2);
}

export interface Checked {
  /** current members as inventory nodes, in inventory order */
  members: NodeSpec[];
  /** the stale lock (of a run that finished on this bastion) the lock step takes over */
  breakRun?: string;
  lockWarnings: string[];
}

/** A cluster ready for a membership change: its quorum, every member known, no half-done join, no lock. */
export function checkCluster(ctx: PlanContext, o: { verb: string; mayBeDown?: string }): Checked {
  const { inventory, facts } = ctx;
  const a = facts.assessment;
  const lock = otherLocks(ctx, { breakLock: false, flag: false });
  if (a.verdict === 'quorum-lost') {
    throw new RefusedError(`the cluster has lost its quorum: ${a.reasons.join('; ')}`, 'membership changes need a quorum; bring the cluster back with `etcd-dr recover` first');
  }
  if (a.verdict === 'inconsistent') {
    throw new RefusedError(`the cluster is inconsistent: ${a.reasons.join('; ')}`, '`etcd-dr status` shows what disagrees; set that right before changing the membership');
  }
  const members: NodeSpec[] = [];
  for (const m of a.members) {
    if (!m.name) throw new RefusedError(`member ${m.id} (${m.peerUrls.join(', ')}) was added but never started: a join left half done`, `remove it (etcdctl member remove ${m.id}) or start it, then plan again`);
    if (m.isLearner) throw new RefusedError(`member ${m.name} is a learner: a join left half done`, `finish it (etcd-dr resume) or remove it (etcd-dr scale-in --member ${m.name}), then plan again`);
    const spec = inventory.nodes.find((s) => s.name === m.name);
    if (!spec) throw new RefusedError(`member ${m.name} (${m.peerUrls.join(', ')}) is not in the inventory ${inventory.file}`, 'add it to the inventory: etcd-dr rewrites every member\'s env file and must reach each one');
    if (!m.peerUrls.includes(peerUrl(spec))) {
      throw new RefusedError(`member ${m.name} has peer URLs ${m.peerUrls.join(', ')}, the inventory says ${peerUrl(spec)}`, `correct ${m.name}'s address in ${inventory.file}`);
    }
  }
  for (const s of inventory.nodes) if (a.members.some((m) => m.name === s.name)) members.push(s);
  if (!members.length) throw new RefusedError('no running member reports the membership', 'see `etcd-dr status`');
  const alarms = [...new Set(facts.nodes.flatMap((n) => n.alarms ?? []))];
  if (alarms.length) throw new RefusedError(`alarms are raised: ${alarms.join(', ')}`, 'clear the cause (e.g. NOSPACE: compact, defragment, `etcdctl alarm disarm`) first');
  const down = members.filter((s) => s.name !== o.mayBeDown).filter((s) => {
    const f = factOf(ctx, s.name);
    return !f.reachable || !f.endpoint || !f.healthy;
  });
  if (down.length) {
    throw new RefusedError(
      `the cluster is not healthy: ${down.map((s) => `${s.name} ${describeDown(factOf(ctx, s.name))}`).join(', ')}`,
      down.length === 1 && !o.mayBeDown
        ? `bring ${down[0]!.name} back, or replace it: etcd-dr replace --member ${down[0]!.name}`
        : `${o.verb} changes one member at a time in a healthy cluster; bring the others back first`,
    );
  }
  if (!o.mayBeDown && a.verdict !== 'healthy') {
    throw new RefusedError(`the cluster is ${a.verdict}: ${a.reasons.join('; ')}`, `${o.verb} needs a healthy cluster; see \`etcd-dr status\``);
  }
  for (const s of members) {
    if (s.name === o.mayBeDown) continue;
    const env = factOf(ctx, s.name).env;
    if (!env?.exists || env.text === undefined) {
      throw new RefusedError(`${s.name}: ${s.etcd.envFile} is missing or unreadable`, 'etcd-dr rewrites every member\'s env file to the new membership; restore it first');
    }
  }
  return { members, ...(lock.breakRun ? { breakRun: lock.breakRun } : {}), lockWarnings: lock.warnings };
}

function describeDown(f: NodeFacts): string {
  if (!f.reachable) return `is unreachable (${f.error ?? 'no reason given'})`;
  if (!f.endpoint) return `does not run etcd (service ${f.service})`;
  return `does not serve clients (${f.healthError ?? 'endpoint health failed'})`;
}

export function refuseUnknown(ctx: PlanContext, names: string[]): void {
  const unknown = names.filter((n) => !ctx.inventory.nodes.some((s) => s.name === n));
  if (unknown.length) {
    throw new RefusedError(`not in the inventory: ${unknown.join(', ')}`, `nodes are: ${ctx.inventory.nodes.map((n) => n.name).join(', ')}`);
  }
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length) throw new RefusedError(`named twice: ${[...new Set(dup)].join(', ')}`, 'name each node once');
}

export function lockNodes(ctx: PlanContext, names: Iterable<string>): string[] {
  const set = new Set(names);
  return ctx.inventory.nodes.filter((s) => set.has(s.name) && factOf(ctx, s.name).reachable).map((s) => s.name);
}

export function toleranceWarning(before: number, after: number): string | undefined {
  const b = faultTolerance(before);
  const a = faultTolerance(after);
  if (a < b) {
    return `fault tolerance drops from ${b} to ${a}: ${after} member${after === 1 ? '' : 's'} ${a === 0 ? 'survive no member failure (every member is needed for a quorum)' : `survive ${a} member failure${a === 1 ? '' : 's'}`}`;
  }
  return undefined;
}

/** A new node must be reachable, not a member, not running etcd of its own, and have etcd installed. */
export function checkNewNode(ctx: PlanContext, name: string, members: NodeSpec[], verb: string): NodeSpec {
  const spec = ctx.inventory.nodes.find((s) => s.name === name)!;
  const f = factOf(ctx, name);
  if (members.some((m) => m.name === name)) throw new RefusedError(`${name} is already a member`, `${verb} adds inventory nodes that are not members yet`);
  const taken = ctx.facts.assessment.members.find((m) => m.peerUrls.includes(peerUrl(spec)));
  if (taken) throw new RefusedError(`${peerUrl(spec)} already belongs to member ${taken.name || taken.id}`, `remove that member first, or give ${name} another address`);
  if (!f.reachable) throw new RefusedError(`cannot reach ${name} (${f.error ?? 'unreachable'})`, `bring the node up; it must be reachable over SSH to join`);
  if (f.endpoint || f.processRunning || f.service === 'active' || f.service === 'activating') {
    throw new RefusedError(`etcd runs on ${name}, which is not a member of this cluster`, `stop it there (systemctl stop ${spec.etcd.service}) and plan again; its data dir is then moved aside`);
  }
  if (!f.versions.etcd) throw new RefusedError(`${name} has no etcd binary on its PATH`, 'install the same etcd version as the cluster\'s members there first');
  return spec;
}

export const firstServing = (ctx: PlanContext, among: NodeSpec[]): NodeSpec | undefined =>
  among.find((s) => {
    const f = factOf(ctx, s.name);
    return f.reachable && f.endpoint && f.healthy;
  });
