/**
 * A node's SSH settings as OpenSSH itself resolves them: etcd-dr asks `ssh -G <name>` (the name as the
 * user would type it after `ssh`) and reads what it prints, so Include, Match, tokens, wildcards, negation,
 * HostKeyAlias, IdentityFile lists, UserKnownHostsFile and GlobalKnownHostsFile follow ssh's own rules.
 * The inventory's settings are handed to ssh as `-o` options, which win over the config as they do for ssh.
 *
 * Jump chains are resolved the way ssh runs them: `ProxyJump a,b` reaches the target through `b`, and `b`
 * is reached as `ssh -J a b` would be (its own config, the earlier hops on its command line); the first
 * hop is reached as `ssh a` would be, so its own ProxyJump or ProxyCommand applies in turn.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname as osHostname, userInfo } from 'node:os';
import { posix as pp } from 'node:path';
import type { InputProblem } from '../util/errors.js';
import { parseJumpSpec, showValue, type JumpSpec } from './formats.js';
import type { JumpHost } from './types.js';

/** What the inventory itself says about a node's SSH (absolute paths), before ssh's config is asked. */
export interface OwnSsh {
  /** the name given to ssh: the inventory's `ssh.host`, else the node's address */
  target: string;
  user?: string;
  port?: number;
  identityFile?: string;
  knownHostsFile?: string;
  /** the inventory's jump host, `none` to go direct whatever the config says */
  jump?: (JumpSpec & { identityFile?: string }) | 'none';
}

/** What ssh would use for one host. Paths absolute; tokens expanded. */
export interface ResolvedSsh {
  /** the name given to ssh */
  name: string;
  hostName: string;
  user: string;
  port: number;
  /** the IdentityFile list as ssh would try it; undefined when only ssh's built-in defaults apply */
  identityFiles?: string[];
  /** UserKnownHostsFile list, then GlobalKnownHostsFile list */
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  hostKeyAlias?: string;
  /** ProxyJump as ssh prints it (a comma-separated chain), unless `none` */
  proxyJump?: string;
  /** ProxyCommand with its tokens expanded, unless `none` */
  proxyCommand?: string;
  /** seconds, when the config sets ConnectTimeout */
  connectTimeout?: number;
}

export interface SshGOptions {
  /** the ssh binary (default `ssh` from PATH) */
  ssh?: string;
  /** `-F FILE`; undefined: ssh's own files (~/.ssh/config and /etc/ssh/ssh_config) */
  configFile?: string;
  /** the home directory ssh expands `~` and `%d` with (ssh uses the passwd entry, not $HOME) */
  home?: string;
  /** the local user name (%u) */
  localUser?: string;
}

export type SshGResult = { ok: ResolvedSsh } | { missing: string } | { problem: InputProblem };

/** `ssh -G` output: keyword -> values (IdentityFile and friends appear once per value). */
export function parseSshG(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+) (.*)$/.exec(line.trimEnd());
    if (!m) continue;
    const k = m[1]!.toLowerCase();
    out.set(k, [...(out.get(k) ?? []), m[2]!]);
  }
  return out;
}

/** The list ssh -G prints when no IdentityFile applies: ssh's built-in defaults. */
const DEFAULT_IDS = /^~\/\.ssh\/id_(dsa|ecdsa|ecdsa_sk|ed25519|ed25519_sk|rsa|xmss)$/;

export interface TokenValues {
  h: string;
  n: string;
  p: string;
  r: string;
  u: string;
  d: string;
  l: string;
  L: string;
  i: string;
  k: string;
  j: string;
}

/** ssh_config(5) TOKENS: `%%` and the ones that need no connection; `%C` is the hash ssh makes of %l%h%p%r%j. */
export function expandTokens(value: string, t: TokenValues, allowed = 'CdhijkLlnpru'): string {
  return value.replace(/%(.)/g, (m, c: string) => {
    if (c === '%') return '%';
    if (!allowed.includes(c)) return m;
    if (c === 'C') return createHash('sha1').update(`${t.l}${t.h}${t.p}${t.r}${t.j}`).digest('hex');
    return t[c as keyof TokenValues] ?? m;
  });
}

