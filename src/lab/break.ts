/** `lab break all-down`: etcd stopped on every powered-on node. */
import { ApplyError } from '../util/errors.js';
import { execInNode } from './node.js';
import { requireRoot } from './prereq.js';
import { describeFailure } from './run.js';
import { withLabLock } from './store.js';
import { ctxOf, type LabTarget, refreshPower, requireLab } from './target.js';
import type { LabLog } from './types.js';

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
