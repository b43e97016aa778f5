/** Commands inside a lab node, etcdctl against its own member, and the lab's etcd version. */
import { join } from 'node:path';
import { ApplyError, InputError } from '../util/errors.js';
import type { ExecResult } from '../ssh/types.js';
import { execInNode, nodeIsUp } from './node.js';
import { labPaths } from './paths.js';
import { requireRoot } from './prereq.js';
import { CLIENT_PORT, LAB_SSL_DIR } from './render.js';
import { runFile } from './run.js';
import { ctxOf, findNode, type LabTarget, requireLab } from './target.js';
import type { LabExecOptions } from './types.js';

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
