/** Step titles: the short line the progress view, the log and error messages give a step. */
import type { Action, Step } from '../plan/types.js';

/** A short title for progress lines. */
export function title(s: Step): string {
  const a = s.action;
  const on = s.node ? ` on ${s.node}` : s.nodes ? ` on ${s.nodes.join(', ')}` : '';
  switch (a.type) {
    case 'lock':
      return `take the lock${on}`;
    case 'unlock':
      return `release the lock${on}`;
    case 'stop-etcd':
      return `stop etcd${on}`;
    case 'move-data-dir':
      return `move ${a.from} aside${on}`;
    case 'backup-db':
      return a.alongside ? `start copying ${s.node}'s db to the bastion (runs alongside the next steps)` : `copy ${s.node}'s db to the bastion`;
    case 'backup-wait':
      return `wait for ${s.node}'s db copy on the bastion`;
    case 'restore-db':
      return `restore ${a.name} as a one-member cluster (${a.tool})`;
    case 'send-db':
      return `send the survivor's db to ${a.to.map((t) => t.node).join(', ')} at once`;
    case 'restore-all':
      return `restore the db on ${a.members.map((m) => m.node).join(', ')} at once (${a.tool})`;
    case 'start-all':
      return `start etcd${on} at once and wait until each serves`;
    case 'write-env':
      return `rewrite ${a.path}${on}`;
    case 'start-etcd':
      return `start etcd${on}${a.waitHealthy ? ' and wait until it serves' : ''}`;
    case 'member-add':
      return `add ${a.name}${a.learner ? ' as a learner' : ''}`;
    case 'promote':
      return `promote ${a.name} once caught up`;
    case 'wait-healthy':
      return `wait until ${a.endpointOf} serves`;
    case 'member-remove':
      return `remove member ${a.name}`;
    case 'move-leader':
      return `move leadership away from ${a.from}`;
    case 'verify':
      return `verify ${a.members.join(', ')}`;
    case 'hook':
      return `run the ${a.hook} hook${on}`;
    default:
      return (a as Action).type;
  }
}
