/**
 * The lab's etcd units on its nodes: which clusters a lab runs (the main one, and kubespray's events
 * cluster with the kubespray profile), starting their units in the nodes and waiting until they serve.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApplyError } from '../util/errors.js';
import { execInNode } from './node.js';
import { labPaths, nodePaths } from './paths.js';
import { labClusters, labFeatures, type LabCluster, type LabFeatures } from './profile.js';
import { sleep } from './procs.js';
import { describeFailure, tailLines } from './run.js';
import type { LabFile, LabFileNode } from './store.js';
import { etcdClient, memberHealthy, type EtcdClient } from './tls.js';

/** One cluster's etcd on one node. */
export interface NodeUnit {
  node: LabFileNode;
  cluster: LabCluster;
}

export const unitName = (u: NodeUnit) => `${u.node.name}${u.cluster.nameSuffix}`;

/**
 * `systemctl start --no-block <unit>` of each of the lab's clusters in each node (only where it is
 * enabled, unless `all`); returns those started.
 */
export async function startEtcd(nodes: LabFileNode[], all: boolean, clusters: readonly LabCluster[]): Promise<NodeUnit[]> {
  const results = await Promise.all(
    nodes.flatMap((n) =>
      clusters.map(async (cl): Promise<NodeUnit | undefined> => {
        if (!all) {
          // as a booting host would, but a node without an env file (a bare node) is not even tried
          const en = await execInNode(n, ['sh', '-c', `systemctl is-enabled --quiet ${cl.service} && test -r ${cl.envFile}`], { timeout: 30 });
          if (en.code !== 0) return undefined;
        }
        const r = await execInNode(n, ['systemctl', 'start', '--no-block', cl.service], { timeout: 60 });
        if (r.code !== 0) throw new ApplyError(`${n.host}: could not start ${cl.service}: ${describeFailure(r)}`);
        return { node: n, cluster: cl };
      }),
    ),
  );
  return results.filter((u): u is NodeUnit => u !== undefined);
}

/** Wait until every unit's member answers /health; fail early when its etcd died in a node. */
export async function waitHealthy(dir: string, units: NodeUnit[], timeoutMs: number): Promise<void> {
  const pki = labPaths(dir).pkiDir;
  const key = (u: NodeUnit) => `${u.node.host}/${u.cluster.service}`;
  const clients = new Map<string, EtcdClient>(units.map((u) => [key(u), etcdClient(pki, u.node.address, u.node.host, 2, u.cluster.clientPort)]));
  const pending = new Set(units.map(key));
  const deadline = Date.now() + timeoutMs;
  let lastStateCheck = Date.now();
  try {
    while (pending.size) {
      await Promise.all(
        [...pending].map(async (h) => {
          if (await memberHealthy(clients.get(h)!, 1000)) pending.delete(h);
        }),
      );
      if (!pending.size) return;
      if (Date.now() - lastStateCheck > 1000) {
        lastStateCheck = Date.now();
        for (const u of units.filter((x) => pending.has(key(x)))) {
          const s = await execInNode(u.node, ['systemctl', 'is-active', u.cluster.service], { timeout: 30 });
          if (s.stdout.trim() === 'failed' || s.stdout.trim() === 'inactive') {
            throw new ApplyError(
              `${u.node.host}: ${u.cluster.service} (${unitName(u)}) stopped while starting; last lines of its /var/log/${u.cluster.service}.log:\n${etcdLogTail(dir, u.node.host, u.cluster)}`,
              `see: etcd-dr lab exec ${u.node.name} --dir ${dir} -- systemctl status ${u.cluster.service}`,
            );
          }
        }
      }
      if (Date.now() > deadline) {
        const who = units.filter((u) => pending.has(key(u)));
        throw new ApplyError(
          `etcd did not serve clients within ${timeoutMs / 1000} s on ${who.map((u) => `${unitName(u)} (${u.node.host})`).join(', ')}; the nodes are up. Last log lines:\n` +
            who.map((u) => `  ${u.node.host} ${u.cluster.service}:\n${etcdLogTail(dir, u.node.host, u.cluster)}`).join('\n'),
          `look closer with: etcd-dr lab status --dir ${dir}; to start over: etcd-dr lab down --purge --dir ${dir}`,
        );
      }
      await sleep(100);
    }
  } finally {
    for (const cl of clients.values()) cl.close();
  }
}

/** The clusters the lab runs on its member nodes, and its features (a lab.json from before profiles: plain). */
export function clustersOf(f: Pick<LabFile, 'features'>): LabCluster[] {
  return labClusters(featuresOf(f));
}

export function featuresOf(f: Pick<LabFile, 'features'>): LabFeatures {
  return f.features ?? labFeatures('plain');
}

export function etcdLogTail(dir: string, host: string, cl?: LabCluster): string {
  const log = cl && cl.service !== 'etcd' ? join(nodePaths(dir, host).nodeDir, 'upper', 'var-log', `${cl.service}.log`) : nodePaths(dir, host).etcdLog;
  try {
    return tailLines(readFileSync(log, 'utf8'), 8).replace(/^/gm, '    ');
  } catch {
    return '    (no log yet)';
  }
}

