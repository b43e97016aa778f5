import { EXIT, ExitError } from '../util/errors.js';

/** Names given on the command line must be inventory nodes: bad input, found before any node is contacted. */
export function checkNames(inventory: { file: string; nodes: { name: string }[] }, flag: string, names: readonly string[]): void {
  const known = inventory.nodes.map((n) => n.name);
  const bad = names.filter((n) => !known.includes(n));
  if (bad.length) {
    throw new ExitError(`${flag} ${bad.join(', ')}: not a node of ${inventory.file}`, EXIT.badInput, `nodes are: ${known.join(', ')}`);
  }
}
