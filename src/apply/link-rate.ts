/**
 * The bastion ⇄ node link rate for the cost model, measured by this bastion's earlier copies: the newest
 * db copy to the bastion (at least 1 MiB, so the figure is not all round trips) in a run of the state dir.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listRuns, runsRoot } from './rundir.js';
import type { LinkRate } from '../plan/cost.js';

const MIN_BYTES = 1048576;

export function linkRateFromRuns(stateDir: string, cluster?: string): LinkRate | undefined {
  for (const id of listRuns(stateDir).reverse().slice(0, 50)) {
    const j = join(runsRoot(stateDir), id, 'journal.jsonl');
    if (!existsSync(j)) continue;
    if (cluster !== undefined && !planOf(join(runsRoot(stateDir), id, 'plan.json'), cluster)) continue;
    const lines = readFileSync(j, 'utf8').split('\n').reverse();
    for (const line of lines) {
      if (!line.includes('"download ')) continue;
      try {
        const e = JSON.parse(line) as { event?: string; command?: string; code?: number; ms?: number; stdout?: string; t?: string };
        const bytes = Number(/^(\d+) bytes/.exec(e.stdout ?? '')?.[1]);
        if (e.event !== 'command' || e.code !== 0 || !e.ms || !(bytes >= MIN_BYTES)) continue;
        return { bytesPerSec: Math.round((bytes / e.ms) * 1000), from: `measured: ${(bytes / 1048576).toFixed(0)} MiB copied in ${(e.ms / 1000).toFixed(1)} s by run ${id}` };
      } catch {
        // a line cut by a crash
      }
    }
  }
  return undefined;
}

function planOf(path: string, cluster: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { inventory?: { cluster?: string } }).inventory?.cluster === cluster;
  } catch {
    return false;
  }
}
