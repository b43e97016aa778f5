/**
 * The cost model of a quorum-loss recovery: how long each strategy should take, from the facts a plan
 * has (db size, member count, election timeout), the link rate between the bastion and the nodes
 * (measured by an earlier copy of this bastion, else assumed) and the peer link's rate between the nodes
 * (measured by an earlier rejoin's catch-up, else assumed). Pure: the planner shows its estimate, and
 * `--strategy auto` runs the faster one.
 *
 * What each strategy waits on (see docs/design.md):
 * - rejoin: the survivor's restore, its first election (a draw between one tick and the election
 *   timeout), then per other member a join: the learner's catch-up (the leader streams it the db over the
 *   peer link, node to node) and its promote and publish. etcd's 5 s rule (every voter connected for 5 s
 *   before a member add) counts from the previous joiner's start, which is also when its catch-up began,
 *   so a join after the first costs max(5 s, catch-up), not their sum; the first add has no other voter
 *   to wait for.
 * - restore-all: the db copied in to the bastion while the bastion sends it out to every other member
 *   (each member receives while the copy is written), so its link carries the db in once and out once per
 *   other member at the same time: the longer of the two, one restore on every member at once, one
 *   election.
 */

export interface LinkRate {
  bytesPerSec: number;
  /** where the figure comes from: "measured: …" or "assumed" */
  from: string;
}

export interface CostInputs {
  dbBytes: number;
  /** members in the recovered cluster, the survivor included */
  members: number;
  electionTimeoutMs: number;
  /** bastion ⇄ node: the copy in to the bastion and the sends out of it */
  link: LinkRate;
  /** node ⇄ node (a learner's catch-up from the leader); when unknown, peerRateOf(link) */
  peer?: LinkRate;
}

export interface StrategyCost {
  /** the expected total, ms */
  ms: number;
  /** the best and worst election draws, ms */
  range: [number, number];
  /** each phase, ms (expected) */
  parts: Record<string, number>;
}

export interface CostEstimate {
  inputs: CostInputs;
  rejoin: StrategyCost;
  restoreAll: StrategyCost;
  faster: 'rejoin' | 'restore-all';
  why: string;
}

/** etcd refuses a member add until every voting member has been connected for this long */
export const ADD_RULE_MS = 5000;
/** what one restore writes per second on a node's disk (the db rewritten, a WAL preallocated) */
export const RESTORE_BYTES_PER_SEC = 200 * 1048576;
/** a restore's fixed cost: the tool's start, the 64 MB WAL preallocation, the rename */
export const RESTORE_FIXED_MS = 400;
/** the link rate taken when no copy of this bastion measured one: a 1 Gbit/s link */
export const ASSUMED_LINK: LinkRate = { bytesPerSec: 110 * 1048576, from: 'assumed (1 Gbit/s; no earlier copy measured it)' };
/** the peer link taken when no earlier catch-up measured it: the nodes of one control plane sit on one LAN */
const ASSUMED_PEER_BYTES_PER_SEC = ASSUMED_LINK.bytesPerSec;
/** a started member's own start-up and its first health answer, ms */
export const START_MS = 500;
/** a join's member add, the joiner's start, its promote and publish, ms */
export const JOIN_FIXED_MS = 1000;
/** one heartbeat tick (kubespray's ETCD_HEARTBEAT_INTERVAL=250): the shortest election draw */
const TICK_MS = 250;

const round = (n: number) => Math.round(n);

/**
 * The peer link's rate when no earlier catch-up measured it: the nodes of one control plane sit on one
 * LAN, so at least 1 Gbit/s, and no slower than the bastion's link to them.
 */
export function peerRateOf(link: LinkRate): LinkRate {
  return link.bytesPerSec > ASSUMED_PEER_BYTES_PER_SEC
    ? { bytesPerSec: link.bytesPerSec, from: 'assumed: the bastion link\'s rate (the nodes of one control plane on one LAN; no earlier catch-up measured it)' }
    : { bytesPerSec: ASSUMED_PEER_BYTES_PER_SEC, from: 'assumed (1 Gbit/s: the nodes of one control plane on one LAN; no earlier catch-up measured it)' };
}

