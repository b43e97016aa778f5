/** etcdctl aimed at one inventory node with its kubespray TLS material. */
import type { NodeSpec } from '../inventory/types.js';
import { clientUrl } from '../inventory/types.js';
import { shellJoin } from '../util/quote.js';
import { etcdctlArgv, type EtcdctlTarget } from './commands.js';

export function etcdTarget(n: NodeSpec, endpoints: string[] = [clientUrl(n)], commandTimeoutMs = 5000): EtcdctlTarget {
  return { endpoints, caCert: n.etcd.caCert, cert: n.etcd.clientCert, key: n.etcd.clientKey, commandTimeoutMs };
}

/** The etcdctl command line (without its subcommand) for a node, to prefix a subcommand in a script. */
export function etcdctlPrefix(n: NodeSpec, endpoints?: string[], commandTimeoutMs?: number): string {
  return shellJoin(etcdctlArgv(etcdTarget(n, endpoints, commandTimeoutMs), []));
}
