/**
 * One SSH connection per node (ssh2), reused for every command of a run: host keys checked against
 * known_hosts, key file and/or ssh-agent auth, an optional jump host, keepalives, a cap on concurrent
 * channels, per-command timeouts, and a careful answer to a dropped connection.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BastionWriteError, errCode, isWriteFailure } from '../util/bastion-fs.js';
import { ftruncate as ftruncateFd, close as fsClose, createWriteStream, fsync as fsFsync, open as fsOpen, type WriteStream } from 'node:fs';
import { chmod, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { promisify } from 'node:util';
import pRetry, { AbortError } from 'p-retry';
import ssh2 from 'ssh2';
import type { Client as SshClient, ClientChannel, ConnectConfig, ServerHostKeyAlgorithm } from 'ssh2';
import type { JumpHost, NodeSpec } from '../inventory/types.js';
import { ApplyError } from '../util/errors.js';
import { registerSecret, scrub } from '../util/secrets.js';
import { buildCommand, hostKeyAlgorithmOrder, isSudoPasswordPrompt } from './command.js';
import { ConnectFailedError, ConnectionLostError, HostKeyError, SudoPasswordError, type SshTarget } from './errors.js';
import { appendKnownHost, checkHostKey, fingerprint, keyTypeOfBlob, knownKeyTypes, readKnownHosts, type KnownHostsDb } from './knownhosts.js';
import { Semaphore } from './semaphore.js';
import type { DownloadOptions, ExecOptions, ExecResult, NodeConnection } from './types.js';

const { Client, utils } = ssh2;

/** Emitted once per remote command, whatever its outcome; `command` is already scrubbed. */
export interface ExecEvent {
  node: string;
  command: string;
  code: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** set when the command did not run to an exit status (the connection dropped) */
  error?: string;
}

export type ConnectionEvent =
  | { type: 'connected'; node: string; target: string; via?: string; attempt: number; reconnect: boolean }
  | { type: 'connect-attempt-failed'; node: string; attempt: number; retriesLeft: number; error: string }
  | { type: 'host-key-recorded'; node: string; host: string; port: number; keyType: string; fingerprint: string; file: string }
  | { type: 'connection-lost'; node: string; error?: string };

export interface ConnectOptions {
  /** record host keys not yet in known_hosts instead of refusing them (a changed key is refused anyway) */
  acceptNewHostKeys?: boolean;
  /** passphrase of encrypted identity files; default: env ETCD_DR_SSH_PASSPHRASE. Never logged. */
  passphrase?: string;
  /** where SSH_AUTH_SOCK and ETCD_DR_SSH_PASSPHRASE are read; default process.env */
  env?: NodeJS.ProcessEnv;
  onExec?: (e: ExecEvent) => void;
  onEvent?: (e: ConnectionEvent) => void;
  /** concurrent channels per connection (default 8; OpenSSH's MaxSessions defaults to 10) */
  maxChannels?: number;
  /** default cap of stdout and of stderr per command, bytes (default 64 MiB) */
  maxOutputBytes?: number;
  /** connection attempts before giving up on a node (default 3) */
  connectAttempts?: number;
  /** first back-off between attempts, doubled each time (default 1000 ms) */
  retryMinTimeoutMs?: number;
  /** default 5000 ms */
  keepaliveIntervalMs?: number;
  /** unanswered keepalives before the connection counts as dead (default 3) */
  keepaliveCountMax?: number;
  /** connections to jump hosts shared by the nodes of one run; connectNode makes its own when absent */
  jumps?: JumpConnections;
}

interface Resolved {
  acceptNewHostKeys: boolean;
  passphrase: string | undefined;
  agent: string | undefined;
  onExec: (e: ExecEvent) => void;
  onEvent: (e: ConnectionEvent) => void;
  maxChannels: number;
  maxOutputBytes: number;
  connectAttempts: number;
  retryMinTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
}

const MIB = 1024 * 1024;

function resolveOptions(o: ConnectOptions): Resolved {
  const env = o.env ?? process.env;
  const passphrase = o.passphrase ?? (env.ETCD_DR_SSH_PASSPHRASE || undefined);
  if (passphrase !== undefined) registerSecret(passphrase);
  return {
    acceptNewHostKeys: o.acceptNewHostKeys ?? false,
    passphrase,
    agent: env.SSH_AUTH_SOCK || undefined,
    onExec: o.onExec ?? (() => {}),
    onEvent: o.onEvent ?? (() => {}),
    maxChannels: o.maxChannels ?? 8,
    maxOutputBytes: o.maxOutputBytes ?? 64 * MIB,
    connectAttempts: o.connectAttempts ?? 3,
    retryMinTimeoutMs: o.retryMinTimeoutMs ?? 1000,
    keepaliveIntervalMs: o.keepaliveIntervalMs ?? 5000,
    keepaliveCountMax: o.keepaliveCountMax ?? 3,
  };
}

