/**
 * A saved plan names only what the inventory gives. The seal (digest) proves the plan was not edited
 * since it was sealed, but a digest can be recomputed by whoever edits it; so `apply` and `resume` also
 * check every action against the inventory: each node, data dir, env file, peer URL and member name must
 * be the inventory's, each set-aside path the etcd-dr name beside that node's data dir, the lock file
 * etcd-dr's own, each copy of the db sent to a member (restore-all) the name the planner gives it, each
 * hook's commands that node's hooks in the inventory; the fallback steps of a restore-all plan are checked
 * as its steps are. A plan that names anything else is bad input (exit 2), found before any node is contacted.
 */
import { DEFAULT_LOCK_FILE } from '../facts/gather.js';
import { parseEnvFile, vars } from '../etcd/envfile.js';
import { parseInitialCluster } from '../etcd/initial-cluster.js';
import { peerUrl, type Inventory, type NodeSpec } from '../inventory/types.js';
import { sentDbPath } from './restore-all.js';
import type { Plan, Step } from './types.js';

/** every problem, as `steps[i].action.field: problem` */
export function planInventoryProblems(plan: Plan, inventory: Inventory): string[] {
  const out: string[] = [];
  const spec = new Map(inventory.nodes.map((n) => [n.name, n]));
  const byUrl = new Map(inventory.nodes.map((n) => [peerUrl(n), n.name]));
  if (plan.lockFile !== DEFAULT_LOCK_FILE) out.push(`lockFile: ${JSON.stringify(plan.lockFile)} is not etcd-dr's lock file ${DEFAULT_LOCK_FILE}`);
  /** a set-aside path of `n`: beside its data dir, or inside it (a data dir that is a mount point), named by a run */
  const asidePath = (n: NodeSpec, p: unknown) =>
    typeof p === 'string' && !p.includes('/../') && (p.startsWith(`${n.etcd.dataDir}.etcd-dr-`) || p.startsWith(`${n.etcd.dataDir}/etcd-dr-`)) && /etcd-dr-\d{8}T\d{6}Z-[0-9a-f]{4}(\/member\/snap\/db)?$/.test(p);
  const cluster = (at: string, value: string | undefined) => {
    if (value === undefined) return;
    try {
      for (const m of parseInitialCluster(value)) {
        for (const u of m.peerUrls) {
          if (byUrl.get(u) !== m.name) out.push(`${at}: ${m.name}=${u} is not a node of the inventory with that peer URL`);
        }
      }
    } catch (e) {
      out.push(`${at}: ${(e as Error).message}`);
    }
  };
  /** the run's copy of `name`'s db on the bastion (backup-db's localPath) */
  const backupPath = (name: string) => (plan.intent.kind === 'recover' ? `${plan.intent.backupDir}/${plan.runId}/${name}-db` : undefined);
  const checkAll = (steps: Step[], list: 'steps' | 'fallback') =>
    steps.forEach((s: Step, i) => {
      const at = `${list}[${i}] (${s.id}).action`;
      try {
        stepProblems(s, at);
      } catch (e) {
        // a field of the wrong type: the plan is malformed, not merely foreign
        out.push(`${at}: malformed (${(e as Error).message})`);
      }
    });
  checkAll(plan.steps, 'steps');
  // restore-all's fallback (the survivor restored alone, the others re-added) runs as the steps do
  if (plan.fallback !== undefined && !Array.isArray(plan.fallback)) out.push('fallback: malformed (not a list of steps)');
  else if (plan.fallback) checkAll(plan.fallback, 'fallback');
  function stepProblems(s: Step, at: string): void {
    const a = s.action;
    const node = s.node ? spec.get(s.node) : undefined;
    const known = (field: string, name: unknown) => {
      if (typeof name !== 'string' || !spec.has(name)) out.push(`${at}.${field}: ${JSON.stringify(name)} is not a node of the inventory`);
    };
    const onNode = () => {
      if (!node) out.push(`${at}: the step names no node of the inventory to run on`);
      return node;
    };
    switch (a.type) {
      case 'move-data-dir': {
        const n = onNode();
        if (n && a.from !== n.etcd.dataDir) out.push(`${at}.from: ${JSON.stringify(a.from)} is not ${n.name}'s data dir ${n.etcd.dataDir}`);
        if (n && !asidePath(n, a.to)) out.push(`${at}.to: ${JSON.stringify(a.to)} is not a set-aside name of ${n.etcd.dataDir} (${n.etcd.dataDir}.etcd-dr-<run id>)`);
        break;
      }
      case 'backup-db':
      case 'backup-wait': {
        const n = onNode();
        if (n && !asidePath(n, a.remoteDb)) out.push(`${at}.remoteDb: ${JSON.stringify(a.remoteDb)} is not a db set aside beside ${n.name}'s data dir ${n.etcd.dataDir}`);
        if (plan.intent.kind === 'recover' && a.localPath !== `${plan.intent.backupDir}/${plan.runId}/${s.node}-db`) {
          out.push(`${at}.localPath: ${JSON.stringify(a.localPath)} is not the run's backup path ${plan.intent.backupDir}/${plan.runId}/${s.node}-db`);
        }
        break;
      }
      case 'restore-db': {
        const n = onNode();
        if (!n) break;
        if (!asidePath(n, a.db)) out.push(`${at}.db: ${JSON.stringify(a.db)} is not a db set aside beside ${n.name}'s data dir ${n.etcd.dataDir}`);
        if (a.dataDir !== n.etcd.dataDir) out.push(`${at}.dataDir: ${JSON.stringify(a.dataDir)} is not ${n.name}'s data dir ${n.etcd.dataDir}`);
        if (a.name !== n.name) out.push(`${at}.name: ${JSON.stringify(a.name)} is not ${n.name}`);
        if (a.peerUrl !== peerUrl(n)) out.push(`${at}.peerUrl: ${JSON.stringify(a.peerUrl)} is not ${n.name}'s peer URL ${peerUrl(n)}`);
        cluster(`${at}.initialCluster`, a.initialCluster);
        break;
      }
      case 'send-db': {
        if (!inventory.nodes.some((m) => a.localPath === backupPath(m.name))) {
          out.push(`${at}.localPath: ${JSON.stringify(a.localPath)} is not the run's backup path of a node (${backupPath('<node>') ?? 'none: the plan is no recovery'})`);
        }
        a.to.forEach((t, k) => {
          known(`to[${k}].node`, t.node);
          const n = spec.get(t.node);
          if (n && t.path !== sentDbPath(n, plan.runId)) out.push(`${at}.to[${k}].path: ${JSON.stringify(t.path)} is not ${n.name}'s copy of the db ${sentDbPath(n, plan.runId)}`);
        });
        if (a.from) {
          known('from.node', a.from.node);
          const n = spec.get(a.from.node);
          if (n && !asidePath(n, a.from.remoteDb)) out.push(`${at}.from.remoteDb: ${JSON.stringify(a.from.remoteDb)} is not a db set aside beside ${n.name}'s data dir ${n.etcd.dataDir}`);
          if (n && a.localPath !== backupPath(n.name)) out.push(`${at}.localPath: ${JSON.stringify(a.localPath)} is not the run's backup path of ${n.name}, whose db it copies`);
        }
        break;
      }
      case 'restore-all':
        cluster(`${at}.initialCluster`, a.initialCluster);
        a.members.forEach((m, k) => {
          const f = `${at}.members[${k}]`;
          known(`members[${k}].node`, m.node);
          const n = spec.get(m.node);
          if (!n) return;
          // the survivor restores from its own db set aside; every other member from the copy sent to it
          if (m.node === plan.survivor?.name) {
            if (!asidePath(n, m.db)) out.push(`${f}.db: ${JSON.stringify(m.db)} is not a db set aside beside ${n.name}'s data dir ${n.etcd.dataDir}`);
          } else if (m.db !== sentDbPath(n, plan.runId)) {
            out.push(`${f}.db: ${JSON.stringify(m.db)} is not ${n.name}'s copy of the db ${sentDbPath(n, plan.runId)}`);
          }
          if (m.dataDir !== n.etcd.dataDir) out.push(`${f}.dataDir: ${JSON.stringify(m.dataDir)} is not ${n.name}'s data dir ${n.etcd.dataDir}`);
          if (m.name !== n.name) out.push(`${f}.name: ${JSON.stringify(m.name)} is not ${n.name}`);
          if (m.peerUrl !== peerUrl(n)) out.push(`${f}.peerUrl: ${JSON.stringify(m.peerUrl)} is not ${n.name}'s peer URL ${peerUrl(n)}`);
        });
        break;
      case 'start-all':
        known('baselineVia', a.baselineVia);
        break;
      case 'hook': {
        if (a.hook !== 'beforeStop' && a.hook !== 'afterVerify') {
          out.push(`${at}.hook: ${JSON.stringify(a.hook)} is not a hook of the inventory (beforeStop, afterVerify)`);
          break;
        }
        const on = Object.entries(a.run);
        for (const [name, cmds] of on) {
          known(`run.${name}`, name);
          const n = spec.get(name);
          // the node's hooks as the inventory resolved them: its own list, else the cluster-wide one
          const want = n?.hooks?.[a.hook] ?? [];
          if (n && (!Array.isArray(cmds) || cmds.length !== want.length || cmds.some((c, k) => c !== want[k]))) {
            out.push(`${at}.run.${name}: ${JSON.stringify(cmds)} is not ${name}'s ${a.hook} hook in the inventory ${JSON.stringify(want)}`);
          }
        }
        const timeouts = on.flatMap(([name]) => (spec.get(name)?.hooks ? [spec.get(name)!.hooks!.timeoutSec] : []));
        if (timeouts.length === on.length && on.length && a.timeoutSec !== Math.max(...timeouts)) {
          out.push(`${at}.timeoutSec: ${JSON.stringify(a.timeoutSec)} is not the inventory's hook timeout ${Math.max(...timeouts)} of ${on.map(([name]) => name).join(', ')}`);
        }
        break;
      }
      case 'write-env': {
        const n = onNode();
        if (!n) break;
        if (a.path !== n.etcd.envFile) out.push(`${at}.path: ${JSON.stringify(a.path)} is not ${n.name}'s env file ${n.etcd.envFile}`);
        if (!a.backup.startsWith(`${n.etcd.envFile}.etcd-dr-`) || a.backup.includes('/../')) out.push(`${at}.backup: ${JSON.stringify(a.backup)} is not a backup name of ${n.etcd.envFile}`);
        try {
          const v = vars(parseEnvFile(a.content));
          cluster(`${at}.content ETCD_INITIAL_CLUSTER`, v['ETCD_INITIAL_CLUSTER']);
          if (v['ETCD_NAME'] !== undefined && v['ETCD_NAME'] !== n.name) out.push(`${at}.content: ETCD_NAME=${v['ETCD_NAME']} is not ${n.name}`);
          if (v['ETCD_DATA_DIR'] !== undefined && v['ETCD_DATA_DIR'] !== n.etcd.dataDir) out.push(`${at}.content: ETCD_DATA_DIR=${v['ETCD_DATA_DIR']} is not ${n.name}'s data dir ${n.etcd.dataDir}`);
        } catch (e) {
          out.push(`${at}.content: ${(e as Error).message}`);
        }
        break;
      }
      case 'member-add':
      case 'member-remove':
        known('via', a.via);
        known('name', a.name);
        if (spec.has(a.name) && a.peerUrl !== peerUrl(spec.get(a.name)!)) out.push(`${at}.peerUrl: ${JSON.stringify(a.peerUrl)} is not ${a.name}'s peer URL ${peerUrl(spec.get(a.name)!)}`);
        break;
      case 'promote':
        known('via', a.via);
        known('name', a.name);
        break;
      case 'move-leader':
        known('via', a.via);
        known('from', a.from);
        if (a.to !== undefined) known('to', a.to);
        a.members.forEach((m, k) => known(`members[${k}]`, m));
        break;
      case 'wait-healthy':
        known('endpointOf', a.endpointOf);
        if (a.publishVia !== undefined) known('publishVia', a.publishVia);
        break;
      case 'verify':
        known('via', a.via);
        a.members.forEach((m, k) => known(`members[${k}]`, m));
        break;
      default:
        break;
    }
  }
  plan.finalMembers.forEach((m, k) => {
    if (!spec.has(m)) out.push(`finalMembers[${k}]: ${JSON.stringify(m)} is not a node of the inventory`);
  });
  return out;
}
