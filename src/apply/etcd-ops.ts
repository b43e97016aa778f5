/**
 * etcdctl calls the executor makes while a plan runs, each through one node's SSH connection with that
 * node's TLS material. Reads are marked retry-on-disconnect (running them twice is harmless); changes
 * are not, and their callers re-check the membership before trying again.
 */
import { classifyEtcdError, lastErrorLine, RETRYABLE_ETCD_ERRORS, type EtcdErrorCode } from '../etcd/classify.js';
import {
  alarmListCmd,
  endpointHashKvCmd,
  endpointStatusCmd,
  keyCountCmd,
  memberAddCmd,
  memberListCmd,
  memberPromoteCmd,
  memberRemoveCmd,
  moveLeaderCmd,
} from '../etcd/commands.js';
import { etcdTarget } from '../etcd/node.js';
import { parseMemberAddJson, parseMemberListJson } from '../etcd/parse-members.js';
import { parseAlarmListJson, parseEndpointHashKvJson, parseEndpointStatusJson, parseKeyCountJson } from '../etcd/parse.js';
import { type Alarm, type EndpointHashKv, type EndpointStatusResult, type Member } from '../etcd/records.js';
import { clientUrl, type NodeSpec } from '../inventory/types.js';
import type { ExecResult, NodeConnection } from '../ssh/types.js';

/** etcdctl failed: what etcd said, classified so callers can retry or explain. */
export class EtcdCommandError extends Error {
  readonly code: EtcdErrorCode | undefined;
  constructor(
    readonly node: string,
    readonly what: string,
    readonly result: ExecResult,
  ) {
    const text = `${result.stderr}\n${result.stdout}`;
    const said = lastErrorLine(result.stderr) || (result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}`);
    super(`${node}: ${what} failed: ${said}`);
    this.code = result.timedOut ? 'timeout' : classifyEtcdError(text);
  }
  get retryable(): boolean {
    return this.code !== undefined && RETRYABLE_ETCD_ERRORS.has(this.code);
  }
}

export interface EtcdOpsOptions {
  /** seconds for each etcdctl call over SSH (etcdctl's own command timeout is shorter) */
  timeoutSec?: number;
}

/** etcdctl run on `via` (its certificates), aimed at `endpoints` (default: `via` itself). */
export class EtcdOps {
  constructor(
    readonly via: NodeSpec,
    private readonly conn: NodeConnection,
    private readonly o: EtcdOpsOptions = {},
  ) {}

  private async run(what: string, argv: string[], read: boolean, timeoutSec = this.o.timeoutSec ?? 30): Promise<ExecResult> {
    const r = await this.conn.exec(argv, { timeout: timeoutSec, retryOnDisconnect: read });
    if (r.code !== 0) throw new EtcdCommandError(this.via.name, what, r);
    return r;
  }

  private target(endpoints?: string[], commandTimeoutMs?: number) {
    return etcdTarget(this.via, endpoints ?? [clientUrl(this.via)], commandTimeoutMs);
  }

  async memberList(): Promise<Member[]> {
    const r = await this.run('member list', memberListCmd(this.target()), true);
    return parseMemberListJson(r.stdout).members;
  }

  async memberAdd(name: string, peerUrl: string, learner: boolean): Promise<Member> {
    const r = await this.run(`member add ${name}`, memberAddCmd(this.target(), { name, peerUrls: [peerUrl], learner }), false);
    return parseMemberAddJson(r.stdout).member;
  }

  async memberPromote(id: string): Promise<void> {
    await this.run(`member promote ${id}`, memberPromoteCmd(this.target(), id), false);
  }

  async memberRemove(id: string): Promise<void> {
    await this.run(`member remove ${id}`, memberRemoveCmd(this.target(), id), false);
  }

  /** Move leadership to `id`; etcdctl needs the leader among the endpoints, so all are given. */
  async moveLeader(id: string, endpoints: string[]): Promise<void> {
    await this.run(`move-leader ${id}`, moveLeaderCmd(this.target(endpoints), id), false);
  }

  /** `endpoint status` of each endpoint; endpoints that fail are in `failures`, not thrown. */
  async endpointStatus(endpoints: string[]): Promise<EndpointStatusResult> {
    const r = await this.conn.exec(endpointStatusCmd(this.target(endpoints)), { timeout: this.o.timeoutSec ?? 30, retryOnDisconnect: true });
    if (r.code !== 0 && r.stdout.trim() === '') throw new EtcdCommandError(this.via.name, 'endpoint status', r);
    return parseEndpointStatusJson(r.stdout || '[]', r.stderr);
  }

  async hashKv(endpoints: string[], rev: number): Promise<EndpointHashKv[]> {
    const r = await this.run(`endpoint hashkv --rev=${rev}`, endpointHashKvCmd(this.target(endpoints), { rev }), true);
    return parseEndpointHashKvJson(r.stdout);
  }

  async alarms(): Promise<Alarm[]> {
    const r = await this.run('alarm list', alarmListCmd(this.target()), true);
    return parseAlarmListJson(r.stdout);
  }

  /** Live keys under a prefix ('' = all) and the revision they were counted at. */
  async keyCount(prefix = ''): Promise<{ count: number; revision: number }> {
    const r = await this.run('key count', keyCountCmd(this.target(undefined, 60_000), prefix), true, 90);
    const k = parseKeyCountJson(r.stdout);
    return { count: k.count, revision: k.header.revision };
  }
}

/** The member with this peer URL (a member added but never started has no name yet). */
export function memberByPeerUrl(members: Member[], peerUrl: string): Member | undefined {
  return members.find((m) => m.peerUrls.includes(peerUrl));
}

/**
 * Repeats `fn` while it fails with a retryable etcd error, with a growing pause, until `deadlineMs`
 * passes. `onRetry` hears about each retry (for the journal and progress).
 */
export async function retryEtcd<T>(
  fn: () => Promise<T>,
  o: {
    deadlineMs: number;
    retryOn?: ReadonlySet<EtcdErrorCode>;
    onRetry?: (e: EtcdCommandError, attempt: number) => void;
    firstPauseMs?: number;
    maxPauseMs?: number;
    /** the pause before the next attempt, when the caller knows better than the doubling (a known wait) */
    pauseFor?: (e: EtcdCommandError, attempt: number) => number | undefined;
  },
): Promise<T> {
  const until = Date.now() + o.deadlineMs;
  let pause = o.firstPauseMs ?? 250;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      const retryable = e instanceof EtcdCommandError && (o.retryOn ? e.code !== undefined && o.retryOn.has(e.code) : e.retryable);
      if (!retryable) throw e;
      const wait = o.pauseFor?.(e as EtcdCommandError, attempt) ?? pause;
      if (Date.now() + wait > until) throw e;
      o.onRetry?.(e as EtcdCommandError, attempt);
      await new Promise((r) => setTimeout(r, wait));
      pause = Math.min(pause * 2, o.maxPauseMs ?? 2000);
    }
  }
}
