/**
 * One SSH connection per node (ssh2), reused for every command of a run: keepalives, a cap on concurrent
 * channels, per-command timeouts, and a careful answer to a dropped connection. The parts live beside it:
 * options.ts (what callers set), attempt.ts (the endpoint and its error factory), handshake.ts (host keys
 * and auth), route.ts (jump hosts, ProxyCommand), channel.ts (one command), filesink.ts (downloads).
 */
import pRetry, { AbortError } from 'p-retry';
import type { NodeSpec } from '../inventory/types.js';
import { BastionWriteError, errCode, isWriteFailure } from '../util/bastion-fs.js';
import { ApplyError } from '../util/errors.js';
import { scrub } from '../util/secrets.js';
import { AttemptErrors, routeLabel, type Endpoint } from './attempt.js';
import { CHANNEL_OPEN_RETRIES, runChannel } from './channel.js';
import { buildCommand, isSudoPasswordPrompt } from './command.js';
import { ConnectFailedError, ConnectionLostError, HostKeyError, SudoPasswordError } from './errors.js';
import { FileSink } from './filesink.js';
import { connectOnce, endClient, type Live } from './handshake.js';
import { resolveOptions, type ConnectOptions, type Resolved } from './options.js';
import { JumpConnections, nodeEndpoint, openSocket } from './route.js';
import { Semaphore } from './semaphore.js';
import type { DownloadOptions, ExecOptions, ExecResult, NodeConnection } from './types.js';

export type { ConnectionEvent, ConnectOptions, ExecEvent } from './options.js';
export { JumpConnections } from './route.js';

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
    return this.endpoint.label;
  }

  /** where the connection goes, and through what */
  get endpoint(): Endpoint {
    return nodeEndpoint(this.spec);
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
    const ep = this.endpoint;
    const via = routeLabel(ep);
    return pRetry(
      async (attempt) => {
        try {
          // one error factory per attempt: it names the node and the endpoint in every message
          const errs = new AttemptErrors(this.node, ep, false);
          const sock = await openSocket(this.node, ep, this.o, this.jumps, errs);
          const live = await connectOnce(ep, this.o, errs, sock);
          this.o.onEvent({ type: 'connected', node: this.node, target: ep.label, ...(via ? { via } : {}), attempt, reconnect });
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
    const { result, sink } = await this.run(command, execOpts, become, async () => {
      const s = await FileSink.create(localPath);
      opts.onFile?.(s);
      return s;
    });
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

