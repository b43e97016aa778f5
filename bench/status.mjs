// How long `etcd-dr status` takes on labs of 1, 3 and 7 nodes, and whether it stays flat as nodes are
// added (goal: the 7-node figure within 1.5× the 1-node figure, because every node is probed in
// parallel over its own connection). Baseline from the same run: the same probe, one node at a time.
//
// Per lab size, after one warm-up run, RUNS rounds of (interleaved, so drift hits all alike):
//   cli      `main(['status', '-i', inv, '--json'])` from dist/cli/main.js in this process: the real
//            command path (inventory, yargs, transport, parallel gather, assessment, JSON), no node start-up
//   spawned  `node bin/etcd-dr.js status -i inv --json` as a child process: what a user waits for
//   seq      inventory + Transport, then connect + probeNode for one node after the other (the baseline)
//   null     inventory + Transport, then connect + `true` on every node in parallel: the floor of any probe
//            over SSH on this machine (its 7 / 1 ratio is the least status could show here)
// Each run must find the lab healthy with every node reachable; otherwise the bench stops.
//
// The lab's nodes sit on loopback and share this machine's cores, so every figure is also taken through
// relays that add a round-trip time between etcd-dr and each node's sshd (bench/delay-proxy.mjs,
// `--rtt`, ms, 0 = loopback): what a bastion sees across availability zones or a VPN. The goal is judged
// on loopback, the lab as it is.
//
// Run as root after `npm run build`:  node bench/status.mjs [--runs 5] [--etcd 3.4] [--rtt 0,2,20]
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { arg, importDist, median, root } from './common.mjs';

const { labUp, labDown } = await importDist(import.meta.url, 'lab/index.js');
const { main } = await importDist(import.meta.url, 'cli/main.js');
const { probeNode, DEFAULT_LOCK_FILE } = await importDist(import.meta.url, 'facts/gather.js');
const { Transport } = await importDist(import.meta.url, 'ssh/transport.js');
const { loadInventory } = await importDist(import.meta.url, 'inventory/index.js');
const { delayedInventory } = await import('./delay-proxy.mjs');
const RUNS = Number(arg('--runs', '5'));
const ETCD = arg('--etcd', '3.4');
const RTTS = arg('--rtt', '0,2,20').split(',').map(Number);
if (RTTS.some((r) => !Number.isFinite(r) || r < 0) || !RTTS.includes(0)) {
  console.error('bench/status: --rtt takes a comma-separated list of round-trip times in ms that includes 0 (loopback), e.g. 0,2,20');
  process.exit(2);
}
const GOAL_RATIO = 1.5;
// address bases of their own, away from the e2e suites and other benches (127.0.10.–127.0.19., 127.0.50.)
const SIZES = [
  { nodes: 1, addressBase: '127.0.21.' },
  { nodes: 3, addressBase: '127.0.22.' },
  { nodes: 7, addressBase: '127.0.23.' },
];

const ms = (x) => `${Math.round(x)}`;

/** CPU time the whole machine spent busy so far (ms, from /proc/stat): every process, lab nodes included. */
function busyMs() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return ((user + nice + system + irq + softirq + (steal ?? 0)) * 1000) / 100; // USER_HZ is 100 on Linux
}
const quiet = () => undefined;

function sink() {
  const chunks = [];
  const w = new Writable({
    write(c, _e, cb) {
      chunks.push(Buffer.from(c));
      cb();
    },
  });
  w.text = () => Buffer.concat(chunks).toString('utf8');
  return w;
}

/** Fails the bench unless every node was reachable, probed to the end, and the verdict is healthy. */
function checkHealthy(what, nodes, verdict, want) {
  const bad = nodes.filter((n) => !n.reachable || n.service !== 'active');
  if (nodes.length !== want || bad.length || (verdict !== undefined && verdict !== 'healthy')) {
    throw new Error(
      `${what}: expected ${want} reachable active nodes and a healthy verdict, got ${nodes.length} nodes, verdict ${verdict}, ` +
        `problems: ${bad.map((n) => `${n.name}: ${n.error ?? n.service}`).join('; ') || 'none'}`,
    );
  }
}

async function runCli(inv, want) {
  const out = sink();
  const err = sink();
  const t0 = performance.now();
  const code = await main(['status', '-i', inv, '--json', '--log-level', 'error'], { stdout: out, stderr: err, env: process.env, cwd: root, isTTY: false });
  const t = performance.now() - t0;
  if (code !== 0) throw new Error(`etcd-dr status exited ${code}: ${err.text()}`);
  const facts = JSON.parse(out.text());
  checkHealthy('etcd-dr status (in process)', facts.nodes, facts.assessment.verdict, want);
  return t;
}

