/**
 * One remote command on one session channel: output capped, a timeout that asks sshd to KILL the
 * command, and a careful answer to a connection lost under it.
 */
import type { ClientChannel } from 'ssh2';
import type { FileSink } from './filesink.js';
import type { Live } from './handshake.js';

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

export type ChannelOutcome =
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
  stdin?: string | Buffer | (() => NodeJS.ReadableStream);
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
export const CHANNEL_OPEN_RETRIES = 3;
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
export function runChannel(live: Live, command: string, req: ChannelRequest): ChannelRun {
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
      if (typeof req.stdin === 'function') {
        // a local read that fails ends the command's stdin early: the remote side sees a short copy
        const src = req.stdin();
        src.on('error', () => stream.end());
        src.pipe(stream);
      } else if (req.stdin !== undefined) stream.end(req.stdin);
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
