/**
 * The three subscribers of a run's event stream: the journal (the run's record, read by resume, status and
 * the drill), the progress view (the user's screen) and the log. Each maps an event to what it writes, and
 * ignores the events it has nothing to write for.
 */
import type { Logger } from '../util/log.js';
import type { RunEvent, Subscriber } from './events.js';
import type { ProgressSink } from './progress.js';
import type { JournalInput, RunDir } from './rundir.js';

/** What a subscriber does with each event type it keeps; the others pass it by. */
type Mapping = { [K in RunEvent['type']]?: (e: Extract<RunEvent, { type: K }>) => void };

function subscriber(m: Mapping): Subscriber {
  return (e) => (m[e.type] as ((e: RunEvent) => void) | undefined)?.(e);
}

/** The journal line of an event whose fields are the line's, as they are. */
function asLine({ type, ...rest }: Extract<RunEvent, { type: 'step-done' | 'step-failed' | 'step-retry' | 'command' | 'plan-amended' | 'run-end' }>): JournalInput {
  return { event: type, ...rest } as JournalInput;
}

export function journalSink(run: RunDir): Subscriber {
  const append = (e: Parameters<typeof asLine>[0]) => run.append(asLine(e));
  return subscriber({
    'run-start': (e) => run.append({ event: 'run-start', runId: e.runId, resumed: e.resumed, pid: e.pid }),
    'step-start': (e) => run.append({ event: 'step-start', step: e.step }),
    'step-done': append,
    'step-failed': append,
    'step-retry': append,
    command: append,
    rollback: (e) => run.append({ event: 'rollback', step: e.step, detail: e.detail, ...(e.undone ? { undone: e.undone } : {}) }),
    'plan-amended': append,
    'run-end': append,
  });
}

export function progressSink(progress: ProgressSink): Subscriber {
  const note = (step: string, detail: string) => progress.event({ type: 'note', step, detail });
  return subscriber({
    'run-start': (e) => progress.start(e.steps),
    'step-start': (e) => progress.event({ type: 'step-start', step: e.step, title: e.title }),
    'step-done': (e) => progress.event({ type: 'step-done', step: e.step, ms: e.ms, detail: e.outcome === 'done' ? '' : e.outcome }),
    'step-failed': (e) => progress.event({ type: 'step-failed', step: e.step, ms: e.ms, detail: e.error }),
    'step-retry': (e) => note(e.step, 'connection lost; repeating the step after reconnecting'),
    note: (e) => note(e.step, e.detail),
    'rollback-start': (e) => note(e.step, `rolling back the join of ${e.member}`),
    rollback: (e) => (e.member ? note(e.step, `rolled back ${e.member}: ${e.detail}`) : undefined),
    'copy-wait': (e) => note(e.step, `waiting for the db copy to ${e.path} to end before stopping`),
    'steps-over': () => progress.stop(),
  });
}

export function logSink(log: Logger): Subscriber {
  return subscriber({
    'step-start': (e) => log.debug({ step: e.step, node: e.node, action: e.action }, `step ${e.step} ${e.title}`),
    'step-done': (e) => log.debug({ step: e.step, ms: e.ms, outcome: e.outcome }, `step ${e.step} ${e.outcome}`),
    'step-failed': (e) => log.debug({ step: e.step, error: e.error }, `step ${e.step} failed`),
    'step-retry': (e) => log.warn({ step: e.step, error: e.error }, 'connection lost during the step; checking the node and repeating the step'),
    note: (e) => log.debug({ step: e.step }, e.detail),
    rollback: (e) => (e.member ? log.warn({ member: e.member, did: e.did }, `rolled back the join of ${e.member}`) : undefined),
    'copy-failed': (e) => log.warn({ step: e.step, error: e.error }, 'the db copy to the bastion failed; the wait step copies it again on resume'),
  });
}
