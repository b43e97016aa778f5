/** Every node's connection for one run: opened in parallel, one per node, closed together. */
import type { NodeSpec } from '../inventory/types.js';
import { JumpConnections, connectNode, type ConnectOptions, type SshConnection } from './connection.js';
import { isConnectError, type ConnectError } from './errors.js';
import type { NodeConnection } from './types.js';

export class Transport {
  private readonly conns = new Map<string, Promise<SshConnection>>();
  private readonly jumps: JumpConnections;

  constructor(private readonly opts: ConnectOptions = {}) {
    this.jumps = opts.jumps ?? new JumpConnections();
  }

  /**
   * The node's connection, made on first use and reused after. A failed connect is not remembered,
   * so asking again tries again.
   */
  connect(node: NodeSpec): Promise<SshConnection> {
    let p = this.conns.get(node.name);
    if (!p) {
      p = connectNode(node, { ...this.opts, jumps: this.jumps });
      this.conns.set(node.name, p);
      const mine = p;
      p.catch(() => {
        if (this.conns.get(node.name) === mine) this.conns.delete(node.name);
      });
    }
    return p;
  }

  /**
   * Connects to every node at once. A node that cannot be reached (or whose host key is refused) gets its
   * error as a value, so the caller can report it and go on with the others; anything else is a bug and
   * is thrown.
   */
  async openConnections(nodes: readonly NodeSpec[]): Promise<Map<string, NodeConnection | ConnectError>> {
    const results = await Promise.all(
      nodes.map(async (n): Promise<[string, NodeConnection | ConnectError]> => {
        try {
          return [n.name, await this.connect(n)];
        } catch (err) {
          if (isConnectError(err)) return [n.name, err];
          throw err;
        }
      }),
    );
    return new Map(results);
  }

  /** Closes every node connection, then the jump host connections behind them. */
  async closeAll(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => undefined))?.close()));
    await this.jumps.closeAll();
  }
}

/** Opens every node's connection with a new Transport; close them with `transport.closeAll()`. */
export async function openConnections(
  nodes: readonly NodeSpec[],
  opts: ConnectOptions = {},
): Promise<{ transport: Transport; connections: Map<string, NodeConnection | ConnectError> }> {
  const transport = new Transport(opts);
  return { transport, connections: await transport.openConnections(nodes) };
}