/** `ssh -G` for one host with the given command-line options; `ok` with what ssh would use. */
export function sshG(name: string, cli: string[], o: SshGOptions): SshGResult {
  const bin = o.ssh ?? 'ssh';
  const args = ['-G', ...(o.configFile !== undefined ? ['-F', o.configFile] : []), ...cli, '--', name];
  const r = spawnSync(bin, args, { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: `no \`${bin}\` program found` };
    return { problem: { message: `\`ssh -G ${name}\` failed: ${r.error.message}` } };
  }
  if (r.status !== 0) return { problem: sshGProblem(r.stderr, name) };
  const g = parseSshG(r.stdout);
  const one = (k: string): string | undefined => g.get(k)?.[0];
  const home = o.home ?? userInfo().homedir;
  const localHost = osHostname();
  const port = Number(one('port') ?? '22');
  const user = one('user') ?? o.localUser ?? 'root';
  const hostName = one('hostname') ?? name;
  const proxyJump = one('proxyjump');
  const tokens: TokenValues = {
    h: hostName,
    n: name,
    p: String(port),
    r: user,
    u: o.localUser ?? userInfo().username,
    d: home,
    l: localHost,
    L: localHost.split('.')[0]!,
    i: String(process.getuid?.() ?? 0),
    k: one('hostkeyalias') ?? name,
    j: proxyJump ?? '',
  };
  const path = (p: string): string => {
    const e = expandTokens(p, tokens);
    return e === '~' ? home : e.startsWith('~/') ? pp.join(home, e.slice(2)) : pp.resolve(e);
  };
  const ids = g.get('identityfile') ?? [];
  const onlyDefaults = ids.length === 0 || ids.every((f) => DEFAULT_IDS.test(f));
  const files = (k: string): string[] => (one(k) ?? '').split(' ').filter((f) => f !== '' && f !== 'none').map(path);
  const proxyCommand = one('proxycommand');
  const timeout = Number(one('connecttimeout'));
  return {
    ok: {
      name,
      hostName,
      user,
      port,
      ...(onlyDefaults ? {} : { identityFiles: ids.map(path) }),
      userKnownHostsFiles: files('userknownhostsfile'),
      globalKnownHostsFiles: files('globalknownhostsfile'),
      ...(one('hostkeyalias') !== undefined ? { hostKeyAlias: one('hostkeyalias')! } : {}),
      ...(proxyJump !== undefined && proxyJump !== 'none' ? { proxyJump } : {}),
      ...(proxyCommand !== undefined && proxyCommand !== 'none' ? { proxyCommand: expandTokens(proxyCommand, tokens, 'hnpr') } : {}),
      ...(timeout > 0 ? { connectTimeout: timeout } : {}),
    },
  };
}

/** ssh's complaint about its config (`FILE line N: what`) as a problem at that file and line. */
function sshGProblem(stderr: string, name: string): InputProblem {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  for (const l of lines) {
    const m = /^(.+?):? line (\d+): (.*)$/.exec(l);
    if (m) return { file: m[1]!, line: Number(m[2]), message: `ssh refuses this line: ${m[3]}; fix it as ssh_config(5) describes (\`ssh -G HOST\` shows what ssh makes of the config)` };
  }
  return { message: `\`ssh -G ${name}\` refused the ssh config: ${lines.join('; ') || 'no message'}; check your ~/.ssh/config with \`ssh -G ${name}\`` };
}

/** `-o` options that make ssh use the inventory's settings (they win over the config, as on ssh's command line). */
function ownOptions(own: OwnSsh): string[] {
  const o: string[] = [];
  if (own.user !== undefined) o.push('-o', `User=${own.user}`);
  if (own.port !== undefined) o.push('-o', `Port=${own.port}`);
  if (own.knownHostsFile !== undefined) o.push('-o', `UserKnownHostsFile="${own.knownHostsFile}"`);
  if (own.jump === 'none') o.push('-o', 'ProxyJump=none');
  else if (own.jump) o.push('-o', `ProxyJump=${jumpText(own.jump)}`);
  return o;
}

