/**
 * `resume` trusts a journal only when it can: a damaged one (a bad checksum, a gap, a missing end) or an
 * empty one while the nodes hold this run's lock is refused, with what the journal still says and what
 * the nodes show, so the operator decides from the nodes' state instead of a step being run twice.
 */
import type { JournalEvent, RunDir } from './rundir.js';
import type { ClusterFacts, NodeFacts } from '../facts/types.js';
import type { Plan } from '../plan/types.js';
import { RefusedError } from '../util/errors.js';

/** One line per node: etcd, membership, this run's lock, the data dir and what earlier runs set aside. */
export function nodesShow(facts: ClusterFacts, runId: string): string[] {
  return facts.nodes.map((n: NodeFacts) => {
    if (!n.reachable) return `${n.name}: not reachable (${n.error ?? 'no answer'})`;
    const etcd = n.healthy ? 'etcd serving' : n.processRunning ? 'etcd running, not serving' : `etcd stopped (${n.service})`;
    const members = n.members ? `, sees ${n.members.length} member(s) (${n.members.map((m) => m.name || m.id).join(', ')})` : '';
    const lock = n.lock ? (n.lock.runId === runId ? ', holds this run’s lock' : `, locked by run ${n.lock.runId}`) : ', no lock';
    const d = n.dataDir;
    const data = d ? `, data dir ${d.path} ${d.exists ? (d.hasDb ? `has a db${d.db ? ` (revision ${d.db.revision})` : ''}` : 'has no db') : 'missing'}` : '';
    const aside = d?.movedAside.length ? `, set aside: ${d.movedAside.join(', ')}` : '';
    return `${n.name}: ${etcd}${members}${lock}${data}${aside}`;
  });
}

function known(events: JournalEvent[], plan: Plan): string {
  const done = new Set(events.flatMap((e) => (e.event === 'step-done' ? [e.step] : [])));
  const last = [...events].reverse().find((e) => e.event === 'step-done' || e.event === 'step-start');
  const ids = plan.steps.map((s) => s.id);
  return `${done.size} of ${ids.length} steps recorded done${last && 'step' in last ? `, the last intact line about step ${last.step} (${last.event}, ${last.t})` : ''}`;
}

/**
 * Refuses to resume from a journal that cannot tell where the run is; returns notes for a journal that
 * can (written by an older etcd-dr, or a last line cut by a crash).
 */
export function checkJournal(run: RunDir, plan: Plan, facts: ClusterFacts): string[] {
  const j = run.check();
  const hint = `nothing was done. Compare with \`etcd-dr status\`; go on from the nodes' state with a new plan (\`etcd-dr recover\`, which finds the data dirs this run set aside; --break-lock ${plan.runId} takes over its node locks). The journal is left as it is`;
  if (j.problems.length) {
    const what = j.problems.map((p) => `  - ${p.line ? `line ${p.line}: ` : ''}${p.message}`).join('\n');
    throw new RefusedError(
      `the journal of run ${plan.runId} cannot be trusted (${run.journalPath}):\n${what}\nwhat it still says: ${known(j.events, plan)}\nwhat the nodes show:\n${nodesShow(facts, plan.runId)
        .map((l) => `  - ${l}`)
        .join('\n')}`,
      hint,
    );
  }
  const started = j.events.some((e) => e.event === 'run-start');
  const locked = facts.nodes.filter((n) => n.lock?.runId === plan.runId).map((n) => n.name);
  if (!started && locked.length) {
    throw new RefusedError(
      `the journal of run ${plan.runId} is empty, but ${locked.join(', ')} hold this run's lock: the run did start, and the journal lost what it did\nwhat the nodes show:\n${nodesShow(facts, plan.runId)
        .map((l) => `  - ${l}`)
        .join('\n')}`,
      hint,
    );
  }
  const notes: string[] = [];
  if (j.legacyLines > 0) notes.push(`the journal's first ${j.legacyLines} line(s) were written by an older etcd-dr, without checksums: they are read as they are; the lines added now carry them`);
  if (j.tornTail !== undefined) notes.push(`the journal's last line was cut by a crash while it was written (${j.tornTail.length} bytes): what it recorded counts as not done, and is repeated (every step checks before it acts); the cut line is kept beside the journal`);
  return notes;
}
