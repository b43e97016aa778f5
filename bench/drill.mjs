// RTO and per-phase figures of the all-down drill on the lab: 3 and 5 nodes, about 20 MiB and 500 MiB of
// data, so how recovery time grows with the cluster and the data is on record. Each configuration runs
// once on a new lab (data loading dominates the bench's own time, not the figures).
// Run as root after `npm run build`:  node bench/drill.mjs [--sizes 20,500] [--nodes 3,5] [--etcd 3.4]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, importDist, root } from './common.mjs';

const { labUp, labDown, loadKeys } = await importDist(import.meta.url, 'lab/index.js');
const sizes = arg('--sizes', '20,500').split(',').map(Number);
const nodeCounts = arg('--nodes', '3,5').split(',').map(Number);
const etcd = arg('--etcd', '3.4');
const quiet = () => undefined;
const s = (ms) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

const rows = [];
let base = 26;
for (const nodes of nodeCounts) {
  for (const mb of sizes) {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-drill-'));
    const lab = await labUp({ dir, addressBase: `127.0.${base++}.`, nodes, etcd, log: quiet });
    try {
      await loadKeys(lab, { keys: 2000, mb, log: quiet });
      const report = join(dir, 'drill.json');
      const r = spawnSync(
        process.execPath,
        [join(root, 'bin', 'etcd-dr.js'), 'drill', '-i', lab.inventoryPath, '--scenario', 'all-down', '--yes', '--report', report, '--state-dir', join(dir, 'state'), '--log-level', 'warn'],
        { encoding: 'utf8', env: { ...process.env, CI: 'true' }, maxBuffer: 64 * 1024 * 1024 },
      );
      if (!existsSync(report)) {
        console.error(`drill on ${nodes} nodes / ${mb} MiB failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
        process.exit(1);
      }
      const d = JSON.parse(readFileSync(report, 'utf8'));
      const t = d.timings;
      const joins = Object.values(t.joinsMs ?? {});
      rows.push([
        nodes, mb, d.pass ? 'pass' : 'FAIL', (d.before.valueBytes / 1048576).toFixed(0), s(t.stopMs), s(t.backupMs), s(t.restoreMs), s(t.firstMemberServingMs),
        joins.map(s).join('/'), s(t.verifyMs), s(t.totalMs), s(t.captureBeforeMs),
      ]);
      console.log(`${nodes} nodes, ${mb} MiB: ${d.pass ? 'pass' : 'FAIL'}, RTO ${s(t.totalMs)} s`);
    } finally {
      await labDown({ dir, purge: true, log: quiet });
    }
  }
}
const head = ['nodes', 'MiB loaded', 'drill', 'MiB captured', 'stop s', 'backup s', 'restore s', 'writes back s', 'joins s', 'verify s', 'RTO s', 'capture s'];
console.log('');
console.log(`etcd ${etcd}, all-down drill, 2000 small keys + N one-MiB values`);
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (const r of rows) console.log(`| ${r.join(' | ')} |`);