export function estimate(i: CostInputs): CostEstimate {
  const db = Math.max(0, i.dbBytes);
  const rate = Math.max(1, i.link.bytesPerSec);
  const peer = i.peer ?? peerRateOf(i.link);
  const peerRate = Math.max(1, peer.bytesPerSec);
  const restore = RESTORE_FIXED_MS + (db / RESTORE_BYTES_PER_SEC) * 1000;
  const others = Math.max(0, i.members - 1);
  const tick = Math.min(TICK_MS, i.electionTimeoutMs);
  // the first election is a uniform draw between a tick and the election timeout (etcd advances its ticks at start)
  const election = (tick + i.electionTimeoutMs) / 2;
  // each learner's catch-up overlaps the 5 s that the next add waits for; the first add waits for nothing
  const catchUp = (db / peerRate) * 1000;
  const laterJoin = Math.max(ADD_RULE_MS, catchUp) + JOIN_FIXED_MS;
  const joins = others ? catchUp + JOIN_FIXED_MS + (others - 1) * laterJoin : 0;
  const rejoinParts = { restore, 'first election': election, start: START_MS, joins };
  // the sends run while the copy in is written: the bastion's link carries both at once
  const copyIn = others ? (db / rate) * 1000 : 0;
  const sendOut = (others * db / rate) * 1000;
  const transfer = Math.max(copyIn, sendOut);
  const allParts = { 'copy in with the sends alongside': transfer, restore, 'first election': election, start: START_MS };
  const sum = (p: Record<string, number>) => Object.values(p).reduce((a, b) => a + b, 0);
  const rejoinMs = sum(rejoinParts);
  const allMs = sum(allParts);
  const spread = (ms: number): [number, number] => [round(ms - election + tick), round(ms - election + i.electionTimeoutMs)];
  const r = (p: Record<string, number>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v)]));
  const faster = allMs < rejoinMs ? 'restore-all' : 'rejoin';
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const joinWord = catchUp > ADD_RULE_MS ? `a catch-up of ${s(catchUp)} at ${mibs(peerRate)} over the peer link` : `etcd's ${s(ADD_RULE_MS)} rule before a member add (the catch-up of ${s(catchUp)} runs within it)`;
  const rejoinSide = others > 1 ? `${others} joins one after the other, each decided by ${joinWord}: ${s(joins)}` : `one join, its catch-up of ${s(catchUp)} at ${mibs(peerRate)}: ${s(joins)}`;
  const allSide = `${others > 1 ? `${others} sends` : 'one send'} of the ${mib(db)} db out of the bastion at ${mibs(rate)}, alongside its copy in: ${s(transfer)}`;
  const why =
    others === 0
      ? 'one member: both are one restore and one election; rejoin moves no db'
      : faster === 'restore-all'
        ? `restore-all ${s(allMs)} < rejoin ${s(rejoinMs)}: ${allSide}, against ${rejoinSide}`
        : `rejoin ${s(rejoinMs)} ≤ restore-all ${s(allMs)}: ${rejoinSide}, against ${allSide}`;
  return {
    inputs: { ...i, peer },
    rejoin: { ms: round(rejoinMs), range: spread(rejoinMs), parts: r(rejoinParts) },
    restoreAll: { ms: round(allMs), range: spread(allMs), parts: r(allParts) },
    faster,
    why,
  };
}

function mib(b: number): string {
  return `${(b / 1048576).toFixed(b < 10 * 1048576 ? 1 : 0)} MiB`;
}

function mibs(bps: number): string {
  return `${mib(bps)}/s`;
}

/** The estimate as lines for a plan's text. */
export function renderEstimate(e: CostEstimate): string[] {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const row = (name: string, c: StrategyCost) =>
    `  ${name.padEnd(11)} ${s(c.ms).padStart(8)}  (${s(c.range[0])}–${s(c.range[1])} by the election draw): ${Object.entries(c.parts)
      .filter(([, v]) => v > 0)
      .map(([k, v]) => `${k} ${s(v)}`)
      .join(', ')}`;
  return [
    `Estimate (db ${mib(e.inputs.dbBytes)}, ${e.inputs.members} members, election timeout ${e.inputs.electionTimeoutMs} ms, bastion link ${mibs(e.inputs.link.bytesPerSec)} ${e.inputs.link.from}` +
      `${e.inputs.peer ? `, peer link ${mibs(e.inputs.peer.bytesPerSec)} ${e.inputs.peer.from}` : ''}):`,
    row('rejoin', e.rejoin),
    row('restore-all', e.restoreAll),
    `  faster: ${e.faster}: ${e.why}`,
  ];
}
