import { createHash } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { parseEnvFile, vars as envVars } from '../etcd/envfile.js';
import { parseMemberListJson } from '../etcd/parse-members.js';
import { parseAlarmListSimple, parseEndpointStatusJson, parseSnapshotStatusJson } from '../etcd/parse.js';
import { parseToolVersion, type EtcdTool } from '../etcd/version.js';
import { parseWalMetadata } from '../etcd/walmeta.js';
import type { Inventory, NodeSpec } from '../inventory/types.js';
import type { Transport } from '../ssh/transport.js';
import type { NodeConnection } from '../ssh/types.js';
import { ConnectionLostError, HostKeyError, isConnectError } from '../ssh/errors.js';
import { lockFromSections, setAsideFromSections } from './aside.js';
import { assessCluster, digestFacts, electionWaitMs, leaderUnsettled, mayBeElecting } from './assess.js';
import { parseDataDirFs, parseSections, parseWalDirFs, probeScript, type Section } from './probe-script.js';
import { ENV_KEYS, type ClusterFacts, type NodeFacts, type ServiceState, type VersionInfo } from './types.js';

export interface GatherOptions {
  /** the lock file etcd-dr keeps on every node */
  lockFile: string;
  /** seconds per etcdctl call in the probe (a down member must not stall `status`) */
  commandTimeout?: number;
  now?: () => Date;
  /** how long to wait out a leader election before calling the quorum lost, ms (default: electionWaitMs; 0: not at all) */
  electionWaitMs?: number;
  /** told when the gathering starts to wait out a possible election (for a progress line) */
  onElectionWait?: (e: { limitMs: number; running: string[] }) => void;
}

/** the least time between two probes of a possible election */
const MIN_PROBE_INTERVAL_MS = 250;

export const DEFAULT_LOCK_FILE = '/var/lib/etcd-dr/lock';

const SERVICE_STATES: ServiceState[] = ['active', 'inactive', 'failed', 'activating', 'deactivating'];

function firstLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop()?.slice(0, 300) ?? '';
}

function version(sec: Section | undefined, tool: EtcdTool, warnings: string[]): VersionInfo | undefined {
  if (!sec || sec.rc !== 0) return undefined;
  try {
    const v = parseToolVersion(tool, sec.out);
    return { raw: v.raw, major: v.major, minor: v.minor, patch: v.patch };
  } catch (err) {
    warnings.push(`${tool} version: ${(err as Error).message}`);
    return undefined;
  }
}

