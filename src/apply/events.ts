/**
 * A run's one event stream. The executor and the step handlers emit each event once; the journal, the
 * progress view and the log subscribe (see sinks.ts), each writing what it keeps of the event. Subscribers
 * are called in the order they subscribed; a throw (the journal cannot be written) stops the event there
 * and reaches the emitter, so nothing is shown that the journal did not take.
 */
import type { JournalInput } from './rundir.js';

type JournalOf<E extends JournalInput['event']> = Omit<Extract<JournalInput, { event: E }>, 'event'>;

export type RunEvent =
  | ({ type: 'run-start'; steps: { id: string; title: string; done: boolean }[] } & JournalOf<'run-start'>)
  | { type: 'step-start'; step: string; title: string; node: string | undefined; action: string }
  | ({ type: 'step-done' } & JournalOf<'step-done'>)
  | ({ type: 'step-failed' } & JournalOf<'step-failed'>)
  /** the connection dropped during the step; it runs again */
  | ({ type: 'step-retry' } & JournalOf<'step-retry'>)
  /** a remark on a step in progress, for the view and the log */
  | { type: 'note'; step: string; detail: string }
  | ({ type: 'command' } & JournalOf<'command'>)
  /** a failed join's rollback begins (the view says so at once) */
  | { type: 'rollback-start'; step: string; member: string }
  /** what a rollback did: `member` for a failed join, none for a restore-all set back */
  | ({ type: 'rollback'; member?: string; did?: string[] } & JournalOf<'rollback'>)
  | ({ type: 'plan-amended' } & JournalOf<'plan-amended'>)
  /** a run that stops waits for a db copy still running */
  | { type: 'copy-wait'; step: string; path: string }
  | { type: 'copy-failed'; step: string; error: string }
  /** no step runs any more: the view closes */
  | { type: 'steps-over' }
  | ({ type: 'run-end' } & JournalOf<'run-end'>);

export type Subscriber = (e: RunEvent) => void;

export class EventStream {
  private readonly subscribers: Subscriber[] = [];

  subscribe(fn: Subscriber): this {
    this.subscribers.push(fn);
    return this;
  }

  emit(e: RunEvent): void {
    for (const fn of this.subscribers) fn(e);
  }
}
