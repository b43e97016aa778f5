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
import { sha256Hex as sha256 } from '../util/hash.js';
import { canonFacts } from '../facts/assess.js';
import type { NodeFacts } from '../facts/types.js';
import { diffEnv } from '../etcd/envdiff.js';
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { clientUrl, peerUrl, urlHost, type NodeSpec } from '../inventory/types.js';
import { RefusedError } from '../util/errors.js';
import { editEnvText } from './envedit.js';
import { envLintWarnings } from './envcheck.js';
import { joinerStartStep, otherLocks, promoteStep, type PlanContext } from './recover.js';
import { dataDirRow, layoutOf, refuseWalDir, roomCheck, setAsidePath, type DataDirRow } from './datadir-layout.js';
import {
  EMPTY_SHA256,
  etcdctlPrefix,
  lockScript,
  moveAsideScript,
  stopScript,
  unlockScript,
  publishCommands,
  writeEnvScript,
} from './scripts.js';
import { inventoryFingerprint } from './seal.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type Intent, type Phase, type Plan, type ReplaceIntent, type ScaleInIntent, type ScaleOutIntent, type Step } from './types.js';


/** How many members may fail while the rest keep a quorum. */
export function faultTolerance(members: number): number {
  return members < 1 ? 0 : Math.floor((members - 1) / 2);
}

const URL_VARS = ['ETCD_ADVERTISE_CLIENT_URLS', 'ETCD_INITIAL_ADVERTISE_PEER_URLS', 'ETCD_LISTEN_CLIENT_URLS', 'ETCD_LISTEN_PEER_URLS'] as const;
const CERT_VARS = ['ETCD_CERT_FILE', 'ETCD_KEY_FILE', 'ETCD_PEER_CERT_FILE', 'ETCD_PEER_KEY_FILE'] as const;

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** `word` where it stands alone (not part of a longer host name such as master010). */
const wordRe = (word: string) => new RegExp(`(?<![A-Za-z0-9])${escapeRe(word)}(?![A-Za-z0-9])`, 'g');

/**
 * The env file of a node that has none (or one written for another node): a member's own file with the
 * node's identity put in: name, data dir, its URLs where the member's address stood, its certificate
 * files where the member's host name stood, the membership, state existing. Every other line is kept.
 */
export function envForNewNode(template: { spec: NodeSpec; text: string }, node: NodeSpec, initialCluster: string): { text: string; warnings: string[] } {
  const t = template.spec;
  const v = vars(parseEnvFile(template.text));
  const warnings: string[] = [];
  const changes: Record<string, string> = {
    ETCD_NAME: node.name,
    ETCD_DATA_DIR: node.etcd.dataDir,
    ETCD_INITIAL_CLUSTER: initialCluster,
    ETCD_INITIAL_CLUSTER_STATE: 'existing',
  };
  const from = `//${urlHost(t.address)}:`;
  const to = `//${urlHost(node.address)}:`;
  for (const k of URL_VARS) {
    const val = v[k];
    if (val !== undefined) changes[k] = val.split(from).join(to);
  }
  changes['ETCD_INITIAL_ADVERTISE_PEER_URLS'] = peerUrl(node);
  changes['ETCD_ADVERTISE_CLIENT_URLS'] = clientUrl(node);
  if (v['ETCD_LISTEN_PEER_URLS'] === undefined) changes['ETCD_LISTEN_PEER_URLS'] = peerUrl(node);
  if (v['ETCD_LISTEN_CLIENT_URLS'] === undefined) changes['ETCD_LISTEN_CLIENT_URLS'] = clientUrl(node);
  for (const k of CERT_VARS) {
    const val = v[k];
    if (val === undefined) continue;
    if (wordRe(t.host).test(val)) changes[k] = val.replace(wordRe(t.host), node.host);
    else warnings.push(`${node.name}: ${k}=${val} (from ${t.name}'s env file) does not name host ${t.host}: kept as is; ${node.name} needs that file`);
  }
  const { text } = editEnvText(template.text, changes);
  // anything else that still names the template member would make the new member pose as it
  for (const [k, val] of Object.entries(vars(parseEnvFile(text)))) {
    if (k === 'ETCD_INITIAL_CLUSTER' || changes[k] !== undefined) continue;
    if (val.includes(t.address) || wordRe(t.host).test(val) || val === t.name) {
      warnings.push(`${node.name}: ${k}=${val} (from ${t.name}'s env file) names ${t.name}; check it before applying`);
    }
  }
  return { text, warnings };
}

