// What the db copy to the bastion costs a recovery with a large db: `etcd-dr recover --yes` as it runs by
// default (the copy alongside the restore and the joins, awaited before the verification) against
// `--backup-before-restore` (the copy ends before the restore starts), alternating runs in one session on
// one 3-node lab that holds --mb MiB of values (default 500). Prints every run, then the medians of:
//   restore began  from the first step to the restore's start (the copy's share of it, before)
//   serving        from the first step until the restored survivor serves: write availability
//   total          the whole run, as the user waits for it (start-up, facts and plan included)
//   copy           how long the copy itself took
// The survivor's first election draws a random 0.25–5 s (see benchmarks.md), so `serving` and `total`
// carry that noise on both sides; `restore began` does not.
// Run as root after `npm run build`:  node bench/backup.mjs [--runs 3] [--mb 500] [--etcd 3.4|3.5] [--address-base 127.0.28.]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, importDist, median, root } from './common.mjs';

const { labUp, labDown, loadKeys, breakAllDown } = await importDist(import.meta.url, 'lab/index.js');
const RUNS = Number(arg('--runs', '3'));
const MB = Number(arg('--mb', '500'));
const etcd = arg('--etcd', '3.4');
const addressBase = arg('--address-base', '127.0.28.');
const quiet = () => undefined;
const VARIANTS = {
  alongside: [],
  'before-restore': ['--backup-before-restore'],
};

/** The figures of one run, from its journal (times in s). */
function figuresOf(stateDir, totalS) {
  const runs = join(stateDir, 'runs');
  const id = readdirSync(runs).filter((d) => /^\d{8}T/.test(d)).sort().at(-1);
  const ev = readFileSync(join(runs, id, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const plan = JSON.parse(readFileSync(join(runs, id, 'plan.json'), 'utf8'));
  const stepOf = (type) => plan.steps.find((s) => s.action.type === type)?.id;
  const t = (e) => Date.parse(e.t);
  const first = t(ev.find((e) => e.event === 'step-start'));
  const restoreStart = t(ev.find((e) => e.event === 'step-start' && e.step === stepOf('restore-db')));
  const survivorStart = plan.steps.find((s) => s.action.type === 'start-etcd' && s.action.waitHealthy)?.id;
  const serving = t(ev.find((e) => e.event === 'step-done' && e.step === survivorStart));
  const copy = ev.find((e) => e.event === 'command' && e.step === stepOf('backup-db'));
  if (ev.at(-1)?.event !== 'run-end' || ev.at(-1).outcome !== 'done') throw new Error(`run ${id} did not end done`);
  return {
    restoreBegan: (restoreStart - first) / 1000,
    serving: (serving - first) / 1000,
    total: totalS,
    copy: copy.ms / 1000,
    bytes: Number(copy.stdout.split(' ')[0]),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-backup-'));
const lab = await labUp({ dir, addressBase, nodes: 3, etcd, log: quiet });
const results = Object.fromEntries(Object.keys(VARIANTS).map((v) => [v, []]));
let failed = 0;
try {
  await loadKeys(lab, { keys: 1000, mb: MB, log: quiet });
  for (let i = 1; i <= RUNS; i++) {
    // alternate which variant goes first, so neither always meets the machine right after the load
    const order = i % 2 ? Object.keys(VARIANTS) : Object.keys(VARIANTS).reverse();
    for (const v of order) {
      await breakAllDown(lab, quiet);
      const state = join(dir, `state-${v}-${i}`);
      const t0 = performance.now();
      const r = spawnSync(process.execPath, [join(root, 'bin', 'etcd-dr.js'), 'recover', '-i', lab.inventoryPath, '--yes', '--state-dir', state, '--log-level', 'warn', ...VARIANTS[v]], {
        encoding: 'utf8',
        timeout: 15 * 60_000,
      });
      const totalS = (performance.now() - t0) / 1000;
      if (r.status !== 0) {
        failed++;
        console.log(`run ${i} ${v.padEnd(14)} FAILED (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ')}`);
        continue;
      }
      const f = figuresOf(state, totalS);
      results[v].push(f);
      console.log(
        `run ${i} ${v.padEnd(14)} restore began ${f.restoreBegan.toFixed(2)} s   serving ${f.serving.toFixed(2)} s   total ${f.total.toFixed(2)} s   copy ${f.copy.toFixed(2)} s (${(f.bytes / 1048576).toFixed(0)} MiB)`,
      );
      // each run's copy is as large as the db: keep the bastion's disk from filling up over a session
      rmSync(join(state, 'backups'), { recursive: true, force: true });
    }
  }
} finally {
  await labDown({ dir, purge: true, log: quiet });
}

const m = (v, k) => median(results[v].map((f) => f[k]));
console.log('');
console.log(`medians over ${RUNS} runs each, etcd ${etcd}, ${MB} MiB of values:`);
console.log('                 restore began   serving   total    copy');
for (const v of Object.keys(VARIANTS)) {
  if (!results[v].length) continue;
  console.log(`${v.padEnd(16)} ${m(v, 'restoreBegan').toFixed(2).padStart(9)} s ${m(v, 'serving').toFixed(2).padStart(7)} s ${m(v, 'total').toFixed(2).padStart(6)} s ${m(v, 'copy').toFixed(2).padStart(6)} s`);
}
if (results.alongside.length && results['before-restore'].length) {
  console.log(
    `alongside / before-restore: serving ${(m('alongside', 'serving') / m('before-restore', 'serving')).toFixed(2)}, total ${(m('alongside', 'total') / m('before-restore', 'total')).toFixed(2)}`,
  );
}
process.exit(failed ? 1 : 0);
