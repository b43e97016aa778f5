/**
 * Ansible inventories as kubespray uses them, read without Ansible: the INI form (`inventory.ini`) and
 * the YAML form (`hosts.yaml`), then group_vars/ and host_vars/ beside the file. Every value keeps the
 * file and line it came from, for messages. Pure apart from `readVarsDir`.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, isScalar, LineCounter, parseDocument, type Document, type Node as YamlNode, type Pair } from 'yaml';
import type { InputProblem } from '../util/errors.js';

export interface AVar {
  value: unknown;
  file: string;
  line?: number;
}
export type Vars = Record<string, AVar>;

export interface AHost {
  name: string;
  file: string;
  line: number;
  vars: Vars;
}

export interface AGroup {
  name: string;
  /** hosts in the order the inventory lists them */
  hosts: string[];
  children: string[];
  vars: Vars;
}

export interface AnsibleInventory {
  file: string;
  hosts: Map<string, AHost>;
  groups: Map<string, AGroup>;
}

function group(inv: AnsibleInventory, name: string): AGroup {
  let g = inv.groups.get(name);
  if (!g) inv.groups.set(name, (g = { name, hosts: [], children: [], vars: {} }));
  return g;
}

function host(inv: AnsibleInventory, name: string, line: number): AHost {
  let h = inv.hosts.get(name);
  if (!h) inv.hosts.set(name, (h = { name, file: inv.file, line, vars: {} }));
  return h;
}