function runSpawned(inv, want) {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [join(root, 'bin', 'etcd-dr.js'), 'status', '-i', inv, '--json', '--log-level', 'error'], { maxBuffer: 64 << 20 }, (e, stdout, stderr) => {
      const t = performance.now() - t0;
      if (e) return reject(new Error(`node bin/etcd-dr.js status exited ${e.code}: ${stderr}`));
      try {
        const facts = JSON.parse(stdout);
        checkHealthy('etcd-dr status (spawned)', facts.nodes, facts.assessment.verdict, want);
      } catch (x) {
        return reject(x);
      }
      resolve(t);
    });
  });
}

/** Loads the inventory, runs `fn(nodes, transport)` over one Transport and closes every connection it opened. */
async function overNodes(inv, fn) {
  const inventory = await loadInventory({ path: inv, env: process.env, cwd: root });
  const transport = new Transport({ env: process.env });
  try {
    return await fn(inventory.nodes, transport);
  } finally {
    await transport.closeAll();
  }
}

/** The baseline: what status would cost if it probed one node after the other. */
async function runSequential(inv, want) {
  const t0 = performance.now();
  const nodes = await overNodes(inv, async (specs, transport) => {
    const probed = [];
    for (const spec of specs) probed.push(await probeNode(spec, await transport.connect(spec), { lockFile: DEFAULT_LOCK_FILE }));
    return probed;
  });
  const t = performance.now() - t0;
  checkHealthy('sequential probe', nodes, undefined, want);
  return t;
}

/**
 * The floor under any probe over SSH: inventory + Transport, then on every node in parallel a connection
 * and one `true`. What this costs on 7 nodes against 1 is the least any status over SSH can show here.
 */
async function runNullProbe(inv, want) {
  const t0 = performance.now();
  const codes = await overNodes(inv, (specs, transport) => Promise.all(specs.map(async (spec) => (await (await transport.connect(spec)).sh('true')).code)));
  const t = performance.now() - t0;
  if (codes.length !== want || codes.some((c) => c !== 0)) throw new Error(`null probe: expected ${want} nodes to run true, got exit codes ${codes.join(', ')}`);
  return t;
}

const VARIANTS = [
  ['cli', runCli],
  ['spawned', runSpawned],
  ['seq', runSequential],
  ['null', runNullProbe],
];

const parent = mkdtempSync(join(tmpdir(), 'etcd-dr-bench-status-'));
const results = [];
let active;
const cleanup = async () => {
  if (active) await labDown({ dir: active, purge: true, log: quiet }).catch((e) => console.error(`bench/status: lab down ${active}: ${e.message}`));
  active = undefined;
};
process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
try {
  for (const size of SIZES) {
    const dir = join(parent, `n${size.nodes}`);
    active = dir;
    const tUp = performance.now();
    const state = await labUp({ dir, nodes: size.nodes, addressBase: size.addressBase, etcd: ETCD, log: quiet });
    console.log(`lab of ${size.nodes} node${size.nodes === 1 ? '' : 's'} on ${size.addressBase}N up in ${((performance.now() - tUp) / 1000).toFixed(1)} s`);
    const addresses = Array.from({ length: size.nodes }, (_, i) => `${size.addressBase}${i + 1}`);
    // what the machine burns with the lab idle (its etcd members' heartbeats, anything else running)
    const i0 = busyMs();
    await new Promise((r) => setTimeout(r, 2000));
    const idleCores = (busyMs() - i0) / 2000;
    for (const rtt of RTTS) {
      const relayed = await delayedInventory({ inventoryPath: state.inventoryPath, nodes: addresses, rttMs: rtt, dir });
      try {
        const inv = relayed.inventoryPath;
        for (const [, fn] of VARIANTS) await fn(inv, size.nodes); // warm-up, not counted
        const times = Object.fromEntries(VARIANTS.map(([k]) => [k, []]));
        const busy = Object.fromEntries(VARIANTS.map(([k]) => [k, 0]));
        let selfCpu = 0; // this process's CPU during the in-process status runs: etcd-dr's own share (and the relays')
        for (let run = 1; run <= RUNS; run++) {
          for (const [k, fn] of VARIANTS) {
            const b0 = busyMs();
            const c0 = process.cpuUsage();
            times[k].push(await fn(inv, size.nodes));
            busy[k] += busyMs() - b0;
            if (k === 'cli') {
              const c = process.cpuUsage(c0);
              selfCpu += (c.user + c.system) / 1000;
            }
          }
          console.log(`  rtt ${rtt} ms, run ${run}: ${VARIANTS.map(([k]) => `${k} ${ms(times[k].at(-1))} ms`).join(', ')}`);
        }
        const sum = (xs) => xs.reduce((a, b) => a + b, 0);
        results.push({
          nodes: size.nodes,
          rtt,
          ...Object.fromEntries(VARIANTS.map(([k]) => [k, median(times[k])])),
          // cores kept busy on average while status ran, and CPU time per status run
          cliCores: busy.cli / sum(times.cli),
          cliCpuMs: busy.cli / RUNS,
          cliSelfCpuMs: selfCpu / RUNS,
          idleCores,
        });
      } finally {
        await relayed.close();
      }
    }
    await cleanup();
  }
} finally {
  await cleanup();
  rmSync(parent, { recursive: true, force: true });
}

