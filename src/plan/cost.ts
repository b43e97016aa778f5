/**
 * The cost model of a quorum-loss recovery: how long each strategy should take, from the facts a plan
 * has (db size, member count, election timeout) and the link rate between the bastion and the nodes
 * (measured by an earlier copy of this bastion, else assumed). Pure: the planner shows its estimate,
 * and `--strategy auto` runs the faster one.
 *
 * What each strategy waits on (see docs/design.md):
 * - rejoin: the survivor's restore, its first election (a draw between one tick and the election
 *   timeout), then per other member etcd's 5 s rule before a member add (every voter connected for 5 s)
 *   and the learner's catch-up (the leader sends it the db over the peer link), and the publish.
 * - restore-all: the db copied to the bastion and from there to every other member (the bastion's link
 *   carries it once in and once per member out), one restore on every member at once, one election.
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
  /** bastion ⇄ node; also taken for the peer link when nothing better is known */
  link: LinkRate;
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
/** a started member's own start-up and its first health answer, ms */
export const START_MS = 500;
/** a joined learner's promote, its publish and serve check, ms */
export const JOIN_FIXED_MS = 1000;
/** one heartbeat tick (kubespray's ETCD_HEARTBEAT_INTERVAL=250): the shortest election draw */
const TICK_MS = 250;

const round = (n: number) => Math.round(n);

export function estimate(i: CostInputs): CostEstimate {
  const db = Math.max(0, i.dbBytes);
  const rate = Math.max(1, i.link.bytesPerSec);
  const restore = RESTORE_FIXED_MS + (db / RESTORE_BYTES_PER_SEC) * 1000;
  const others = Math.max(0, i.members - 1);
  const tick = Math.min(TICK_MS, i.electionTimeoutMs);
  // the first election is a uniform draw between a tick and the election timeout (etcd advances its ticks at start)
  const election = (tick + i.electionTimeoutMs) / 2;
  const catchUp = (db / rate) * 1000;
  const joins = others * (ADD_RULE_MS + catchUp + JOIN_FIXED_MS);
  const rejoinParts = { restore, 'first election': election, start: START_MS, joins };
  const copyIn = others ? (db / rate) * 1000 : 0;
  const sendOut = (others * db / rate) * 1000;
  const allParts = { 'copy to the bastion': copyIn, 'send to the members': sendOut, restore, 'first election': election, start: START_MS };
  const sum = (p: Record<string, number>) => Object.values(p).reduce((a, b) => a + b, 0);
  const rejoinMs = sum(rejoinParts);
  const allMs = sum(allParts);
  const spread = (ms: number): [number, number] => [round(ms - election + tick), round(ms - election + i.electionTimeoutMs)];
  const r = (p: Record<string, number>) => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, round(v)]));
  const faster = allMs < rejoinMs ? 'restore-all' : 'rejoin';
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const why =
    others === 0
      ? 'one member: both are one restore and one election; rejoin moves no db'
      : faster === 'restore-all'
        ? `restore-all ${s(allMs)} < rejoin ${s(rejoinMs)}: rejoin waits ${s(ADD_RULE_MS)} (etcd's rule before a member add) plus the catch-up of ${s(catchUp)} for each of ${others} members, ` +
          `while restore-all moves the db ${others + 1} times over the bastion's link (${s(copyIn + sendOut)} at ${mibs(rate)}) and elects once`
        : `rejoin ${s(rejoinMs)} ≤ restore-all ${s(allMs)}: moving the ${mib(db)} db through the bastion ${others + 1} times at ${mibs(rate)} (${s(copyIn + sendOut)}) costs more than ` +
          `${others} joins of ${s(ADD_RULE_MS + catchUp + JOIN_FIXED_MS)} each`;
  return {
    inputs: i,
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
    `Estimate (db ${mib(e.inputs.dbBytes)}, ${e.inputs.members} members, election timeout ${e.inputs.electionTimeoutMs} ms, link ${mibs(e.inputs.link.bytesPerSec)} ${e.inputs.link.from}):`,
    row('rejoin', e.rejoin),
    row('restore-all', e.restoreAll),
    `  faster: ${e.faster}: ${e.why}`,
  ];
}