/** An INI value as Ansible reads host variables: numbers and booleans stay strings until used; quotes go. */
function iniValue(v: string): string {
  return (v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")) ? v.slice(1, -1) : v;
}

/** `name key=value key="a b" # comment` -> words */
function iniWords(text: string): string[] {
  const words: string[] = [];
  const re = /\s*((?:[^\s"'#]|"[^"]*"|'[^']*')+)|\s*#.*$/y;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) && m[0] !== '') if (m[1]) words.push(m[1]);
  return words;
}

export function parseAnsibleIni(text: string, file: string, problems: InputProblem[]): AnsibleInventory {
  const inv: AnsibleInventory = { file, hosts: new Map(), groups: new Map() };
  let section: { name: string; kind: 'hosts' | 'vars' | 'children' } = { name: 'ungrouped', kind: 'hosts' };
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#') || t.startsWith(';')) return;
    const head = /^\[([^\]:]+)(?::(vars|children))?\]\s*(?:[#;].*)?$/.exec(t);
    if (head) {
      section = { name: head[1]!.trim(), kind: (head[2] as 'vars' | 'children' | undefined) ?? 'hosts' };
      group(inv, section.name);
      return;
    }
    if (section.kind === 'vars') {
      const kv = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(t.replace(/\s+#.*$/, ''));
      if (!kv) return void problems.push({ file, line, message: `\`${t}\` is not \`key=value\` in [${section.name}:vars]` });
      group(inv, section.name).vars[kv[1]!] = { value: iniValue(kv[2]!), file, line };
      return;
    }
    const [name, ...rest] = iniWords(t);
    if (!name) return;
    if (section.kind === 'children') {
      group(inv, section.name).children.push(name);
      group(inv, name);
      return;
    }
    if (/\[[^\]]*:[^\]]*\]/.test(name)) {
      return void problems.push({ file, line, message: `the host range \`${name}\` is not supported; list each host on its own line` });
    }
    const h = host(inv, name, line);
    const g = group(inv, section.name);
    if (!g.hosts.includes(name)) g.hosts.push(name);
    for (const w of rest) {
      const eq = w.indexOf('=');
      if (eq <= 0) {
        problems.push({ file, line, message: `\`${w}\` after host ${name} is not \`key=value\`` });
        continue;
      }
      h.vars[w.slice(0, eq)] = { value: iniValue(w.slice(eq + 1)), file, line };
    }
  });
  return inv;
}

function lineOf(node: { range?: [number, number, number] | null } | null | undefined, lines: LineCounter): number | undefined {
  return node?.range ? lines.linePos(node.range[0]).line : undefined;
}

/** A YAML mapping of variables, each with its line. */
function yamlVars(node: unknown, file: string, lines: LineCounter): Vars {
  const out: Vars = {};
  if (!isMap(node)) return out;
  for (const item of node.items as Pair<YamlNode, YamlNode>[]) {
    const key = isScalar(item.key) ? String(item.key.value) : undefined;
    if (key === undefined) continue;
    const line = lineOf(item.key, lines);
    out[key] = { value: (item.value as { toJSON?: () => unknown } | null)?.toJSON?.() ?? (isScalar(item.value) ? item.value.value : null), file, ...(line !== undefined ? { line } : {}) };
  }
  return out;
}

export function parseAnsibleYaml(doc: Document, lines: LineCounter, file: string, problems: InputProblem[]): AnsibleInventory {
  const inv: AnsibleInventory = { file, hosts: new Map(), groups: new Map() };
  const walkGroup = (name: string, node: unknown): void => {
    const g = group(inv, name);
    if (node === null || (isScalar(node) && node.value === null)) return;
    if (!isMap(node)) return void problems.push({ file, line: lineOf(node as YamlNode, lines) ?? 1, field: name, message: `group ${name} must be a mapping with hosts, children or vars` });
    for (const item of node.items as Pair<YamlNode, YamlNode>[]) {
      const key = isScalar(item.key) ? String(item.key.value) : '';
      if (key === 'hosts' && isMap(item.value)) {
        for (const h of item.value.items as Pair<YamlNode, YamlNode>[]) {
          const hn = isScalar(h.key) ? String(h.key.value) : '';
          const ah = host(inv, hn, lineOf(h.key, lines) ?? 1);
          Object.assign(ah.vars, yamlVars(h.value, file, lines));
          if (!g.hosts.includes(hn)) g.hosts.push(hn);
        }
      } else if (key === 'children' && isMap(item.value)) {
        for (const c of item.value.items as Pair<YamlNode, YamlNode>[]) {
          const cn = isScalar(c.key) ? String(c.key.value) : '';
          if (!g.children.includes(cn)) g.children.push(cn);
          walkGroup(cn, c.value);
        }
      } else if (key === 'vars') {
        Object.assign(g.vars, yamlVars(item.value, file, lines));
      } else if (key === 'hosts' || key === 'children') {
        if (!(isScalar(item.value) && item.value.value === null)) problems.push({ file, line: lineOf(item.key, lines) ?? 1, field: `${name}.${key}`, message: `\`${key}\` of group ${name} must be a mapping` });
      } else {
        // kubespray's oldest sample lists hosts right under the group: `etcd: {node1: {ip: …}}`
        const ah = host(inv, key, lineOf(item.key, lines) ?? 1);
        Object.assign(ah.vars, yamlVars(item.value, file, lines));
        if (!g.hosts.includes(key)) g.hosts.push(key);
      }
    }
  };
  if (!isMap(doc.contents)) {
    problems.push({ file, line: 1, message: 'an Ansible YAML inventory is a mapping of groups (e.g. `all:` with `hosts:` and `children:`)' });
    return inv;
  }
  for (const item of doc.contents.items as Pair<YamlNode, YamlNode>[]) walkGroup(isScalar(item.key) ? String(item.key.value) : '', item.value);
  return inv;
}

/** group_vars/<name>.yml|.yaml|.json|<name> (no extension), or every file of group_vars/<name>/ in name order. */
export function readVarsDir(dir: string, name: string, problems: InputProblem[]): Vars {
  const out: Vars = {};
  const files: string[] = [];
  for (const ext of ['', '.yml', '.yaml', '.json']) {
    const p = join(dir, name + ext);
    if (!existsSync(p)) continue;
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.(ya?ml|json)$/.test(f) || !f.includes('.')) files.push(join(p, f));
    } else files.push(p);
  }
  for (const f of files) {
    if (!statSync(f).isFile()) continue;
    const lines = new LineCounter();
    const doc = parseDocument(readFileSync(f, 'utf8'), { lineCounter: lines, prettyErrors: false });
    for (const e of doc.errors) problems.push({ file: f, line: lines.linePos(e.pos[0]).line, message: `YAML syntax error: ${e.message}` });
    Object.assign(out, yamlVars(doc.contents, f, lines));
  }
  return out;
}

/** Every group a host is in, parents before children (Ansible: a child group's vars win over its parent's). */
export function groupsOf(inv: AnsibleInventory, hostName: string): AGroup[] {
  const depth = new Map<string, number>();
  const visit = (g: AGroup, d: number, seen: Set<string>): void => {
    if (seen.has(g.name)) return;
    depth.set(g.name, Math.max(depth.get(g.name) ?? 0, d));
    for (const c of g.children) {
      const cg = inv.groups.get(c);
      if (cg) visit(cg, d + 1, new Set([...seen, g.name]));
    }
  };
  const roots = [...inv.groups.values()].filter((g) => ![...inv.groups.values()].some((p) => p.children.includes(g.name)));
  for (const r of roots) visit(r, r.name === 'all' ? 0 : 1, new Set());
  const member = (g: AGroup, seen = new Set<string>()): boolean =>
    g.hosts.includes(hostName) || g.children.some((c) => !seen.has(c) && inv.groups.has(c) && member(inv.groups.get(c)!, new Set([...seen, g.name])));
  return [...inv.groups.values()]
    .filter((g) => g.name !== 'all' && member(g))
    .sort((a, b) => (depth.get(a.name) ?? 1) - (depth.get(b.name) ?? 1) || a.name.localeCompare(b.name));
}

/** The hosts of a group and its children, in inventory order, each once. */
export function hostsOf(inv: AnsibleInventory, name: string, seen = new Set<string>()): string[] {
  const g = inv.groups.get(name);
  if (!g || seen.has(name)) return [];
  seen.add(name);
  const out = [...g.hosts];
  for (const c of g.children) for (const h of hostsOf(inv, c, seen)) if (!out.includes(h)) out.push(h);
  return out;
}
