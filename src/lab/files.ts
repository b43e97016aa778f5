/** Everything a lab dir holds before its nodes boot: binaries, keys, certificates, node disks. */
import {
  chmodSync, copyFileSync, existsSync, linkSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync,
  rmSync, statSync, symlinkSync, unlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ApplyError } from '../util/errors.js';
import { installApiserver } from './apiserver.js';
import { ensureDataDirImage, ensureLoopDevices } from './datadir-mount.js';
import { labAsset, labPaths, nodePaths, OVERLAYS } from './paths.js';
import { ensureLabPki, nodeSslFiles } from './pki.js';
import { findProgram } from './prereq.js';
import {
  LAB_SSL_DIR, OPS_SUDOERS, renderEtcdEnv, renderEtcdUnit, renderEtcHosts, renderInventory, renderKnownHosts,
  renderSshdConfig,
} from './render.js';
import { describeFailure, runFile } from './run.js';
import type { LabFile, LabFileNode } from './store.js';
import { memberNodes } from './target.js';
import { clustersOf, featuresOf } from './units.js';

/** Everything a lab dir holds before its nodes boot; what exists already is kept. */
export async function prepareLabFiles(dir: string, f: LabFile, etcd35Bin: string | undefined): Promise<void> {
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

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
