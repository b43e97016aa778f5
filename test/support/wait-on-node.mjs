/**
 * Runs etcd-dr's wait for a member to serve (the plan's waitHealthyScript) on one node over the transport
 * etcd-dr uses, the way the executor runs it, and blocks until it ends. The faults-signals suite SIGKILLs
 * this process while the wait polls, to see whether the wait dies on the node with its connection.
 *
 * usage: node test/support/wait-on-node.mjs <inventory> <member> <timeout s>   (after `npm run build`)
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = (f) => pathToFileURL(join(fileURLToPath(new URL('../..', import.meta.url)), 'dist', f)).href;
const { loadInventory } = await import(dist('inventory/index.js'));
const { Transport } = await import(dist('ssh/transport.js'));
const { waitHealthyScript } = await import(dist('plan/scripts.js'));

const [path, member, timeout] = process.argv.slice(2);
const inv = await loadInventory({ path, env: process.env, cwd: process.cwd() });
const spec = inv.nodes.find((n) => n.name === member);
if (!spec) throw new Error(`${member} is not in ${path}`);
const transport = new Transport({ env: process.env });
const c = await transport.connect(spec);
process.stdout.write('waiting\n');
const r = await c.sh(waitHealthyScript(spec, Number(timeout)), { timeout: Number(timeout) + 30 });
process.stdout.write(`ended ${r.code}\n`);
process.exit(0);
