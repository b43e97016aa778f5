/**
 * The inventory's hooks as plan steps. A recovery restores the keyspace from one member's db and restarts
 * the cluster under a new cluster id; the etcd and Kubernetes restore guides ask that every kube-apiserver
 * is stopped before (it must not write into a cluster being rebuilt, nor serve from a watch cache that no
 * longer matches) and that the control plane is restarted after. So a recovery plan gets:
 *
 * - `beforeStop`: right after the lock, before etcd is stopped anywhere. A failure stops the run there,
 *   with etcd untouched on every node.
 * - `afterVerify`: right after the verification, before the lock is released. A failure leaves a recovered,
 *   verified cluster whose control plane is not restarted: the error says so; `resume` runs the hook again.
 *
 * Planned changes (scale-out, scale-in, replace) keep the quorum and every write, so they run no hooks.
 * Without hooks, the plan's warnings say what to do by hand. Pure.
 */
import type { HookName } from '../inventory/hooks.js';
import type { Inventory } from '../inventory/types.js';
import { slugOf, stepId, type Draft } from './builder.js';
import { hookScript } from './scripts.js';
import type { Plan, Step } from './types.js';

const WHY: Record<HookName, string> = {
  beforeStop:
    "the inventory's beforeStop hook: what writes to etcd beside it (the kube-apiservers) is stopped before etcd is; a failure stops the run here, before any etcd is stopped",
  afterVerify:
    "the inventory's afterVerify hook: the control plane is started again on the recovered cluster; a failure leaves the cluster recovered and verified, with the control plane not restarted",
};

export const MANUAL_HOOKS =
  'no hooks in the inventory: before applying this plan, stop every kube-apiserver that uses this cluster ' +
  '(on a kubespray master: move /etc/kubernetes/manifests/kube-apiserver.yaml out of that dir and wait until the pod is gone); ' +
  'after the run, restart the control plane (move the manifest back, then `systemctl restart kubelet`), so no apiserver writes into the cluster while it is rebuilt ' +
  'or keeps a watch cache of the old one. `hooks: {beforeStop, afterVerify}` in the inventory makes these steps of the plan';

/** A hook step on `nodes` that have commands for `hook`, or undefined when none has. */
export function hookStep(inventory: Inventory, hook: HookName, nodes: string[]): Draft | undefined {
  const run: Record<string, string[]> = {};
  let timeoutSec = 0;
  for (const n of nodes) {
    const h = inventory.nodes.find((s) => s.name === n)?.hooks;
    if (!h?.[hook].length) continue;
    run[n] = h[hook];
    timeoutSec = Math.max(timeoutSec, h.timeoutSec);
  }
  const on = Object.keys(run);
  if (!on.length) return undefined;
  return {
    slug: hook === 'beforeStop' ? 'hook-before-stop' : 'hook-after-verify',
    phase: 'hook',
    nodes: on,
    action: { type: 'hook', hook, run, timeoutSec },
    commands: on.map((n) => `# ${n}\n${hookScript(hook, run[n]!)}`),
    why: WHY[hook],
  };
}

/**
 * A recovery plan with its hook steps in place (after the lock, after the verification) and its steps
 * numbered again; without any hook, the plan only gains the warning of what to do by hand.
 */
export function withHooks(plan: Plan, inventory: Inventory, nodes: string[]): Plan {
  const before = hookStep(inventory, 'beforeStop', nodes);
  const after = hookStep(inventory, 'afterVerify', nodes);
  const warnings = [...plan.warnings];
  const missing = inventory.nodes.filter((s) => nodes.includes(s.name) && !s.hooks).map((s) => s.name);
  if (!before && !after) warnings.push(MANUAL_HOOKS);
  else if (missing.length) warnings.push(`${missing.join(', ')} ha${missing.length === 1 ? 's' : 've'} no hooks: stop and restart the kube-apiservers there by hand, if any run there`);
  if (!before) warnings.push(...(after ? ['the inventory has no beforeStop hook: stop every kube-apiserver by hand before applying this plan'] : []));
  if (!after && before) warnings.push('the inventory has no afterVerify hook: restart the control plane by hand once the run is over');
  const steps: (Omit<Step, 'id'> & { slug?: string; id?: string })[] = [];
  for (const s of plan.steps) {
    if (s.action.type === 'unlock' && after) steps.push(after);
    steps.push(s);
    if (s.action.type === 'lock' && before) steps.push(before);
  }
  return { ...plan, warnings, steps: before || after ? renumber(steps) : plan.steps };
}

/** `NN-slug` ids in order, keeping each step's slug. */
function renumber(steps: (Omit<Step, 'id'> & { slug?: string; id?: string })[]): Step[] {
  return steps.map((s, i) => {
    const { slug, id, ...rest } = s;
    return { id: stepId(i + 1, slug ?? slugOf(id!)), ...rest } as Step;
  });
}

/**
 * On `resume`, the beforeStop step runs again (its commands must be idempotent) as long as the run has
 * not verified the cluster: an apiserver started meanwhile (by a person, a reboot, a config tool) is
 * stopped again before the run goes on. Returns the ids to run again.
 */
export function repeatedOnResume(plan: Plan, done: ReadonlySet<string>): string[] {
  const verified = plan.steps.some((s) => s.action.type === 'verify' && done.has(s.id));
  if (verified) return [];
  return plan.steps.filter((s) => s.action.type === 'hook' && s.action.hook === 'beforeStop' && done.has(s.id)).map((s) => s.id);
}
