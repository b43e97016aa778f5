/**
 * A node's effective SSH settings: the inventory's own, then OpenSSH's config as `ssh -G` resolves it
 * (ssh-resolve.ts), then etcd-dr's defaults. Where no ssh program exists, the inventory's settings alone,
 * with a note saying so.
 */
import type { InputProblem } from '../util/errors.js';
import { stringProblem } from './formats.js';
import { resolveRoute, type OwnSsh, type SshGOptions } from './ssh-resolve.js';
import type { JumpHost, SshSettings } from './types.js';

/** The SSH settings that come from the inventory and the ssh config (become and the timeouts are the inventory's). */
export type SshPart = Omit<SshSettings, 'become' | 'connectTimeout' | 'commandTimeout'> & { connectTimeout?: number };

export interface ResolveHelpers {
  /** $USER (else root): the user when neither the inventory nor ssh names one */
  localUser: string;
  /** the key used when neither the inventory nor the ssh config names one (ssh-agent: none) */
  defaultIdentity: () => string | undefined;
  /** whether a local file exists; an IdentityFile that does not is skipped, as ssh skips it */
  exists?: ((absPath: string) => boolean) | undefined;
}

export type SshResolution = { ok: SshPart } | { note: string } | { problem: InputProblem } | { inventoryOnly: true };
export type SshResolver = (own: OwnSsh, h: ResolveHelpers) => SshResolution;

const NO_SSH_NOTE =
  'no `ssh` program was found, so ~/.ssh/config is not read: etcd-dr uses the inventory\'s own ssh settings (user, port, identityFile, knownHostsFile, jumpHost); install openssh-client to have ssh\'s config apply';

/** The inventory's settings alone (no ssh config): what etcd-dr does when there is no ssh program. */
export function fallbackSsh(own: OwnSsh, localUser: string, defaultKnownHosts: string, defaultIdentity: () => string | undefined): SshPart {
  const identityFile = own.identityFile ?? defaultIdentity();
  let jumpHost: JumpHost | undefined;
  if (own.jump && own.jump !== 'none') {
    const id = own.jump.identityFile ?? identityFile;
    jumpHost = { user: own.jump.user ?? localUser, host: own.jump.host, port: own.jump.port ?? 22, ...(id !== undefined ? { identityFile: id } : {}) };
  }
  return {
    sshHost: own.target,
    user: own.user ?? localUser,
    port: own.port ?? 22,
    ...(identityFile !== undefined ? { identityFile } : {}),
    knownHostsFile: own.knownHostsFile ?? defaultKnownHosts,
    ...(jumpHost ? { jumpHost } : {}),
  };
}

/** Drops the keys that do not exist (ssh skips them too); the first left is `identityFile`. */
function keys(list: string[] | undefined, exists: ResolveHelpers['exists']): { identityFile?: string; identityFiles?: string[] } {
  const found = (list ?? []).filter((f) => !exists || exists(f));
  if (found.length === 0) return {};
  return { identityFile: found[0]!, ...(found.length > 1 ? { identityFiles: found.slice(1) } : {}) };
}

function hopKeys(hop: JumpHost, exists: ResolveHelpers['exists']): JumpHost {
  const { identityFile, identityFiles, jumpHost, ...rest } = hop;
  const k = keys([...(identityFile !== undefined ? [identityFile] : []), ...(identityFiles ?? [])], exists);
  return { ...rest, ...k, ...(jumpHost ? { jumpHost: hopKeys(jumpHost, exists) } : {}) };
}

/** The resolver that asks `ssh -G`. */
export function sshGResolver(o: SshGOptions): SshResolver {
  return (own, h) => {
    const r = resolveRoute(own, { ...o, localUser: o.localUser ?? h.localUser });
    if ('missing' in r) return { note: NO_SSH_NOTE };
    if ('problem' in r) return r;
    const { node, jumpHost } = r.ok;
    const bad = checkValues(own.target, node.hostName, node.user) ?? hopProblem(own.target, jumpHost);
    if (bad) return { problem: bad };
    const ids = own.identityFile !== undefined ? { identityFile: own.identityFile } : node.identityFiles ? keys(node.identityFiles, h.exists) : {};
    const identity = ids.identityFile !== undefined ? ids : ((id) => (id !== undefined ? { identityFile: id } : {}))(h.defaultIdentity());
    const [first, ...more] = [...node.userKnownHostsFiles, ...node.globalKnownHostsFiles];
    return {
      ok: {
        sshHost: node.hostName,
        user: node.user,
        port: node.port,
        ...identity,
        knownHostsFile: own.knownHostsFile ?? first ?? '',
        ...(more.length > 0 ? { knownHostsFiles: more } : {}),
        ...(node.hostKeyAlias !== undefined ? { hostKeyAlias: node.hostKeyAlias } : {}),
        ...(jumpHost ? { jumpHost: withKeys(hopKeys(jumpHost, h.exists), identity.identityFile) } : node.proxyCommand !== undefined ? { proxyCommand: node.proxyCommand } : {}),
        sshName: own.target,
        ...(node.connectTimeout !== undefined ? { connectTimeout: node.connectTimeout } : {}),
      },
    };
  };
}

/** A hop with no key of its own uses the node's (as etcd-dr always did). */
function withKeys(hop: JumpHost, nodeKey: string | undefined): JumpHost {
  const inner = hop.jumpHost ? { jumpHost: withKeys(hop.jumpHost, nodeKey) } : {};
  if (hop.identityFile !== undefined || nodeKey === undefined) return { ...hop, ...inner };
  return { ...hop, identityFile: nodeKey, ...inner };
}

/** Values from the ssh config end up in messages and host-key lookups: they are held to the inventory's rules. */
function checkValues(name: string, hostName: string, user: string): InputProblem | undefined {
  const h = stringProblem(hostName, 'address', 'a host name or address');
  if (h) return { message: `\`ssh -G ${name}\` gives HostName ${h}; fix HostName for ${name} in your ssh config` };
  const u = stringProblem(user, 'user');
  if (u) return { message: `\`ssh -G ${name}\` gives User ${u}; fix User for ${name} in your ssh config` };
  return undefined;
}

function hopProblem(name: string, hop: JumpHost | undefined): InputProblem | undefined {
  if (!hop) return undefined;
  return checkValues(hop.name ?? hop.host, hop.host, hop.user) ?? hopProblem(name, hop.jumpHost);
}