/** What one connection attempt needs to know about where it goes. */
interface Endpoint extends SshTarget {
  identityFile?: string;
  knownHostsFile: string;
  /** seconds */
  connectTimeout: number;
}

/** A connected client and whether it is still up. */
interface Live {
  client: SshClient;
  alive: boolean;
  /** the last error ssh2 reported on it (why it went down) */
  lastError?: string;
}

function endpointLabel(user: string, host: string, port: number): string {
  return `${user}@${host.includes(':') ? `[${host}]` : host}:${port}`;
}

async function loadIdentity(node: string, file: string, passphrase: string | undefined, viaJump: boolean): Promise<Buffer> {
  const what = viaJump ? 'the jump host identity file' : 'identity file';
  let data: Buffer;
  try {
    data = await readFile(file);
  } catch (err) {
    throw new ConnectFailedError(node, 'key-file', `cannot read ${what} ${file}: ${(err as Error).message}`, 'fix ssh.identityFile in the inventory (or leave it out to use ssh-agent)', viaJump);
  }
  const parsed = utils.parseKey(data, passphrase);
  if (parsed instanceof Error) {
    const m = parsed.message;
    if (/no passphrase given/i.test(m)) {
      throw new ConnectFailedError(
        node,
        'key-file',
        `${what} ${file} is encrypted and no passphrase was given`,
        'set ETCD_DR_SSH_PASSPHRASE in the environment, or load the key into ssh-agent (ssh-add) and leave identityFile out',
        viaJump,
      );
    }
    if (/passphrase/i.test(m)) {
      throw new ConnectFailedError(node, 'key-file', `the passphrase does not decrypt ${what} ${file}`, 'check ETCD_DR_SSH_PASSPHRASE', viaJump);
    }
    throw new ConnectFailedError(node, 'key-file', `${what} ${file} is not a private key etcd-dr can use: ${m}`, 'point ssh.identityFile at an OpenSSH or PEM private key', viaJump);
  }
  return data;
}

/**
 * One connection attempt to one endpoint (the node, or its jump host), over `sock` when given. Fails
 * with HostKeyError or ConnectFailedError; never retries by itself.
 */
