/**
 * kubespray's inventory as it is (`-i inventory/mycluster/hosts.yaml` or `inventory.ini`): the hosts of
 * the `etcd` group, with their variables from the inventory, group_vars/ and host_vars/ beside it, as
 * kubespray reads them. etcd-dr's own settings (known_hosts, jump host, timeouts, the cluster's name and
 * whether it is disposable, hooks) go in an optional `etcd-dr.yaml` beside the inventory, in etcd-dr's own
 * inventory format (its `cluster:`, `ssh:`, `etcd:` and `hooks:` blocks).
 *
 * The result is an etcd-dr inventory, validated like one; every problem names the kubespray file, line
 * and variable it came from.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative } from 'node:path';
import { isMap, LineCounter, parseDocument, stringify } from 'yaml';
import { InputError, type InputProblem } from '../util/errors.js';
import { groupsOf, hostsOf, parseAnsibleIni, parseAnsibleYaml, readVarsDir, type AnsibleInventory, type AVar, type Vars } from './ansible.js';
import { parseInventory, sortProblems, type InventoryContext } from './parse.js';
import type { Inventory } from './types.js';

/** The side file of etcd-dr's own settings, beside the kubespray inventory. */
export const SIDE_FILE = 'etcd-dr.yaml';
/** the blocks of etcd-dr's own inventory format the side file may hold */
const SIDE_KEYS = ['cluster', 'ssh', 'etcd', 'hooks'];

/** A kubespray (Ansible) inventory rather than etcd-dr's own: INI, or YAML without etcd-dr's `nodes:`. */
export function isAnsibleInventory(path: string, text: string): boolean {
  if (/\.(ini|cfg)$/i.test(path)) return true;
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !/^\s*[#;]/.test(l) && l.trim() !== '---');
  if (first?.trim().startsWith('[')) return /^\s*\[[^\]]+\]\s*$/.test(first);
  try {
    const doc = parseDocument(text);
    if (!isMap(doc.contents)) return false;
    const top = doc.contents.toJSON() as Record<string, unknown>;
    if ('nodes' in top || 'cluster' in top) return false;
    return Object.values(top).some((g) => g === null || (typeof g === 'object' && g !== null && ('hosts' in g || 'children' in g || 'vars' in g))) || 'etcd' in top;
  } catch {
    return false;
  }
}

const DEFAULT_BIN_DIR = '/usr/local/bin';

interface Origin {
  file: string;
  line?: number;
  field: string;
}

const truthy = (v: unknown): boolean => v === true || (typeof v === 'string' && /^(true|yes|on|1)$/i.test(v)) || v === 1;

