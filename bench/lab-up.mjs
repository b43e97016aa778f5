// How long `etcd-dr lab up` takes: 3 nodes from a cold (new) lab dir, three times, and a warm `lab up`
// of an existing lab whose nodes are powered off. Goal: under 15 s for 3 nodes.
// Run as root after `npm run build`:  node bench/lab-up.mjs [--address-base 127.0.17.]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, importDist, median } from './common.mjs';

const { labUp, labDown } = await importDist(import.meta.url, 'lab/index.js');

const addressBase = arg('--address-base', '127.0.17.');
const RUNS = 3;
const GOAL_S = 15;
const secs = (ms) => (ms / 1000).toFixed(2);
const quiet = () => undefined;

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const parent = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-'));
try {
  const cold = [];
  for (let run = 1; run <= RUNS; run++) {
    const dir = join(parent, `cold-${run}`);
    const ms = await timed(() => labUp({ dir, nodes: 3, addressBase, log: quiet }));
    cold.push(ms);
    console.log(`lab up (3 nodes, cold dir) run ${run}: ${secs(ms)} s`);
    await labDown({ dir, purge: true, log: quiet });
  }

  const dir = join(parent, 'warm');
  await labUp({ dir, nodes: 3, addressBase, log: quiet });
  await labDown({ dir, log: quiet });
  const warm = await timed(() => labUp({ dir, log: quiet }));
  const again = await timed(() => labUp({ dir, log: quiet }));
  await labDown({ dir, purge: true, log: quiet });

  const m = median(cold);
  console.log(`lab up (3 nodes, cold dir): median ${secs(m)} s (${cold.map(secs).join(', ')})`);
  console.log(`lab up (3 nodes, warm: existing lab, nodes powered off): ${secs(warm)} s`);
  console.log(`lab up (3 nodes, already up): ${secs(again)} s`);
  console.log(`goal: under ${GOAL_S} s for 3 nodes: ${m / 1000 < GOAL_S ? 'met' : 'MISSED'}`);
  process.exitCode = m / 1000 < GOAL_S ? 0 : 1;
} finally {
  rmSync(parent, { recursive: true, force: true });
}