interface Checked {
  /** current members as inventory nodes, in inventory order */
  members: NodeSpec[];
  /** the stale lock (of a run that finished on this bastion) the lock step takes over */
  breakRun?: string;
  lockWarnings: string[];
}

/** A cluster ready for a membership change: its quorum, every member known, no half-done join, no lock. */
function checkCluster(ctx: PlanContext, o: { verb: string; mayBeDown?: string }): Checked {
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

function factOf(ctx: PlanContext, name: string): NodeFacts {
  return ctx.facts.nodes.find((n) => n.name === name)!;
}

function describeDown(f: NodeFacts): string {
  if (!f.reachable) return `is unreachable (${f.error ?? 'no reason given'})`;
  if (!f.endpoint) return `does not run etcd (service ${f.service})`;
  return `does not serve clients (${f.healthError ?? 'endpoint health failed'})`;
}

function refuseUnknown(ctx: PlanContext, names: string[]): void {
  const unknown = names.filter((n) => !ctx.inventory.nodes.some((s) => s.name === n));
  if (unknown.length) {
    throw new RefusedError(`not in the inventory: ${unknown.join(', ')}`, `nodes are: ${ctx.inventory.nodes.map((n) => n.name).join(', ')}`);
  }
  const dup = names.filter((n, i) => names.indexOf(n) !== i);
  if (dup.length) throw new RefusedError(`named twice: ${[...new Set(dup)].join(', ')}`, 'name each node once');
}

/** Steps of a membership change, with the env file of every node tracked as the plan rewrites it. */
class Builder {
  readonly steps: Step[] = [];
  readonly warnings: string[] = [];
  private seq = 0;
  /** env text per node as the plan leaves it so far; null: no file */
  private readonly env = new Map<string, string | null>();
  /** members after the steps so far, inventory order */
  current: NodeSpec[];
  private readonly movedAside = new Set<string>();
  private readonly dataDirs: DataDirRow[] = [];
  private lockNodes: string[] = [];

  constructor(
    private readonly ctx: PlanContext,
    members: NodeSpec[],
  ) {
    this.current = [...members];
    for (const n of ctx.facts.nodes) this.env.set(n.name, n.env?.exists && n.env.text !== undefined ? n.env.text : null);
  }

  /** inventory order */
  ordered(names: Iterable<string>): NodeSpec[] {
    const set = new Set(names);
    return this.ctx.inventory.nodes.filter((s) => set.has(s.name));
  }

  add(s: Omit<Step, 'id'> & { slug: string }): void {
    const { slug, ...rest } = s;
    this.seq += 1;
    this.steps.push({ id: `${String(this.seq).padStart(2, '0')}-${slug}`, ...rest });
  }

  initialCluster(specs: NodeSpec[]): string {
    return this.ordered(specs.map((s) => s.name))
      .map((s) => `${s.name}=${peerUrl(s)}`)
      .join(',');
  }

  writeEnv(m: NodeSpec, after: string, o: { phase: Phase; why: string; join?: string; diff?: string }): void {
    const before = this.env.get(m.name) ?? null;
    if (after === before) return;
    this.env.set(m.name, after);
    const params = {
      path: m.etcd.envFile,
      backup: `${m.etcd.envFile}.etcd-dr-${this.ctx.runId}.bak`,
      beforeSha256: before === null ? EMPTY_SHA256 : sha256(before),
      afterSha256: sha256(after),
      content: after,
    };
    this.add({
      slug: `env-${m.name}`,
      phase: o.phase,
      node: m.name,
      ...(o.join ? { join: o.join } : {}),
      action: { type: 'write-env', ...params },
      commands: [writeEnvScript(params)],
      envDiff: o.diff ?? (before === null ? `(new file ${m.etcd.envFile})\n${diffEnv('', after).trimEnd()}` : diffEnv(before, after).trimEnd()),
      why: o.why,
    });
  }

  /** Every member's env file to the membership of this moment. */
  syncMemberEnvs(phase: Phase, why: string, except?: string): void {
    for (const m of this.current) {
      if (m.name === except) continue;
      const before = this.env.get(m.name);
      if (before === null || before === undefined) continue;
      const { text } = editEnvText(before, { ETCD_INITIAL_CLUSTER: this.initialCluster(this.current), ETCD_INITIAL_CLUSTER_STATE: 'existing' });
      this.writeEnv(m, text, { phase, why });
    }
  }

  moveAside(n: NodeSpec, phase: Phase, why: string): void {
    if (this.movedAside.has(n.name)) return;
    const f = factOf(this.ctx, n.name);
    if (!f.dataDir?.exists) return;
    this.movedAside.add(n.name);
    this.dataDirs.push(dataDirRow(n, f, this.ctx.runId));
    const inside = layoutOf(f) === 'inside';
    const to = setAsidePath(n.etcd.dataDir, layoutOf(f), `etcd-dr-${this.ctx.runId}`);
    this.add({
      slug: `move-aside-${n.name}`,
      phase,
      node: n.name,
      action: { type: 'move-data-dir', from: n.etcd.dataDir, to, ...(inside ? { inside } : {}) },
      commands: [moveAsideScript(n.etcd.dataDir, to, inside)],
      why,
    });
  }

  /** Remove member `m` through `via` (which stays a member); `stays`: the members left once this change and any later ones in the plan are done. */
  remove(m: NodeSpec, via: NodeSpec, stays: NodeSpec[]): void {
    const reachable = factOf(this.ctx, m.name).reachable;
    if (reachable) refuseWalDir(m, factOf(this.ctx, m.name));
    this.add({
      slug: `move-leader-${m.name}`,
      phase: 'remove',
      node: via.name,
      action: { type: 'move-leader', via: via.name, from: m.name, members: [m.name, ...stays.map((s) => s.name)] },
      commands: [
        `${etcdctlPrefix(via, [m, ...stays].map(clientUrl))} endpoint status -w json   # does ${m.name} lead?`,
        `${etcdctlPrefix(via, [m, ...stays].map(clientUrl))} move-leader <id of the most caught-up of ${stays.map((s) => s.name).join(', ')}>   # only when ${m.name} leads`,
      ],
      why: `a leader that removes itself leaves the cluster without one until the next election; leadership moves first, only if ${m.name} leads when the step runs`,
    });
    this.add({
      slug: `remove-${m.name}`,
      phase: 'remove',
      node: via.name,
      action: { type: 'member-remove', via: via.name, name: m.name, peerUrl: peerUrl(m) },
      commands: [
        `${etcdctlPrefix(via)} member list -w json   # skip when no member has ${peerUrl(m)}`,
        `${etcdctlPrefix(via)} member remove <id of ${m.name}>`,
      ],
      why: `${m.name} leaves the membership; the quorum is counted without it from here on`,
    });
    this.current = this.current.filter((s) => s.name !== m.name);
    if (reachable) {
      this.add({
        slug: `stop-${m.name}`,
        phase: 'remove',
        node: m.name,
        action: { type: 'stop-etcd' },
        commands: [stopScript(m)],
        why: `${m.name} is no longer a member; its etcd must not run (a removed member's etcd may also have exited by itself)`,
      });
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
    const cluster = [...this.current, j];
    const ic = this.initialCluster(cluster);
    this.add({
      slug: `add-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'member-add', via: via.name, name: j.name, peerUrl: peerUrl(j), learner: true },
      commands: [
        `${etcdctlPrefix(via)} member list -w json   # skip the add when ${j.name} is already a member`,
        `${etcdctlPrefix(via)} member add ${j.name} --peer-urls=${peerUrl(j)} --learner   # retried while etcd says "unhealthy cluster"`,
      ],
      why: 'as a learner, a member that never starts cannot take the quorum away',
    });
    const own = this.env.get(j.name) ?? null;
    const ownVars = own === null ? undefined : vars(parseEnvFile(own));
    const isOwn = ownVars !== undefined && ownVars['ETCD_NAME'] === j.name && (ownVars['ETCD_INITIAL_ADVERTISE_PEER_URLS'] ?? '').split(',').includes(peerUrl(j));
    if (isOwn) {
      const { text } = editEnvText(own!, { ETCD_INITIAL_CLUSTER: ic, ETCD_INITIAL_CLUSTER_STATE: 'existing' });
      this.writeEnv(j, text, { phase: 'join', join: j.name, why: `${j.name} joins an existing cluster of ${cluster.map((c) => c.name).join(', ')}` });
    } else {
      const template = this.current.find((m) => typeof this.env.get(m.name) === 'string')!;
      const made = envForNewNode({ spec: template, text: this.env.get(template.name)! }, j, ic);
      this.warnings.push(
        own === null
          ? `${j.name} has no ${j.etcd.envFile}: the plan writes one made from ${template.name}'s, with ${j.name}'s name, URLs and certificate files; review it`
          : `${j.name}'s ${j.etcd.envFile} is written for another member (ETCD_NAME=${ownVars?.['ETCD_NAME'] ?? ''}): the plan replaces it with one made from ${template.name}'s (the old one is kept as a backup); review it`,
        ...made.warnings,
      );
      this.writeEnv(j, made.text, {
        phase: 'join',
        join: j.name,
        why: `${j.name}'s env file, made from ${template.name}'s: its own name, URLs and certificates, the cluster of ${cluster.map((c) => c.name).join(', ')}, state existing`,
      });
    }
    const ev = f.versions.etcd;
    const cv = factOf(this.ctx, via.name).versions.etcd;
    if (ev && cv && (ev.major !== cv.major || ev.minor !== cv.minor)) {
      this.warnings.push(`${j.name} has etcd ${ev.raw}, the cluster runs ${cv.raw}: members of one cluster should run the same minor version`);
    }
    this.add(joinerStartStep(j));
    this.add(promoteStep(j, via));
    this.add({
      slug: `wait-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'wait-healthy', endpointOf: j.name, publishVia: via.name },
      commands: publishCommands(via, j),
      why: 'the member serves clients before anything else changes',
    });
    this.current = this.ordered([...this.current.map((s) => s.name), j.name]);
    this.syncMemberEnvs('finalize', `every member's env file lists the membership with ${j.name}, state existing, because etcd may restart at any time`, j.name);
  }

  lock(nodes: string[], checked: Checked): void {
    this.lockNodes = nodes;
    this.warnings.push(...checked.lockWarnings);
    const breakRun = checked.breakRun;
    this.add({
      slug: 'lock',
      phase: 'lock',
      nodes,
      action: { type: 'lock', ...(breakRun ? { breakRun } : {}) },
      commands: [lockScript(this.ctx.lockFile, this.ctx.runId, this.ctx.holder, breakRun)],
      why: 'a second etcd-dr run against this cluster is refused while this one works',
    });
  }

  plan(intent: Intent, o: { via: NodeSpec; summary: string }): Plan {
    const { ctx } = this;
    const final = this.current;
    this.add({
      slug: 'verify',
      phase: 'verify',
      nodes: final.map((m) => m.name),
      action: { type: 'verify', via: o.via.name, members: final.map((m) => m.name) },
      commands: [
        `${etcdctlPrefix(o.via, final.map(clientUrl))} endpoint status -w json`,
        `${etcdctlPrefix(o.via)} member list -w json`,
        `${etcdctlPrefix(o.via, final.map(clientUrl))} endpoint hashkv --rev=<revision> -w json`,
        `${etcdctlPrefix(o.via)} alarm list`,
        ...final.map((m) => `cat ${m.etcd.envFile}   # on ${m.name}`),
      ],
      why: 'every member healthy, one leader, no learner, no alarm, the same hash at one revision, env files listing exactly these members',
    });
    this.add({
      slug: 'unlock',
      phase: 'unlock',
      nodes: this.lockNodes,
      action: { type: 'unlock' },
      commands: [unlockScript(ctx.lockFile, ctx.runId)],
      why: 'the run is over',
    });
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
      steps: this.steps,
    };
  }
}

function lockNodes(ctx: PlanContext, names: Iterable<string>): string[] {
  const set = new Set(names);
  return ctx.inventory.nodes.filter((s) => set.has(s.name) && factOf(ctx, s.name).reachable).map((s) => s.name);
}

function toleranceWarning(before: number, after: number): string | undefined {
  const b = faultTolerance(before);
  const a = faultTolerance(after);
  if (a < b) {
    return `fault tolerance drops from ${b} to ${a}: ${after} member${after === 1 ? '' : 's'} ${a === 0 ? 'survive no member failure (every member is needed for a quorum)' : `survive ${a} member failure${a === 1 ? '' : 's'}`}`;
  }
  return undefined;
}

/** A new node must be reachable, not a member, not running etcd of its own, and have etcd installed. */
function checkNewNode(ctx: PlanContext, name: string, members: NodeSpec[], verb: string): NodeSpec {
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

const firstServing = (ctx: PlanContext, among: NodeSpec[]): NodeSpec | undefined =>
  among.find((s) => {
    const f = factOf(ctx, s.name);
    return f.reachable && f.endpoint && f.healthy;
  });

/** `etcd-dr scale-out --node NAME…`: add inventory nodes that are not members, one at a time. */
export function planScaleOut(ctx: PlanContext, intent: ScaleOutIntent): Plan {
  if (!intent.nodes.length) throw new RefusedError('name at least one node to add', 'etcd-dr scale-out --node NAME');
  refuseUnknown(ctx, intent.nodes);
  const checked = checkCluster(ctx, { verb: 'scale-out' });
  const { members } = checked;
  const joiners = intent.nodes.map((n) => checkNewNode(ctx, n, members, 'scale-out'));
  const b = new Builder(ctx, members);
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
  const b = new Builder(ctx, members);
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
  const b = new Builder(ctx, members);
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
