/**
 * Progress of a run, rendered from the executor's events: on a terminal a live list of the steps with
 * their state and elapsed time, with log lines printed above it; in CI (CI=true), without a TTY and on
 * TERM=dumb one plain line per event. The executor only emits events, so both views come from the same run.
 */
import { Writable } from 'node:stream';

export type StepState = 'pending' | 'running' | 'done' | 'skipped' | 'failed';

export interface ProgressEvent {
  type: 'step-start' | 'step-done' | 'step-failed' | 'note';
  step?: string;
  title?: string;
  detail?: string;
  ms?: number;
}

export interface ProgressSink {
  start(steps: { id: string; title: string; done: boolean }[]): void;
  event(e: ProgressEvent): void;
  stop(): void;
}

const fmt = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

export class PlainProgress implements ProgressSink {
  private readonly t0 = Date.now();
  constructor(private readonly out: NodeJS.WritableStream) {}
  start(steps: { id: string; title: string; done: boolean }[]): void {
    const done = steps.filter((s) => s.done).length;
    this.out.write(`etcd-dr: ${steps.length} steps${done ? `, ${done} already done (resuming)` : ''}\n`);
  }
  event(e: ProgressEvent): void {
    const at = `+${fmt(Date.now() - this.t0)}`;
    if (e.type === 'step-start') this.out.write(`${at} start ${e.step} ${e.title ?? ''}\n`);
    else if (e.type === 'step-done') this.out.write(`${at} done  ${e.step} (${fmt(e.ms ?? 0)})${e.detail ? ` ${e.detail}` : ''}\n`);
    else if (e.type === 'step-failed') this.out.write(`${at} FAIL  ${e.step} (${fmt(e.ms ?? 0)}): ${e.detail ?? ''}\n`);
    else this.out.write(`${at} ${e.step ? `${e.step} ` : ''}${e.detail ?? ''}\n`);
  }
  stop(): void {}
}

export class LiveProgress implements ProgressSink {
  private steps: { id: string; title: string; state: StepState; started?: number; ms?: number; detail?: string }[] = [];
  private lastNote = '';
  private drawn = 0;
  private timer?: NodeJS.Timeout;
  constructor(
    private readonly out: NodeJS.WritableStream & { columns?: number },
    /** called when the view stops, so lines written meanwhile go straight to the terminal again */
    private readonly onStop: () => void = () => undefined,
  ) {}

  start(steps: { id: string; title: string; done: boolean }[]): void {
    this.steps = steps.map((s) => ({ id: s.id, title: s.title, state: s.done ? 'skipped' : 'pending' }));
    this.draw();
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
  }

  event(e: ProgressEvent): void {
    const s = this.steps.find((x) => x.id === e.step);
    if (e.type === 'note') this.lastNote = `${e.step ? `${e.step}: ` : ''}${e.detail ?? ''}`;
    if (s && e.type === 'step-start') Object.assign(s, { state: 'running', started: Date.now() });
    if (s && e.type === 'step-done') Object.assign(s, { state: 'done', ms: e.ms, detail: e.detail });
    if (s && e.type === 'step-failed') Object.assign(s, { state: 'failed', ms: e.ms, detail: e.detail });
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.draw();
    this.onStop();
  }

  /**
   * Text written while the view is up (log lines, a signal's notice) goes above it: the view is erased,
   * the text printed where it was, and the view drawn again below, so nothing is overwritten.
   */
  printAbove(text: string): void {
    if (!text) return;
    const erase = this.drawn ? `\r\x1b[${this.drawn}A\x1b[J` : '';
    this.drawn = 0;
    this.out.write(`${erase}${text.endsWith('\n') ? text : `${text}\n`}`);
    this.draw();
  }

  private draw(): void {
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const icon: Record<StepState, string> = { pending: ' ', running: '▸', done: '✓', skipped: '·', failed: '✗' };
    const lines = this.steps.map((s) => {
      const ms = s.state === 'running' && s.started ? Date.now() - s.started : s.ms;
      const time = ms !== undefined ? ` ${fmt(ms)}` : '';
      const detail = s.detail ? `  ${s.detail}` : '';
      return `${icon[s.state]} ${s.id} ${s.title}${time}${detail}`.slice(0, width);
    });
    if (this.lastNote) lines.push(`  ${this.lastNote}`.slice(0, width));
    // back to the view's first line, each line rewritten whole, and whatever was below it cleared
    let buf = this.drawn ? `\r\x1b[${this.drawn}A` : '';
    for (const l of lines) buf += `\x1b[2K${l}\n`;
    this.out.write(`${buf}\x1b[J`);
    this.drawn = lines.length;
  }
}

/**
 * stderr as the CLI writes to it: straight through, except while a live progress view is up, when what
 * is written (the log's readable lines, a signal's notice) is printed above the view.
 */
export class StderrMux extends Writable {
  isTTY: boolean;
  private view: LiveProgress | undefined;
  constructor(readonly target: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }) {
    super({ decodeStrings: false });
    this.isTTY = Boolean(target.isTTY);
  }

  get columns(): number | undefined {
    return this.target.columns;
  }

  /** A live view drawn on the terminal behind this stream, which then prints everything above itself. */
  liveView(): LiveProgress {
    const view = new LiveProgress(this.target, () => {
      if (this.view === view) this.view = undefined;
    });
    this.view = view;
    return view;
  }

  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    if (this.view) this.view.printAbove(text);
    else this.target.write(text);
    cb();
  }
}

/**
 * The live view on a terminal; plain lines in CI (CI=true), when stderr is not a terminal, and on a
 * terminal that cannot move the cursor (TERM=dumb, or no TERM at all).
 */
export function progressFor(out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }, env: NodeJS.ProcessEnv): ProgressSink {
  const ci = env.CI === 'true' || env.CI === '1';
  const dumb = !env.TERM || env.TERM === 'dumb';
  if (!out.isTTY || ci || dumb) return new PlainProgress(out);
  return out instanceof StderrMux ? out.liveView() : new LiveProgress(out);
}
