/**
 * How a connection reaches its node: directly, through a chain of jump hosts (each reached the same way
 * in turn, its own host key checked), or through a ProxyCommand whose stdin/stdout is the connection.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { Duplex } from 'node:stream';
import type { Client as SshClient } from 'ssh2';
import type { JumpHost, NodeSpec } from '../inventory/types.js';
import { AttemptErrors, endpointLabel, routeLabel, type Endpoint } from './attempt.js';
import { ConnectFailedError, HostKeyError } from './errors.js';
import { connectOnce, endClient, type Live } from './handshake.js';
import type { Resolved } from './resolved.js';

/** What an endpoint is made of, for a node (its ssh settings) and for a jump host alike. */
type Hop = Pick<JumpHost, 'user' | 'host' | 'port' | 'identityFile' | 'identityFiles' | 'hostKeyAlias' | 'jumpHost' | 'proxyCommand'>;

/** The node's endpoint, with its route. */
export function nodeEndpoint(spec: NodeSpec): Endpoint {
  const s = spec.ssh;
  const knownHostsFiles = [s.knownHostsFile, ...(s.knownHostsFiles ?? [])];
  return endpointOf({ ...s, host: s.sshHost }, knownHostsFiles, knownHostsFiles, s.connectTimeout);
}

/** A jump host's endpoint; without known_hosts files of its own it uses the node's. */
function hopEndpoint(j: JumpHost, nodeKnownHosts: string[], connectTimeout: number): Endpoint {
  const knownHostsFiles = j.knownHostsFiles && j.knownHostsFiles.length > 0 ? j.knownHostsFiles : nodeKnownHosts;
  return endpointOf(j, knownHostsFiles, nodeKnownHosts, connectTimeout);
}

function endpointOf(h: Hop, knownHostsFiles: string[], nodeKnownHosts: string[], connectTimeout: number): Endpoint {
  return {
    label: endpointLabel(h.user, h.host, h.port),
    host: h.host,
    port: h.port,
    user: h.user,
    identityFiles: [...(h.identityFile !== undefined ? [h.identityFile] : []), ...(h.identityFiles ?? [])],
    knownHostsFiles,
    ...(h.hostKeyAlias !== undefined ? { hostKeyAlias: h.hostKeyAlias } : {}),
    connectTimeout,
    ...(h.jumpHost ? { jump: hopEndpoint(h.jumpHost, nodeKnownHosts, connectTimeout) } : h.proxyCommand !== undefined ? { proxyCommand: h.proxyCommand } : {}),
  };
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

/** A ProxyCommand's stdio as one socket; ending or destroying it ends the command. */
class ProxySocket extends Duplex {
  /** the last of what the command said on stderr, for messages */
  stderr = '';
  /** true once the command passed on its first bytes (the host's SSH banner); false when it ended first */
  readonly spoke: Promise<boolean>;
  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    super();
    let said: (yes: boolean) => void = () => undefined;
    this.spoke = new Promise((res) => (said = res));
    child.stdout.on('data', (d: Buffer) => {
      said(true);
      if (!this.push(d)) child.stdout.pause();
    });
    child.stdout.on('end', () => {
      said(false);
      this.push(null);
    });
    child.stderr.on('data', (d: Buffer) => (this.stderr = (this.stderr + d.toString('utf8')).slice(-2000)));
    child.stdin.on('error', (e) => this.destroy(e));
    child.on('error', (e) => {
      said(false);
      this.destroy(e);
    });
    child.on('exit', () => said(false));
  }
  override _read(): void {
    this.child.stdout.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.child.stdin.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.child.stdin.end(cb);
  }
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
    cb(err);
  }
}

/** Runs the ProxyCommand as ssh does (`sh -c 'exec <command>'`), its tokens already expanded. */
function proxySocket(command: string): ProxySocket {
  const child = spawn('/bin/sh', ['-c', `exec ${command}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  return new ProxySocket(child);
}

/**
 * Connections to jump hosts, one per route to them and shared by every node behind it. A jump
 * connection that drops is forgotten, and the next node connection makes a new one.
 */
export class JumpConnections {
  private readonly pending = new Map<string, Promise<Live>>();

  /** the live client of the jump host `ep` (connected through its own route first) */
  async get(node: string, ep: Endpoint, o: Resolved): Promise<SshClient> {
    const key = JSON.stringify(ep);
    let p = this.pending.get(key);
    if (p) {
      const live = await p.catch(() => undefined);
      if (!live || !live.alive) {
        if (this.pending.get(key) === p) this.pending.delete(key);
        p = undefined;
      }
    }
    if (!p) {
      const errs = new AttemptErrors(node, ep, true);
      p = openSocket(node, ep, o, this, errs).then((sock) => connectOnce(ep, o, errs, sock));
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
    // the hops nearest the nodes first: an outer hop carries the inner ones' connections
    for (const p of all.reverse()) await endClient(await p.catch(() => undefined));
  }
}

/**
 * The socket an endpoint's handshake runs over: a channel forwarded by its jump host, a proxy command's
 * stdio, or none (ssh2 opens a TCP connection itself).
 */
export async function openSocket(node: string, ep: Endpoint, o: Resolved, jumps: JumpConnections, errs: AttemptErrors): Promise<Duplex | undefined> {
  if (ep.jump) {
    const jump = await jumps.get(node, ep.jump, o);
    try {
      return await forwardOut(jump, ep.host, ep.port);
    } catch (err) {
      throw errs.fail(
        'unreachable',
        `jump host ${ep.jump.label} cannot open a connection to ${ep.host}:${ep.port}: ${(err as Error).message}`,
        `check that ${ep.host}:${ep.port} is reachable from the jump host and that its sshd allows TCP forwarding`,
      );
    }
  }
  if (ep.proxyCommand !== undefined) {
    const sock = proxySocket(ep.proxyCommand);
    // a command that fails at once (not found, refused) says why on stderr: messages quote it
    errs.proxyOutput = () => sock.stderr.trim();
    // the command's own way to the host (often an ssh login to a bastion) gets the connect timeout of its
    // own, as each jump host of a chain does; the handshake with the host gets it once the host's banner
    // came through. One budget for both logins timed out on a loaded bastion and logged in again.
    let timer: NodeJS.Timeout | undefined;
    const spoke = await Promise.race([sock.spoke, new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), ep.connectTimeout * 1000)))]);
    clearTimeout(timer);
    if (spoke === 'timeout') {
      sock.destroy();
      throw errs.fail('timeout', `the ProxyCommand passed nothing from ${ep.host}:${ep.port} within ${ep.connectTimeout} s`, 'run the ProxyCommand by hand to see where it waits, or raise ssh.connectTimeout');
    }
    // a command that ended without a word: the handshake reports it with what the command said
    return sock;
  }
  return undefined;
}

export { routeLabel };
