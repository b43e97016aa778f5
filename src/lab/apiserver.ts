/**
 * The lab's stand-in for the kube-apiservers of a kubespray master: `lab-apiserver start|stop|status` in
 * every node (lab-assets/lab-apiserver, a writer in lab-assets/lab-apiserver.mjs) keeps writing keys to
 * etcd through every member's client URL and records each write etcd acknowledged in the node's
 * /var/log/lab-apiserver/acked.log. Inventory hooks stop it before a recovery and start it after, as
 * moving a static pod's manifest out of and back into /etc/kubernetes/manifests does on a real master;
 * a drill (or a test) then checks that no acknowledged write was lost.
 */
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExecResult } from '../ssh/types.js';
import { ApplyError } from '../util/errors.js';
import { labExec } from './exec.js';
import { labAsset, nodePaths } from './paths.js';
import { readLabFile } from './store.js';
import type { LabState } from './types.js';

export const APISERVER_ASSETS = ['lab-apiserver', 'lab-apiserver.mjs'] as const;

/** The inventory hooks that stop and start the lab's writer around a recovery. */
export const LAB_APISERVER_HOOKS = { beforeStop: ['lab-apiserver stop'], afterVerify: ['lab-apiserver start'] } as const;

/** Puts the writer into the lab's bin dir (the nodes' /usr/local/bin). */
export function installApiserver(binDir: string): void {
  for (const name of APISERVER_ASSETS) {
    const data = readFileSync(labAsset(name));
    const dst = join(binDir, name);
    if (existsSync(dst) && readFileSync(dst).equals(data)) continue;
    const tmp = `${dst}.${process.pid}.tmp`;
    writeFileSync(tmp, data, { mode: 0o755 });
    chmodSync(tmp, 0o755);
    renameSync(tmp, dst);
  }
}

/** The lab inventory's text with a top-level `hooks:` block that drives the writer (once). */
export function withApiserverHooks(inventoryText: string): string {
  if (/^hooks:/m.test(inventoryText)) return inventoryText;
  const q = (c: string) => JSON.stringify(c);
  return `${inventoryText.replace(/\n*$/, '\n')}hooks:                   # the lab's apiserver stand-in, stopped before a recovery and started after it
  beforeStop: [${LAB_APISERVER_HOOKS.beforeStop.map(q).join(', ')}]
  afterVerify: [${LAB_APISERVER_HOOKS.afterVerify.map(q).join(', ')}]
  timeout: 60
`;
}

/** `lab-apiserver <verb>` in one node. */
export async function apiserverCtl(lab: LabState, node: string, verb: 'start' | 'stop' | 'status'): Promise<ExecResult> {
  return labExec(lab, node, ['lab-apiserver', verb], { timeout: 60 });
}

/**
 * Adds the hooks to the lab's inventory and starts the writer on every powered-on node that has an env
 * file (a member): what a control plane beside etcd looks like to etcd-dr.
 */
export async function enableApiservers(lab: LabState): Promise<void> {
  writeFileSync(lab.inventoryPath, withApiserverHooks(readFileSync(lab.inventoryPath, 'utf8')));
  for (const n of lab.nodes.filter((x) => x.poweredOn)) {
    if (!existsSync(join(nodePaths(lab.dir, n.host).upper('etc'), 'etcd.env'))) continue;
    const r = await apiserverCtl(lab, n.name, 'start');
    if (r.code !== 0) throw new ApplyError(`${n.name}: lab-apiserver start failed: ${r.stderr.trim() || r.stdout.trim()}`);
  }
}

export interface AckedWrite {
  node: string;
  key: string;
  value: string;
  revision: number;
}

/** Every write the lab's writers had acknowledged, read from each node's disk (powered on or not). */
export function ackedWrites(labDir: string): AckedWrite[] {
  const f = readLabFile(labDir);
  if (!f) return [];
  const out: AckedWrite[] = [];
  for (const n of f.nodes) {
    const file = join(nodePaths(labDir, n.host).upper('var-log'), 'lab-apiserver', 'acked.log');
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      const [key, value, rev] = line.split(' ');
      // a line cut short by a power-off is not an acknowledged write the writer finished recording
      if (key && value && rev && /^\d+$/.test(rev)) out.push({ node: n.name, key, value, revision: Number(rev) });
    }
  }
  return out;
}