async function connectOnce(node: string, ep: Endpoint, o: Resolved, viaJump: boolean, sock?: Duplex): Promise<Live> {
  const privateKey = ep.identityFile ? await loadIdentity(node, ep.identityFile, o.passphrase, viaJump) : undefined;
  if (!privateKey && !o.agent) {
    throw new ConnectFailedError(
      node,
      'auth',
      `no way to authenticate to ${ep.label}: no identity file is set and SSH_AUTH_SOCK is empty`,
      'set ssh.identityFile in the inventory, or start ssh-agent and add a key (ssh-add)',
      viaJump,
    );
  }
  let db: KnownHostsDb;
  try {
    db = await readKnownHosts(ep.knownHostsFile);
  } catch (err) {
    throw new ConnectFailedError(node, 'known-hosts', (err as Error).message, 'fix ssh.knownHostsFile in the inventory or the file permissions', viaJump);
  }

  const client = new Client();
  const live: Live = { client, alive: true };
  let refusal: HostKeyError | ConnectFailedError | undefined;

  const hostVerifier = (key: Buffer, verify: (ok: boolean) => void): void => {
    const keyType = keyTypeOfBlob(key);
    if (keyType === undefined) {
      refusal = new ConnectFailedError(node, 'protocol', `${ep.label} presented a malformed host key`, undefined, viaJump);
      return verify(false);
    }
    const check = checkHostKey(db, ep.host, ep.port, keyType, key);
    if (check.status === 'match') return verify(true);
    // a host whose recorded key type is no longer offered is not simply new: someone else may be
    // answering with a key of another type, so that case is never accepted blindly
    if (check.status === 'unknown' && o.acceptNewHostKeys && !check.otherKnownTypes) {
      appendKnownHost(ep.knownHostsFile, ep.host, ep.port, keyType, key.toString('base64')).then(
        () => {
          o.onEvent({ type: 'host-key-recorded', node, host: ep.host, port: ep.port, keyType, fingerprint: fingerprint(key), file: ep.knownHostsFile });
          verify(true);
        },
        (err: Error) => {
          refusal = new ConnectFailedError(node, 'known-hosts', `cannot record the host key of ${ep.host}:${ep.port} in ${ep.knownHostsFile}: ${err.message}`, undefined, viaJump);
          verify(false);
        },
      );
      return;
    }
    refusal = new HostKeyError(node, ep, { ...check, status: check.status }, ep.knownHostsFile, viaJump);
    verify(false);
  };

  const config: ConnectConfig = {
    host: ep.host,
    port: ep.port,
    username: ep.user,
    readyTimeout: ep.connectTimeout * 1000,
    keepaliveInterval: o.keepaliveIntervalMs,
    keepaliveCountMax: o.keepaliveCountMax,
    algorithms: { serverHostKey: hostKeyAlgorithmOrder(knownKeyTypes(db, ep.host, ep.port)) as ServerHostKeyAlgorithm[] },
    hostVerifier,
    ...(privateKey ? { privateKey, ...(o.passphrase !== undefined ? { passphrase: o.passphrase } : {}) } : {}),
    ...(o.agent ? { agent: o.agent } : {}),
    // only the methods etcd-dr has: ssh2 would first try "none", one more round trip on every connection
    authHandler: [...(privateKey ? (['publickey'] as const) : []), ...(o.agent ? (['agent'] as const) : [])],
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
      reject(refusal ?? classify(node, ep, err, privateKey !== undefined, o.agent !== undefined, viaJump));
    };
    const onClose = (): void => {
      cleanup();
      reject(refusal ?? new ConnectFailedError(node, 'unreachable', `${ep.label} closed the connection before SSH was ready`, undefined, viaJump));
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
    // command and per handshake round. Through a jump host the socket is a channel: a no-op there.
    client.once('connect', () => client.setNoDelay(true));
    try {
      client.connect(config);
    } catch (err) {
      cleanup();
      reject(new ConnectFailedError(node, 'protocol', `cannot connect to ${ep.label}: ${(err as Error).message}`, undefined, viaJump));
    }
  });
  return live;
}

function classify(
  node: string,
  ep: Endpoint,
  err: Error & { level?: string; code?: string },
  usedKey: boolean,
  usedAgent: boolean,
  viaJump: boolean,
): ConnectFailedError {
  const what = viaJump ? `jump host ${ep.label}` : ep.label;
  if (err.level === 'client-authentication') {
    const tried = [usedKey ? `key ${ep.identityFile}` : undefined, usedAgent ? 'the keys in ssh-agent' : undefined].filter(Boolean).join(' and ');
    return new ConnectFailedError(
      node,
      'auth',
      `${what} refused authentication as ${ep.user} (tried ${tried})`,
      `make sure the matching public key is in ~${ep.user}/.ssh/authorized_keys on ${ep.host} and that ${ep.user} may log in`,
      viaJump,
    );
  }
  if (err.level === 'client-timeout') {
    return new ConnectFailedError(node, 'timeout', `no SSH handshake with ${what} within ${ep.connectTimeout} s`, `check that sshd runs on ${ep.host}:${ep.port}, or raise ssh.connectTimeout`, viaJump);
  }
  if (err.level === 'client-socket') {
    return new ConnectFailedError(node, 'unreachable', `cannot reach ${what}: ${err.message}`, `check that ${ep.host} is up and sshd listens on port ${ep.port}`, viaJump);
  }
  return new ConnectFailedError(node, 'protocol', `SSH with ${what} failed: ${err.message}`, undefined, viaJump);
}

function forwardOut(jump: SshClient, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    try {
      jump.forwardOut('127.0.0.1', 0, host, port, (err, stream) => (err ? reject(err) : resolve(stream)));
    } catch (err) {
      reject(err as Error);
    }
  });
}

function jumpEndpoint(jump: JumpHost, spec: NodeSpec): Endpoint {
  return {
    label: endpointLabel(jump.user, jump.host, jump.port),
    host: jump.host,
    port: jump.port,
    user: jump.user,
    ...(jump.identityFile !== undefined ? { identityFile: jump.identityFile } : {}),
    knownHostsFile: spec.ssh.knownHostsFile,
    connectTimeout: spec.ssh.connectTimeout,
  };
}

