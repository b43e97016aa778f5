/** Plain-text tables: columns two spaces apart, each padded to its widest cell, the last never padded. */

type Rows = readonly (readonly string[])[];

function columnWidths(rows: Rows): number[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return widths;
}

function alignedLines(rows: Rows, widths: readonly number[]): string[] {
  return rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  '));
}

/** Rows as aligned columns, the first row the header, every line ending in a newline (`lab status`). */
export function renderTable(rows: Rows): string {
  return `${alignedLines(rows, columnWidths(rows)).join('\n')}\n`;
}

/** A header, a rule of dashes under it, then the rows; no trailing spaces, no final newline (plans, `status`). */
export function renderRuledTable(headers: readonly string[], rows: Rows): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const rule = widths.map((w) => '-'.repeat(w));
  return alignedLines([headers, rule, ...rows], widths).map((l) => l.trimEnd()).join('\n');
}
