/**
 * Inventory text -> validated, normalised Inventory, without touching the disk: everything it needs
 * from the machine (environment, home, ~/.ssh/config, which key files exist) comes in `ctx`.
 *
 * Order of precedence for every SSH setting of a node: the node's own `ssh:`, then the inventory's
 * `ssh:`, then OpenSSH's config as `ssh -G <ssh.host, else address>` resolves it, then the built-in defaults.
 * Local paths (identityFile, knownHostsFile): `~/…` is the home directory, a relative path is relative
 * to the inventory file's directory. Paths on the nodes (`etcd:`) must be absolute.
 */
import { posix as pp, dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { formatProblem, InputError, type InputProblem } from '../util/errors.js';
import { stringProblem, type JumpSpec } from './formats.js';
import { resolveHooks, type RawHooks } from './hooks.js';
import { INVENTORY, walk, type Pos, type Positions } from './schema.js';
import type { OwnSsh } from './ssh-resolve.js';
import { fallbackSsh, type SshResolver } from './ssh-settings.js';
import type { EtcdSettings, Inventory, NodeSpec, SshSettings } from './types.js';

export interface InventoryContext {
  /** USER (default ssh user) and SSH_AUTH_SOCK (ssh-agent) are read from here */
  env: NodeJS.ProcessEnv;
  /** the local home directory, for `~/` */
  home: string;
  /** directory a relative inventory file name is relative to */
  cwd: string;
  /**
   * resolves a node's SSH settings with OpenSSH's config (`ssh -G`, see ssh-settings.ts); without it
   * the inventory's own settings and etcd-dr's defaults apply
   */
  resolveSsh?: SshResolver;
  /**
   * whether a local file exists. When given, a named identityFile that does not exist is a problem and
   * the default key (~/.ssh/id_ed25519) is used only if it exists; when absent, neither is checked.
   */
  exists?: (absPath: string) => boolean;
}

/** kubespray's layout; `{host}` is the node's `host`. */
export const ETCD_DEFAULTS: EtcdSettings = {
  envFile: '/etc/etcd.env',
  dataDir: '/var/lib/etcd',
  service: 'etcd',
  caCert: '/etc/ssl/etcd/ssl/ca.pem',
  clientCert: '/etc/ssl/etcd/ssl/admin-{host}.pem',
  clientKey: '/etc/ssl/etcd/ssl/admin-{host}-key.pem',
  scheme: 'https',
  clientPort: 2379,
  peerPort: 2380,
};

export const SSH_DEFAULTS = { port: 22, knownHostsFile: '~/.ssh/known_hosts', become: false, connectTimeout: 10, commandTimeout: 60 } as const;

/** Keys tried, in this order, when neither the inventory, ~/.ssh/config nor ssh-agent names one. */
export const DEFAULT_IDENTITY_FILES = ['~/.ssh/id_ed25519'] as const;

type RawJump = JumpSpec & { identityFile?: string };
interface RawSsh {
  host?: string;
  user?: string;
  port?: number;
  identityFile?: string;
  knownHostsFile?: string;
  jumpHost?: RawJump | 'none';
  become?: boolean;
  connectTimeout?: number;
  commandTimeout?: number;
}
type RawEtcd = Partial<EtcdSettings>;
interface RawNode {
  name?: string;
  host?: string;
  address?: string;
  ssh?: RawSsh;
  etcd?: RawEtcd;
  hooks?: RawHooks;
}
interface RawInventory {
  cluster?: { name?: string; disposable?: boolean };
  ssh?: RawSsh;
  etcd?: RawEtcd;
  hooks?: RawHooks;
  nodes?: (RawNode | undefined)[];
}

/** Parses and validates inventory text; throws InputError listing every problem, sorted by line. */
export function parseInventory(text: string, file: string, ctx: InventoryContext): Inventory {
  const problems: InputProblem[] = [];
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  for (const e of [...doc.errors, ...doc.warnings]) {
    // an error found at the end of the text (an unclosed quote or bracket) is shown on the last line with text
    const offset = Math.min(e.pos[0], text.trimEnd().length > 0 ? text.trimEnd().length - 1 : 0);
    const lp = lines.linePos(offset);
    problems.push({ file, line: lp.line, column: lp.col, message: yamlMessage(e.code, e.message, text.slice(e.pos[0])) });
  }
  if (doc.errors.length > 0) throw inventoryError(file, problems);

  if (doc.contents === null || (doc.contents as { value?: unknown }).value === null) {
    problems.push({ file, line: 1, column: 1, message: 'the inventory is empty; it needs at least `cluster.name` and `nodes` (see inventory.example.yaml)' });
    throw inventoryError(file, problems);
  }
  const positions: Positions = new Map();
  const start: Pos = { line: 1, column: 1 };
  const raw = walk(doc.contents, INVENTORY, '', start, { doc, lines, file, problems, positions }) as RawInventory | undefined;
  const inv = normalise(raw ?? {}, file, ctx, positions, problems);
  if (problems.length > 0) throw inventoryError(file, problems);
  return inv;
}

function yamlMessage(code: string, message: string, from: string): string {
  switch (code) {
    case 'DUPLICATE_KEY':
      return `the key \`${/^[^:\s]*/.exec(from)?.[0] ?? ''}\` appears twice in one mapping; keep one`;
    case 'MULTIPLE_DOCS':
      return 'the file holds more than one YAML document (a `---` line); an inventory is one document';
    case 'TAG_RESOLVE_FAILED':
      return `${message.replace(/^Unresolved tag:? ?/, 'the YAML tag ')} is not supported; remove it, inventories use plain YAML`;
    default:
      return `YAML syntax error: ${message}`;
  }
}

function inventoryError(file: string, problems: InputProblem[]): InputError {
  const sorted = sortProblems(file, dedupe(problems));
  return new InputError(sorted, `${file}: ${sorted.length === 1 ? '1 problem' : `${sorted.length} problems`} in the inventory; nothing was done on any node`);
}

function dedupe(problems: InputProblem[]): InputProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = formatProblem(p);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The inventory's own problems first, by line and column; then those of other files (~/.ssh/config). */
export function sortProblems(file: string, problems: InputProblem[]): InputProblem[] {
  return [...problems].sort(
    (a, b) =>
      Number(a.file !== file) - Number(b.file !== file) ||
      (a.file ?? '').localeCompare(b.file ?? '') ||
      (a.line ?? Infinity) - (b.line ?? Infinity) ||
      (a.column ?? 0) - (b.column ?? 0),
  );
}

/** Where a node's effective value came from, for messages. */
interface Origin {
  field: string;
  pos?: Pos;
}

function normalise(raw: RawInventory, file: string, ctx: InventoryContext, positions: Positions, problems: InputProblem[]): Inventory {
  const absFile = isAbsolute(file) ? pp.normalize(file) : resolve(ctx.cwd, file);
  const baseDir = dirname(absFile);
  const localUser = ctx.env.USER && !stringProblem(ctx.env.USER, 'user') ? ctx.env.USER : 'root';
  const at = (o: Origin) => ({ file, ...(o.pos ? { line: o.pos.line, column: o.pos.column } : {}), field: o.field });
  const report = (o: Origin, message: string) => problems.push({ ...at(o), message });
  const sshProblems: InputProblem[] = [];
  const notes: string[] = [];

  /** The node's value, else the inventory's, with where it was written. */
  function pick<S extends 'ssh' | 'etcd', K extends string>(section: S, i: number, node: RawNode, key: K): { value: unknown; origin: Origin } | undefined {
    const own = (node[section] as Record<string, unknown> | undefined)?.[key];
    if (own !== undefined) {
      const field = `nodes[${i}].${section}.${key}`;
      return { value: own, origin: { field, ...optPos(positions.get(field)) } };
    }
    const global = (raw[section] as Record<string, unknown> | undefined)?.[key];
    if (global !== undefined) {
      const field = `${section}.${key}`;
      return { value: global, origin: { field, ...optPos(positions.get(field)) } };
    }
    return undefined;
  }

  /** `~/x` -> home/x; relative -> next to the inventory file. */
  const localPath = (p: string) => (p === '~' ? ctx.home : p.startsWith('~/') ? pp.join(ctx.home, p.slice(2)) : isAbsolute(p) ? pp.normalize(p) : resolve(baseDir, p));

  const nodes: NodeSpec[] = [];
  const entries: Entry[] = [];
  (raw.nodes ?? []).forEach((n, i) => {
    if (!n) return;
    // -- etcd: node's, else inventory's, else kubespray default; `{host}` expanded
    const etcd = { ...ETCD_DEFAULTS } as Record<keyof EtcdSettings, unknown>;
    const etcdOrigin = {} as Record<keyof EtcdSettings, Origin>;
    for (const key of Object.keys(ETCD_DEFAULTS) as (keyof EtcdSettings)[]) {
      const got = pick('etcd', i, n, key);
      if (got) etcd[key] = got.value;
      etcdOrigin[key] = got?.origin ?? { field: `nodes[${i}]`, ...optPos(positions.get(`nodes[${i}]`)) };
      if (typeof etcd[key] === 'string' && n.host) etcd[key] = (etcd[key] as string).replaceAll('{host}', n.host);
    }
    const e = etcd as unknown as EtcdSettings;
    if (e.clientPort === e.peerPort) {
      const o = etcdOrigin.peerPort.field.endsWith('peerPort') ? etcdOrigin.peerPort : etcdOrigin.clientPort;
      // said once when it comes from the inventory-wide `etcd:` block, once per node when from its own
      const whose = o.field.startsWith('nodes[') ? ` on ${n.name ?? `nodes[${i}]`}` : '';
      report(o, `peerPort and clientPort are both ${e.peerPort}${whose}; etcd needs two different ports (defaults: clientPort 2379, peerPort 2380)`);
    }

    // -- ssh: the inventory's own settings, then what `ssh -G` says for the node (see ssh-settings.ts)
    const address = n.address ?? '';
    const own: OwnSsh = { target: (pick('ssh', i, n, 'host')?.value as string | undefined) ?? address };
    const userPick = pick('ssh', i, n, 'user');
    if (userPick) own.user = userPick.value as string;
    const portPick = pick('ssh', i, n, 'port');
    if (portPick) own.port = portPick.value as number;
    const idPick = pick('ssh', i, n, 'identityFile');
    if (idPick) {
      own.identityFile = localPath(idPick.value as string);
      if (ctx.exists && !ctx.exists(own.identityFile)) {
        report(idPick.origin, `the identity file ${own.identityFile} does not exist; fix the path, or remove identityFile to use ssh-agent or ~/.ssh/id_ed25519`);
      }
    }
    const knownPick = pick('ssh', i, n, 'knownHostsFile');
    if (knownPick) own.knownHostsFile = localPath(knownPick.value as string);
    const jumpPick = pick('ssh', i, n, 'jumpHost');
    if (jumpPick) {
      const j = jumpPick.value as RawJump | 'none';
      if (j === 'none') own.jump = 'none';
      else if (j.host) {
        const jumpIdentity = j.identityFile !== undefined ? localPath(j.identityFile) : undefined;
        if (jumpIdentity && ctx.exists && !ctx.exists(jumpIdentity)) {
          report({ ...jumpPick.origin, field: `${jumpPick.origin.field}.identityFile` }, `the identity file ${jumpIdentity} does not exist; fix the path, or remove it to use the node's key`);
        }
        own.jump = { ...j, ...(jumpIdentity !== undefined ? { identityFile: jumpIdentity } : {}) };
      }
    }
    const settings = ctx.resolveSsh ? ctx.resolveSsh(own, { localUser, defaultIdentity, exists: ctx.exists }) : { inventoryOnly: true as const };
    if ('note' in settings && !notes.includes(settings.note)) notes.push(settings.note);
    if ('problem' in settings) {
      const p = settings.problem;
      if (!sshProblems.some((q) => q.file === p.file && q.line === p.line && q.message === p.message)) sshProblems.push(p);
    }
    const resolved = 'ok' in settings ? settings.ok : fallbackSsh(own, localUser, localPath(SSH_DEFAULTS.knownHostsFile), defaultIdentity);

    const ssh: SshSettings = {
      ...resolved,
      become: (pick('ssh', i, n, 'become')?.value as boolean | undefined) ?? SSH_DEFAULTS.become,
      connectTimeout: (pick('ssh', i, n, 'connectTimeout')?.value as number | undefined) ?? resolved?.connectTimeout ?? SSH_DEFAULTS.connectTimeout,
      commandTimeout: (pick('ssh', i, n, 'commandTimeout')?.value as number | undefined) ?? SSH_DEFAULTS.commandTimeout,
    };
    entries.push({ i, name: n.name, host: n.host, address: n.address, etcd: e });
    if (n.name === undefined || n.host === undefined || n.address === undefined) return;
    const hooks = resolveHooks(raw.hooks, n.hooks);
    nodes.push({ name: n.name, host: n.host, address: n.address, ssh, etcd: e, ...(hooks ? { hooks } : {}) });
  });

  crossNodeChecks(entries, positions, file, problems);
  problems.push(...sshProblems);

  return {
    file: absFile,
    cluster: { name: raw.cluster?.name ?? '', disposable: raw.cluster?.disposable ?? false },
    nodes,
    ...(notes.length > 0 ? { notes } : {}),
  };

  /** ssh-agent when it runs; otherwise the usual key, when it exists. */
  function defaultIdentity(): string | undefined {
    if (ctx.env.SSH_AUTH_SOCK) return undefined;
    if (!ctx.exists) return undefined;
    return DEFAULT_IDENTITY_FILES.map(localPath).find((p) => ctx.exists!(p));
  }

}

const optPos = (pos: Pos | undefined): { pos?: Pos } => (pos ? { pos } : {});

/** One node as far as it is valid: uniqueness is checked even on nodes with other problems. */
interface Entry {
  i: number;
  name?: string;
  host?: string;
  address?: string;
  etcd: EtcdSettings;
}

/**
 * Names, hosts and addresses must be unique. Two members may share an address (one machine) only when
 * nothing else collides: ports, data dir, env file and service are per member.
 */
function crossNodeChecks(list: Entry[], positions: Positions, file: string, problems: InputProblem[]): void {
  const line = (f: string) => positions.get(f)?.line;
  const push = (field: string, message: string) => {
    const pos = positions.get(field);
    problems.push({ file, ...(pos ? { line: pos.line, column: pos.column } : {}), field, message });
  };
  for (const key of ['name', 'host'] as const) {
    const seen = new Map<string, number>();
    for (const entry of list) {
      const value = entry[key];
      if (value === undefined) continue;
      const norm = key === 'host' ? value.toLowerCase() : value;
      const first = seen.get(norm);
      if (first === undefined) {
        seen.set(norm, entry.i);
        continue;
      }
      const why = key === 'name' ? 'member names must be unique in a cluster' : "host names must be unique: they name each node's certificate files";
      push(`nodes[${entry.i}].${key}`, `duplicate ${key === 'name' ? 'member name' : 'host'} \`${value}\`: nodes[${first}].${key} (line ${line(`nodes[${first}].${key}`)}) has it too; ${why}`);
    }
  }

  for (let b = 0; b < list.length; b++) {
    for (let a = 0; a < b; a++) {
      const A = list[a]!;
      const B = list[b]!;
      if (A.address === undefined || A.address !== B.address) continue;
      const clashes: string[] = [];
      const ea = A.etcd;
      const eb = B.etcd;
      for (const [pa, na] of [[ea.peerPort, 'peer'], [ea.clientPort, 'client']] as const) {
        for (const [pb, nb] of [[eb.peerPort, 'peer'], [eb.clientPort, 'client']] as const) {
          if (pa === pb) clashes.push(`${na === nb ? `${na} port` : `port (${na} of one, ${nb} of the other)`} ${pa}`);
        }
      }
      if (ea.dataDir === eb.dataDir) clashes.push(`data dir ${ea.dataDir}`);
      if (ea.envFile === eb.envFile) clashes.push(`env file ${ea.envFile}`);
      if (ea.service === eb.service) clashes.push(`service ${ea.service}`);
      if (clashes.length === 0) continue;
      push(
        `nodes[${B.i}].address`,
        `duplicate address \`${B.address}\`: nodes[${A.i}].address (line ${line(`nodes[${A.i}].address`)}) has it too, and both would use the same ${clashes.join(', ')}; ` +
          'give each node its own address (or, for two members on one machine, different ports, dataDir, envFile and service)',
      );
    }
  }
}