export function kubesprayInventory(text: string, absPath: string, display: string, ctx: InventoryContext): Inventory {
  const problems: InputProblem[] = [];
  const dir = dirname(absPath);
  const ini = /\.(ini|cfg)$/i.test(absPath) || !isYamlInventory(text);
  let inv: AnsibleInventory;
  if (ini) inv = parseAnsibleIni(text, display, problems);
  else {
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
    for (const e of doc.errors) problems.push({ file: display, line: lines.linePos(e.pos[0]).line, message: `YAML syntax error: ${e.message}` });
    inv = parseAnsibleYaml(doc, lines, display, problems);
  }
  const members = hostsOf(inv, 'etcd');
  if (members.length === 0 && problems.length === 0) {
    problems.push({
      file: display,
      field: 'etcd',
      message: 'no host in the `etcd` group: etcd-dr reaches the etcd members kubespray deployed, the hosts of `[etcd]` (or `[etcd:children]`); add them there',
    });
  }
  if (problems.length > 0) throw kubesprayError(display, problems, ctx.cwd);

  const groupVarsDir = join(dir, 'group_vars');
  const hostVarsDir = join(dir, 'host_vars');
  const groupFileVars = new Map<string, Vars>();
  const fromDir = (name: string): Vars => {
    let v = groupFileVars.get(name);
    if (!v) groupFileVars.set(name, (v = readVarsDir(groupVarsDir, name, problems)));
    return v;
  };
  /** Ansible's order, lowest first: group `all`, then the host's groups parents first, then the host */
  const varsOf = (h: string): Vars => ({
    ...inv.groups.get('all')?.vars,
    ...fromDir('all'),
    ...Object.assign({}, ...groupsOf(inv, h).flatMap((g) => [g.vars, fromDir(g.name)])),
    ...inv.hosts.get(h)!.vars,
    ...readVarsDir(hostVarsDir, h, problems),
  });

  const side = readSide(join(dir, SIDE_FILE), problems);
  const origins = new Map<string, Origin>(side.origins);
  const notes = new Set<string>();
  const nodes = members.map((h, i) => {
    const v = varsOf(h);
    const hostLine = inv.hosts.get(h)!.line;
    const at = `nodes[${i}]`;
    const pick = (field: string, ...names: string[]): AVar | undefined => {
      for (const n of names) {
        const got = v[n];
        if (got === undefined || got.value === null || got.value === '') continue;
        if (typeof got.value === 'string' && got.value.includes('{{')) {
          if (problems.some((q) => q.field === `${h}.${n}` && q.line === got.line)) return undefined;
          problems.push({ file: got.file, ...(got.line ? { line: got.line } : {}), field: `${h}.${n}`, message: `${JSON.stringify(got.value)} is a Jinja template; etcd-dr reads literal values: write the value itself, or set ${field} for this node in ${SIDE_FILE}` });
          return undefined;
        }
        origins.set(`${at}.${field}`, { file: got.file, ...(got.line ? { line: got.line } : {}), field: `${h}.${n}` });
        return got;
      }
      return undefined;
    };
    origins.set(at, { file: display, line: hostLine, field: h });
    origins.set(`${at}.host`, { file: display, line: hostLine, field: h });
    const name = pick('name', 'etcd_member_name')?.value ?? `etcd${i + 1}`;
    if (!origins.has(`${at}.name`)) origins.set(`${at}.name`, { file: display, line: hostLine, field: `${h} (etcd_member_name unset: etcd${i + 1}, kubespray's default)` });
    const sshHost = pick('ssh.host', 'ansible_host', 'ansible_ssh_host')?.value ?? h;
    const address = pick('address', 'access_ip', 'ip', 'ansible_host', 'ansible_ssh_host')?.value ?? h;
    if (!origins.has(`${at}.address`)) origins.set(`${at}.address`, { file: display, line: hostLine, field: `${h} (no access_ip, ip or ansible_host)` });
    const ssh: Record<string, unknown> = { host: String(sshHost) };
    const user = pick('ssh.user', 'ansible_user', 'ansible_ssh_user');
    if (user) ssh.user = String(user.value);
    const port = pick('ssh.port', 'ansible_port', 'ansible_ssh_port');
    if (port) ssh.port = /^\d+$/.test(String(port.value)) ? Number(port.value) : port.value;
    const key = pick('ssh.identityFile', 'ansible_ssh_private_key_file', 'ansible_private_key_file');
    if (key) ssh.identityFile = String(key.value);
    const become = pick('ssh.become', 'ansible_become');
    if (become) ssh.become = truthy(become.value);
    const etcd: Record<string, unknown> = {};
    const dataDir = pick('etcd.dataDir', 'etcd_data_dir');
    if (dataDir) etcd.dataDir = String(dataDir.value);
    const certDir = pick('etcd.caCert', 'etcd_cert_dir');
    if (certDir) {
      const d = String(certDir.value).replace(/\/+$/, '');
      Object.assign(etcd, { caCert: `${d}/ca.pem`, clientCert: `${d}/admin-{host}.pem`, clientKey: `${d}/admin-{host}-key.pem` });
      for (const f of ['clientCert', 'clientKey']) origins.set(`${at}.etcd.${f}`, origins.get(`${at}.etcd.caCert`)!);
    }
    const bin = v.bin_dir?.value;
    if (typeof bin === 'string' && bin !== DEFAULT_BIN_DIR && !bin.includes('{{')) {
      notes.add(`bin_dir is ${bin} (${shown(v.bin_dir!.file, ctx.cwd)}): etcd-dr runs etcdctl and etcdutl from the login's PATH and ${DEFAULT_BIN_DIR}; make sure they are found there`);
    }
    if (truthy(v.etcd_events_cluster_enabled?.value)) {
      notes.add(`etcd_events_cluster_enabled is true (${shown(v.etcd_events_cluster_enabled!.file, ctx.cwd)}): etcd-dr manages the main etcd cluster (the etcd unit); the events cluster is left as it is`);
    }
    return { name: String(name), host: h, address: String(address), ssh, ...(Object.keys(etcd).length > 0 ? { etcd: etcd } : {}) };
  });
  if (problems.length > 0) throw kubesprayError(display, problems, ctx.cwd);

  const clusterName = basename(dir).replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '') || 'kubespray';
  const native = {
    cluster: { name: clusterName, ...(typeof side.doc.cluster === 'object' ? (side.doc.cluster as object) : {}) },
    ...(side.doc.ssh !== undefined ? { ssh: side.doc.ssh } : {}),
    ...(side.doc.etcd !== undefined ? { etcd: side.doc.etcd } : {}),
    ...(side.doc.hooks !== undefined ? { hooks: side.doc.hooks } : {}),
    nodes,
  };
  let out: Inventory;
  try {
    out = parseInventory(stringify(native), display, ctx);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    throw kubesprayError(display, err.problems.map((p) => relocate(p, origins, display)), ctx.cwd);
  }
  return { ...out, file: absPath, ...(notes.size > 0 ? { notes: [...(out.notes ?? []), ...notes] } : {}) };
}

