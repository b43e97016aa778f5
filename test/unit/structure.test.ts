// The shape of src/: no import cycle (type-only imports count), no module importing from a layer above
// its own, no file over 500 lines. Pure: reads src/**/*.ts as text, runs nothing.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SRC = join(ROOT, 'src');
const MAX_LINES = 500;

/**
 * Layers, lowest first. A module may import its own layer and those below. lab sits beside etcd
 * (it may import etcd, ssh, inventory, util), and only cli and drill may import lab.
 */
const RANK: Record<string, number> = {
  util: 0, inventory: 1, ssh: 2, etcd: 3, lab: 3.5, facts: 4, plan: 5, apply: 6, drill: 7, cli: 8,
};
const LAB_IMPORTERS = new Set(['lab', 'cli', 'drill']);

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return walk(p);
    return e.name.endsWith('.ts') ? [p] : [];
  });
}

/** src-relative path (`etcd/parse.ts`) -> the src-relative modules it imports, type-only ones too. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const spec = /(?:^|[\s;])(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s*['"]([^'"]+)['"]/gm;
  for (const file of walk(SRC)) {
    const text = readFileSync(file, 'utf8');
    const deps = new Set<string>();
    for (const m of text.matchAll(spec)) {
      const s = m[1] ?? m[2] ?? m[3]!;
      if (!s.startsWith('.')) continue;
      deps.add(relative(SRC, resolve(dirname(file), s.replace(/\.js$/, '.ts'))));
    }
    graph.set(relative(SRC, file), [...deps].sort());
  }
  return graph;
}

/** Strongly connected components with more than one module (or a module importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, index.get(w)!));
      }
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return out;
}

const layerOf = (path: string): string => path.split('/')[0]!;

describe('the shape of src/', () => {
  const graph = importGraph();

  it('finds the modules and their imports', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(graph.get('cli/main.ts')?.length).toBeGreaterThan(0);
  });

  it('has no import cycle (type-only imports count)', () => {
    const found = cycles(graph).map((c) => c.join(' <-> '));
    expect(found).toEqual([]);
  });

  it('has every module in a known layer', () => {
    const unknown = [...graph.keys()].filter((p) => !(layerOf(p) in RANK));
    expect(unknown).toEqual([]);
  });

  it('has no module importing from a layer above its own, and lab imported only by cli and drill', () => {
    const offenders: string[] = [];
    for (const [from, deps] of graph) {
      const fromLayer = layerOf(from);
      for (const to of deps) {
        const toLayer = layerOf(to);
        if (!(fromLayer in RANK) || !(toLayer in RANK) || fromLayer === toLayer) continue;
        const above = RANK[toLayer]! > RANK[fromLayer]!;
        const labFromElsewhere = toLayer === 'lab' && !LAB_IMPORTERS.has(fromLayer);
        if (above || labFromElsewhere) offenders.push(`${from} -> ${to}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it(`has no file over ${MAX_LINES} lines`, () => {
    const big = [...graph.keys()]
      .map((p) => ({ p, lines: readFileSync(join(SRC, p), 'utf8').split('\n').length - 1 }))
      .filter((f) => f.lines > MAX_LINES)
      .map((f) => `${f.p} (${f.lines} lines)`);
    expect(big).toEqual([]);
  });
});
