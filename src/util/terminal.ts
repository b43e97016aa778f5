/**
 * Text for a person's terminal. Much of what etcd-dr prints quotes the nodes (a tool's error line, an
 * unexpected output, a file's content), and a node that is broken, or in the wrong hands, can print
 * escape sequences that retitle, clear or rewrite the operator's terminal, or hide text. Every readable
 * line etcd-dr writes goes through `terminalSafe`; JSON output is escaped by JSON itself.
 */

/**
 * What a terminal acts on instead of showing: C0 controls other than tab and newline (ESC, BEL, the
 * carriage return that rewrites a line, …), DEL, the C1 controls (U+0080–U+009F, CSI and OSC among
 * them), and the bidirectional overrides and isolates that reorder the text around them.
 */
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** `text` with every character a terminal would act on written as a visible `\u00XX` escape. */
export function terminalSafe(text: string): string {
  return text.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The part of a progress view this module needs (src/apply/progress.ts's ProgressSink). */
interface ProgressLike<S, E> {
  start(steps: S[]): void;
  event(e: E): void;
  stop(): void;
}

/**
 * A progress view whose step titles and details (a failed step quotes the node's last line) are made
 * terminal-safe; the view's own cursor movements are untouched.
 */
export function terminalSafeProgress<S extends { title: string }, E extends { title?: string; detail?: string }>(sink: ProgressLike<S, E>): ProgressLike<S, E> {
  return {
    start: (steps) => sink.start(steps.map((s) => ({ ...s, title: terminalSafe(s.title) }))),
    event: (e) =>
      sink.event({ ...e, ...(e.title !== undefined ? { title: terminalSafe(e.title) } : {}), ...(e.detail !== undefined ? { detail: terminalSafe(e.detail) } : {}) }),
    stop: () => sink.stop(),
  };
}
