/**
 * "Did you mean …?" for misspelt keys and placeholders: most inventory mistakes are one typo away from
 * a valid name, and naming the likely fix saves a round trip to the docs.
 */

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions, each counting 1). */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const row = d[i]!;
      const prev = d[i - 1]!;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      row[j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** `identity_file`, `Identity-File` and `identityfile` all fold to `identityfile`. */
function fold(s: string): string {
  return s.toLowerCase().replace(/[-_\s]/g, '');
}

/**
 * The valid name the user most likely meant, or undefined when nothing is close.
 * `synonyms` maps words users reach for (`ip`, `hostname`) to the key etcd-dr uses.
 */
export function suggest(word: string, valid: readonly string[], synonyms: Readonly<Record<string, string>> = {}): string | undefined {
  const w = fold(word);
  if (!w) return undefined;
  for (const [syn, target] of Object.entries(synonyms)) if (fold(syn) === w && valid.includes(target)) return target;
  const exact = valid.find((v) => fold(v) === w);
  if (exact) return exact;
  let best: { v: string; d: number } | undefined;
  for (const v of valid) {
    const d = editDistance(w, fold(v));
    if (d <= Math.max(1, Math.floor(Math.max(w.length, v.length) / 3)) && (!best || d < best.d)) best = { v, d };
  }
  if (best) return best.v;
  // `hostname` for `host`, `peer` for `peerPort`: a clear prefix is as good a hint as a typo
  if (w.length >= 3) return valid.find((v) => fold(v).startsWith(w) || (w.startsWith(fold(v)) && fold(v).length >= 3));
  return undefined;
}
