/**
 * One SSH handshake with one endpoint (a node or a jump host), over a socket of its route or a direct
 * TCP connection: the host key checked against every known_hosts file of the endpoint (under its
 * HostKeyAlias when it has one), then the keys and ssh-agent offered in order.
 */
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { AuthenticationType, Client as SshClient, ConnectConfig, ParsedKey, ServerHostKeyAlgorithm } from 'ssh2';
import type { AttemptErrors, Endpoint } from './attempt.js';
import { hostKeyAlgorithmOrder } from './command.js';
import type { ConnectFailedError, HostKeyError } from './errors.js';
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOfBlob, knownKeyTypes, readKnownHosts, type HostKeyCheck, type KnownHostsDb } from './knownhosts.js';
import type { Resolved } from './resolved.js';

const { Client, utils } = ssh2;

/** A connected client and whether it is still up. */
export interface Live {
  client: SshClient;
  alive: boolean;
  /** the last error ssh2 reported on it (why it went down) */
  lastError?: string;
}

/**
 * Reads the keys to offer. The first is the one the user named: it must be usable. ssh skips the others
 * it cannot use, and so does etcd-dr.
 */
async function loadIdentities(files: readonly string[], passphrase: string | undefined, errs: AttemptErrors): Promise<{ file: string; key: ParsedKey }[]> {
  const out: { file: string; key: ParsedKey }[] = [];
  for (const [i, file] of files.entries()) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (err) {
      if (i > 0) continue;
      throw errs.keyFile(file, 'unreadable', (err as Error).message);
    }
    const parsed = utils.parseKey(data, passphrase);
    if (parsed instanceof Error) {
      if (i > 0) continue;
      const m = parsed.message;
      if (/no passphrase given/i.test(m)) throw errs.keyFile(file, 'encrypted');
      if (/passphrase/i.test(m)) throw errs.keyFile(file, 'passphrase');
      throw errs.keyFile(file, 'invalid', m);
    }
    // the parsed key goes to ssh2 as it is: an encrypted key is decrypted once per connection, not twice
    out.push({ file, key: parsed });
  }
  return out;
}

/** Host keys of every known_hosts file of the endpoint, in order. */
async function readAllKnownHosts(ep: Endpoint, errs: AttemptErrors): Promise<KnownHostsDb[]> {
  try {
    return await Promise.all(ep.knownHostsFiles.map((f) => readKnownHosts(f)));
  } catch (err) {
    throw errs.fail('known-hosts', (err as Error).message, 'fix ssh.knownHostsFile in the inventory or the file permissions');
  }
}

/**
 * What the known_hosts files together say about the key, as ssh reads its UserKnownHostsFile and
 * GlobalKnownHostsFile lists: a revoked key in any file is refused; a match in any file is accepted; a
 * different key of the same type in any file means it changed; else it is unknown.
 */
export function checkAll(dbs: readonly KnownHostsDb[], host: string, port: number, keyType: string, key: Buffer): { check: HostKeyCheck; file: string | undefined } {
  const checks = dbs.map((db) => ({ check: checkHostKey(db, host, port, keyType, key), file: db.file }));
  for (const status of ['revoked', 'match', 'changed'] as const) {
    const hit = checks.find((c) => c.check.status === status);
    if (hit) return hit;
  }
  const other = [...new Set(checks.flatMap((c) => c.check.otherKnownTypes ?? []))];
  const presentedFingerprint = checks[0]?.check.presentedFingerprint ?? fingerprint(key);
  return { check: { status: 'unknown', presentedFingerprint, ...(other.length ? { otherKnownTypes: other } : {}) }, file: undefined };
}

/**
 * One connection attempt to one endpoint, over `sock` when given. Fails with HostKeyError or
 * ConnectFailedError (from `errs`); never retries by itself.
 */
