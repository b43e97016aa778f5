/**
 * The lab's operations: up, down, status, power-off/on, load, break, exec. Each one that changes
 * the lab holds the lab's lock and records the result in lab.json.
 */
import { randomBytes } from 'node:crypto';
import {
  chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync,
  renameSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ApplyError, EXIT, ExitError, InputError, type InputProblem } from '../util/errors.js';
import type { ExecResult } from '../ssh/types.js';
import {
  addressBaseProblem, DEFAULT_ADDRESS_BASE, DEFAULT_ETCD_VERSION, DEFAULT_NODE_COUNT, deriveNodes, etcdVersionProblem,
  LAB_CLUSTER_NAME, labDirProblem, memberCountProblem, nodeCountProblem, resolveNodeRef,
} from './naming.js';
import { dataDirMountProblem, describeDataDirMount, ensureDataDirImage, ensureLoopDevices, sameDataDirMount, type DataDirMount } from './datadir-mount.js';
import { bootNode, execInNode, killNode, nodeIsUp, tcpAnswers } from './node.js';
import { labAsset, labPaths, nodePaths, OVERLAYS, resolveLabDir } from './paths.js';
import { installApiserver } from './apiserver.js';
import { ensureLabPki, nodeSslFiles } from './pki.js';
import { checkPrereqs, ensureEtcd35, findProgram, requireRoot } from './prereq.js';
import { killUntilGone, labCmdlineProcesses, labNodeProcesses, scanProcs, sleep } from './procs.js';
import {
  CLIENT_PORT, LAB_SSL_DIR, OPS_SUDOERS, renderEtcdEnv, renderEtcdUnit, renderInventory,
  renderEtcHosts, renderKnownHosts, renderSshdConfig,
} from './render.js';
import { labFeatures, PROFILE_DATA_DIR_MOUNT, profileProblem, type LabFeatures, type LabProfileName } from './profile.js';
import { describeFailure, runFile } from './run.js';
import { LAB_FILE_FORMAT, readLabFile, toLabState, withLabLock, writeLabFile, type LabFile, type LabFileNode } from './store.js';
import { etcdClient } from './tls.js';
import { clustersOf, featuresOf, startEtcd, unitName, waitHealthy } from './units.js';
import type {
  LabDirOptions, LabDownOptions, LabEtcdVersion, LabExecOptions, LabLog, LabNodeStatus, LabState, LabStatus, LabUpOptions,
  LoadOptions, LoadResult,
} from './types.js';

/** A lab to act on: a LabState from `labUp`/`openLab`, or options naming its dir. */
export type LabTarget = LabState | LabDirOptions;

interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  log: LabLog;
}

function isState(t: LabTarget): t is LabState {
  return typeof (t as LabState).inventoryPath === 'string' && Array.isArray((t as LabState).nodes);
}

function ctxOf(t: LabTarget, log?: LabLog): Ctx {
  if (isState(t)) return { dir: t.dir, env: process.env, log: log ?? (() => undefined) };
  const env = t.env ?? process.env;
  const dir = resolveLabDir(t.dir, env, t.cwd ?? process.cwd());
  const problem = labDirProblem(dir);
  if (problem) throw new InputError([problem], 'unusable lab dir');
  return { dir, env, log: log ?? t.log ?? (() => undefined) };
}

function requireLab(dir: string): LabFile {
  const f = readLabFile(dir);
  if (!f) throw new ExitError(`there is no lab in ${dir}`, EXIT.badInput, `create it with: etcd-dr lab up --dir ${dir}`);
  return f;
}

function findNode(f: LabFile, dir: string, ref: string): LabFileNode {
  const n = resolveNodeRef(f.nodes, ref);
  if (!n) {
    throw new InputError(
      [{ field: 'NODE', message: `no node "${ref}" in the lab in ${dir}; use a member name, host name or address: ${f.nodes.map((x) => `${x.name}/${x.host}/${x.address}`).join(', ')}` }],
      'unknown lab node',
    );
  }
  return n;
}