/**
 * Connections to jump hosts, one per (jump host, user, key, known_hosts file) and shared by every node
 * behind it. A jump connection that drops is forgotten, and the next node connection makes a new one.
 */
export class JumpConnections {
  private readonly pending = new Map<string, Promise<Live>>();

  async get(node: string, spec: NodeSpec, jump: JumpHost, o: Resolved): Promise<SshClient> {
    const ep = jumpEndpoint(jump, spec);
    const key = JSON.stringify([ep.label, ep.identityFile ?? '', ep.knownHostsFile]);
    let p = this.pending.get(key);
    if (p) {
      const live = await p.catch(() => undefined);
      if (!live || !live.alive) {
        if (this.pending.get(key) === p) this.pending.delete(key);
        p = undefined;
      }
    }
    if (!p) {
      p = connectOnce(node, ep, o, true);
      this.pending.set(key, p);
      const mine = p;
      p.then(
        (live) => live.client.on('close', () => this.pending.get(key) === mine && this.pending.delete(key)),
        () => this.pending.get(key) === mine && this.pending.delete(key),
      );
    }
    try {
      return (await p).client;
    } catch (err) {
      // the failure may have been met on behalf of another node behind the same jump host
      if (err instanceof HostKeyError || err instanceof ConnectFailedError) throw err.node === node ? err : err.forNode(node);
      throw err;
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pending.values()];
    this.pending.clear();
    await Promise.all(all.map(async (p) => endClient(await p.catch(() => undefined))));
  }
}

