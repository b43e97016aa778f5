/**
 * Cuts the lab's etcd peer traffic with iptables, to make members that run but cannot reach each other
 * (a network partition). The lab's nodes share this machine's loopback, so a rule matches a member by its
 * address and peer port; every rule carries one comment so a run that died before its undo can be found.
 */
import { runFile } from '../../src/lab/run.js';

export const RULE_COMMENT = 'etcd-dr-e2e-partition';

async function iptables(args: string[]): Promise<void> {
  const r = await runFile('iptables', ['-w', ...args], { timeout: 30 });
  if (r.code !== 0) throw new Error(`iptables ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
}

/**
 * Drops every TCP packet to and from these members' peer port; returns the undo, which removes exactly
 * those rules. Both directions: a member sends its raft messages over the streams its peers dialed to
 * it, so packets leave its peer port too.
 */
export async function cutPeerTraffic(addresses: string[], peerPort = 2380): Promise<() => Promise<void>> {
  const rules = addresses.flatMap((a) => [
    ['INPUT', '-d', a, '-p', 'tcp', '--dport', String(peerPort), '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
    ['INPUT', '-s', a, '-p', 'tcp', '--sport', String(peerPort), '-m', 'comment', '--comment', RULE_COMMENT, '-j', 'DROP'],
  ]);
  const added: string[][] = [];
  const undo = async () => {
    for (const r of added.splice(0)) await iptables(['-D', ...r]);
  };
  try {
    for (const r of rules) {
      await iptables(['-I', ...r]);
      added.push(r);
    }
  } catch (err) {
    await undo();
    throw err;
  }
  return undo;
}
