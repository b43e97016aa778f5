// What every bench script shares: the repository root, its built modules, the command line, medians.
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));

/** Imports dist/<rel>; a missing build ends the bench with exit 2 and what to run. */
export async function importDist(bench, rel) {
  const file = join(root, 'dist', rel);
  if (!existsSync(file)) {
    console.error(`bench/${basename(bench, '.mjs')}: ${file} is missing; build first: npm run build`);
    process.exit(2);
  }
  return import(file);
}

/** The value after `name` on the command line, else `dflt`. */
export function arg(name, dflt) {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}
