// Recovery time of `etcd-dr recover --yes` against the manual procedure scripted as plain ssh commands
// (bench/manual-recover.sh), on one lab of 3 nodes with 2000 keys and 20 MiB of values, alternating
// runs in one session. Prints every run, the medians and their ratio. Goal: etcd-dr at most 0.75x the
// baseline while doing more (a db copy to the bastion, learners, verification, journal).
// Run as root after `npm run build`:  node bench/recover.mjs [--runs 3] [--etcd 3.4|3.5] [--address-base 127.0.25.]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, importDist, median, root } from './common.mjs';

const { labUp, labDown, loadKeys, breakAllDown } = await importDist(import.meta.url, 'lab/index.js');
const RUNS = Number(arg('--runs', '3'));
const etcd = arg('--etcd', '3.4');
const addressBase = arg('--address-base', '127.0.25.');
const GOAL = 0.75;
const quiet = () => undefined;

// where an etcd-dr run's time went, from its journal: start-up + facts + plan, the steps until the
// survivor serves (its election), the member adds (etcd's 5 s connectivity rule), the waits for joiners
function breakdown(stateDir, t0) {
  const runs = join(stateDir, 'runs');
  const id = readdirSync(runs).filter((d) => /^\d{8}T/.test(d)).sort().at(-1);
  const ev = readFileSync(join(runs, id, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const done = ev.filter((e) => e.event === 'step-done');
  const sum = (re) => done.filter((e) => re.test(e.step)).reduce((a, e) => a + e.ms, 0) / 1000;
  const first = ev.find((e) => e.event === 'step-start');
  const startup = (Date.parse(first.t) - (performance.timeOrigin + t0)) / 1000;
  const restarts = done.filter((e) => e.data?.restartedToPublish).length;
  return `(start-up+facts+plan ${startup.toFixed(1)}, starts ${sum(/^\d+-start-/) .toFixed(1)}, adds ${sum(/^\d+-add-/).toFixed(1)}, promotes ${sum(/^\d+-promote-/).toFixed(1)}, waits ${sum(/^\d+-wait-/).toFixed(1)} with ${restarts} restart(s), verify ${sum(/^\d+-verify/).toFixed(1)})`;
}

const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-recover-'));
const lab = await labUp({ dir, addressBase, nodes: 3, etcd, log: quiet });
const results = { 'etcd-dr': [], manual: [] };
const failures = [];
const RUN_LIMIT_MS = 15 * 60_000; // a run that takes longer is killed and counted as failed
try {
  await loadKeys(lab, { keys: 2000, mb: 20, log: quiet });
  // alternate manual and etcd-dr; a failed run (either side) is printed, counted, and tried again,
  // up to 2 extra rounds, so one stuck baseline run does not lose the whole session's figures
  for (let i = 1; (results.manual.length < RUNS || results['etcd-dr'].length < RUNS) && i <= RUNS + 2; i++) {
    for (const who of ['manual', 'etcd-dr']) {
      if (results[who].length >= RUNS) continue;
      await breakAllDown(lab, quiet);
      const t0 = performance.now();
      const r =
        who === 'manual'
          ? spawnSync('bash', [join(root, 'bench', 'manual-recover.sh'), dir], { encoding: 'utf8', timeout: RUN_LIMIT_MS })
          : spawnSync(process.execPath, [join(root, 'bin', 'etcd-dr.js'), 'recover', '-i', lab.inventoryPath, '--yes', '--state-dir', join(dir, 'state'), '--log-level', 'warn'], {
              encoding: 'utf8',
              timeout: RUN_LIMIT_MS,
              env: { ...process.env, CI: 'true' },
            });
      const s = (performance.now() - t0) / 1000;
      if (r.status !== 0) {
        const why = r.error ? String(r.error.message) : `exit ${r.status}`;
        failures.push(`${who} run ${i} (${why}, after ${s.toFixed(1)} s)`);
        console.error(`run ${i} ${who} FAILED (${why}) after ${s.toFixed(2)} s:\n${(r.stderr ?? '').slice(-3000)}`);
        // etcd-dr's next recover starts from whatever the failed run left; the manual script needs the
        // first node to hold the data, which it still does (the script never moves its data away)
        continue;
      }
      results[who].push(s);
      console.log(`run ${i} ${who.padEnd(8)} ${s.toFixed(2)} s${who === 'etcd-dr' ? `   ${breakdown(join(dir, 'state'), t0)}` : ''}`);
    }
  }
} finally {
  await labDown({ dir, purge: true, log: quiet });
}
if (results.manual.length === 0 || results['etcd-dr'].length === 0) {
  console.error(`bench/recover: not enough successful runs for a ratio; failures: ${failures.join('; ') || 'none'}`);
  process.exit(1);
}
const me = median(results['etcd-dr']);
const base = median(results.manual);
console.log('');
console.log(`etcd ${etcd}, 3 nodes, 2000 keys + 20 MiB, ${RUNS} runs each, alternating`);
console.log(`median etcd-dr recover --yes : ${me.toFixed(2)} s   (${results['etcd-dr'].map((x) => x.toFixed(2)).join(', ')})`);
console.log(`median manual (plain ssh)    : ${base.toFixed(2)} s   (${results.manual.map((x) => x.toFixed(2)).join(', ')})`);
console.log(`ratio etcd-dr / manual       : ${(me / base).toFixed(2)}  (goal <= ${GOAL})`);
console.log(`failed runs                  : ${failures.length ? failures.join('; ') : 'none'}`);
const complete = results.manual.length >= RUNS && results['etcd-dr'].length >= RUNS;
if (!complete) console.log(`only ${results.manual.length} manual and ${results['etcd-dr'].length} etcd-dr runs succeeded of ${RUNS} each`);
process.exit(complete && failures.every((f) => !f.startsWith('etcd-dr')) && me / base <= GOAL ? 0 : 1);