export function jumpText(j: JumpSpec): string {
  const host = j.host.includes(':') ? `[${j.host}]` : j.host;
  return `${j.user !== undefined ? `${j.user}@` : ''}${host}${j.port !== undefined ? `:${j.port}` : ''}`;
}

/** One node's resolution: the node, and its route of jump hosts (each resolved as ssh would reach it). */
export interface NodeRoute {
  node: ResolvedSsh;
  /** the hop in front of the node, itself with the hop in front of it */
  jumpHost?: JumpHost;
}

/** A jump chain deeper than this is a loop in the config (a hop whose ProxyJump leads back to itself). */
const MAX_HOPS = 16;

/** Resolves a node and every hop of its route (a hop's keys: the inventory's, else its config's, else none). */
export function resolveRoute(own: OwnSsh, o: SshGOptions): { ok: NodeRoute } | { missing: string } | { problem: InputProblem } {
  let r = sshG(own.target, ownOptions(own), o);
  if ('problem' in r && own.jump && own.jump !== 'none' && /jumphost loop/i.test(r.problem.message)) {
    // the inventory's jump host is this very node (one node as the bastion of all): ssh refuses that
    // loop, etcd-dr has always allowed it. The node is resolved alone, the hop put in front of it.
    const alone = sshG(own.target, ownOptions({ ...own, jump: 'none' }), o);
    r = 'ok' in alone ? { ok: { ...alone.ok, proxyJump: jumpText(own.jump) } } : alone;
  }
  if (!('ok' in r)) return r;
  const node = r.ok;
  const jumpIdentity = own.jump !== undefined && own.jump !== 'none' ? own.jump.identityFile : undefined;
  const extra = own.knownHostsFile !== undefined ? ['-o', `UserKnownHostsFile="${own.knownHostsFile}"`] : [];
  const via = (res: ResolvedSsh, depth: number, explicitId?: string): { ok?: JumpHost; err?: { missing: string } | { problem: InputProblem } } => {
    if (!res.proxyJump) return {};
    if (depth > MAX_HOPS) return { err: { problem: { message: `the ProxyJump chain of ${own.target} is longer than ${MAX_HOPS} hops: a jump host's ProxyJump leads back to itself` } } };
    const chain = res.proxyJump.split(',');
    const last = chain.pop()!;
    const spec = parseJumpSpec(last.replace(/^ssh:\/\//, ''));
    if ('error' in spec) return { err: { problem: { message: `\`ssh -G ${res.name}\` gives ProxyJump ${showValue(res.proxyJump)}: ${spec.error}; fix ProxyJump for ${res.name} in your ssh config` } } };
    const cli = [...extra, ...(spec.user !== undefined ? ['-l', spec.user] : []), ...(spec.port !== undefined ? ['-p', String(spec.port)] : [])];
    // the earlier hops go on the hop's command line (ssh -J), or nothing: its own config decides then
    if (chain.length > 0) cli.push('-o', `ProxyJump=${chain.join(',')}`);
    const h = sshG(spec.host, cli, o);
    if (!('ok' in h)) return { err: h };
    const inner = via(h.ok, depth + 1);
    if (inner.err) return inner;
    const ids = explicitId !== undefined ? [explicitId] : h.ok.identityFiles;
    const hop: JumpHost = {
      user: h.ok.user,
      host: h.ok.hostName,
      port: h.ok.port,
      ...(ids && ids.length > 0 ? { identityFile: ids[0]!, ...(ids.length > 1 ? { identityFiles: ids.slice(1) } : {}) } : {}),
      knownHostsFiles: [...h.ok.userKnownHostsFiles, ...h.ok.globalKnownHostsFiles],
      ...(h.ok.hostKeyAlias !== undefined ? { hostKeyAlias: h.ok.hostKeyAlias } : {}),
      ...(inner.ok ? { jumpHost: inner.ok } : h.ok.proxyCommand !== undefined ? { proxyCommand: h.ok.proxyCommand } : {}),
      name: spec.host,
    };
    return { ok: hop };
  };
  const j = via(node, 1, jumpIdentity);
  if (j.err) return j.err;
  return { ok: { node, ...(j.ok ? { jumpHost: j.ok } : {}) } };
}
