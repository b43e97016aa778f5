/**
 * How plan steps are spelled: one builder shared by every planner (recover, restore-all, scale-out,
 * scale-in, replace; resume --exclude takes its step parts). A planner decides what happens (which
 * survivor, which order, which members); the builder turns each decision into a numbered step with its
 * action, the exact scripts shown for review, and the env file of each node as the plan leaves it so far.
 * Pure.
 */
import type { NodeFacts } from '../facts/types.js';
import { diffEnv } from '../etcd/envdiff.js';
import { clientUrl, peerUrl, type NodeSpec } from '../inventory/types.js';
import { sha256Hex as sha256 } from '../util/hash.js';
import { layoutOf, setAsidePath } from './datadir-layout.js';
import { editEnvText } from './envedit.js';
import {
  EMPTY_SHA256,
  etcdctlPrefix,
  lockScript,
  moveAsideScript,
  publishCommands,
  commitDbScript, receiveDbScript,
  restoreScript,
  startScript,
  stopScript,
  unlockScript,
  waitHealthyScript,
  writeEnvScript,
} from './scripts.js';
import type { Action, Phase, Step } from './types.js';

/** A step before it is numbered: its id is `NN-<slug>`. */
export type Draft = Omit<Step, 'id'> & { slug: string };
type ActionOf<T extends Action['type']> = Extract<Action, { type: T }>;
export type RestoreDb = Omit<ActionOf<'restore-db'>, 'type'>;
export type WriteEnv = ActionOf<'write-env'>;

/** `07-add-etcd2`: the step's place in the plan and its slug. */
export function stepId(n: number, slug: string): string {
  return `${String(n).padStart(2, '0')}-${slug}`;
}

export function slugOf(id: string): string {
  return id.replace(/^\d+-/, '');
}

/** ETCD_INITIAL_CLUSTER of these members, in the order given. */
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

/** Where a write-env step keeps the file it replaces (once per run). */
export function envBackupPath(path: string, runId: string): string {
  return `${path}.etcd-dr-${runId}.bak`;
}

/** A write-env action and its script; `before` null: the file does not exist yet. */
export function writeEnvAction(path: string, backup: string, before: string | null, after: string): { action: WriteEnv; commands: string[] } {
  const params = { path, backup, beforeSha256: before === null ? EMPTY_SHA256 : sha256(before), afterSha256: sha256(after), content: after };
  return { action: { type: 'write-env', ...params }, commands: [writeEnvScript(params)] };
}

/** A restore-db action and its script. */
export function restoreDbAction(r: RestoreDb, runId: string): { action: ActionOf<'restore-db'>; commands: string[] } {
  return { action: { type: 'restore-db', ...r }, commands: [restoreScript({ ...r, runId })] };
}

/** Remove the member with `peer` through `via`; done when no member has it. */
export function memberRemoveStep(via: NodeSpec, name: string, peer: string, slug: string, phase: Phase, why: string): Draft {
  return {
    slug,
    phase,
    node: via.name,
    action: { type: 'member-remove', via: via.name, name, peerUrl: peer },
    commands: [`${etcdctlPrefix(via)} member list -w json   # skip when no member has ${peer}`, `${etcdctlPrefix(via)} member remove <id of ${name}>`],
    why,
  };
}

/** The numbered steps of one plan, with each node's env file as the steps so far leave it. */
export class StepBuilder {
  readonly steps: Step[];
  /** env text per node as the plan leaves it so far; null: no file */
  private readonly env = new Map<string, string | null>();

  /** `first`: steps already numbered, which the new ones follow */
  constructor(
    private readonly runId: string,
    first: Step[] = [],
  ) {
    this.steps = [...first];
  }

  add(d: Draft): void {
    const { slug, ...rest } = d;
    this.steps.push({ id: stepId(this.steps.length + 1, slug), ...rest });
  }

  /** The env file of `node` the plan starts from (null: none). */
  trackEnv(node: string, text: string | null): void {
    this.env.set(node, text);
  }

  envOf(node: string): string | null | undefined {
    return this.env.get(node);
  }

  lock(nodes: string[], c: { lockFile: string; holder: string; breakRun?: string; breakEmpty?: boolean }): void {
    const { breakRun, breakEmpty } = c;
    this.add({
      slug: 'lock',
      phase: 'lock',
      nodes,
      action: { type: 'lock', ...(breakRun ? { breakRun } : {}), ...(breakEmpty ? { breakEmpty: true } : {}) },
      commands: [lockScript(c.lockFile, this.runId, c.holder, breakRun, breakEmpty)],
      why: 'a second etcd-dr run against this cluster is refused while this one works',
    });
  }

  unlock(nodes: string[], lockFile: string): void {
    this.add({
      slug: 'unlock',
      phase: 'unlock',
      nodes,
      action: { type: 'unlock' },
      commands: [unlockScript(lockFile, this.runId)],
      why: 'the run is over',
    });
  }

