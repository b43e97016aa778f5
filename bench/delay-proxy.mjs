// A TCP relay that adds a round-trip time between etcd-dr and a lab node's sshd, for benches that ask how
// etcd-dr behaves when its nodes are not on loopback (a bastion reaching the control plane across
// availability zones, a VPN, a jump host in another region).
//
// Every chunk is held for half the RTT in each direction and chunks keep their order, so each protocol
// round trip (SSH version exchange, key exchange, auth, channel open, exec, output) costs one RTT, as it
// would on a real link of that latency. What it does not model: the TCP handshake's own round trip, loss,
// and bandwidth limits; both the 1-node and the 7-node figures miss the same handshake RTT.
//
// Used by bench/status.mjs (`--rtt`); nothing in etcd-dr itself uses it.
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { parse, stringify } from 'yaml';

/** Relays `listen` (host, port) to `target` (host, port), delaying each direction by `oneWayMs`. */
export function delayRelay({ listen, target, oneWayMs }) {
  const sockets = new Set();
  const pipeDelayed = (from, to) => {
    let last = 0; // when the previous chunk leaves: chunks never overtake each other
    from.on('data', (chunk) => {
      const at = Math.max(performance.now() + oneWayMs, last);
      last = at;
      setTimeout(() => to.destroyed || to.write(chunk), Math.max(0, at - performance.now()));
    });
    from.on('end', () => setTimeout(() => to.destroyed || to.end(), Math.max(0, last - performance.now())));
  };
  const server = createServer((client) => {
    client.setNoDelay(true);
    const upstream = connect({ host: target.host, port: target.port });
    upstream.setNoDelay(true);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('close', () => setTimeout(() => upstream.destroy(), oneWayMs));
    upstream.on('close', () => setTimeout(() => client.destroy(), oneWayMs));
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () =>
      resolve({
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

/**
 * Puts a relay with `rttMs` in front of every node's sshd of a lab inventory (each on the node's own
 * address, port `port`), and writes an inventory and known_hosts file that reach the nodes through them.
 * Returns the new inventory's path and a close function. rttMs 0 returns the lab's own inventory.
 */
export async function delayedInventory({ inventoryPath, nodes, rttMs, port = 22022, dir }) {
  if (!rttMs) return { inventoryPath, close: async () => undefined };
  const doc = parse(readFileSync(inventoryPath, 'utf8'));
  const knownHostsPath = doc?.ssh?.knownHostsFile;
  if (!knownHostsPath) throw new Error(`delayedInventory: no ssh.knownHostsFile in ${inventoryPath}`);
  // the relays' host keys are the nodes' own: the same key lines, named [address]:port
  const known = readFileSync(knownHostsPath, 'utf8')
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [host, ...rest] = l.split(' ');
      return nodes.includes(host) ? `[${host}]:${port} ${rest.join(' ')}` : l;
    })
    .join('\n');
  const knownOut = `${dir}/known_hosts.rtt${rttMs}`;
  writeFileSync(knownOut, `${known}\n`);
  doc.ssh.port = port;
  doc.ssh.knownHostsFile = knownOut;
  const invOut = `${dir}/inventory.rtt${rttMs}.yaml`;
  writeFileSync(invOut, stringify(doc));
  const relays = [];
  try {
    for (const address of nodes) {
      relays.push(await delayRelay({ listen: { host: address, port }, target: { host: address, port: 22 }, oneWayMs: rttMs / 2 }));
    }
  } catch (e) {
    await Promise.all(relays.map((r) => r.close()));
    throw e;
  }
  return { inventoryPath: invOut, close: () => Promise.all(relays.map((r) => r.close())) };
}
