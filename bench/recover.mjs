// Recovery time of the quorum-loss recovery, four ways interleaved on one lab per member count:
//   manual       the manual procedure as plain ssh commands (bench/manual-recover.sh: survivor alone, voting adds)
//   floor        etcd's whole-cluster restore as plain ssh commands (bench/floor-recover.sh: nothing checked)
//   rejoin       etcd-dr recover --yes --strategy rejoin
//   restore-all  etcd-dr recover --yes --strategy restore-all
// For each member count (--members 3,5) and db size (--mb 20,1600: MiB of values besides --keys keys, loaded
// once and grown for the next size), every round runs each way once after `lab break --scenario all-down`.
// 1600 MiB of values make a db file of about 1.9 GiB, just under etcd's (and kubespray's) 2 GiB quota,
// which 2048 MiB of values would exceed; the db file's size is printed after each load.
// Prints every run with its phases (copy, restore, first election, joins) from the journal or the
// script, then per way the median, the spread (min–max), the phases' medians and etcd-dr's peak RSS,
// and the ratios the targets name (docs/benchmarks.md).
// Run as root after `npm run build`:
//   node bench/recover.mjs [--runs 5] [--members 3,5] [--mb 20,1600] [--keys 2000] [--ways manual,floor,rejoin,restore-all]
//                          [--etcd 3.4|3.5] [--address-base 127.0.25.]
// The old data dirs every run sets aside are removed between runs (the lab is disposable), so the disk
// holds one copy of the db per node and a few in flight.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, importDist, median, root } from './common.mjs';

const { labUp, labDown, loadKeys, breakAllDown, labExec } = await importDist(import.meta.url, 'lab/index.js');
const { loadInventory } = await importDist(import.meta.url, 'inventory/index.js');
const { openConnections } = await importDist(import.meta.url, 'ssh/index.js');
const RUNS = Number(arg('--runs', '5'));
const MEMBERS = arg('--members', '3,5').split(',').map(Number);
const SIZES = arg('--mb', '20,1600').split(',').map(Number).sort((a, b) => a - b);
const KEYS = Number(arg('--keys', '2000'));
const WAYS = arg('--ways', 'manual,floor,rejoin,restore-all').split(',');
const etcd = arg('--etcd', '3.4');
const addressBase = arg('--address-base', '127.0.25.');
const RUN_LIMIT_MS = 30 * 60_000;
const quiet = () => undefined;
const s = (ms) => (ms / 1000).toFixed(2);

