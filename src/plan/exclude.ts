/**
 * `etcd-dr resume RUN --exclude M`: the rest of an interrupted recovery without member M, whose host died
 * during the run. The steps already done stay as they are (they are the run's history); of the rest, M's
 * join and everything run on M are dropped, M is removed from the membership where it was to be added
 * (a no-op when its join was rolled back), fan-out steps leave M out when it cannot be reached, every env
 * file still to be written names the membership without M, and the verification expects exactly the
 * remaining members. Pure: the caller passes the run's done steps and the nodes' current facts.
 */
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { parseInitialCluster, initialClusterString } from '../etcd/initial-cluster.js';
import type { NodeFacts } from '../facts/types.js';
import { peerUrl, type Inventory, type NodeSpec } from '../inventory/types.js';
import { EXIT, ExitError, RefusedError } from '../util/errors.js';
import { sha256Hex } from '../util/hash.js';
import { envBackupPath, memberRemoveStep, verifyCommands, writeEnvAction, type WriteEnv } from './builder.js';
import { editEnvText } from './envedit.js';
import type { Plan, Step } from './types.js';

export interface ExcludeInput {
  inventory: Inventory;
  /** the nodes as they are now: which answer, and the env file each one has */
  nodes: NodeFacts[];
  /** the steps the run's journal counts as done */
  done: ReadonlySet<string>;
}

export interface ExcludeResult {
  plan: Plan;
  /** one line per change, for the user and the journal */
  changes: string[];
}

/** What can be refused from the plan alone, before any node is contacted (bad input, exit 2). */
export function checkExclude(plan: Plan, names: readonly string[]): void {
  const id = plan.runId;
  if (plan.intent.kind !== 'recover') {
    throw new ExitError(
      `--exclude on resume applies to recovery runs; run ${id} is a ${plan.intent.kind}`,
      EXIT.badInput,
      `bring the node back, then \`etcd-dr resume ${id}\``,
    );
  }
  if (plan.fallback?.length) {
    // a restore-all run: a member that cannot take part fails its step, and the run then sets every member
    // back and goes on as rejoin, whose plan --exclude amends
    throw new ExitError(
      `run ${id} restores every member at once (restore-all); --exclude applies once it has gone on as rejoin`,
      EXIT.badInput,
      `\`etcd-dr resume ${id}\` without --exclude: a member that cannot take part fails its step, every member is set back and the run goes on as rejoin; then \`etcd-dr resume ${id} --exclude …\` if that member's join fails`,
    );
  }
  for (const m of names) {
    if (plan.survivor?.name === m) {
      throw new ExitError(
        `${m} is the survivor run ${id} restores the cluster from; it cannot be left out`,
        EXIT.badInput,
        `bring ${m} back, then \`etcd-dr resume ${id}\`; or, if ${m} is gone for good, plan a new recovery in its place (\`etcd-dr recover --break-lock --exclude ${m}\`): it weighs the data dirs this run set aside on the other members like their live ones`,
      );
    }
    if (!plan.finalMembers.includes(m)) {
      throw new ExitError(
        `${m} is not one of the members run ${id} brings back (${plan.finalMembers.join(', ')})`,
        EXIT.badInput,
        'name a member of the run',
      );
    }
  }
}