async function endClient(live: Live | undefined): Promise<void> {
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

/** Collects a stream's bytes up to a cap; what comes after is dropped and flagged. */
class OutputBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly max: number) {}
  push(c: Buffer): void {
    const room = this.max - this.size;
    if (c.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = c.length > room ? c.subarray(0, room) : c;
    this.chunks.push(part);
    this.size += part.length;
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

const openFd = promisify(fsOpen);
const fsyncFd = promisify(fsFsync);
const closeFd = promisify(fsClose);

/**
 * Where a download's bytes go: a temp file next to the destination (`.<name>.<random>.part`), hashed as
 * it is written. The temp files an earlier, interrupted download to the same destination left (a killed
 * process cannot discard its own) are removed first: one destination has one download at a time.
 */
class FileSink {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private fdOpen = true;
  /** the first failed write (a full disk): the rest of the stream is read and dropped, commit throws it */
  failed: NodeJS.ErrnoException | undefined;
  private constructor(
    // a plain descriptor, not a FileHandle: FileHandle.close() waits for a write stream made from it to
    // close, and with autoClose off (we fsync before closing) it never does
    private readonly fd: number,
    private readonly ws: WriteStream,
    readonly tmp: string,
  ) {}

  static async create(localPath: string): Promise<FileSink> {
    const dir = dirname(localPath);
    const prefix = `.${basename(localPath)}.`;
    const stale = (await readdir(dir)).filter((f) => f.startsWith(prefix) && f.endsWith('.part'));
    await Promise.all(stale.map((f) => unlink(join(dir, f)).catch(() => undefined)));
    const tmp = join(dir, `${prefix}${randomBytes(6).toString('hex')}.part`);
    const fd = await openFd(tmp, 'wx', 0o600);
    const sink = new FileSink(fd, createWriteStream('', { fd, autoClose: false }), tmp);
    // a write error (ENOSPC) is kept and reported by commit, never an unhandled 'error' event
    sink.ws.on('error', (e: NodeJS.ErrnoException) => {
      if (sink.failed) return;
      sink.failed = e;
      // the bytes written so far are no use: give their room back at once (the journal shares that disk)
      if (sink.fdOpen) ftruncateFd(fd, 0, () => undefined);
    });
    return sink;
  }

  /** false when the caller should wait for `onDrain` */
  write(chunk: Buffer): boolean {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    if (this.failed || this.ws.destroyed) return true;
    return this.ws.write(chunk);
  }

  onDrain(cb: () => void): void {
    if (this.failed) return cb();
    const go = (): void => {
      this.ws.off('drain', go);
      this.ws.off('error', go);
      cb();
    };
    this.ws.once('drain', go);
    this.ws.once('error', go);
  }

  private async flush(): Promise<void> {
    if (this.failed) throw this.failed;
    if (this.ws.writableFinished) return;
    await new Promise<void>((resolve, reject) => {
      this.ws.once('error', reject);
      this.ws.end(() => resolve());
    });
  }

  private async closeFd(): Promise<void> {
    if (!this.fdOpen) return;
    this.fdOpen = false;
    await closeFd(this.fd);
  }

  /** fsync, set the mode, rename over the destination, fsync the directory */
  async commit(localPath: string, mode: number): Promise<{ bytes: number; sha256: string }> {
    try {
      await this.flush();
      await fsyncFd(this.fd);
    } finally {
      await this.closeFd();
    }
    if (mode !== 0o600) await chmod(this.tmp, mode);
    await rename(this.tmp, localPath);
    const dirFd = await openFd(dirname(localPath), 'r');
    try {
      await fsyncFd(dirFd);
    } finally {
      await closeFd(dirFd);
    }
    return { bytes: this.bytes, sha256: this.hash.digest('hex') };
  }

  async discard(): Promise<void> {
    await this.flush().catch(() => {});
    await this.closeFd().catch(() => {});
    await unlink(this.tmp).catch(() => {});
  }
}

type ChannelOutcome =
  | {
      kind: 'done';
      code: number | null;
      signal: string | null;
      stdout: string;
      stderr: string;
      stdoutTruncated: boolean;
      stderrTruncated: boolean;
      timedOut: boolean;
      /** timed out and the server has not closed the channel (the session's command has not exited) */
      stillOpen: boolean;
      durationMs: number;
    }
  | { kind: 'lost'; durationMs: number; started: boolean; error: string }
  /** the server would not open a session channel: the command never started */
  | { kind: 'refused'; error: string };

interface ChannelRequest {
  timeoutMs: number;
  stdin?: string | Buffer;
  maxOutputBytes: number;
  sink?: FileSink;
}

interface ChannelRun {
  outcome: Promise<ChannelOutcome>;
  /**
   * settles when the server has let go of the session (the channel closed, or the connection went):
   * after a timeout that is later than `outcome`, and the session still counts against MaxSessions
   */
  released: Promise<void>;
}

/** after a KILL and close on timeout, how long to wait for the server to confirm the command ended */
const KILL_GRACE_MS = 1000;
/** how many times a refused session channel is asked for again before the command fails */
const CHANNEL_OPEN_RETRIES = 3;
/** how long a channel that closed without an exit status waits to learn whether the connection died */
const LOSS_SETTLE_MS = 250;

/** The ssh2 internals `sendSignal` needs; checked at run time, since they are not part of its API. */
interface ChannelInternals {
  outgoing?: { id?: number; state?: string };
  _client?: { _protocol?: { signal?: (id: number, name: string) => void } };
}

/**
 * Asks sshd to signal the command; sshd turns it into killpg() of the session's process group, as the
 * login user. So it works for commands of a non-root login only: sshd refuses signals in sessions of a
 * root login (no privilege separation after auth), and a user cannot kill what sudo runs as root.
 * ssh2's `channel.signal()` stays silent once our side sent EOF, and every command gets EOF on stdin at
 * once, so the request goes through the protocol object directly while the channel is still open.
 */
function sendSignal(stream: ClientChannel, name: string): void {
  const ch = stream as unknown as ChannelInternals;
  const state = ch.outgoing?.state;
  const send = ch._client?._protocol?.signal;
  try {
    if (typeof send === 'function' && typeof ch.outgoing?.id === 'number' && (state === 'open' || state === 'eof')) {
      send.call(ch._client!._protocol, ch.outgoing.id, name);
    } else {
      stream.signal(name);
    }
  } catch {
    // the channel is already closing
  }
}

/**
 * Runs one command on one channel. `outcome` settles on the channel's `close` (where the exit status has
 * arrived), on a timeout (after asking sshd to KILL the command and closing the channel), or when the
 * connection is lost under it.
 */
function runChannel(live: Live, command: string, req: ChannelRequest): ChannelRun {
  let markReleased!: () => void;
  const released = new Promise<void>((r) => (markReleased = r));
  const onClientGone = (): void => markReleased();
  live.client.once('close', onClientGone);
  void released.then(() => live.client.off('close', onClientGone));

  const outcome = new Promise<ChannelOutcome>((resolve) => {
    const t0 = performance.now();
    const elapsed = (): number => Math.round(performance.now() - t0);
    const out = new OutputBuffer(req.maxOutputBytes);
    const err = new OutputBuffer(req.maxOutputBytes);
    let code: number | null | undefined;
    let signal: string | null = null;
    let timedOut = false;
    let channelClosed = false;
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;

    const finish = (o: ChannelOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(grace);
      resolve(o);
    };
    const done = (): void =>
      finish({
        kind: 'done',
        code: timedOut ? null : (code ?? null),
        signal,
        stdout: out.text(),
        stderr: err.text(),
        stdoutTruncated: out.truncated,
        stderrTruncated: err.truncated,
        timedOut,
        stillOpen: timedOut && !channelClosed,
        durationMs: elapsed(),
      });
    const lost = (started: boolean): void =>
      finish({ kind: 'lost', durationMs: elapsed(), started, error: live.lastError ?? 'the connection closed' });

    const onStream = (stream: ClientChannel): void => {
      if (Number.isFinite(req.timeoutMs)) {
        timer = setTimeout(() => {
          timedOut = true;
          sendSignal(stream, 'KILL');
          try {
            stream.close();
          } catch {
            // already closing
          }
          // sshd confirms the close only once the command has exited; do not wait longer for it
          grace = setTimeout(done, KILL_GRACE_MS);
        }, req.timeoutMs);
      }
      stream.on('exit', (c: number | null, sig?: string) => {
        if (typeof c === 'number') code = c;
        else {
          code = null;
          signal = sig ?? null;
        }
      });
      stream.on('data', (chunk: Buffer) => {
        if (!req.sink) return out.push(chunk);
        if (!req.sink.write(chunk)) {
          stream.pause();
          req.sink.onDrain(() => stream.resume());
        }
      });
      stream.stderr.on('data', (chunk: Buffer) => err.push(chunk));
      stream.on('error', (e: Error) => {
        live.lastError = e.message;
      });
      stream.on('close', () => {
        channelClosed = true;
        markReleased();
        if (timedOut || code !== undefined) return done();
        // no exit status: either the connection died under us, or the server closed the channel
        const decide = (): void => (live.alive ? done() : lost(true));
        if (!live.alive) return decide();
        const onDown = (): void => {
          clearTimeout(wait);
          decide();
        };
        const wait = setTimeout(() => {
          live.client.off('close', onDown);
          decide();
        }, LOSS_SETTLE_MS);
        live.client.once('close', onDown);
      });
      if (req.stdin !== undefined) stream.end(req.stdin);
      else stream.end();
    };

    try {
      live.client.exec(command, { pty: false }, (e, stream) => {
        if (e) {
          markReleased();
          if (!live.alive) return lost(true);
          return finish({ kind: 'refused', error: e.message });
        }
        onStream(stream);
      });
    } catch (e) {
      // ssh2 throws synchronously when the connection is already gone: nothing was sent
      markReleased();
      live.lastError = (e as Error).message;
      lost(false);
    }
  });
  return { outcome, released };
}

/** The NodeConnection over ssh2. Build it with `connectNode` (or a Transport). */
export class SshConnection implements NodeConnection {
  readonly node: string;
  private live: Live | undefined;
  private connecting: Promise<Live> | undefined;
  private closed = false;
  private readonly channels: Semaphore;
  /** successful connects so far (1 + reconnects) */
  connectCount = 0;

  constructor(
    readonly spec: NodeSpec,
    private readonly o: Resolved,
    private readonly jumps: JumpConnections,
    private readonly ownsJumps: boolean,
  ) {
    this.node = spec.name;
    this.channels = new Semaphore(o.maxChannels);
  }

  /** the most channels that were open at once */
  get peakChannels(): number {
    return this.channels.peak;
  }

  /** the target `user@host:port` */
  get target(): string {
    return endpointLabel(this.spec.ssh.user, this.host, this.spec.ssh.port);
  }

  private get host(): string {
    return this.spec.ssh.sshHost ?? this.spec.address;
  }

  /** connects (with retries) unless a live connection exists; concurrent callers share one attempt */
  async ensureConnected(): Promise<void> {
    await this.ensureLive();
  }

  private ensureLive(): Promise<Live> {
    if (this.closed) return Promise.reject(new ApplyError(`${this.node}: the SSH connection was already closed`));
    if (this.live?.alive) return Promise.resolve(this.live);
    if (!this.connecting) {
      const reconnect = this.live !== undefined;
      this.connecting = this.connectWithRetry(reconnect).then(
        (live) => {
          this.connecting = undefined;
          this.live = live;
          this.connectCount++;
          live.client.on('close', () => {
            if (!this.closed) this.o.onEvent({ type: 'connection-lost', node: this.node, ...(live.lastError ? { error: scrub(live.lastError) } : {}) });
          });
          if (this.closed) void endClient(live);
          return live;
        },
        (err: unknown) => {
          this.connecting = undefined;
          throw err;
        },
      );
    }
    return this.connecting;
  }

  private async connectWithRetry(reconnect: boolean): Promise<Live> {
    const s = this.spec.ssh;
    const ep: Endpoint = {
      label: this.target,
      host: this.host,
      port: s.port,
      user: s.user,
      ...(s.identityFile !== undefined ? { identityFile: s.identityFile } : {}),
      knownHostsFile: s.knownHostsFile,
      connectTimeout: s.connectTimeout,
    };
    return pRetry(
      async (attempt) => {
        try {
          let sock: Duplex | undefined;
          if (s.jumpHost) {
            const jump = await this.jumps.get(this.node, this.spec, s.jumpHost, this.o);
            try {
              sock = await forwardOut(jump, ep.host, ep.port);
            } catch (err) {
              throw new ConnectFailedError(
                this.node,
                'unreachable',
                `jump host ${jumpEndpoint(s.jumpHost, this.spec).label} cannot open a connection to ${ep.host}:${ep.port}: ${(err as Error).message}`,
                `check that ${ep.host}:${ep.port} is reachable from the jump host and that its sshd allows TCP forwarding`,
              );
            }
          }
          const live = await connectOnce(this.node, ep, this.o, false, sock);
          this.o.onEvent({
            type: 'connected',
            node: this.node,
            target: ep.label,
            ...(s.jumpHost ? { via: jumpEndpoint(s.jumpHost, this.spec).label } : {}),
            attempt,
            reconnect,
          });
          return live;
        } catch (err) {
          if (err instanceof HostKeyError || (err instanceof ConnectFailedError && err.permanent)) throw new AbortError(err);
          throw err;
        }
      },
      {
        retries: this.o.connectAttempts - 1,
        minTimeout: this.o.retryMinTimeoutMs,
        factor: 2,
        onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
          this.o.onEvent({ type: 'connect-attempt-failed', node: this.node, attempt: attemptNumber, retriesLeft, error: scrub(error.message) });
        },
      },
    );
  }

  exec(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const become = opts.become ?? this.spec.ssh.become;
    return this.run(buildCommand({ argv }, become), opts, become).then((r) => r.result);
  }

  sh(script: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const become = opts.become ?? this.spec.ssh.become;
    return this.run(buildCommand({ script }, become), opts, become).then((r) => r.result);
  }

  /**
   * Streams the remote file through `cat` (through sudo when become applies, which sftp could not do)
   * into a 0600 temp file next to `localPath`, hashing on the way; fsync, then rename. A read is
   * idempotent, so a dropped connection is retried once with a fresh temp file.
   */
  async download(remotePath: string, localPath: string, opts: DownloadOptions = {}): Promise<{ bytes: number; sha256: string }> {
    const become = opts.become ?? this.spec.ssh.become;
    const command = buildCommand({ argv: ['cat', '--', remotePath] }, become);
    const execOpts: ExecOptions = { retryOnDisconnect: true, ...(opts.timeout !== undefined ? { timeout: opts.timeout } : {}) };
    const { result, sink } = await this.run(command, execOpts, become, () => FileSink.create(localPath));
    if (!sink) throw new ApplyError(`${this.node}: downloading ${remotePath} produced no file`);
    if (result.code !== 0) {
      await sink.discard();
      const why = result.timedOut ? `timed out after ${result.durationMs} ms` : `\`${result.command}\` exited ${result.code ?? `on signal ${result.signal}`}: ${result.stderr.trim()}`;
      throw new ApplyError(scrub(`${this.node}: downloading ${remotePath} failed: ${why}`), result.timedOut ? 'raise the timeout for large files' : undefined);
    }
    try {
      return await sink.commit(localPath, opts.mode ?? 0o600);
    } catch (err) {
      await sink.discard();
      if (isWriteFailure(err)) throw new BastionWriteError(localPath, errCode(err)!, `the copy of ${this.node}:${remotePath}`, { needBytes: sink.bytes, detail: (err as Error).message });
      throw new ApplyError(scrub(`${this.node}: cannot write the download of ${remotePath} to ${localPath}: ${(err as Error).message}`));
    }
  }

  private async run(
    command: string,
    opts: ExecOptions,
    become: boolean,
    makeSink?: () => Promise<FileSink>,
  ): Promise<{ result: ExecResult; sink?: FileSink }> {
    const shown = scrub(command);
    const timeoutS = opts.timeout ?? this.spec.ssh.commandTimeout;
    const req = {
      timeoutMs: timeoutS > 0 ? timeoutS * 1000 : Infinity,
      maxOutputBytes: opts.maxOutputBytes ?? this.o.maxOutputBytes,
      ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}),
    };
    const release = await this.channels.acquire();
    // a command that outlived its timeout keeps its slot until sshd lets go of its session, so the
    // cap keeps matching what the server counts against MaxSessions
    let releaseWith: Promise<void> | undefined;
    try {
      let refusals = 0;
      for (let attempt = 1; ; attempt++) {
        const live = await this.ensureLive();
        const sink = makeSink ? await makeSink() : undefined;
        const run = runChannel(live, command, { ...req, ...(sink ? { sink } : {}) });
        const r = await run.outcome;
        if (r.kind === 'refused') {
          await sink?.discard();
          // sshd frees a closed session a moment after it says so, and other clients may share its
          // MaxSessions budget: the command never started, so trying again shortly is safe
          if (++refusals <= CHANNEL_OPEN_RETRIES) {
            attempt--;
            await new Promise((res) => setTimeout(res, 200 * refusals));
            continue;
          }
          this.o.onExec({ node: this.node, command: shown, code: null, signal: null, durationMs: 0, timedOut: false, error: `no session channel: ${r.error}` });
          throw new ApplyError(
            scrub(`${this.node}: sshd refused to open a session for \`${shown}\` (${r.error}), ${refusals} times; the command did not run`),
            `sshd's MaxSessions (default 10) must allow ${this.o.maxChannels} sessions per connection; check MaxSessions in the node's sshd_config`,
          );
        }
        if (r.kind === 'done') {
          if (r.stillOpen) releaseWith = run.released;
          // under sudo the KILL (sent as the login user) cannot reach the root command, even when the
          // channel closes because sudo itself died
          const mayStillRun = r.timedOut && (r.stillOpen || become);
          const result: ExecResult = {
            command: shown,
            code: r.code,
            signal: r.signal,
            stdout: r.stdout,
            stderr: r.stderr,
            durationMs: r.durationMs,
            timedOut: r.timedOut,
            stdoutTruncated: r.stdoutTruncated,
            stderrTruncated: r.stderrTruncated,
            ...(r.timedOut ? { mayStillRun } : {}),
          };
          this.o.onExec({
            node: this.node,
            command: shown,
            code: r.code,
            signal: r.signal,
            durationMs: r.durationMs,
            timedOut: r.timedOut,
            ...(mayStillRun ? { error: 'timed out; the node did not confirm the command ended, it may still be running there' } : {}),
          });
          if (become && isSudoPasswordPrompt(result)) {
            await sink?.discard();
            throw new SudoPasswordError(this.node, this.spec.ssh.user, shown);
          }
          return sink ? { result, sink } : { result };
        }
        await sink?.discard();
        const detail = scrub(`${r.error} after ${r.durationMs} ms`);
        this.o.onExec({ node: this.node, command: shown, code: null, signal: null, durationMs: r.durationMs, timedOut: false, error: `connection lost: ${detail}` });
        let reconnected = false;
        try {
          await this.ensureLive();
          reconnected = true;
        } catch {
          // reported through the ConnectionLostError below; the next command tries again
        }
        // a command that never reached the server is safe to send again; one that may have run is not,
        // unless the caller declared it idempotent
        if (reconnected && attempt === 1 && (!r.started || opts.retryOnDisconnect)) continue;
        throw new ConnectionLostError(this.node, shown, reconnected, detail);
      }
    } finally {
      if (releaseWith) void releaseWith.then(release);
      else release();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = this.connecting;
    if (pending) await pending.catch(() => undefined);
    await endClient(this.live);
    if (this.ownsJumps) await this.jumps.closeAll();
  }
}

/**
 * Connects to one node (through its jump host when it has one), verifying host keys against its
 * known_hosts file. Throws HostKeyError (refused, exit 3) or ConnectFailedError.
 */
export async function connectNode(spec: NodeSpec, opts: ConnectOptions = {}): Promise<SshConnection> {
  const o = resolveOptions(opts);
  const conn = new SshConnection(spec, o, opts.jumps ?? new JumpConnections(), opts.jumps === undefined);
  try {
    await conn.ensureConnected();
  } catch (err) {
    await conn.close();
    throw err;
  }
  return conn;
}

