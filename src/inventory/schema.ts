/**
 * The inventory's shape as data, and one validator that walks a YAML document against it. Every field
 * is described once here (type, format, default for messages); the walker reports every problem with
 * its file:line:column and dotted path, and returns a plain value holding only what was valid.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node as YamlNode } from 'yaml';
import type { InputProblem } from '../util/errors.js';
import { normaliseString, parseJumpSpec, showValue, stringProblem, type StringFormat } from './formats.js';
import { suggest } from './suggest.js';
import { HOOKS } from './hooks.js';
import type { Field, Spec } from './spec.js';

const str = (format: StringFormat, what: string, extra?: (v: string) => string | undefined): Spec => ({ kind: 'string', format, what, ...(extra ? { extra } : {}) });

const SSH_SYNONYMS = {
  username: 'user',
  login: 'user',
  key: 'identityFile',
  identity: 'identityFile',
  privateKey: 'identityFile',
  knownHosts: 'knownHostsFile',
  proxyJump: 'jumpHost',
  bastion: 'jumpHost',
  jump: 'jumpHost',
  sudo: 'become',
  timeout: 'connectTimeout',
};

export const JUMP_HOST: Spec = {
  kind: 'map',
  what: 'jump host',
  fields: {
    user: { spec: str('user', 'a user name'), default: 'your local user' },
    host: { spec: str('address', 'a host (IPv4, IPv6 or DNS name)'), required: true },
    port: { spec: { kind: 'port' }, default: '22' },
    identityFile: { spec: str('localPath', 'a local path'), default: "the node's identityFile" },
  },
  synonyms: SSH_SYNONYMS,
};

export const SSH: Spec = {
  kind: 'map',
  what: 'ssh settings',
  fields: {
    host: { spec: str('sshName', 'a host name or ~/.ssh/config alias'), default: "the node's address" },
    user: { spec: str('user', 'a user name'), default: '$USER, else root' },
    port: { spec: { kind: 'port' }, default: '22' },
    identityFile: { spec: str('localPath', 'a local path'), default: 'ssh-agent, else ~/.ssh/id_ed25519' },
    knownHostsFile: { spec: str('localPath', 'a local path'), default: '~/.ssh/known_hosts' },
    jumpHost: { spec: { kind: 'jumpHost' }, default: 'none' },
    become: { spec: { kind: 'bool' }, default: 'false' },
    connectTimeout: { spec: { kind: 'seconds' }, default: '10' },
    commandTimeout: { spec: { kind: 'seconds' }, default: '60' },
  },
  synonyms: SSH_SYNONYMS,
};

const notRoot = (v: string) => (v.replace(/\/+/g, '/') === '/' ? '`/` cannot be a data dir: etcd-dr moves data dirs aside; name the etcd data dir, e.g. /var/lib/etcd' : undefined);

export const ETCD: Spec = {
  kind: 'map',
  what: 'etcd settings',
  fields: {
    envFile: { spec: str('remotePath', 'an absolute path on the node'), default: '/etc/etcd.env' },
    dataDir: { spec: str('remotePath', 'an absolute path on the node', notRoot), default: '/var/lib/etcd' },
    service: { spec: str('service', 'a systemd unit name'), default: 'etcd' },
    caCert: { spec: str('remotePath', 'an absolute path on the node'), default: '/etc/ssl/etcd/ssl/ca.pem' },
    clientCert: { spec: str('remotePath', 'an absolute path on the node'), default: '/etc/ssl/etcd/ssl/admin-{host}.pem' },
    clientKey: { spec: str('remotePath', 'an absolute path on the node'), default: '/etc/ssl/etcd/ssl/admin-{host}-key.pem' },
    scheme: { spec: { kind: 'enum', values: ['https', 'http'] }, default: 'https' },
    clientPort: { spec: { kind: 'port' }, default: '2379' },
    peerPort: { spec: { kind: 'port' }, default: '2380' },
  },
  synonyms: { data_dir: 'dataDir', env: 'envFile', ca: 'caCert', cert: 'clientCert', key: 'clientKey', unit: 'service', protocol: 'scheme' },
};

export const NODE: Spec = {
  kind: 'map',
  what: 'node',
  fields: {
    name: { spec: str('name', 'an etcd member name'), required: true },
    host: { spec: str('hostName', 'a host name'), required: true },
    address: { spec: str('address', 'an address (IPv4, IPv6 or DNS name)'), required: true },
    ssh: { spec: SSH },
    etcd: { spec: ETCD },
    hooks: { spec: HOOKS },
  },
  synonyms: { ip: 'address', addr: 'address', hostname: 'host', member: 'name', memberName: 'name', etcdName: 'name' },
};

export const INVENTORY: Spec = {
  kind: 'map',
  what: 'inventory',
  fields: {
    cluster: {
      spec: {
        kind: 'map',
        what: 'cluster',
        fields: {
          name: { spec: str('name', 'a cluster name'), required: true },
          disposable: { spec: { kind: 'bool' }, default: 'false' },
        },
      },
      required: true,
    },
    ssh: { spec: SSH },
    etcd: { spec: ETCD },
    hooks: { spec: HOOKS },
    nodes: { spec: { kind: 'list', what: 'nodes', itemWhat: 'node', item: NODE, minItems: 1 }, required: true },
  },
  synonyms: { hosts: 'nodes', members: 'nodes', etcdNodes: 'nodes' },
};

export interface Pos {
  line: number;
  column: number;
}

/** Where each valid value was written, by dotted path; the normaliser points at it for cross-field problems. */
export type Positions = Map<string, Pos>;

