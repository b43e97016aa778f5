/**
 * A small seeded random generator for property tests: the same seed gives the same strings, so a failure
 * names the seed and case that reproduce it. mulberry32, enough for test data (not for anything secret).
 */

export interface Rng {
  /** a float in [0, 1) */
  next(): number;
  /** an integer in [min, max] */
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
}

export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return { next, int, pick: (items) => items[int(0, items.length - 1)]! };
}

/** Every code point U+0001–U+00FF, in order: the bytes 1–255 read as Latin-1. */
export const ALL_LATIN1 = Array.from({ length: 255 }, (_, i) => String.fromCharCode(i + 1)).join('');

/** Pieces that shells, terminals and parsers give a meaning to. */
export const HOSTILE_PIECES = [
  "'", '"', '\\', '$', '`', '$(id)', '`id`', '${IFS}', "'\\''", ';', '&&', '||', '|', '&', '<', '>', '>>', '(', ')', '{', '}', '[', ']',
  '*', '?', '~', '!', '#', '=', '%', '^', ',', ' ', '\t', '\n', '\r', '\r\n', '\x1b[2J', '\x1b]0;t\x07', '\x7f', '\u009b', '-', '--', '-o',
  '\u202e', '\u2066', 'é', 'ü', '✓', '中文', '\u0301', '😀', '\ud83d\ude00', '\uffff', '\u00a0', '\u2028',
];

/**
 * A random string of up to `maxParts` pieces: single code points from U+0001–U+00FF, hostile pieces, BMP
 * and astral characters (never a NUL, which no argument can hold).
 */
export function randomString(rng: Rng, maxParts = 24): string {
  const parts: string[] = [];
  const n = rng.int(0, maxParts);
  for (let i = 0; i < n; i++) {
    const kind = rng.int(0, 3);
    if (kind === 0) parts.push(String.fromCharCode(rng.int(1, 255)));
    else if (kind === 1) parts.push(rng.pick(HOSTILE_PIECES));
    else if (kind === 2) parts.push(String.fromCodePoint(rng.int(0x100, 0xd7ff)));
    else parts.push(String.fromCodePoint(rng.int(0x10000, 0x10ffff)));
  }
  return parts.join('');
}
