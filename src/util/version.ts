import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** etcd-dr's own version, from its package.json (src/util and dist/util are both two levels down). */
export function toolVersion(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