/** The phases of the newest etcd-dr run of `stateDir`, from its journal, in ms. */
function phasesOf(stateDir) {
  const runs = join(stateDir, 'runs');
  const id = readdirSync(runs).filter((d) => /^\d{8}T/.test(d)).sort().at(-1);
  const ev = readFileSync(join(runs, id, 'journal.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const plan = JSON.parse(readFileSync(join(runs, id, 'plan.json'), 'utf8'));
  const type = (step) => plan.steps.find((x) => x.id === step)?.action.type;
  const done = ev.filter((e) => e.event === 'step-done');
  const sum = (types) => done.filter((e) => types.includes(type(e.step))).reduce((a, e) => a + e.ms, 0);
  // the copy to the bastion: its download (it runs alongside the steps; restore-all's send follows it)
  const copy = ev.filter((e) => e.event === 'command' && e.command.startsWith('download ')).reduce((a, e) => a + e.ms, 0);
  return {
    'copy in': copy,
    send: sum(['send-db']),
    restore: sum(['restore-db', 'restore-all']),
    election: sum(['start-all']) + done.filter((e) => type(e.step) === 'start-etcd' && plan.steps.find((x) => x.id === e.step).action.waitHealthy).reduce((a, e) => a + e.ms, 0),
    joins: sum(['member-add', 'promote', 'wait-healthy']) + done.filter((e) => type(e.step) === 'start-etcd' && !plan.steps.find((x) => x.id === e.step).action.waitHealthy).reduce((a, e) => a + e.ms, 0),
    verify: sum(['verify', 'backup-wait']),
  };
}

/**
 * What the size goal compares against, each measured alone on the lab as it stands: one copy of the
 * survivor's db to the bastion over SSH (etcd-dr's own transport), and one restore of that db on one node.
 */
async function alone(lab, dir) {
  const inventory = await loadInventory({ path: join(dir, 'inventory.yaml'), env: process.env, cwd: dir });
  const node = inventory.nodes[0];
  const { transport, connections } = await openConnections([node]);
  const c = connections.get(node.name);
  const t0 = performance.now();
  try {
    await c.download('/var/lib/etcd/member/snap/db', join(dir, 'one-copy-db'), { timeout: 3600 });
  } finally {
    await transport.closeAll();
    rmSync(join(dir, 'one-copy-db'), { force: true });
  }
  const copyMs = performance.now() - t0;
  const tool = etcd === '3.4' ? 'ETCDCTL_API=3 etcdctl' : 'etcdutl';
  const script = [
    'set -e',
    'rm -rf /var/lib/etcd.bench-one /var/lib/etcd.bench-one-db',
    'cp /var/lib/etcd/member/snap/db /var/lib/etcd.bench-one-db',
    'start=$(date +%s%N)',
    `${tool} snapshot restore /var/lib/etcd.bench-one-db --data-dir /var/lib/etcd.bench-one --name ${node.name} --initial-cluster ${node.name}=https://${node.host}:2380 --initial-advertise-peer-urls https://${node.host}:2380 --skip-hash-check >/dev/null 2>&1`,
    'sync',
    'end=$(date +%s%N)',
    'rm -rf /var/lib/etcd.bench-one /var/lib/etcd.bench-one-db',
    'echo $(( (end - start) / 1000000 ))',
  ].join('\n');
  const r = await labExec(lab, node.name, ['sh', '-c', script], { timeout: 1800 });
  const restoreMs = Number(r.stdout.trim());
  if (r.code !== 0 || !Number.isFinite(restoreMs)) throw new Error(`one restore on ${node.name} failed: ${r.stderr}`);
  return { copyMs, restoreMs };
}

/** A failed etcd-dr run keeps its node locks (as it should): the next run takes them over. */
let breakLock = false;

function runWay(way, dir, state) {
  if (way === 'manual' || way === 'floor') {
    const r = spawnSync('bash', [join(root, 'bench', `${way}-recover.sh`), dir], { encoding: 'utf8', timeout: RUN_LIMIT_MS });
    const phases = Object.fromEntries([...(r.stderr ?? '').matchAll(/^floor: ([\w ]+) ([\d.]+) s$/gm)].map((m) => [m[1], Number(m[2]) * 1000]));
    return { r, phases };
  }
  // /usr/bin/time -f %M: etcd-dr's peak RSS (KiB), printed last on stderr
  const r = spawnSync(
    '/usr/bin/time',
    ['-f', 'maxrss %M', process.execPath, join(root, 'bin', 'etcd-dr.js'), 'recover', '-i', join(dir, 'inventory.yaml'), '--yes', '--strategy', way, '--state-dir', state, '--log-level', 'warn', ...(breakLock ? ['--break-lock'] : [])],
    { encoding: 'utf8', timeout: RUN_LIMIT_MS, env: { ...process.env, CI: 'true' } },
  );
  breakLock = r.status !== 0;
  const rss = Number(/maxrss (\d+)/.exec(r.stderr ?? '')?.[1]);
  return { r, phases: r.status === 0 ? phasesOf(state) : {}, rssMiB: rss / 1024 };
}

/** What every run leaves aside on the nodes and the bastion, removed so the disk holds one db per node. */
async function tidy(lab, state) {
  await Promise.all(lab.nodes.map((n) => labExec(lab, n.name, ['sh', '-c', 'rm -rf /var/lib/etcd.etcd-dr-* /var/lib/etcd.floor-* /root/etcd-backup /etc/etcd.env.etcd-dr-*'])));
  rmSync(join(state, 'backups'), { recursive: true, force: true });
}

const all = [];
const singles = [];
for (const members of MEMBERS) {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-recover-'));
  const state = join(dir, 'state');
  const lab = await labUp({ dir, addressBase, nodes: members, etcd, log: quiet });
  try {
    let loaded = 0;
    for (const mb of SIZES) {
      const t0 = performance.now();
      await loadKeys(lab, { keys: loaded ? 1 : KEYS, mb: mb - loaded, prefix: `/registry/bench-${mb}/`, log: quiet });
      const db = await labExec(lab, lab.nodes[0].name, ['sh', '-c', 'stat -c %s /var/lib/etcd/member/snap/db']);
      console.log(`${members} members: loaded ${mb} MiB of values in ${s(performance.now() - t0)} s; db file ${(Number(db.stdout.trim()) / 2 ** 20).toFixed(0)} MiB`);
      loaded = mb;
      const one = await alone(lab, dir);
      singles.push({ members, mb, ...one });
      console.log(`${members} members, ${mb} MiB: one copy to the bastion alone ${s(one.copyMs)} s, one restore alone ${s(one.restoreMs)} s`);
      for (let i = 1; i <= RUNS; i++) {
        for (const way of WAYS) {
          await breakAllDown(lab, quiet);
          const t = performance.now();
          const { r, phases, rssMiB } = runWay(way, dir, state);
          const ms = performance.now() - t;
          const row = { members, mb, way, run: i, ms, ok: r.status === 0, phases, rssMiB };
          all.push(row);
          const ph = Object.entries(phases).map(([k, v]) => `${k} ${s(v)}`).join(', ');
          console.log(`${members}m ${String(mb).padStart(5)} MiB run ${i} ${way.padEnd(11)} ${r.status === 0 ? `${s(ms)} s` : `FAILED (${r.error?.message ?? `exit ${r.status}`})`}${ph ? `   (${ph})` : ''}${rssMiB ? `   peak RSS ${rssMiB.toFixed(0)} MiB` : ''}`);
          if (r.status !== 0) console.error((r.stderr ?? '').slice(-3000));
          await tidy(lab, state);
        }
      }
    }
  } finally {
    await labDown({ dir, purge: true, log: quiet });
  }
}

console.log('');
console.log(`etcd ${etcd}; ${RUNS} runs per way, interleaved; ${KEYS} keys + the MiB of values shown`);
const med = (rows, f) => median(rows.map(f));
for (const members of MEMBERS) {
  for (const mb of SIZES) {
    const by = Object.fromEntries(WAYS.map((w) => [w, all.filter((x) => x.members === members && x.mb === mb && x.way === w && x.ok)]));
    for (const w of WAYS) {
      const rows = by[w];
      if (!rows.length) {
        console.log(`${members} members, ${mb} MiB, ${w}: no successful run`);
        continue;
      }
      const times = rows.map((x) => x.ms);
      const phases = Object.keys(rows[0].phases).map((k) => `${k} ${s(med(rows, (x) => x.phases[k] ?? 0))}`).join(', ');
      const rss = rows.some((x) => x.rssMiB) ? `, peak RSS ${Math.max(...rows.map((x) => x.rssMiB ?? 0)).toFixed(0)} MiB` : '';
      console.log(`${members} members, ${String(mb).padStart(5)} MiB, ${w.padEnd(11)} median ${s(median(times))} s, spread ${s(Math.min(...times))}–${s(Math.max(...times))} (${rows.length} runs)${phases ? `; phases: ${phases}` : ''}${rss}`);
    }
    const m = (w) => (by[w]?.length ? median(by[w].map((x) => x.ms)) : NaN);
    const ra = m('restore-all');
    console.log(`  restore-all / floor ${(ra / m('floor')).toFixed(2)} (target <= 1.3); restore-all / manual ${(ra / m('manual')).toFixed(2)}${members === 3 ? ' (target <= 0.4)' : ''}; rejoin / manual ${(m('rejoin') / m('manual')).toFixed(2)}`);
  }
  if (SIZES.length > 1) {
    const at = (mb) => all.filter((x) => x.members === members && x.mb === mb && x.way === 'restore-all' && x.ok);
    const big = at(SIZES.at(-1));
    const small = at(SIZES[0]);
    if (big.length && small.length) {
      const delta = median(big.map((x) => x.ms)) - median(small.map((x) => x.ms));
      const one = singles.find((x) => x.members === members && x.mb === SIZES.at(-1));
      const once = one.copyMs + one.restoreMs;
      console.log(`  ${members} members: restore-all ${SIZES.at(-1)} MiB − ${SIZES[0]} MiB = ${s(delta)} s; 1.5 × (one copy ${s(one.copyMs)} + one restore ${s(one.restoreMs)}, each alone) = ${s(1.5 * once)} s (target: the first <= the second)`);
    }
  }
}
process.exit(all.some((x) => !x.ok && (x.way === 'rejoin' || x.way === 'restore-all')) ? 1 : 0);