export async function connectOnce(ep: Endpoint, o: Resolved, errs: AttemptErrors, sock?: Duplex): Promise<Live> {
  const keys = await loadIdentities(ep.identityFiles, o.passphrase, errs);
  if (keys.length === 0 && !o.agent) {
    throw errs.fail(
      'auth',
      `no way to authenticate to ${ep.label}: no identity file is set and SSH_AUTH_SOCK is empty`,
      'set ssh.identityFile in the inventory, or start ssh-agent and add a key (ssh-add)',
    );
  }
  const dbs = await readAllKnownHosts(ep, errs);
  // ssh looks a HostKeyAlias up as it is written, without the port
  const [khHost, khPort] = ep.hostKeyAlias !== undefined ? [ep.hostKeyAlias, 22] : [ep.host, ep.port];
  const recordIn = ep.knownHostsFiles[0]!;

  const client = new Client();
  const live: Live = { client, alive: true };
  let refusal: HostKeyError | ConnectFailedError | undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
    const keyType = keyTypeOfBlob(key);
    if (keyType === undefined) {
      refusal = errs.fail('protocol', `${ep.label} presented a malformed host key`);
      return verify(false);
    }
    const { check, file } = checkAll(dbs, khHost, khPort, keyType, key);
    if (check.status === 'match') return verify(true);
    // a host whose recorded key type is no longer offered is not simply new: someone else may be
    // answering with a key of another type, so that case is never accepted blindly
    if (check.status === 'unknown' && o.acceptNewHostKeys && !check.otherKnownTypes) {
      appendKnownHost(recordIn, khHost, khPort, keyType, key.toString('base64')).then(
        () => {
          o.onEvent({ type: 'host-key-recorded', node: errs.node, host: khHost, port: khPort, keyType, fingerprint: fingerprint(key), file: recordIn });
          verify(true);
        },
        (err: Error) => {
          refusal = errs.fail('known-hosts', `cannot record the host key of ${khHost}:${khPort} in ${recordIn}: ${err.message}`);
          verify(false);
        },
      );
      return;
    }
    refusal = errs.hostKey({ ...check, status: check.status }, file ?? recordIn);
    verify(false);
  };

  const known = [...new Set(dbs.flatMap((db) => knownKeyTypes(db, khHost, khPort)))];
  // the keys first, in order, then ssh-agent: only the methods etcd-dr has (ssh2 would first try "none")
  const authHandler: AuthenticationType[] = [
    ...keys.map((k) => ({ type: 'publickey' as const, username: ep.user, key: k.key })),
    ...(o.agent ? [{ type: 'agent' as const, username: ep.user, agent: o.agent }] : []),
  ] as unknown as AuthenticationType[];
  const config: ConnectConfig = {
    host: ep.host,
    port: ep.port,
    username: ep.user,
    readyTimeout: ep.connectTimeout * 1000,
    keepaliveInterval: o.keepaliveIntervalMs,
    keepaliveCountMax: o.keepaliveCountMax,
    algorithms: { serverHostKey: hostKeyAlgorithmOrder(known) as ServerHostKeyAlgorithm[] },
    hostVerifier,
    ...(o.agent ? { agent: o.agent } : {}),
    authHandler,
    ...(sock ? { sock } : {}),
  };

  // every running command listens for the connection going away: more than Node's default of 10
  client.setMaxListeners(0);
  // an 'error' without a listener would crash the process; errors after 'ready' end in 'close' anyway
  client.on('error', (err: Error) => {
    live.lastError = err.message;
  });
  const markDown = (): void => {
    live.alive = false;
  };
  client.on('end', markDown);
  client.on('close', markDown);

  await new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: Error & { level?: string; code?: string }): void => {
      cleanup();
      client.end();
      reject(refusal ?? errs.classify(err, keys.map((k) => k.file), o.agent !== undefined));
    };
    const onClose = (): void => {
      cleanup();
      reject(refusal ?? errs.fail('unreachable', `${ep.label} closed the connection before SSH was ready`));
    };
    const cleanup = (): void => {
      client.off('ready', onReady);
      client.off('error', onError);
      client.off('close', onClose);
    };
    client.on('ready', onReady);
    client.on('error', onError);
    client.on('close', onClose);
    // Nagle off: every command is a few small packets each way (channel open, exec, exit status,
    // close), and with Nagle each exchange waited out the peer's delayed ACK, about 40 ms per
    // command and per handshake round. Through a jump host or a proxy command: a no-op there.
    client.once('connect', () => client.setNoDelay(true));
    try {
      client.connect(config);
    } catch (err) {
      cleanup();
      reject(errs.fail('protocol', `cannot connect to ${ep.label}: ${(err as Error).message}`));
    }
  });
  return live;
}

export async function endClient(live: Live | undefined): Promise<void> {
  if (!live) return;
  if (!live.alive) return;
  await new Promise<void>((resolve) => {
    const t = setTimeout(() => {
      live.client.destroy();
      resolve();
    }, 3000);
    live.client.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    live.client.end();
  });
}
