/**
 * The link rates for the cost model, measured by this bastion's earlier runs of the cluster (the newest
 * 50 runs of the state dir, newest first):
 * - the bastion ⇄ node link: the newest db copy to the bastion (at least 1 MiB, so the figure is not all
 *   round trips); for a restore-all run whose sends followed its copy in, the bytes sent out over the
 *   time the sends took (they share the bastion with the copy in, whose own time they stretch);
 * - the peer link between nodes: the newest rejoin whose learners caught up on a db of at least 256 MiB,
 *   the db size over the time its promote steps took (each starts as its learner starts, and ends once
 *   the learner has taken the leader's snapshot; a smaller db's catch-up is mostly fixed costs).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRuns, runsRoot } from './rundir.js';
import type { LinkRate } from '../plan/cost.js';

const MIN_BYTES = 1048576;
const MIN_CATCH_UP_BYTES = 256 * 1048576;

interface SavedPlan {
  inventory?: { cluster?: string };
  steps?: { id?: string; action?: { type?: string; to?: unknown[] } }[];
  strategy?: { estimate?: { inputs?: { dbBytes?: number } } };
}

interface Line {
  event?: string;
  step?: string;
  command?: string;
  code?: number;
  ms?: number;
  outcome?: string;
  stdout?: string;
  data?: { followed?: boolean; bytes?: number };
}

export function linkRateFromRuns(stateDir: string, cluster?: string): LinkRate | undefined {
  return newest(stateDir, cluster, ['"download ', '"followed":true'], (id, plan, lines) => {
    for (const e of lines) {
      if (e.event !== 'step-done' || e.data?.followed !== true || !e.ms) continue;
      const sends = plan.steps?.find((s) => s.id === e.step)?.action?.to?.length ?? 0;
      const bytes = e.data.bytes ?? 0;
      if (!sends || !(bytes >= MIN_BYTES)) continue;
      return {
        bytesPerSec: Math.round(((sends * bytes) / e.ms) * 1000),
        from: `measured: ${sends} send${sends > 1 ? 's' : ''} of ${(bytes / 1048576).toFixed(0)} MiB alongside the copy in, in ${(e.ms / 1000).toFixed(1)} s by run ${id}`,
      };
    }
    for (const e of [...lines].reverse()) {
      if (e.event !== 'command' || !e.command?.startsWith('download ')) continue;
      const bytes = Number(/^(\d+) bytes/.exec(e.stdout ?? '')?.[1]);
      if (e.code !== 0 || !e.ms || !(bytes >= MIN_BYTES)) continue;
      return { bytesPerSec: Math.round((bytes / e.ms) * 1000), from: `measured: ${(bytes / 1048576).toFixed(0)} MiB copied in ${(e.ms / 1000).toFixed(1)} s by run ${id}` };
    }
    return undefined;
  });
}

export function peerRateFromRuns(stateDir: string, cluster?: string): LinkRate | undefined {
  return newest(stateDir, cluster, ['"step-done"'], (id, plan, lines) => {
    const db = plan.strategy?.estimate?.inputs?.dbBytes;
    if (!(typeof db === 'number' && db >= MIN_CATCH_UP_BYTES)) return undefined;
    const promotes = new Set((plan.steps ?? []).filter((s) => s.action?.type === 'promote').map((s) => s.id));
    // 'already' is a resumed step that did not wait for the catch-up
    const ms = lines.filter((e) => e.event === 'step-done' && e.outcome === 'done' && promotes.has(e.step) && e.ms! > 0).map((e) => e.ms!);
    if (!ms.length) return undefined;
    const total = ms.reduce((a, b) => a + b, 0);
    return {
      bytesPerSec: Math.round(((db * ms.length) / total) * 1000),
      from: `measured: ${ms.length} learner${ms.length > 1 ? 's' : ''} caught up on ${(db / 1048576).toFixed(0)} MiB in ${(total / ms.length / 1000).toFixed(1)} s each in run ${id}`,
    };
  });
}

function newest(stateDir: string, cluster: string | undefined, needles: string[], measure: (id: string, plan: SavedPlan, lines: Line[]) => LinkRate | undefined): LinkRate | undefined {
  for (const id of listRuns(stateDir).reverse().slice(0, 50)) {
    const dir = join(runsRoot(stateDir), id);
    const j = join(dir, 'journal.jsonl');
    if (!existsSync(j)) continue;
    const plan = planOf(join(dir, 'plan.json'));
    if (cluster !== undefined && plan?.inventory?.cluster !== cluster) continue;
    const found = measure(id, plan ?? {}, linesOf(j, needles));
    if (found) return found;
  }
  return undefined;
}

/** the journal's lines that contain one of `needles` (only those are parsed: a journal can be long) */
function linesOf(path: string, needles: string[]): Line[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .flatMap((line) => {
      if (!needles.some((n) => line.includes(n))) return [];
      try {
        return [JSON.parse(line) as Line];
      } catch {
        return []; // a line cut by a crash
      }
    });
}

function planOf(path: string): SavedPlan | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as SavedPlan;
  } catch {
    return undefined;
  }
}

/** Both rates this bastion's earlier runs of `cluster` measured, as a plan context takes them. */
export function measuredRates(stateDir: string, cluster: string): { link?: LinkRate; peer?: LinkRate } {
  const link = linkRateFromRuns(stateDir, cluster);
  const peer = peerRateFromRuns(stateDir, cluster);
  return { ...(link ? { link } : {}), ...(peer ? { peer } : {}) };
}