/** The lab in `target`'s dir, as it is recorded (pids refreshed: a node whose sshd is gone shows as off). */
export function openLab(target: LabTarget = {}): LabState {
  const c = ctxOf(target);
  const f = requireLab(c.dir);
  return toLabState(c.dir, refreshPower(f));
}

function refreshPower(f: LabFile): LabFile {
  return { ...f, nodes: f.nodes.map((n) => (n.poweredOn && !nodeIsUp(n) ? { ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null } : n)) };
}

// ---------------------------------------------------------------------------------------------------
// lab up

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

/** The nodes that formed the cluster; the others were bare nodes (no env file, no data). */
function memberNodes(f: Pick<LabFile, 'nodes' | 'members'>): LabFileNode[] {
  return f.nodes.slice(0, f.members ?? f.nodes.length);
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

function withNodes(f: LabFile, updated: LabFileNode[]): LabFile {
  return { ...f, nodes: f.nodes.map((n) => updated.find((u) => u.host === n.host) ?? n) };
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

/** Everything a lab dir holds before its nodes boot; what exists already is kept. */
async function prepareLabFiles(dir: string, f: LabFile, etcd35Bin: string | undefined): Promise<void> {
  const lp = labPaths(dir);
  for (const d of [lp.binDir, lp.pkiDir, lp.nodesDir]) mkdirSync(d, { recursive: true, mode: 0o755 });
  chmodSync(lp.pkiDir, 0o700);
  installIfChanged(labAsset('systemctl'), join(lp.binDir, 'systemctl'), 0o755);
  installApiserver(lp.binDir);
  if (etcd35Bin) {
    for (const b of ['etcd', 'etcdctl', 'etcdutl']) installBinary(join(etcd35Bin, b), join(lp.binDir, b));
  } else {
    // symlinks to Debian's etcd: the lab's version comes first on PATH even if the host has another in /usr/local/bin
    for (const b of ['etcd', 'etcdctl']) {
      const target = findProgram(b, '/usr/bin:/usr/sbin:/bin');
      if (target) ensureSymlink(target, join(lp.binDir, b));
    }
  }

  const keygens: Promise<void>[] = [];
  if (!existsSync(lp.identityFile)) keygens.push(sshKeygen(lp.identityFile, 'etcd-dr-lab-bastion'));
  for (const n of f.nodes) {
    const np = nodePaths(dir, n.host);
    mkdirSync(np.nodeDir, { recursive: true, mode: 0o755 });
    if (!existsSync(np.hostKey)) keygens.push(sshKeygen(np.hostKey, `root@${n.host}`));
  }
  await Promise.all([...keygens, ensureLabPki(lp.pkiDir, f.nodes)]);
  chmodSync(lp.identityFile, 0o600);
  writeFileSync(lp.authorizedKeys, readFileSync(`${lp.identityFile}.pub`), { mode: 0o644 });

  for (const n of f.nodes) prepareNodeDisk(dir, n, f);
  const mount = f.dataDirMount;
  if (mount) await Promise.all([ensureLoopDevices(), ...f.nodes.map((n) => ensureDataDirImage(nodePaths(dir, n.host).nodeDir, mount))]);
  writeFileSync(lp.knownHosts, renderKnownHosts(f.nodes, f.nodes.map((n) => readFileSync(`${nodePaths(dir, n.host).hostKey}.pub`, 'utf8'))), { mode: 0o644 });
  for (const cl of clustersOf(f)) {
    const ops = featuresOf(f).opsLogin;
    writeFileSync(join(dir, cl.inventoryFile), renderInventory(f.nodes, { identityFile: lp.identityFile, knownHostsFile: lp.knownHosts, cluster: cl, ops }), { mode: 0o644 });
  }
}

async function sshKeygen(file: string, comment: string): Promise<void> {
  const r = await runFile('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file], { timeout: 30 });
  if (r.code !== 0) throw new ApplyError(`could not create the SSH key ${file}: ${describeFailure(r)}`);
}

/** A node's folder: sshd_config always; on a fresh disk also its /etc files (env, TLS, unit, sudoers). */
function prepareNodeDisk(dir: string, n: LabFileNode, f: LabFile): void {
  const lp = labPaths(dir);
  const np = nodePaths(dir, n.host);
  for (const o of OVERLAYS) {
    mkdirSync(np.upper(o.key), { recursive: true, mode: 0o755 });
    mkdirSync(np.work(o.key), { recursive: true, mode: 0o755 });
  }
  for (const [d, mode] of [['root', 0o700], ['home', 0o755], ['tmp', 0o1777]] as const) {
    mkdirSync(np.own(d), { recursive: true });
    chmodSync(np.own(d), mode);
  }
  writeFileSync(np.sshdConfig, renderSshdConfig(n, { nodeDir: np.nodeDir, authorizedKeys: lp.authorizedKeys }), { mode: 0o644 });
  if (existsSync(join(np.nodeDir, 'provisioned'))) return;

  // Files go straight into the overlay's upper dir while the node is off: to the node they are its own /etc.
  const etc = np.upper('etc');
  const upperDir = (rel: string, modeIfNew: number) => {
    let cur = etc;
    let host = '/etc';
    for (const part of rel.split('/')) {
      cur = join(cur, part);
      host = join(host, part);
      if (!existsSync(cur)) {
        mkdirSync(cur);
        chmodSync(cur, existsSync(host) ? statSync(host).mode & 0o7777 : modeIfNew);
      }
    }
    return cur;
  };
  // a bare node (beyond the first `members`) gets no env file: etcd-dr scale-out writes one
  const members = memberNodes(f);
  if (members.some((m) => m.host === n.host)) {
    for (const cl of clustersOf(f)) {
      writeFileSync(join(etc, cl.envFile.replace(/^\/etc\//, '')), renderEtcdEnv(n, members, 'new', { cluster: cl, kubespray: featuresOf(f).kubesprayEnv }), { mode: 0o640 });
    }
  }
  // every lab host name resolves on every node, as kubespray's /etc/hosts management does
  writeFileSync(join(etc, 'hosts'), renderEtcHosts(readText('/etc/hosts'), f.nodes), { mode: 0o644 });
  const ssl = upperDir(LAB_SSL_DIR.replace(/^\/etc\//, ''), 0o700);
  for (const file of nodeSslFiles(lp.pkiDir, f.nodes)) {
    copyFileSync(file.src, join(ssl, file.name));
    chmodSync(join(ssl, file.name), file.mode);
  }
  const sudoers = join(upperDir('sudoers.d', 0o755), 'ops');
  writeFileSync(sudoers, OPS_SUDOERS, { mode: 0o440 });
  chmodSync(sudoers, 0o440);
  const system = upperDir('systemd/system', 0o755);
  for (const cl of clustersOf(f)) {
    writeFileSync(join(system, `${cl.service}.service`), renderEtcdUnit(cl), { mode: 0o644 });
    ensureSymlink(`/etc/systemd/system/${cl.service}.service`, join(upperDir('systemd/system/multi-user.target.wants', 0o755), `${cl.service}.service`));
  }
}

function installIfChanged(src: string, dst: string, mode: number): void {
  const data = readFileSync(src);
  if (existsSync(dst) && readFileSync(dst).equals(data)) return;
  const tmp = `${dst}.${process.pid}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, dst);
}

/** A hard link to the cached binary when on the same filesystem (instant), else a copy. */
function installBinary(src: string, dst: string): void {
  if (existsSync(dst) && statSync(dst).size === statSync(src).size) return;
  rmSync(dst, { force: true });
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
    chmodSync(dst, 0o755);
  }
}

function ensureSymlink(target: string, link: string): void {
  try {
    if (lstatSync(link).isSymbolicLink() && readlinkSync(link) === target) return;
    unlinkSync(link);
  } catch {
    // absent
  }
  symlinkSync(target, link);
}

/** Boot one node (after killing whatever is left of it) and return its record as powered on. */
async function powerOnNode(dir: string, n: LabFileNode): Promise<LabFileNode> {
  await killNode(dir, n.host);
  const b = await bootNode(dir, n);
  return { ...n, poweredOn: true, sshdPid: b.sshdPid, unsharePid: b.unsharePid, mntNs: b.mntNs, bootedAt: new Date().toISOString() };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

async function setClusterStateExisting(n: LabFileNode, envFile: string): Promise<void> {
  const r = await execInNode(n, ['sed', '-i', '-e', 's/^ETCD_INITIAL_CLUSTER_STATE=new$/ETCD_INITIAL_CLUSTER_STATE=existing/', envFile], { timeout: 30 });
  if (r.code !== 0) throw new ApplyError(`${n.host}: could not set ETCD_INITIAL_CLUSTER_STATE=existing in ${envFile}: ${describeFailure(r)}`);
}

// ---------------------------------------------------------------------------------------------------
// lab down

export interface LabDownResult {
  dir: string;
  killed: number;
  purged: boolean;
}

/**
 * Power off every node (kill every process of every node namespace, and any leftover whose command
 * line names the lab dir) and check nothing is left. Node disks are kept unless `purge`.
 */
export async function labDown(opts: LabDownOptions = {}): Promise<LabDownResult> {
  requireRoot();
  const c = ctxOf(opts);
  if (!existsSync(c.dir)) {
    // A lab dir deleted while its nodes ran: the nodes keep running (their namespaces hold the dir),
    // and their mounts and command lines still name it, so they are found and stopped all the same.
    const killed = await killLab(c.dir);
    assertNothingLeft(c.dir);
    c.log(killed ? `${c.dir} is gone, but ${killed} process${killed === 1 ? '' : 'es'} of its nodes ran: killed` : `no lab in ${c.dir}: nothing to do`);
    return { dir: c.dir, killed, purged: false };
  }
  return withLabLock(c.dir, async () => {
    const f = readLabFile(c.dir);
    const killed = await killLab(c.dir);
    if (killed) c.log(`killed ${killed} process${killed === 1 ? '' : 'es'} of the lab's nodes`);
    assertNothingLeft(c.dir);
    if (f) writeLabFile(c.dir, { ...f, nodes: f.nodes.map((n) => ({ ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null })) });
    if (opts.purge) {
      if (!f && !looksLikeLabDir(c.dir)) {
        throw new ExitError(`${c.dir} does not look like a lab dir (no lab.json, no nodes/): not removing it`, EXIT.refused, 'remove it yourself if that is what you want');
      }
      rmSync(c.dir, { recursive: true, force: true });
      c.log(`removed ${c.dir}`);
    }
    return { dir: c.dir, killed, purged: Boolean(opts.purge) };
  });
}

function looksLikeLabDir(dir: string): boolean {
  const entries = readdirSync(dir);
  return entries.length === 0 || entries.includes('nodes') || entries.includes('lab.json');
}

async function killLab(dir: string): Promise<number> {
  try {
    return await killUntilGone(() => {
      const procs = scanProcs();
      const all = [...[...labNodeProcesses(dir, procs).values()].flat(), ...labCmdlineProcesses(dir, procs)];
      return [...new Map(all.map((p) => [p.pid, p])).values()];
    }, `the lab in ${dir}`);
  } catch (e) {
    throw new ApplyError((e as Error).message, 'look at them with ps');
  }
}

/** Nothing of the lab runs any more and the host has no mount from the lab dir. */
function assertNothingLeft(dir: string): void {
  const procs = scanProcs();
  const inNs = [...labNodeProcesses(dir, procs).values()].flat().filter((p) => p.state !== 'Z');
  const byCmd = labCmdlineProcesses(dir, procs);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${dir}/`) || l.split(' ')[4] === dir);
  if (inNs.length || byCmd.length || mounts.length) {
    throw new ApplyError(
      `the lab in ${dir} is not completely down:` +
        [...inNs, ...byCmd].map((p) => `\n  pid ${p.pid} ${p.cmdline || p.comm}`).join('') +
        mounts.map((m) => `\n  host mount: ${m}`).join(''),
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// power-off / power-on

/** Cut a node's power: SIGKILL every process of the node at once. Its disk (upper dirs) stays. */
export async function powerOff(target: LabTarget, nodeRef: string, log?: LabLog): Promise<LabState> {
  requireRoot();
  const c = ctxOf(target, log);
  return withLabLock(c.dir, async () => {
    const f = requireLab(c.dir);
    const n = findNode(f, c.dir, nodeRef);
    const killed = await killNode(c.dir, n.host);
    c.log(`${n.host} (${n.name}) is off${killed ? ` (${killed} process${killed === 1 ? '' : 'es'} killed)` : ''}`);
    const nf = withNodes(f, [{ ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null }]);
    writeLabFile(c.dir, nf);
    return toLabState(c.dir, refreshPower(nf));
  });
}

/** Boot a node again from its disk; as a booting host would, it starts etcd (--no-block) if enabled. */
export async function powerOn(target: LabTarget, nodeRef: string, log?: LabLog): Promise<LabState> {
  requireRoot();
  const c = ctxOf(target, log);
  return withLabLock(c.dir, async () => {
    const f = requireLab(c.dir);
    const n = findNode(f, c.dir, nodeRef);
    if (nodeIsUp(n)) {
      c.log(`${n.host} (${n.name}) is already on`);
      return toLabState(c.dir, refreshPower(f));
    }
    const on = await powerOnNode(c.dir, n);
    let nf = withNodes(f, [on]);
    writeLabFile(c.dir, nf);
    const started = f.bootstrapped ? await startEtcd([on], false, clustersOf(f)) : [];
    c.log(`${n.host} (${n.name}) is on${started.length ? '; etcd is starting' : ''}`);
    nf = refreshPower(nf);
    return toLabState(c.dir, nf);
  });
}

// ---------------------------------------------------------------------------------------------------
// status

export async function labStatus(target: LabTarget = {}): Promise<LabStatus> {
  requireRoot();
  const c = ctxOf(target);
  const f = requireLab(c.dir);
  const nodes = await Promise.all(
    f.nodes.map(async (n): Promise<LabNodeStatus> => {
      const up = nodeIsUp(n);
      const sshdUp = up && (await tcpAnswers(n.address, 22, 1000));
      let etcd = 'unknown';
      let etcdPid: number | null = null;
      if (up) {
        const [a, p] = await Promise.all([
          execInNode(n, ['systemctl', 'is-active', 'etcd'], { timeout: 30 }),
          execInNode(n, ['systemctl', 'show', '-p', 'MainPID', '--value', 'etcd'], { timeout: 30 }),
        ]);
        etcd = a.stdout.trim() || 'unknown';
        const pid = Number(p.stdout.trim());
        etcdPid = Number.isInteger(pid) && pid > 0 ? pid : null;
      }
      return { name: n.name, host: n.host, address: n.address, poweredOn: up, sshdPid: up ? n.sshdPid : null, sshdUp, etcd, etcdPid };
    }),
  );
  return { dir: c.dir, version: f.etcd, nodes };
}

// ---------------------------------------------------------------------------------------------------
// break

export interface BreakResult {
  scenario: 'all-down';
  nodes: { name: string; host: string; etcd: string }[];
}

/** `systemctl stop etcd` in every powered-on node at once, then confirm each one stopped. */
export async function breakAllDown(target: LabTarget, log?: LabLog): Promise<BreakResult> {
  requireRoot();
  const c = ctxOf(target, log);
  return withLabLock(c.dir, async () => {
    const f = refreshPower(requireLab(c.dir));
    const on = f.nodes.filter((n) => n.poweredOn);
    c.log(`stopping etcd on ${on.map((n) => n.name).join(', ') || 'no node (all are off)'}`);
    await Promise.all(
      on.map(async (n) => {
        const r = await execInNode(n, ['systemctl', 'stop', 'etcd'], { timeout: 90 });
        if (r.code !== 0) throw new ApplyError(`${n.host}: systemctl stop etcd failed: ${describeFailure(r)}`);
      }),
    );
    const nodes = await Promise.all(
      f.nodes.map(async (n) => {
        if (!n.poweredOn) return { name: n.name, host: n.host, etcd: 'off' };
        const s = await execInNode(n, ['systemctl', 'is-active', 'etcd'], { timeout: 30 });
        return { name: n.name, host: n.host, etcd: s.stdout.trim() };
      }),
    );
    const still = nodes.filter((n) => n.etcd === 'active' || n.etcd === 'activating');
    if (still.length) throw new ApplyError(`etcd still runs on ${still.map((n) => n.host).join(', ')} after systemctl stop`);
    c.log('etcd is down on every node');
    return { scenario: 'all-down', nodes };
  });
}

// ---------------------------------------------------------------------------------------------------
// exec

/** Run argv inside a node (nsenter into its namespaces) as root with a root login's PATH. */
export async function labExec(target: LabTarget, nodeRef: string, argv: readonly string[], opts: LabExecOptions = {}): Promise<ExecResult> {
  requireRoot();
  const c = ctxOf(target);
  if (argv.length === 0) throw new InputError([{ field: 'CMD', message: 'name the command to run in the node' }]);
  const f = requireLab(c.dir);
  const n = findNode(f, c.dir, nodeRef);
  if (!nodeIsUp(n)) throw new ApplyError(`${n.host} (${n.name}) is powered off`, `power it on: etcd-dr lab power-on ${n.name} --dir ${c.dir}`);
  return execInNode(n, argv, opts);
}

/** etcdctl flags that reach node `n`'s own member with that host's admin certificate. */
export function etcdctlFlags(n: { host: string; address: string }): string[] {
  return [
    `--endpoints=https://${n.address}:${CLIENT_PORT}`,
    `--cacert=${LAB_SSL_DIR}/ca.pem`,
    `--cert=${LAB_SSL_DIR}/admin-${n.host}.pem`,
    `--key=${LAB_SSL_DIR}/admin-${n.host}-key.pem`,
  ];
}

/** `ETCDCTL_API=3 etcdctl <endpoint + TLS flags of that node> args…` inside the node. */
export async function etcdctlInNode(target: LabTarget, nodeRef: string, args: readonly string[], opts: LabExecOptions = {}): Promise<ExecResult> {
  const c = ctxOf(target);
  const f = requireLab(c.dir);
  const n = findNode(f, c.dir, nodeRef);
  return labExec(target, nodeRef, ['etcdctl', ...etcdctlFlags(n), ...args], { ...opts, env: { ETCDCTL_API: '3', ...opts.env } });
}

/** The full etcd version the lab runs, e.g. `3.4.23` (from its binary). */
export async function labEtcdVersion(target: LabTarget): Promise<string> {
  const c = ctxOf(target);
  const r = await runFile(join(labPaths(c.dir).binDir, 'etcd'), ['--version'], { timeout: 30 });
  return /etcd Version:\s*(\S+)/.exec(r.stdout)?.[1] ?? requireLab(c.dir).etcd;
}

// ---------------------------------------------------------------------------------------------------
// load

/** how long one batch of puts is retried through leader elections (5 s election timeout, twice, and some) */
const RETRY_MS = 30_000;
/** etcd's default --max-txn-ops */
const MAX_TXN_OPS = 128;

/**
 * Write `keys` small keys and `mb` 1 MiB values through etcd's JSON gateway (`POST /v3/kv/txn`,
 * 128 puts per transaction, several in flight on keep-alive connections).
 */
export async function loadKeys(target: LabTarget, opts: LoadOptions): Promise<LoadResult> {
  requireRoot();
  const c = ctxOf(target, opts.log);
  const problems: InputProblem[] = [];
  if (!Number.isInteger(opts.keys) || opts.keys < 0) problems.push({ field: '--keys', message: `must be a whole number ≥ 0, got ${String(opts.keys)}` });
  const mb = opts.mb ?? 0;
  if (!Number.isInteger(mb) || mb < 0) problems.push({ field: '--mb', message: `must be a whole number ≥ 0, got ${String(mb)}` });
  const prefix = opts.prefix ?? '/registry/';
  if (!prefix.startsWith('/')) problems.push({ field: '--prefix', message: `must start with /, got "${prefix}"` });
  if (problems.length) throw new InputError(problems, 'cannot load that');
  const f = refreshPower(requireLab(c.dir));
  const n = opts.node ? findNode(f, c.dir, opts.node) : f.nodes.find((x) => x.poweredOn);
  if (!n || !n.poweredOn) throw new ApplyError(`no powered-on node to send the writes to in the lab in ${c.dir}`, `etcd-dr lab up --dir ${c.dir}`);
  const client = etcdClient(labPaths(c.dir).pkiDir, n.address, n.host, 8, opts.clientPort);
  const started = Date.now();
  let revision = '0';
  let bytes = 0;
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  const txn = async (puts: { key: string; value: Buffer }[]) => {
    const body = { success: puts.map((p) => ({ requestPut: { key: b64(p.key), value: b64(p.value) } })) };
    // puts are idempotent, so a write that met a leader election (etcd answers 503, or the
    // connection drops) is simply sent again, for up to RETRY_MS
    const deadline = Date.now() + RETRY_MS;
    let r: { status: number; body: string } | undefined;
    for (;;) {
      let failure: string;
      try {
        r = await client.call('POST', '/v3/kv/txn', body, 30_000);
        if (r.status === 200) break;
        failure = `etcd refused the write (${r.status}): ${r.body.slice(0, 500)}`;
        if (r.status !== 503 && !/leader|timed out|unavailable/i.test(r.body)) throw new ApplyError(`${n.host}: ${failure}`);
      } catch (e) {
        if (e instanceof ApplyError) throw e;
        failure = `writing to ${client.endpoint} failed: ${(e as Error).message}`;
      }
      if (Date.now() > deadline) throw new ApplyError(`${n.host}: ${failure} (still after ${RETRY_MS / 1000} s of retries)`, 'is the cluster up? etcd-dr lab status');
      await sleep(200);
    }
    const rev = (JSON.parse(r.body) as { header?: { revision?: string } }).header?.revision;
    if (rev && BigInt(rev) > BigInt(revision)) revision = rev;
    bytes += puts.reduce((s, p) => s + p.key.length + p.value.length, 0);
  };
  try {
    const batches: { key: string; value: Buffer }[][] = [];
    for (let i = 1; i <= opts.keys; i += MAX_TXN_OPS) {
      const batch = [];
      for (let k = i; k < Math.min(i + MAX_TXN_OPS, opts.keys + 1); k++) {
        const key = `${prefix}lab/key-${String(k).padStart(6, '0')}`;
        batch.push({ key, value: Buffer.from(smallValue(k)) });
      }
      batches.push(batch);
    }
    // a 1 MiB value is most of etcd's default 1.5 MiB request limit: one per transaction
    for (let k = 1; k <= mb; k++) batches.push([{ key: `${prefix}lab-blobs/blob-${String(k).padStart(4, '0')}`, value: randomBytes(1024 * 1024) }]);
    await runLimited(batches, 4, txn);
  } finally {
    client.close();
  }
  const result: LoadResult = { keys: opts.keys, blobs: mb, bytes, durationMs: Date.now() - started, revision, endpoint: client.endpoint };
  c.log(`loaded ${result.keys} keys and ${result.blobs} MiB values in ${(result.durationMs / 1000).toFixed(2)} s via ${result.endpoint}; revision ${revision}`);
  return result;
}

/** A ~100-byte JSON value, like a small Kubernetes object's worth of text. */
export function smallValue(k: number): string {
  const head = `{"kind":"LabKey","n":${k},"pad":"`;
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, 100 - head.length - tail.length)) + tail;
}

async function runLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

