/** `lab status`: each node's power, sshd and etcd. */
import { execInNode, nodeIsUp, tcpAnswers } from './node.js';
import { requireRoot } from './prereq.js';
import { ctxOf, type LabTarget, requireLab } from './target.js';
import type { LabNodeStatus, LabStatus } from './types.js';

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
