/** The one glob matcher: OpenSSH's `*` and `?` patterns, for host names and the like. */

/** OpenSSH's match_pattern: `*` any run, `?` any one character; the whole name must match. */
export function matchPattern(name: string, pattern: string): boolean {
  // iterative glob with single-star backtracking: linear enough for host names, no regex building
  let n = 0;
  let p = 0;
  let starP = -1;
  let starN = 0;
  while (n < name.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === name[n])) {
      n++;
      p++;
    } else if (p < pattern.length && pattern[p] === '*') {
      starP = p++;
      starN = n;
    } else if (starP >= 0) {
      p = starP + 1;
      n = ++starN;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}