const at = (nodes, rtt) => results.find((r) => r.nodes === nodes && r.rtt === rtt);
console.log('');
console.log(`etcd-dr status, median of ${RUNS} runs per lab size and round-trip time (ms), etcd ${ETCD}:`);
console.log('');
console.log('| RTT | nodes | status (in process) | status (spawned CLI) | sequential baseline | sequential / status | SSH + `true` only | CPU per status run | of which etcd-dr | cores busy during status | cores busy, lab idle |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const rtt of RTTS) {
  for (const r of results.filter((x) => x.rtt === rtt)) {
    console.log(
      `| ${rtt} | ${r.nodes} | ${ms(r.cli)} | ${ms(r.spawned)} | ${ms(r.seq)} | ${(r.seq / r.cli).toFixed(2)}× | ${ms(r.null)} | ${ms(r.cliCpuMs)} | ${ms(r.cliSelfCpuMs)} | ${r.cliCores.toFixed(2)} of ${cpus().length} | ${r.idleCores.toFixed(2)} |`,
    );
  }
  const one = at(1, rtt);
  const seven = at(7, rtt);
  const ratio = (k) => seven[k] / one[k];
  console.log(
    `| ${rtt} | 7 / 1 | ${ratio('cli').toFixed(2)}× | ${ratio('spawned').toFixed(2)}× | ${ratio('seq').toFixed(2)}× | | ${ratio('null').toFixed(2)}× | ${(seven.cliCpuMs / one.cliCpuMs).toFixed(2)}× | ${(seven.cliSelfCpuMs / one.cliSelfCpuMs).toFixed(2)}× | | |`,
  );
}
console.log('');
const one = at(1, 0);
const seven = at(7, 0);
const ratio = seven.cli / one.cli;
const met = ratio <= GOAL_RATIO;
console.log(
  `goal: status on 7 nodes within ${GOAL_RATIO}× of 1 node (loopback, in process, no node start-up in either figure): ` +
    `${ratio.toFixed(2)}× ${met ? 'met' : 'MISSED'}; the sequential baseline grows ${(seven.seq / one.seq).toFixed(2)}×`,
);
// The floor CPU sets: no schedule can finish the 7-node status faster than its CPU time spread over every core.
const floor = seven.cliCpuMs / cpus().length;
console.log(
  `CPU: one status run used ${ms(one.cliCpuMs)} ms of CPU on 1 node and ${ms(seven.cliCpuMs)} ms on 7 (whole machine, /proc/stat); ` +
    `on ${cpus().length} cores the 7-node run cannot take less than ~${ms(floor)} ms, ${(floor / one.cli).toFixed(2)}× the 1-node figure`,
);
console.log(
  `SSH alone: a connection and \`true\` on every node in parallel takes ${ms(one.null)} ms on 1 node and ${ms(seven.null)} ms on 7 ` +
    `(${(seven.null / one.null).toFixed(2)}×): no probe over SSH can show less than that ratio on this machine`,
);
for (const rtt of RTTS.filter((r) => r > 0)) {
  const r = at(7, rtt).cli / at(1, rtt).cli;
  console.log(
    `with ${rtt} ms RTT to every node: 7 / 1 = ${r.toFixed(2)}× ${r <= GOAL_RATIO ? 'within' : 'above'} ${GOAL_RATIO}× (${ms(at(1, rtt).cli)} → ${ms(at(7, rtt).cli)} ms); ` +
      `sequential ${(at(7, rtt).seq / at(1, rtt).seq).toFixed(2)}×; SSH alone ${(at(7, rtt).null / at(1, rtt).null).toFixed(2)}×`,
  );
}
process.exitCode = met ? 0 : 1;
