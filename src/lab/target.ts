/** A lab to act on: its dir, its recorded lab file, a node in it. */
import { EXIT, ExitError, InputError } from '../util/errors.js';
import { labDirProblem, resolveNodeRef } from './naming.js';
import { nodeIsUp } from './node.js';
import { resolveLabDir } from './paths.js';
import { requireRoot } from './prereq.js';
import { type LabFile, type LabFileNode, readLabFile, toLabState, withLabLock } from './store.js';
import type { LabDirOptions, LabLog, LabState } from './types.js';

/** A lab to act on: a LabState from `labUp`/`openLab`, or options naming its dir. */
export type LabTarget = LabState | LabDirOptions;

export interface Ctx {
  dir: string;
  env: NodeJS.ProcessEnv;
  log: LabLog;
}

function isState(t: LabTarget): t is LabState {
  return typeof (t as LabState).inventoryPath === 'string' && Array.isArray((t as LabState).nodes);
}

export function ctxOf(t: LabTarget, log?: LabLog): Ctx {
  if (isState(t)) return { dir: t.dir, env: process.env, log: log ?? (() => undefined) };
  const env = t.env ?? process.env;
  const dir = resolveLabDir(t.dir, env, t.cwd ?? process.cwd());
  const problem = labDirProblem(dir);
  if (problem) throw new InputError([problem], 'unusable lab dir');
  return { dir, env, log: log ?? t.log ?? (() => undefined) };
}

export function requireLab(dir: string): LabFile {
  const f = readLabFile(dir);
  if (!f) throw new ExitError(`there is no lab in ${dir}`, EXIT.badInput, `create it with: etcd-dr lab up --dir ${dir}`);
  return f;
}

export function findNode(f: LabFile, dir: string, ref: string): LabFileNode {
  const n = resolveNodeRef(f.nodes, ref);
  if (!n) {
    throw new InputError(
      [{ field: 'NODE', message: `no node "${ref}" in the lab in ${dir}; use a member name, host name or address: ${f.nodes.map((x) => `${x.name}/${x.host}/${x.address}`).join(', ')}` }],
      'unknown lab node',
    );
  }
  return n;
}

/** `fn` under the lab's lock, given the lab as recorded and the node `nodeRef` names (as root). */
export async function withLabNode<T>(target: LabTarget, nodeRef: string, log: LabLog | undefined, fn: (c: Ctx, f: LabFile, n: LabFileNode) => Promise<T>): Promise<T> {
  requireRoot();
  const c = ctxOf(target, log);
  return withLabLock(c.dir, async () => {
    const f = requireLab(c.dir);
    return fn(c, f, findNode(f, c.dir, nodeRef));
  });
}

/** The lab in `target`'s dir, as it is recorded (pids refreshed: a node whose sshd is gone shows as off). */
export function openLab(target: LabTarget = {}): LabState {
  const c = ctxOf(target);
  const f = requireLab(c.dir);
  return toLabState(c.dir, refreshPower(f));
}

export function refreshPower(f: LabFile): LabFile {
  return { ...f, nodes: f.nodes.map((n) => (n.poweredOn && !nodeIsUp(n) ? { ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null } : n)) };
}

/** The nodes that formed the cluster; the others were bare nodes (no env file, no data). */
export function memberNodes(f: Pick<LabFile, 'nodes' | 'members'>): LabFileNode[] {
  return f.nodes.slice(0, f.members ?? f.nodes.length);
}

export function withNodes(f: LabFile, updated: LabFileNode[]): LabFile {
  return { ...f, nodes: f.nodes.map((n) => updated.find((u) => u.host === n.host) ?? n) };
}