/** Turns the probe's sections into facts; every unexpected output becomes a warning, never a crash. */
export function factsFromSections(spec: NodeSpec, s: Map<string, Section>, probeMs: number): NodeFacts {
  const warnings: string[] = [];
  const get = (k: string) => s.get(k);
  const svcText = get('service')?.out.trim() ?? '';
  const service: ServiceState = (SERVICE_STATES as string[]).includes(svcText) ? (svcText as ServiceState) : 'unknown';
  const facts: NodeFacts = {
    name: spec.name,
    host: spec.host,
    address: spec.address,
    reachable: true,
    service,
    processRunning: get('proc')?.rc === 0 && (get('proc')?.out.trim() ?? '') !== '',
    versions: {},
    warnings,
    probeMs,
  };
  const etcd = version(get('etcd_version'), 'etcd', warnings);
  const etcdctl = version(get('etcdctl_version'), 'etcdctl', warnings);
  const etcdutl = version(get('etcdutl_version'), 'etcdutl', warnings);
  if (etcd) facts.versions.etcd = etcd;
  if (etcdctl) facts.versions.etcdctl = etcdctl;
  if (etcdutl) facts.versions.etcdutl = etcdutl;
  if (!etcd) warnings.push(`etcd not found on PATH (${firstLine(get('etcd_version')?.err ?? '') || 'no output'})`);

  const env = get('env');
  if (env && env.rc === 0) {
    try {
      const all = envVars(parseEnvFile(env.out));
      const picked: Partial<Record<(typeof ENV_KEYS)[number], string>> = {};
      for (const k of ENV_KEYS) if (all[k] !== undefined) picked[k] = all[k];
      facts.env = { path: spec.etcd.envFile, exists: true, sha256: createHash('sha256').update(env.out, 'utf8').digest('hex'), text: env.out, vars: picked };
    } catch (err) {
      warnings.push(`${spec.etcd.envFile}: ${(err as Error).message}`);
      facts.env = { path: spec.etcd.envFile, exists: true, vars: {} };
    }
    const dd = facts.env.vars.ETCD_DATA_DIR;
    if (dd && dd !== spec.etcd.dataDir) warnings.push(`${spec.etcd.envFile} sets ETCD_DATA_DIR=${dd} but the inventory says ${spec.etcd.dataDir}`);
  } else {
    facts.env = { path: spec.etcd.envFile, exists: false, vars: {} };
  }

  const fs = parseDataDirFs(get('datadir_fs'));
  const dd = get('datadir');
  // a data dir that is a mount point always exists: it holds etcd's data when its member/ dir does
  const dirExists = dd?.rc === 0 && (!fs.mountPoint || dd.out.split('\n').includes('member'));
  const dbBytes = get('db_bytes');
  const hasDb = dbBytes?.rc === 0;
  facts.dataDir = {
    path: spec.etcd.dataDir,
    exists: dirExists,
    hasDb,
    movedAside: (get('moved_aside')?.out ?? '').split('\n').map((l) => l.trim()).filter(Boolean),
  };
  if (hasDb) facts.dataDir.dbBytes = Number(dbBytes!.out.trim());
  if (fs.freeBytes !== undefined) facts.dataDir.freeBytes = fs.freeBytes;
  if (fs.fsType) facts.dataDir.fsType = fs.fsType;
  if (fs.mountPoint) facts.dataDir.mountPoint = true;
  const wal = parseWalDirFs(get('waldir_fs'));
  if (wal) facts.dataDir.walDir = wal;
  const walFiles = get('wal_files');
  if (walFiles?.rc === 0) facts.dataDir.walFiles = Number(walFiles.out.trim());
  const walHead = get('wal_head');
  if (walHead?.rc === 0 && walHead.out.trim()) {
    const md = parseWalMetadata(Buffer.from(walHead.out.trim(), 'base64'));
    if (md) {
      facts.dataDir.walMemberId = md.memberId;
      facts.dataDir.walClusterId = md.clusterId;
    } else warnings.push('the WAL holds no metadata record etcd-dr can read');
  }
  const snap = get('snapshot_status');
  if (snap) {
    if (snap.rc === 0) {
      try {
        const st = parseSnapshotStatusJson(snap.out);
        facts.dataDir.db = { revision: st.revision, totalKey: st.totalKey, totalSize: st.totalSize, hash: st.hash };
      } catch (err) {
        facts.dataDir.dbError = `snapshot status: ${(err as Error).message}`;
      }
    } else {
      facts.dataDir.dbError = `snapshot status failed: ${firstLine(snap.err || snap.out)}`;
    }
  }

  lockFromSections(s, facts);
  const aside = setAsideFromSections(s, warnings);
  if (aside.length) facts.dataDir.setAside = aside;

  const st = get('endpoint_status');
  if (st) {
    if (st.rc === 0) {
      try {
        const r = parseEndpointStatusJson(st.out, st.err);
        const me = r.statuses[0];
        if (me) {
          facts.endpoint = {
            memberId: me.memberId,
            clusterId: me.clusterId,
            leader: me.leader,
            isLearner: me.isLearner,
            raftTerm: me.raftTerm,
            raftIndex: me.raftIndex,
            raftAppliedIndex: me.raftAppliedIndex,
            revision: me.revision,
            dbSize: me.dbSize,
            version: me.version,
            errors: me.errors,
          };
        }
      } catch (err) {
        warnings.push(`endpoint status: ${(err as Error).message}`);
      }
    } else {
      warnings.push(`etcd runs but endpoint status failed: ${firstLine(st.err || st.out)}`);
    }
  }
  const ml = get('member_list');
  if (ml?.rc === 0) {
    try {
      const list = parseMemberListJson(ml.out);
      facts.members = list.members.map((m) => ({ id: m.id, name: m.name, peerUrls: m.peerUrls, clientUrls: m.clientUrls, isLearner: m.isLearner }));
      facts.membersClusterId = list.header.clusterId;
    } catch (err) {
      warnings.push(`member list: ${(err as Error).message}`);
    }
  } else if (ml) warnings.push(`member list failed: ${firstLine(ml.err || ml.out)}`);
  const alarms = get('alarms');
  if (alarms?.rc === 0) {
    try {
      facts.alarms = parseAlarmListSimple(alarms.out).map((a) => a.alarm);
    } catch (err) {
      warnings.push(`alarm list: ${(err as Error).message}`);
    }
  }
  const health = get('health');
  if (health) {
    facts.healthy = health.rc === 0;
    if (health.rc !== 0) facts.healthError = firstLine(health.err || health.out);
  }
  return facts;
}

export function unreachableFacts(spec: NodeSpec, error: string, probeMs: number): NodeFacts {
  return {
    name: spec.name,
    host: spec.host,
    address: spec.address,
    reachable: false,
    error,
    service: 'unknown',
    processRunning: false,
    versions: {},
    warnings: [],
    probeMs,
  };
}

/** Probes one node over its connection: one exec, read-only. */
export async function probeNode(spec: NodeSpec, conn: NodeConnection, o: GatherOptions): Promise<NodeFacts> {
  const t0 = Date.now();
  const r = await conn.sh(probeScript(spec, { lockFile: o.lockFile, commandTimeout: o.commandTimeout ?? 3 }), { retryOnDisconnect: true, timeout: 120 });
  const ms = Date.now() - t0;
  if (r.timedOut) return { ...unreachableFacts(spec, `the probe timed out after ${Math.round(ms / 1000)} s`, ms), reachable: true };
  const sections = parseSections(r.stdout);
  if (!sections.has('end')) {
    const f = factsFromSections(spec, sections, ms);
    f.warnings.push(
      r.stdoutTruncated
        ? `the probe's output passed the SSH output cap and was cut off (last section read: ${[...sections.keys()].pop() ?? 'none'}): a command printed far more than etcd's tools do; the facts after it are unknown`
        : `the probe did not finish (exit ${r.code ?? r.signal}): ${firstLine(r.stderr)}`,
    );
    return f;
  }
  return factsFromSections(spec, sections, ms);
}

