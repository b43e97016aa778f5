/**
 * Step titles: the short line the progress view, the log and error messages give a step. One entry per
 * action type, so a new step type without a title does not compile.
 */
import type { Action, Step } from '../plan/types.js';

type Titles = { [K in Action['type']]: (a: Extract<Action, { type: K }>, s: Step, on: string) => string };

const TITLES: Titles = {
  lock: (_a, _s, on) => `take the lock${on}`,
  unlock: (_a, _s, on) => `release the lock${on}`,
  'stop-etcd': (_a, _s, on) => `stop etcd${on}`,
  'move-data-dir': (a, _s, on) => `move ${a.from} aside${on}`,
  'backup-db': (a, s) => (a.alongside ? `start copying ${s.node}'s db to the bastion (runs alongside the next steps)` : `copy ${s.node}'s db to the bastion`),
  'backup-wait': (_a, s) => `wait for ${s.node}'s db copy on the bastion`,
  'restore-db': (a) => `restore ${a.name} as a one-member cluster (${a.tool})`,
  'send-db': (a) => `send the survivor's db to ${a.to.map((t) => t.node).join(', ')} at once`,
  'restore-all': (a) => `restore the db on ${a.members.map((m) => m.node).join(', ')} at once (${a.tool})`,
  'start-all': (_a, _s, on) => `start etcd${on} at once and wait until each serves`,
  'write-env': (a, _s, on) => `rewrite ${a.path}${on}`,
  'start-etcd': (a, _s, on) => `start etcd${on}${a.waitHealthy ? ' and wait until it serves' : ''}`,
  'member-add': (a) => `add ${a.name}${a.learner ? ' as a learner' : ''}`,
  promote: (a) => `promote ${a.name} once caught up`,
  'wait-healthy': (a) => `wait until ${a.endpointOf} serves`,
  'member-remove': (a) => `remove member ${a.name}`,
  'move-leader': (a) => `move leadership away from ${a.from}`,
  verify: (a) => `verify ${a.members.join(', ')}`,
  hook: (a, _s, on) => `run the ${a.hook} hook${on}`,
};

/** A short title for progress lines (a type this etcd-dr does not know: its name). */
export function title(s: Step): string {
  const on = s.node ? ` on ${s.node}` : s.nodes ? ` on ${s.nodes.join(', ')}` : '';
  const t = Object.hasOwn(TITLES, s.action.type) ? (TITLES[s.action.type] as (a: Action, s: Step, on: string) => string | undefined) : undefined;
  return t?.(s.action, s, on) ?? s.action.type;
}
