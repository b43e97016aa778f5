// Recovery time of `etcd-dr recover --yes` against the manual procedure scripted as plain ssh commands
// (bench/manual-recover.sh), on one lab of 3 nodes with 2000 keys and 20 MiB of values, alternating
// runs in one session. Prints every run, the medians and their ratio. Goal: etcd-dr at most 0.75x the
// baseline while doing more (a db copy to the bastion, learners, verification, journal).
// Run as root after `npm run build`:  node bench/recover.mjs [--runs 3] [--etcd 3.4|3.5] [--address-base 127.0.25.]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist', 'lab', 'index.js');
if (!existsSync(dist)) {
  console.error(`bench/recover: ${dist} is missing; build first: npm run build`);
  process.exit(2);
}
const { labUp, labDown, loadKeys, breakAllDown } = await import(dist);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const RUNS = Number(arg('--runs', '3'));
const etcd = arg('--etcd', '3.4');
const addressBase = arg('--address-base', '127.0.25.');
const GOAL = 0.75;
const quiet = () => undefined;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-recover-'));
const lab = await labUp({ dir, addressBase, nodes: 3, etcd, log: quiet });
const results = { 'etcd-dr': [], manual: [] };
try {
  await loadKeys(lab, { keys: 2000, mb: 20, log: quiet });
  for (let i = 1; i <= RUNS; i++) {
    for (const who of ['manual', 'etcd-dr']) {
      await breakAllDown(lab, quiet);
      const t0 = performance.now();
      const r =
        who === 'manual'
          ? spawnSync('bash', [join(root, 'bench', 'manual-recover.sh'), dir], { encoding: 'utf8' })
          : spawnSync(process.execPath, [join(root, 'bin', 'etcd-dr.js'), 'recover', '-i', lab.inventoryPath, '--yes', '--state-dir', join(dir, 'state'), '--log-level', 'warn'], {
              encoding: 'utf8',
              env: { ...process.env, CI: 'true' },
            });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) {
        console.error(`${who} run ${i} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
        process.exit(1);
      }
      results[who].push(s);
      console.log(`run ${i} ${who.padEnd(8)} ${s.toFixed(2)} s`);
    }
  }
} finally {
  await labDown({ dir, purge: true, log: quiet });
}
const me = median(results['etcd-dr']);
const base = median(results.manual);
console.log('');
console.log(`etcd ${etcd}, 3 nodes, 2000 keys + 20 MiB, ${RUNS} runs each, alternating`);
console.log(`median etcd-dr recover --yes : ${me.toFixed(2)} s   (${results['etcd-dr'].map((x) => x.toFixed(2)).join(', ')})`);
console.log(`median manual (plain ssh)    : ${base.toFixed(2)} s   (${results.manual.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`ratio etcd-dr / manual       : ${(me / base).toFixed(2)}  (goal <= ${GOAL})`);
process.exit(me / base <= GOAL ? 0 : 1);