  /** etcd stopped on every node at once. */
  stopAll(nodes: NodeSpec[], why: string): void {
    this.add({
      slug: 'stop-etcd',
      phase: 'stop',
      nodes: nodes.map((n) => n.name),
      action: { type: 'stop-etcd' },
      commands: nodes.map((n) => `# ${n.name}\n${stopScript(n)}`),
      why,
    });
  }

  stop(n: NodeSpec, phase: Phase, why: string): void {
    this.add({ slug: `stop-${n.name}`, phase, node: n.name, action: { type: 'stop-etcd' }, commands: [stopScript(n)], why });
  }

  /** Where `n`'s data dir is set aside by this run. */
  asidePath(n: NodeSpec, f: NodeFacts | undefined): string {
    return setAsidePath(n.etcd.dataDir, layoutOf(f), `etcd-dr-${this.runId}`);
  }

  moveAside(n: NodeSpec, f: NodeFacts | undefined, phase: Phase, why: string): void {
    const inside = layoutOf(f) === 'inside';
    const to = this.asidePath(n, f);
    this.add({
      slug: `move-aside-${n.name}`,
      phase,
      node: n.name,
      action: { type: 'move-data-dir', from: n.etcd.dataDir, to, ...(inside ? { inside } : {}) },
      commands: [moveAsideScript(n.etcd.dataDir, to, inside)],
      why,
    });
  }

  /**
   * `n`'s env file rewritten to `after` (nothing when it already says so). `slug` defaults to `env-<node>`;
   * `join`: the step is part of that member's join; `allAtOnce`: of a restore-all.
   */
  writeEnv(n: NodeSpec, after: string, o: { phase: Phase; why: string; join?: string; allAtOnce?: boolean; slug?: string }): void {
    const before = this.env.get(n.name) ?? null;
    if (after === before) return;
    this.env.set(n.name, after);
    const { action, commands } = writeEnvAction(n.etcd.envFile, envBackupPath(n.etcd.envFile, this.runId), before, after);
    this.add({
      slug: o.slug ?? `env-${n.name}`,
      phase: o.phase,
      node: n.name,
      ...(o.join ? { join: o.join } : {}),
      ...(o.allAtOnce ? { allAtOnce: true } : {}),
      action,
      commands,
      envDiff: before === null ? `(new file ${n.etcd.envFile})\n${diffEnv('', after).trimEnd()}` : diffEnv(before, after).trimEnd(),
      why: o.why,
    });
  }

  /** `n`'s env file naming `cluster` (in that order), state existing; nothing when `n` has no file. */
  writeCluster(n: NodeSpec, cluster: NodeSpec[], o: { phase: Phase; why: string; join?: string; allAtOnce?: boolean; slug?: string }): void {
    const before = this.env.get(n.name);
    if (before === null || before === undefined) return;
    const { text } = editEnvText(before, { ETCD_INITIAL_CLUSTER: initialCluster(cluster), ETCD_INITIAL_CLUSTER_STATE: 'existing' });
    this.writeEnv(n, text, o);
  }

  backupDb(n: NodeSpec, remoteDb: string, localPath: string, alongside: boolean, why: string): void {
    this.add({
      slug: `backup-db-${n.name}`,
      phase: 'backup',
      node: n.name,
      action: { type: 'backup-db', remoteDb, localPath, ...(alongside ? { alongside } : {}) },
      commands: [`cat ${remoteDb}   # streamed to ${localPath} (mode 0600, sha256 recorded)${alongside ? ', alongside the next steps' : ''}`],
      why,
    });
  }

  backupWait(n: NodeSpec, remoteDb: string, localPath: string): void {
    this.add({
      slug: `backup-done-${n.name}`,
      phase: 'backup',
      node: n.name,
      action: { type: 'backup-wait', remoteDb, localPath },
      commands: [`# wait for the copy of ${remoteDb} to ${localPath}; copy it now if the run was resumed before it ended`],
      why: 'the run is not over until the bastion holds the copy, with its sha256',
    });
  }

  restore(n: NodeSpec, r: RestoreDb, why: string): void {
    this.add({ slug: `restore-${n.name}`, phase: 'restore', node: n.name, ...restoreDbAction(r, this.runId), why });
  }

  /** The first member started; once it serves, its keys are counted (the verification's floor). */
  startFirst(n: NodeSpec, why: string): void {
    this.add({
      slug: `start-${n.name}`,
      phase: 'first-member',
      node: n.name,
      action: { type: 'start-etcd', waitHealthy: true, baseline: true },
      commands: [startScript(n), waitHealthyScript(n, 120)],
      why,
    });
  }

