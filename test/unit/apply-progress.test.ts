/**
 * The live progress view as a terminal shows it: a small screen model (the cursor moves etcd-dr uses:
 * \r, \n, ESC[nA, ESC[2K, ESC[J) replays what the view wrote, and the test reads the screen.
 */
import { Writable } from 'node:stream';
import { LiveProgress, PlainProgress, progressFor, StderrMux } from '../../src/apply/progress.js';

class Screen extends Writable {
  lines: string[] = [''];
  row = 0;
  col = 0;
  isTTY = true;
  columns = 100;
  override _write(chunk: Buffer | string, _e: BufferEncoding, cb: () => void): void {
    const s = chunk.toString();
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\x1b') {
        const m = /^\x1b\[(\d*)([A-Za-z])/.exec(s.slice(i))!;
        const n = Number(m[1] || '1');
        if (m[2] === 'A') this.row = Math.max(0, this.row - n);
        else if (m[2] === 'K') this.lines[this.row] = '';
        else if (m[2] === 'J') this.lines = [...this.lines.slice(0, this.row), this.lines[this.row]!.slice(0, this.col)];
        i += m[0].length - 1;
      } else if (c === '\r') this.col = 0;
      else if (c === '\n') {
        this.row++;
        this.col = 0;
        while (this.lines.length <= this.row) this.lines.push('');
      } else {
        const l = this.lines[this.row] ?? '';
        this.lines[this.row] = l.slice(0, this.col).padEnd(this.col) + c + l.slice(this.col + 1);
        this.col++;
      }
    }
    cb();
  }
  text(): string[] {
    return this.lines.map((l) => l.trimEnd()).filter((l, i, a) => l || i < a.length - 1);
  }
}

const STEPS = [
  { id: '01-lock', title: 'take the lock', done: false },
  { id: '02-stop', title: 'stop etcd', done: false },
  { id: '03-start', title: 'start etcd', done: false },
];

describe('live progress on a terminal', () => {
  it('prints log lines above the view, which is drawn again below them; no stale step line remains', () => {
    const screen = new Screen();
    const mux = new StderrMux(screen);
    const view = progressFor(mux, { TERM: 'xterm-256color' }) as LiveProgress;
    expect(view).toBeInstanceOf(LiveProgress);
    mux.write('before the run\n');
    view.start(STEPS);
    view.event({ type: 'step-start', step: '01-lock' });
    view.event({ type: 'step-done', step: '01-lock', ms: 12 });
    view.event({ type: 'step-start', step: '02-stop' });
    mux.write('12:00:00.000 WARN  etcd2: connection lost\n');
    view.event({ type: 'note', step: '02-stop', detail: 'waiting for etcd2' });
    mux.write('12:00:01.000 INFO  a line without its newline');
    view.event({ type: 'step-done', step: '02-stop', ms: 30 });
    view.event({ type: 'step-start', step: '03-start' });
    view.event({ type: 'step-done', step: '03-start', ms: 5 });
    view.stop();
    mux.write('after the run\n');
    expect(screen.text()).toEqual([
      'before the run',
      '12:00:00.000 WARN  etcd2: connection lost',
      '12:00:01.000 INFO  a line without its newline',
      '✓ 01-lock take the lock 12 ms',
      '✓ 02-stop stop etcd 30 ms',
      '✓ 03-start start etcd 5 ms',
      '  02-stop: waiting for etcd2',
      'after the run',
    ]);
  });

  it.each([
    ['TERM=dumb', { TERM: 'dumb' }, true],
    ['no TERM', {}, true],
    ['CI=true', { TERM: 'xterm', CI: 'true' }, true],
    ['a terminal', { TERM: 'xterm' }, false],
  ])('%s: plain lines: %s', (_what, env, plain) => {
    const sink = progressFor(new StderrMux(new Screen()), env);
    expect(sink instanceof PlainProgress).toBe(plain);
  });

  it('not a terminal: plain lines', () => {
    const screen = new Screen();
    screen.isTTY = false;
    expect(progressFor(new StderrMux(screen), { TERM: 'xterm' })).toBeInstanceOf(PlainProgress);
  });
});
