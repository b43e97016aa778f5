/**
 * Inventory hooks: the operator's own commands that etcd-dr runs on the nodes around a recovery, for what
 * lives beside etcd (on kubespray masters, the kube-apiservers, static pods that keep writing to etcd).
 *
 *   hooks:                 # cluster-wide; a node's own `hooks:` replaces a list for that node
 *     beforeStop: [...]    # before etcd is stopped anywhere (stop the apiservers)
 *     afterVerify: [...]   # once the recovered cluster is verified (restart the control plane)
 *     timeout: 300         # seconds each node's commands of one hook may take
 */
import type { Spec } from './spec.js';

export const HOOK_NAMES = ['beforeStop', 'afterVerify'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

export interface NodeHooks {
  beforeStop: string[];
  afterVerify: string[];
  /** seconds the commands of one hook may take on one node */
  timeoutSec: number;
}

export const HOOK_TIMEOUT_DEFAULT = 300;

const commands = (when: string): Spec => ({
  kind: 'list',
  what: `commands run on every node ${when}, in order, as root`,
  itemWhat: 'command',
  item: { kind: 'string', format: 'command', what: 'a shell command' },
  minItems: 0,
});

export const HOOKS: Spec = {
  kind: 'map',
  what: 'hooks',
  fields: {
    beforeStop: { spec: commands('before etcd is stopped'), default: 'none' },
    afterVerify: { spec: commands('once the recovered cluster is verified'), default: 'none' },
    timeout: { spec: { kind: 'seconds' }, default: String(HOOK_TIMEOUT_DEFAULT) },
  },
  synonyms: {
    preStop: 'beforeStop',
    pre: 'beforeStop',
    before: 'beforeStop',
    beforeRecover: 'beforeStop',
    stopApiservers: 'beforeStop',
    afterRecover: 'afterVerify',
    postVerify: 'afterVerify',
    post: 'afterVerify',
    after: 'afterVerify',
    afterStart: 'afterVerify',
    timeoutSec: 'timeout',
  },
};

export interface RawHooks {
  beforeStop?: (string | undefined)[];
  afterVerify?: (string | undefined)[];
  timeout?: number;
}

/** A node's hooks: its own list where it has one (even empty), else the inventory's; undefined when it has none. */
export function resolveHooks(global: RawHooks | undefined, own: RawHooks | undefined): NodeHooks | undefined {
  const list = (k: HookName) => (own?.[k] ?? global?.[k] ?? []).filter((c): c is string => typeof c === 'string');
  const h: NodeHooks = { beforeStop: list('beforeStop'), afterVerify: list('afterVerify'), timeoutSec: own?.timeout ?? global?.timeout ?? HOOK_TIMEOUT_DEFAULT };
  return h.beforeStop.length || h.afterVerify.length ? h : undefined;
}