  /** Add `j` through `via`, as a learner or a voting member. */
  memberAdd(j: NodeSpec, via: NodeSpec, learner: boolean, why: string): void {
    this.add({
      slug: `add-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'member-add', via: via.name, name: j.name, peerUrl: peerUrl(j), learner },
      commands: [
        `${etcdctlPrefix(via)} member list -w json   # skip the add when ${j.name} is already a member`,
        `${etcdctlPrefix(via)} member add ${j.name} --peer-urls=${peerUrl(j)}${learner ? ' --learner' : ''}   # retried while etcd says "unhealthy cluster"`,
      ],
      why,
    });
  }

  /** A new member's start: it joins with an empty data dir (the wait for it to serve is a step of its own). */
  joinerStart(j: NodeSpec): void {
    this.add({
      slug: `start-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'start-etcd', waitHealthy: false },
      commands: [startScript(j)],
      why: 'starts with an empty data dir and fetches everything from the leader',
    });
  }

  /** A joined learner's promotion to a voting member, through `via`. */
  promote(j: NodeSpec, via: NodeSpec): void {
    this.add({
      slug: `promote-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'promote', via: via.name, name: j.name },
      commands: [`${etcdctlPrefix(via)} member promote <id of ${j.name}>   # retried while etcd says the learner is not in sync`],
      why: 'a learner that caught up becomes a voting member',
    });
  }

  /** Wait until `j` serves clients; `publishVia`: a promoted learner, whose name is read through that member. */
  waitServing(j: NodeSpec, publishVia: NodeSpec | undefined, why: string): void {
    this.add({
      slug: `wait-${j.name}`,
      phase: 'join',
      node: j.name,
      join: j.name,
      action: { type: 'wait-healthy', endpointOf: j.name, ...(publishVia ? { publishVia: publishVia.name } : {}) },
      commands: publishVia ? publishCommands(publishVia, j) : [waitHealthyScript(j, 120)],
      why,
    });
  }

  /** Leadership handed from `m` to the most caught-up of `stays`, only if `m` leads when the step runs. */
  moveLeader(m: NodeSpec, via: NodeSpec, stays: NodeSpec[]): void {
    const urls = [m, ...stays].map(clientUrl);
    this.add({
      slug: `move-leader-${m.name}`,
      phase: 'remove',
      node: via.name,
      action: { type: 'move-leader', via: via.name, from: m.name, members: [m.name, ...stays.map((s) => s.name)] },
      commands: [
        `${etcdctlPrefix(via, urls)} endpoint status -w json   # does ${m.name} lead?`,
        `${etcdctlPrefix(via, urls)} move-leader <id of the most caught-up of ${stays.map((s) => s.name).join(', ')}>   # only when ${m.name} leads`,
      ],
      why: `a leader that removes itself leaves the cluster without one until the next election; leadership moves first, only if ${m.name} leads when the step runs`,
    });
  }

  memberRemove(m: NodeSpec, via: NodeSpec, why: string): void {
    this.add(memberRemoveStep(via, m.name, peerUrl(m), `remove-${m.name}`, 'remove', why));
  }

  /** restore-all: the bastion's copy of `from`'s db sent to every node of `to` at once, as it is made. */
  sendDb(localPath: string, from: { node: string; remoteDb: string }, to: { node: string; path: string }[], why: string): void {
    this.add({
      slug: 'send-db',
      phase: 'restore',
      nodes: to.map((t) => t.node),
      allAtOnce: true,
      action: { type: 'send-db', localPath, to, from },
      commands: to.map(
        (t) =>
          `# ${t.node}: ${localPath} streamed from the bastion as it is copied there\n${receiveDbScript(t.path)}\n` +
          `# once the sha256 printed matches the bastion's copy:\n${commitDbScript(t.path, '<bytes of the copy>')}`,
      ),
      why,
    });
  }

  /** restore-all: every member restores its copy of the db at once. */
  restoreAll(r: Omit<ActionOf<'restore-all'>, 'type'>, why: string): void {
    const { members, ...flags } = r;
    this.add({
      slug: 'restore-all',
      phase: 'restore',
      nodes: members.map((m) => m.node),
      allAtOnce: true,
      action: { type: 'restore-all', ...r },
      commands: members.map((m) => `# ${m.node}\n${restoreScript({ ...flags, db: m.db, dataDir: m.dataDir, name: m.name, peerUrl: m.peerUrl, runId: this.runId })}`),
      why,
    });
  }

  /** restore-all: every member started at once; `baselineVia` counts the keys once they serve. */
  startAll(members: NodeSpec[], baselineVia: NodeSpec, why: string): void {
    this.add({
      slug: 'start-all',
      phase: 'first-member',
      nodes: members.map((m) => m.name),
      allAtOnce: true,
      action: { type: 'start-all', baselineVia: baselineVia.name },
      commands: members.map((m) => `# ${m.name}\n${startScript(m)}\n${waitHealthyScript(m, 120)}`),
      why,
    });
  }

  /** The verification through `via` that the cluster is exactly `members`; `envFiles`: their env files are shown too. */
  verify(via: NodeSpec, members: NodeSpec[], why: string, o: { envFiles?: boolean } = {}): void {
    this.add({
      slug: 'verify',
      phase: 'verify',
      nodes: members.map((m) => m.name),
      action: { type: 'verify', via: via.name, members: members.map((m) => m.name) },
      commands: [...verifyCommands(via, members), ...(o.envFiles ? members.map((m) => `cat ${m.etcd.envFile}   # on ${m.name}`) : [])],
      why,
    });
  }
}