/** a path as the user would type it from `cwd` (relative below it, else absolute) */
function shown(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return isAbsolute(path) && rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function isYamlInventory(text: string): boolean {
  const first = text.split(/\r?\n/).find((l) => l.trim() !== '' && !/^\s*[#;]/.test(l));
  return !first?.trim().startsWith('[');
}

/** A problem of the generated inventory, told where its value was written (the kubespray file and variable). */
function relocate(p: InputProblem, origins: Map<string, Origin>, display: string): InputProblem {
  if (p.field === undefined) return { ...p, file: display };
  let key = p.field;
  for (;;) {
    const o = origins.get(key);
    if (o) return { file: o.file, ...(o.line !== undefined ? { line: o.line } : {}), field: o.field, message: p.message };
    const cut = Math.max(key.lastIndexOf('.'), key.lastIndexOf('['));
    if (cut <= 0) return { file: display, field: p.field, message: p.message };
    key = key.slice(0, cut);
  }
}

/** etcd-dr.yaml beside the inventory: `cluster:`, `ssh:`, `etcd:`, `hooks:` as in etcd-dr's own inventory; optional. */
function readSide(file: string, problems: InputProblem[]): { doc: Record<string, unknown>; origins: [string, Origin][] } {
  if (!existsSync(file)) return { doc: {}, origins: [] };
  const lines = new LineCounter();
  const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines, prettyErrors: false });
  for (const e of doc.errors) problems.push({ file, line: lines.linePos(e.pos[0]).line, message: `YAML syntax error: ${e.message}` });
  if (doc.contents === null) return { doc: {}, origins: [] };
  if (!isMap(doc.contents)) {
    problems.push({ file, line: 1, message: `${SIDE_FILE} holds etcd-dr's own settings for a kubespray inventory: a mapping with ${SIDE_KEYS.join(', ')}` });
    return { doc: {}, origins: [] };
  }
  const origins: [string, Origin][] = [];
  const json = doc.contents.toJSON() as Record<string, unknown>;
  for (const [k, v] of Object.entries(json)) {
    if (!SIDE_KEYS.includes(k)) {
      problems.push({ file, line: lines.linePos(((doc.contents.items.find((i) => (i.key as { value?: unknown }).value === k)?.key as { range?: number[] })?.range?.[0]) ?? 0).line, field: k, message: `unknown key \`${k}\`; ${SIDE_FILE} takes ${SIDE_KEYS.join(', ')} (the nodes come from the kubespray inventory)` });
      continue;
    }
    if (v && typeof v === 'object') {
      for (const f of Object.keys(v)) {
        const node = doc.getIn([k, f], true) as { range?: number[] } | undefined;
        const line = node?.range?.[0] !== undefined ? lines.linePos(node.range[0]).line : undefined;
        origins.push([`${k}.${f}`, { file, ...(line !== undefined ? { line } : {}), field: `${k}.${f}` }]);
      }
    }
  }
  return { doc: json, origins };
}

function kubesprayError(file: string, problems: InputProblem[], cwd: string): InputError {
  const sorted = sortProblems(file, problems.map((p) => (p.file ? { ...p, file: shown(p.file, cwd) } : p)));
  return new InputError(sorted, `${file}: ${sorted.length === 1 ? '1 problem' : `${sorted.length} problems`} in the kubespray inventory; nothing was done on any node`);
}
