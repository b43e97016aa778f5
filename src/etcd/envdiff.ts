/** A unified diff of two env files, for plans: physical lines, so CRLF and continuations show as they are. */
import { type EnvFile, render } from './envfile.js';

interface PhysLine {
  text: string;
  eol: string;
}

function physicalLines(text: string): PhysLine[] {
  const out: PhysLine[] = [];
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n' || c === '\r') {
      const eol = c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
      out.push({ text: text.slice(start, i), eol });
      i += eol.length - 1;
      start = i + 1;
    }
  }
  if (start < text.length) out.push({ text: text.slice(start), eol: '' });
  return out;
}

/** Beyond this many changed lines a full LCS would be slow; such a diff shows a plain replacement. */
const MAX_LCS_CELLS = 4_000_000;

type Op = { op: ' ' | '-' | '+'; line: PhysLine; a: number; b: number };

function diffOps(a: PhysLine[], b: PhysLine[]): Op[] {
  const same = (x: PhysLine, y: PhysLine) => x.text === y.text && x.eol === y.eol;
  let pre = 0;
  while (pre < a.length && pre < b.length && same(a[pre] as PhysLine, b[pre] as PhysLine)) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && same(a[a.length - 1 - suf] as PhysLine, b[b.length - 1 - suf] as PhysLine)) suf++;
  const ops: Op[] = [];
  for (let i = 0; i < pre; i++) ops.push({ op: ' ', line: a[i] as PhysLine, a: i, b: i });
  const am = a.slice(pre, a.length - suf);
  const bm = b.slice(pre, b.length - suf);
  const n = am.length;
  const m = bm.length;
  if (n * m > MAX_LCS_CELLS) {
    am.forEach((l, i) => ops.push({ op: '-', line: l, a: pre + i, b: pre }));
    bm.forEach((l, j) => ops.push({ op: '+', line: l, a: pre + n, b: pre + j }));
  } else {
    // LCS lengths from the end, then walk forward
    const w = m + 1;
    const t = new Uint32Array((n + 1) * w);
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        t[i * w + j] = same(am[i] as PhysLine, bm[j] as PhysLine)
          ? (t[(i + 1) * w + j + 1] as number) + 1
          : Math.max(t[(i + 1) * w + j] as number, t[i * w + j + 1] as number);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && same(am[i] as PhysLine, bm[j] as PhysLine)) {
        ops.push({ op: ' ', line: am[i] as PhysLine, a: pre + i, b: pre + j });
        i++;
        j++;
      } else if (j < m && (i >= n || (t[i * w + j + 1] as number) >= (t[(i + 1) * w + j] as number))) {
        // prefer removals before additions within a change, like diff -u
        if (i < n && (t[(i + 1) * w + j] as number) >= (t[i * w + j + 1] as number)) {
          ops.push({ op: '-', line: am[i] as PhysLine, a: pre + i, b: pre + j });
          i++;
        } else {
          ops.push({ op: '+', line: bm[j] as PhysLine, a: pre + i, b: pre + j });
          j++;
        }
      } else {
        ops.push({ op: '-', line: am[i] as PhysLine, a: pre + i, b: pre + j });
        i++;
      }
    }
  }
  for (let k = 0; k < suf; k++) {
    ops.push({ op: ' ', line: a[a.length - suf + k] as PhysLine, a: a.length - suf + k, b: b.length - suf + k });
  }
  return ops;
}

export interface DiffOptions {
  /** file name for the `---`/`+++` header; no header when omitted */
  path?: string;
  /** unchanged lines shown around each change (default 0: plans show only what changes) */
  context?: number;
}

/**
 * A unified diff of two versions of the file (`@@ -13 +13 @@`, `-KEY=old`, `+KEY=new`), with the
 * line numbers of each side in the hunk headers. Empty when the texts are identical. A line ending
 * that changes shows as a changed line; a missing final newline as `\ No newline at end of file`.
 */
export function diffEnv(before: EnvFile | string, after: EnvFile | string, opts: DiffOptions = {}): string {
  const a = physicalLines(typeof before === 'string' ? before : render(before));
  const b = physicalLines(typeof after === 'string' ? after : render(after));
  const ops = diffOps(a, b);
  const ctx = Math.max(0, opts.context ?? 0);
  const changed = ops.map((o, i) => (o.op !== ' ' ? i : -1)).filter((i) => i >= 0);
  if (changed.length === 0) return '';

  // group changes into hunks, merging those whose contexts touch
  const hunks: [number, number][] = [];
  for (const idx of changed) {
    const lo = Math.max(0, idx - ctx);
    const hi = Math.min(ops.length - 1, idx + ctx);
    const last = hunks[hunks.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else hunks.push([lo, hi]);
  }

  const out: string[] = [];
  if (opts.path !== undefined) out.push(`--- ${opts.path}`, `+++ ${opts.path}`);
  const range = (start: number, count: number) => (count === 1 ? `${start}` : `${count === 0 ? start : start},${count}`);
  for (const [lo, hi] of hunks) {
    const slice = ops.slice(lo, hi + 1);
    const aCount = slice.filter((o) => o.op !== '+').length;
    const bCount = slice.filter((o) => o.op !== '-').length;
    const first = slice[0] as Op;
    // unified diff numbering: the line before an empty side's hunk
    const aStart = aCount === 0 ? first.a : first.a + 1;
    const bStart = bCount === 0 ? first.b : first.b + 1;
    out.push(`@@ -${range(aStart, aCount)} +${range(bStart, bCount)} @@`);
    for (const o of slice) {
      out.push(`${o.op}${o.line.text.replace(/\r$/, '')}`);
      if (o.line.eol === '') out.push('\\ No newline at end of file');
    }
  }
  return `${out.join('\n')}\n`;
}
