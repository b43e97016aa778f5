/** Node power: cut it (every process of the node killed at once) and boot the node again from its disk. */
import { bootNode, killNode, nodeIsUp } from './node.js';
import { type LabFileNode, toLabState, writeLabFile } from './store.js';
import { type LabTarget, refreshPower, withLabNode, withNodes } from './target.js';
import type { LabLog, LabState } from './types.js';
import { clustersOf, startEtcd } from './units.js';

/** Boot one node (after killing whatever is left of it) and return its record as powered on. */
export async function powerOnNode(dir: string, n: LabFileNode): Promise<LabFileNode> {
  await killNode(dir, n.host);
  const b = await bootNode(dir, n);
  return { ...n, poweredOn: true, sshdPid: b.sshdPid, unsharePid: b.unsharePid, mntNs: b.mntNs, bootedAt: new Date().toISOString() };
}

/** Cut a node's power: SIGKILL every process of the node at once. Its disk (upper dirs) stays. */
export async function powerOff(target: LabTarget, nodeRef: string, log?: LabLog): Promise<LabState> {
  return withLabNode(target, nodeRef, log, async (c, f, n) => {
    const killed = await killNode(c.dir, n.host);
    c.log(`${n.host} (${n.name}) is off${killed ? ` (${killed} process${killed === 1 ? '' : 'es'} killed)` : ''}`);
    const nf = withNodes(f, [{ ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null }]);
    writeLabFile(c.dir, nf);
    return toLabState(c.dir, refreshPower(nf));
  });
}

/** Boot a node again from its disk; as a booting host would, it starts etcd (--no-block) if enabled. */
export async function powerOn(target: LabTarget, nodeRef: string, log?: LabLog): Promise<LabState> {
  return withLabNode(target, nodeRef, log, async (c, f, n) => {
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