/**
 * The facts of a node whose probe could not run, from the error met: it cannot be connected to (its host
 * key refused too), or its connection dropped during the probe and it could not be probed again (a host
 * powered off or cut off from the network just then; the probe only reads, so nothing was left half
 * done). Any other error is not about the node and gives undefined: the caller throws it.
 */
export function probeFailureFacts(spec: NodeSpec, err: unknown, ms: number): NodeFacts | undefined {
  if (isConnectError(err)) {
    const f = unreachableFacts(spec, err.message, ms);
    if (err instanceof HostKeyError) f.refused = { message: err.message, hint: err.hint ?? '' };
    return f;
  }
  if (err instanceof ConnectionLostError && err.node === spec.name) {
    // reconnected means the node answered again but dropped the probe's second run as well
    return err.reconnected ? { ...unreachableFacts(spec, err.message, ms), reachable: true } : unreachableFacts(spec, err.message, ms);
  }
  return undefined;
}

/** Probes every node in parallel over its connection; an unreachable node is reported as such. */
async function probeAll(specs: NodeSpec[], transport: Transport, o: GatherOptions): Promise<NodeFacts[]> {
  return Promise.all(
    specs.map(async (spec): Promise<NodeFacts> => {
      const t0 = Date.now();
      try {
        // the transport keeps one connection per node: a second probe reuses it
        const conn = await transport.connect(spec);
        return await probeNode(spec, conn, o);
      } catch (err) {
        const f = probeFailureFacts(spec, err, Date.now() - t0);
        if (!f) throw err;
        return f;
      }
    }),
  );
}

/**
 * Gathers every node's facts in parallel; an unreachable node is reported as such and the others go on.
 *
 * When a majority of the voting members runs but too few serve, the leader may just have died and the
 * others not yet have elected a new one (for an election timeout, 5 s on kubespray, they cannot serve a
 * read). Calling that quorum-lost would invite a recovery of a cluster that heals itself, so the running
 * members are probed again until they serve under a leader they agree on, or the election wait (see
 * electionWaitMs) is over. Each probe waits on etcd's own answer (its health read blocks until a leader
 * serves it or its timeout ends), so there is no fixed sleep; the verdict's notes say how long it waited.
 */
export async function gatherFacts(inv: Inventory, transport: Transport, o: GatherOptions): Promise<ClusterFacts> {
  const names = inv.nodes.map((n) => n.name);
  let nodes = await probeAll(inv.nodes, transport, o);
  let assessment = assessCluster(nodes, names);
  const limit = mayBeElecting(nodes, assessment) ? (o.electionWaitMs ?? electionWaitMs(nodes)) : 0;
  if (limit > 0) {
    o.onElectionWait?.({ limitMs: limit, running: nodes.filter((n) => n.endpoint).map((n) => n.name) });
    const t0 = Date.now();
    let probes = 0;
    while (Date.now() - t0 < limit) {
      const round = Date.now();
      const again = await probeAll(inv.nodes.filter((_, i) => nodes[i]!.endpoint || nodes[i]!.processRunning), transport, o);
      nodes = nodes.map((n) => again.find((a) => a.name === n.name) ?? n);
      probes++;
      assessment = assessCluster(nodes, names);
      if (!leaderUnsettled(nodes, assessment)) break;
      // a member that says "no leader" at once must not be asked again in a tight loop
      await delay(Math.max(0, round + MIN_PROBE_INTERVAL_MS - Date.now()));
    }
    const waitedMs = Date.now() - t0;
    assessment.electionWait = { limitMs: limit, waitedMs, probes };
    const waited = `${(waitedMs / 1000).toFixed(1)} s`;
    if (assessment.verdict === 'quorum-lost') {
      assessment.reasons.push(
        `a majority of the voting members runs, but ${assessment.healthyVoting} of the ${assessment.quorum} needed served a read within ${waited} ` +
          `(${probes} more probe${probes === 1 ? '' : 's'}); that is longer than a leader election takes, so the members cannot form a quorum ` +
          '(partitioned peers, stalled disks?)',
      );
    } else {
      assessment.notes.push(`no quorum answered the first probe; ${assessment.verdict} after ${waited} waiting for a leader election (${probes} more probe${probes === 1 ? '' : 's'})`);
    }
  }
  return {
    inventory: { file: inv.file, cluster: inv.cluster.name },
    gatheredAt: (o.now?.() ?? new Date()).toISOString(),
    nodes,
    assessment,
    digest: digestFacts(nodes),
  };
}

/** Host keys refused while gathering: etcd-dr never works on a cluster it cannot authenticate. */
export function hostKeyRefusals(f: ClusterFacts): { node: string; message: string; hint: string }[] {
  return f.nodes.flatMap((n) => (n.refused ? [{ node: n.name, ...n.refused }] : []));
}
