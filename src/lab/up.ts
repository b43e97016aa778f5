/** `lab up`: the lab's parameters, its nodes booted and etcd started and serving. */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { ApplyError, EXIT, ExitError, InputError, type InputProblem } from '../util/errors.js';
import { type DataDirMount, dataDirMountProblem, describeDataDirMount, sameDataDirMount } from './datadir-mount.js';
import { prepareLabFiles } from './files.js';
import {
  addressBaseProblem, DEFAULT_ADDRESS_BASE, DEFAULT_ETCD_VERSION, DEFAULT_NODE_COUNT, deriveNodes,
  etcdVersionProblem, LAB_CLUSTER_NAME, memberCountProblem, nodeCountProblem,
} from './naming.js';
import { execInNode, nodeIsUp, tcpAnswers } from './node.js';
import { labPaths } from './paths.js';
import { powerOnNode } from './power.js';
import { checkPrereqs, ensureEtcd35, requireRoot } from './prereq.js';
import {
  labFeatures, type LabFeatures, type LabProfileName, PROFILE_DATA_DIR_MOUNT, profileProblem,
} from './profile.js';
import { describeFailure } from './run.js';
import {
  LAB_FILE_FORMAT, type LabFile, type LabFileNode, readLabFile, toLabState, withLabLock, writeLabFile,
} from './store.js';
import { ctxOf, memberNodes, refreshPower, withNodes } from './target.js';
import type { LabEtcdVersion, LabState, LabUpOptions } from './types.js';
import { clustersOf, startEtcd, unitName, waitHealthy } from './units.js';

interface LabParams {
  nodeCount: number;
  /** the first `members` nodes form the cluster */
  members: number;
  etcd: LabEtcdVersion;
  addressBase: string;
  dataDirMount?: DataDirMount;
  profile: LabProfileName;
  features: LabFeatures;
}

/** The parameters of the lab to bring up: the existing lab's, which options may only repeat. */
export function resolveLabParams(existing: Pick<LabFile, 'nodeCount' | 'etcd' | 'addressBase' | 'members' | 'dataDirMount' | 'profile' | 'features'> | undefined, opts: LabUpOptions, dir: string): LabParams {
  if (existing) {
    const diffs: string[] = [];
    if (opts.nodes !== undefined && opts.nodes !== existing.nodeCount) diffs.push(`${opts.nodes} nodes (it has ${existing.nodeCount})`);
    const members = existing.members ?? existing.nodeCount;
    if (opts.members !== undefined && opts.members !== members) diffs.push(`${opts.members} members (it was made with ${members})`);
    if (opts.etcd !== undefined && opts.etcd !== existing.etcd) diffs.push(`etcd ${opts.etcd} (it runs ${existing.etcd})`);
    if (opts.addressBase !== undefined && opts.addressBase !== existing.addressBase) diffs.push(`addresses ${opts.addressBase}N (it uses ${existing.addressBase}N)`);
    if (opts.dataDirMount !== undefined && !sameDataDirMount(opts.dataDirMount, existing.dataDirMount)) {
      diffs.push(`data dirs on ${describeDataDirMount(opts.dataDirMount)} (${existing.dataDirMount ? `it has ${describeDataDirMount(existing.dataDirMount)}` : 'its data dirs are on the node\'s /var/lib'})`);
    }
    if (opts.profile !== undefined && opts.profile !== (existing.profile ?? 'plain')) diffs.push(`profile ${opts.profile} (it has ${existing.profile ?? 'plain'})`);
    if (diffs.length) {
      throw new ExitError(
        `the lab in ${dir} was made with other parameters: you asked for ${diffs.join(', ')}`,
        EXIT.badInput,
        `to build a new lab there, remove this one first: etcd-dr lab down --purge --dir ${dir}`,
      );
    }
    const profile = existing.profile ?? 'plain';
    return {
      nodeCount: existing.nodeCount, members: existing.members ?? existing.nodeCount, etcd: existing.etcd, addressBase: existing.addressBase,
      ...(existing.dataDirMount ? { dataDirMount: existing.dataDirMount } : {}),
      profile, features: existing.features ?? labFeatures(profile),
    };
  }
  const nodeCount = opts.nodes ?? DEFAULT_NODE_COUNT;
  const profile = opts.profile ?? 'plain';
  const p: LabParams = {
    nodeCount, members: opts.members ?? nodeCount, etcd: opts.etcd ?? DEFAULT_ETCD_VERSION, addressBase: opts.addressBase ?? DEFAULT_ADDRESS_BASE,
    profile, features: profileProblem(profile) ? labFeatures('plain') : labFeatures(profile, opts.features),
  };
  const mount = opts.dataDirMount ?? PROFILE_DATA_DIR_MOUNT[profile];
  if (mount) p.dataDirMount = mount;
  const problems = [
    nodeCountProblem(p.nodeCount),
    nodeCountProblem(p.nodeCount) ? undefined : memberCountProblem(p.members, p.nodeCount),
    etcdVersionProblem(p.etcd),
    addressBaseProblem(p.addressBase, p.nodeCount),
    dataDirMountProblem(p.dataDirMount),
    profileProblem(p.profile),
  ].filter(
    (x): x is InputProblem => x !== undefined,
  );
  if (problems.length) throw new InputError(problems, 'cannot build that lab');
  return p;
}