export interface WalkContext {
  doc: Document;
  lines: LineCounter;
  file: string;
  problems: InputProblem[];
  positions: Positions;
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

function posOf(node: unknown, c: WalkContext, fallback: Pos): Pos {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  if (!range) return fallback;
  const lp = c.lines.linePos(range[0]);
  return { line: lp.line, column: lp.col };
}

function problem(c: WalkContext, at: Pos, field: string | undefined, message: string): void {
  c.problems.push({ file: c.file, line: at.line, column: at.column, ...(field ? { field } : {}), message });
}

/** How a YAML value is called in "got …" messages. */
function describe(node: unknown): string {
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const v = node.value;
    if (v === null || v === undefined) return 'no value';
    if (typeof v === 'string') return `the string ${showValue(v)}`;
    if (typeof v === 'number') return `the number ${node.source ?? v}`;
    if (typeof v === 'boolean') return String(v);
    return `a ${typeof v}`;
  }
  return 'an unsupported value';
}

const isNull = (node: unknown): boolean => node === null || node === undefined || (isScalar(node) && (node.value === null || node.value === undefined));

const expected = (spec: Spec): string => {
  switch (spec.kind) {
    case 'string':
      return spec.what;
    case 'enum':
      return `one of ${spec.values.map((v) => `\`${v}\``).join(', ')}`;
    case 'port':
      return 'a port (an integer 1..65535)';
    case 'bool':
      return '`true` or `false`';
    case 'seconds':
      return 'a number of seconds greater than 0';
    case 'jumpHost':
      return '`[user@]host[:port]`, `none`, or a mapping with host, user, port, identityFile';
    case 'map':
      return `a mapping (${spec.what}) with the keys ${Object.keys(spec.fields).join(', ')}`;
    case 'list':
      return `a list (${spec.what})`;
  }
};

/** A hint for the usual YAML surprises: quoted numbers, `yes`/`no`, unquoted numbers where text is expected. */
function typeHint(spec: Spec, node: unknown): string {
  if (!isScalar(node)) return '';
  const v = node.value;
  if ((spec.kind === 'port' || spec.kind === 'seconds') && typeof v === 'string' && /^\s*[0-9.]+\s*$/.test(v)) return '; write it without quotes';
  if (spec.kind === 'bool' && typeof v === 'string' && /^(yes|no|on|off|y|n)$/i.test(v)) return ' (YAML 1.2 reads yes/no/on/off as text)';
  if (spec.kind === 'bool' && typeof v === 'string' && /^(true|false)$/i.test(v)) return '; write it without quotes';
  if ((spec.kind === 'string' || spec.kind === 'enum') && (typeof v === 'number' || typeof v === 'boolean')) return `; if ${node.source ?? String(v)} is meant, quote it: "${node.source ?? String(v)}"`;
  return '';
}

/**
 * Checks `node` against `spec` and returns the valid value (undefined when invalid; problems are in
 * `c.problems`). `at` is where to point when the node itself has no position (a key without a value).
 */
export function walk(node: unknown, spec: Spec, path: string, at: Pos, c: WalkContext, field?: Field): unknown {
  if (isAlias(node)) {
    const target = node.resolve(c.doc);
    if (!target) {
      problem(c, posOf(node, c, at), path, `the alias *${node.source} refers to no anchor; define \`&${node.source}\` before using it`);
      return undefined;
    }
    node = target;
  }
  const here = posOf(node, c, at);
  const wrongType = () => {
    problem(c, here, path, `expected ${expected(spec)}, got ${describe(node)}${typeHint(spec, node)}`);
    return undefined;
  };

  if (isNull(node)) {
    // an optional section whose fields are all commented out is simply empty
    if (spec.kind === 'map' && !field?.required) return {};
    if (spec.kind === 'map') return walkMap(undefined, spec, path, here, c);
    const dflt = field?.default ? `, or remove the key to use the default (${field.default})` : '';
    problem(c, here, path, `has no value; expected ${expected(spec)}${dflt}`);
    return undefined;
  }

  switch (spec.kind) {
    case 'string': {
      if (!isScalar(node) || typeof node.value !== 'string') return wrongType();
      const v = node.value;
      const p = stringProblem(v, spec.format, spec.what) ?? spec.extra?.(v);
      if (p) {
        problem(c, here, path, p);
        return undefined;
      }
      c.positions.set(path, here);
      return normaliseString(v, spec.format);
    }
    case 'enum': {
      if (!isScalar(node) || typeof node.value !== 'string') return wrongType();
      const v = node.value;
      if (!spec.values.includes(v)) {
        const near = suggest(v, spec.values);
        problem(c, here, path, `${showValue(v)} is not valid;${near ? ` did you mean \`${near}\`?` : ''} expected ${expected(spec)}`);
        return undefined;
      }
      c.positions.set(path, here);
      return v;
    }
    case 'port': {
      if (!isScalar(node) || typeof node.value !== 'number') return wrongType();
      const v = node.value;
      if (!Number.isInteger(v) || v < 1 || v > 65535) {
        problem(c, here, path, `${node.source ?? v} is not a port; expected an integer 1..65535`);
        return undefined;
      }
      c.positions.set(path, here);
      return v;
    }
    case 'bool': {
      if (!isScalar(node) || typeof node.value !== 'boolean') return wrongType();
      c.positions.set(path, here);
      return node.value;
    }
    case 'seconds': {
      if (!isScalar(node) || typeof node.value !== 'number') return wrongType();
      const v = node.value;
      if (!Number.isFinite(v) || v <= 0) {
        problem(c, here, path, `${node.source ?? v} is not a timeout; expected a number of seconds greater than 0, e.g. 10`);
        return undefined;
      }
      c.positions.set(path, here);
      return v;
    }
    case 'jumpHost': {
      if (isMap(node)) {
        const v = walk(node, JUMP_HOST, path, here, c);
        if (v) c.positions.set(path, here);
        return v;
      }
      if (!isScalar(node) || typeof node.value !== 'string') return wrongType();
      if (node.value === 'none') {
        c.positions.set(path, here);
        return 'none';
      }
      const p = stringProblem(node.value, 'jumpHost');
      if (p) {
        problem(c, here, path, p);
        return undefined;
      }
      c.positions.set(path, here);
      return parseJumpSpec(node.value);
    }
    case 'map':
      if (!isMap(node)) return wrongType();
      return walkMap(node, spec, path, here, c);
    case 'list': {
      if (!isSeq(node)) return wrongType();
      if (node.items.length < spec.minItems) {
        problem(c, here, path, `is empty; list at least ${spec.minItems === 1 ? `one ${spec.itemWhat}` : `${spec.minItems} ${spec.itemWhat}s`}`);
        return undefined;
      }
      c.positions.set(path, here);
      return node.items.map((item, i) => {
        const p = `${path}[${i}]`;
        const itemAt = posOf(item, c, here);
        if (isNull(item)) {
          problem(c, itemAt, p, `is empty; expected ${expected(spec.item)}`);
          return undefined;
        }
        return walk(item, spec.item, p, itemAt, c);
      });
    }
  }
}

function walkMap(node: YamlNode | undefined, spec: Extract<Spec, { kind: 'map' }>, path: string, here: Pos, c: WalkContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Set<string>();
  const valid = Object.keys(spec.fields);
  c.positions.set(path, here);
  for (const pair of isMap(node) ? node.items : []) {
    const keyNode = pair.key;
    const keyAt = posOf(keyNode, c, here);
    const key = isScalar(keyNode) ? String(keyNode.value) : undefined;
    if (key === undefined) {
      problem(c, keyAt, path || undefined, `has a key that is ${describe(keyNode)}; keys are plain names: ${valid.join(', ')}`);
      continue;
    }
    const f = spec.fields[key];
    if (!f) {
      const where = path ? `${path}` : undefined;
      if (key === '<<') {
        problem(c, keyAt, where, `YAML merge keys (\`<<\`) are not supported; write the fields out. valid keys: ${valid.join(', ')}`);
        continue;
      }
      const near = suggest(key, valid, spec.synonyms);
      problem(c, keyAt, where, `unknown key \`${key}\`${near ? `; did you mean \`${near}\`?` : ';'} valid keys: ${valid.join(', ')}`);
      continue;
    }
    seen.add(key);
    const v = walk(pair.value, f.spec, join(path, key), keyAt, c, f);
    if (v !== undefined) out[key] = v;
  }
  for (const [key, f] of Object.entries(spec.fields)) {
    if (f.required && !seen.has(key)) {
      problem(c, here, join(path, key), `is missing; ${path ? `each ${spec.what}` : 'the inventory'} needs \`${key}\`: ${expected(f.spec)}`);
    }
  }
  return out;
}