/** The run's plan for the rest of the run, without `names`. Refuses when an env file is not what the run left there. */
export function excludeFromPlan(plan: Plan, names: readonly string[], inp: ExcludeInput): ExcludeResult {
  checkExclude(plan, names);
  const verified = plan.steps.find((s) => s.action.type === 'verify' && inp.done.has(s.id));
  if (verified) {
    throw new RefusedError(
      `run ${plan.runId} already verified the cluster with ${names.join(', ')} (step ${verified.id}); leaving a member out now would not be a recovery`,
      `finish the run with \`etcd-dr resume ${plan.runId}\`, then remove the member with \`etcd-dr scale-in\` or \`etcd-dr replace\``,
    );
  }
  const out = new Set(names);
  const keep = plan.finalMembers.filter((m) => !out.has(m));
  const spec = (name: string): NodeSpec => {
    const s = inp.inventory.nodes.find((n) => n.name === name);
    if (!s) throw new ExitError(`the plan names ${name}, which is not in the inventory`, EXIT.badInput, 'resume with the inventory the run was made with');
    return s;
  };
  const fact = (name: string) => inp.nodes.find((n) => n.name === name);
  const gone = (name: string) => !fact(name)?.reachable;
  const changes: string[] = [];
  const ids = new Set(plan.steps.map((s) => s.id));
  const freshId = (base: string) => {
    let id = base;
    for (let i = 2; ids.has(id); i++) id = `${base}-${i}`;
    ids.add(id);
    return id;
  };

  // env files of the remaining members, as the rest of the run will find them: each one starts from the
  // node's file now, which must be what the run left there (or what its next write was to make)
  const envNow = new Map<string, string>();
  const expected = expectedEnv(plan, inp.done);
  const envOf = (m: string, next?: WriteEnv): string => {
    const have = envNow.get(m);
    if (have !== undefined) return have;
    const f = fact(m);
    if (!f?.reachable || f.env?.text === undefined) {
      throw new RefusedError(
        `${m} cannot be reached, and its env file must be rewritten for the smaller membership`,
        `bring ${m} back, or leave it out as well (--exclude ${m})`,
      );
    }
    const sha = sha256Hex(f.env.text);
    const ok = [expected.get(m), next?.beforeSha256, next?.afterSha256].filter((x): x is string => x !== undefined);
    if (ok.length && !ok.includes(sha)) {
      throw new RefusedError(
        `${m}: ${f.env.path} changed since run ${plan.runId} last wrote it (sha256 ${sha})`,
        `look at the file on ${m}; to go on, make a new plan from the current state`,
      );
    }
    envNow.set(m, f.env.text);
    return f.env.text;
  };
  const withoutOut = (cluster: string): string => initialClusterString(parseInitialCluster(cluster).filter((e) => !out.has(e.name)));
  const rewrite = (st: Step, a: WriteEnv, m: string, cluster: string): Step | undefined => {
    const before = envOf(m, a);
    const { text, diff } = editEnvText(before, { ETCD_INITIAL_CLUSTER: cluster, ETCD_INITIAL_CLUSTER_STATE: 'existing' }, a.path);
    if (text === before) return undefined;
    envNow.set(m, text);
    return { ...st, ...writeEnvAction(a.path, a.backup, before, text), envDiff: diff };
  };

  const steps: Step[] = [];
  const amend = (st: Step): void => {
    const a = st.action;
    if (inp.done.has(st.id)) {
      steps.push(st);
      return;
    }
    if ((st.join && out.has(st.join)) || (st.node && out.has(st.node))) {
      changes.push(`dropped ${st.id}`);
      return;
    }
    if (a.type === 'write-env' && st.node) {
      const cluster = vars(parseEnvFile(a.content))['ETCD_INITIAL_CLUSTER'];
      if (cluster === undefined) throw new RefusedError(`${st.id}: the env file it writes has no ETCD_INITIAL_CLUSTER`, 'make a new plan');
      const next = rewrite(st, a, st.node, withoutOut(cluster));
      if (next) {
        steps.push(next);
        changes.push(`${st.id}: ETCD_INITIAL_CLUSTER without ${names.join(', ')}`);
      } else changes.push(`dropped ${st.id} (the file already says so)`);
      return;
    }
    if (a.type === 'verify') {
      // every remaining member's env file must end up naming exactly the remaining members
      for (const m of keep) {
        const list = keep.map((k) => `${k}=${peerUrl(spec(k))}`).join(',');
        const before = envOf(m);
        const path = spec(m).etcd.envFile;
        const { text, diff } = editEnvText(before, { ETCD_INITIAL_CLUSTER: list, ETCD_INITIAL_CLUSTER_STATE: 'existing' }, path);
        if (text === before) continue;
        const id = freshId(`${st.id.split('-')[0]}-env-${m}-without-${names.join('-')}`);
        envNow.set(m, text);
        steps.push({ id, phase: 'finalize', node: m, ...writeEnvAction(path, envBackupPath(path, plan.runId), before, text), envDiff: diff, why: `the env file lists the members without ${names.join(', ')}` });
        changes.push(`added ${id}`);
      }
      steps.push({ ...st, nodes: keep, action: { ...a, members: keep }, commands: verifyCommands(spec(a.via), keep.map(spec)) });
      changes.push(`${st.id}: verifies ${keep.join(', ')}`);
      return;
    }
    if (st.nodes?.some((n) => out.has(n) && gone(n))) {
      const left = st.nodes.filter((n) => !(out.has(n) && gone(n)));
      const dropped = st.nodes.filter((n) => !left.includes(n));
      steps.push({ ...st, nodes: left, commands: st.commands.filter((c) => !dropped.some((n) => c.startsWith(`# ${n}\n`))) });
      changes.push(`${st.id}: runs on ${left.join(', ')} (${dropped.join(', ')} cannot be reached)`);
      return;
    }
    steps.push(st);
  };
  for (const st of plan.steps) {
    amend(st);
    const a = st.action;
    // M may have become a member, even a voting one: it is removed right where it was added (a no-op if it is not)
    if (a.type === 'member-add' && out.has(a.name)) {
      const id = freshId(`${st.id.split('-')[0]}-leave-out-${a.name}`);
      const { slug: _slug, ...step } = memberRemoveStep(spec(a.via), a.name, a.peerUrl, '', 'join', `${a.name} is left out (resume --exclude): it must not stay a member, as a learner or a voter`);
      steps.push({ id, ...step });
      changes.push(`added ${id}: remove ${a.name} from the membership if it is a member`);
    }
  }

  const lockedOut = names.filter((m) => gone(m) && plan.steps.some((s) => s.action.type === 'lock' && inp.done.has(s.id) && s.nodes?.includes(m)));
  const warnings = names.map(
    (m) =>
      `${m} is left out (resume --exclude): the cluster comes back with ${keep.length} members (${keep.join(', ')}). ` +
      `When ${m}'s host is back, keep etcd stopped there${lockedOut.includes(m) ? `, move this run's lock ${plan.lockFile} aside on it` : ''} and add it with \`etcd-dr scale-out --node ${m}\``,
  );
  const intent = plan.intent.kind === 'recover' ? { ...plan.intent, exclude: [...plan.intent.exclude, ...names] } : plan.intent;
  const { digest: _digest, ...rest } = plan;
  return {
    plan: {
      ...rest,
      intent,
      finalMembers: keep,
      summary: `${plan.summary.replace(/\.$/, '')}; ${names.join(', ')} left out on resume.`,
      warnings: [...plan.warnings, ...warnings],
      steps,
    },
    changes,
  };
}

/** The sha256 each node's env file has after the done steps: the last done write-env's, else the plan's facts. */
function expectedEnv(plan: Plan, done: ReadonlySet<string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of plan.facts) if (f.env) out.set(f.name, f.env);
  for (const s of plan.steps) if (s.action.type === 'write-env' && s.node && done.has(s.id)) out.set(s.node, s.action.afterSha256);
  return out;
}