/**
 * Bring the lab up: create it (keys, certificates, node disks) if new, boot every node that is not
 * running, start etcd where it is enabled, and wait until the members it started serve clients.
 * On a lab that is already up it changes nothing.
 */
export async function labUp(opts: LabUpOptions = {}): Promise<LabState> {
  requireRoot();
  const c = ctxOf(opts);
  const healthTimeoutMs = (opts.healthTimeout ?? 90) * 1000;
  const existingDir = existsSync(c.dir);
  mkdirSync(c.dir, { recursive: true, mode: 0o700 });
  try {
    return await withLabLock(c.dir, async () => {
      const existing = readLabFile(c.dir);
      const params = resolveLabParams(existing, opts, c.dir);
      checkPrereqs(params.etcd);
      const etcdBin = params.etcd === '3.5' ? await ensureEtcd35(c.env, c.log) : undefined;
      let f: LabFile = existing ? refreshPower(existing) : newLabFile(params);
      if (f.nodes.every(nodeIsUp) && f.bootstrapped) {
        c.log(`the lab in ${c.dir} is already up`);
        return toLabState(c.dir, f);
      }
      if (!existing) await assertAddressesFree(f);
      const t0 = Date.now();
      await prepareLabFiles(c.dir, f, etcdBin);
      c.log(`lab files ready (${Date.now() - t0} ms): keys, certificates, node disks in ${c.dir}`);
      writeLabFile(c.dir, f);

      const down = f.nodes.filter((n) => !nodeIsUp(n));
      if (down.length) {
        const t1 = Date.now();
        const booted = await Promise.all(down.map((n) => powerOnNode(c.dir, n)));
        f = withNodes(f, booted);
        writeLabFile(c.dir, f);
        c.log(`booted ${down.map((n) => n.host).join(', ')} (${Date.now() - t1} ms)`);
      }

      // A new cluster starts every member at once; a formed one starts what a booting host would.
      const bootedHosts = new Set(down.map((n) => n.host));
      const candidates = f.bootstrapped ? f.nodes.filter((n) => bootedHosts.has(n.host)) : memberNodes(f);
      const started = await startEtcd(f.nodes.filter((n) => candidates.some((x) => x.host === n.host)), !f.bootstrapped, clustersOf(f));
      if (started.length) {
        const t2 = Date.now();
        c.log(`waiting for etcd on ${started.map(unitName).join(', ')} to serve clients`);
        await waitHealthy(c.dir, started, healthTimeoutMs);
        c.log(`etcd serves on ${started.map(unitName).join(', ')} (${((Date.now() - t2) / 1000).toFixed(1)} s)`);
      }
      if (!f.bootstrapped) {
        // as kubespray does once the cluster exists: a restarted member must join, never bootstrap
        await Promise.all(memberNodes(f).flatMap((n) => clustersOf(f).map((cl) => setClusterStateExisting(n, cl.envFile))));
        f = { ...f, bootstrapped: true };
        writeLabFile(c.dir, f);
      }
      return toLabState(c.dir, f);
    });
  } catch (e) {
    // a brand-new lab dir that never got a lab.json is only noise for the next attempt
    if (!existingDir && !existsSync(labPaths(c.dir).stateFile)) rmSync(c.dir, { recursive: true, force: true });
    throw e;
  }
}

function newLabFile(p: LabParams): LabFile {
  return {
    format: LAB_FILE_FORMAT,
    etcd: p.etcd,
    nodeCount: p.nodeCount,
    ...(p.members !== p.nodeCount ? { members: p.members } : {}),
    addressBase: p.addressBase,
    ...(p.dataDirMount ? { dataDirMount: p.dataDirMount } : {}),
    clusterName: LAB_CLUSTER_NAME,
    bootstrapped: false,
    createdAt: new Date().toISOString(),
    ...(p.profile !== 'plain' ? { profile: p.profile } : {}),
    ...(p.features.eventsCluster || p.features.kubesprayEnv || p.features.opsLogin ? { features: p.features } : {}),
    nodes: deriveNodes(p.nodeCount, p.addressBase).map((n) => ({ ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null, bootedAt: null })),
  };
}

async function assertAddressesFree(f: LabFile): Promise<void> {
  const ports = [22, ...clustersOf(f).flatMap((c) => [c.clientPort, c.peerPort])];
  const checks = f.nodes.flatMap((n) => ports.map(async (port) => ((await tcpAnswers(n.address, port, 300)) ? `${n.address}:${port}` : undefined)));
  const busy = (await Promise.all(checks)).filter((x): x is string => x !== undefined);
  if (busy.length) {
    throw new ExitError(
      `cannot build the lab: ${busy.join(', ')} already answer${busy.length === 1 ? 's' : ''} (another lab on these addresses?)`,
      EXIT.badInput,
      'choose other addresses with --address-base 127.0.N. , or stop what listens there (etcd-dr lab down --dir <its dir>)',
    );
  }
}

async function setClusterStateExisting(n: LabFileNode, envFile: string): Promise<void> {
  const r = await execInNode(n, ['sed', '-i', '-e', 's/^ETCD_INITIAL_CLUSTER_STATE=new$/ETCD_INITIAL_CLUSTER_STATE=existing/', envFile], { timeout: 30 });
  if (r.code !== 0) throw new ApplyError(`${n.host}: could not set ETCD_INITIAL_CLUSTER_STATE=existing in ${envFile}: ${describeFailure(r)}`);
}
