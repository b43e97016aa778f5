/**
 * The three subscribers of a run's event stream: the journal (the run's record, read by resume, status and
 * the drill), the progress view (the user's screen) and the log. Each maps an event to what it writes, and
 * ignores the events it has nothing to write for.
 */
import type { Logger } from '../util/log.js';
import type { RunEvent, Subscriber } from './events.js';
import type { ProgressSink } from './progress.js';
import type { RunDir } from './rundir.js';

export function journalSink(run: RunDir): Subscriber {
  return (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        return run.append({ event: 'run-start', runId: e.runId, resumed: e.resumed, pid: e.pid });
      case 'step-start':
        return run.append({ event: 'step-start', step: e.step });
      case 'rollback':
        return run.append({ event: 'rollback', step: e.step, detail: e.detail, ...(e.undone ? { undone: e.undone } : {}) });
      case 'step-done':
      case 'step-failed':
      case 'step-retry':
      case 'command':
      case 'plan-amended':
      case 'run-end': {
        const { type, ...rest } = e;
        return run.append({ event: type, ...rest } as Parameters<RunDir['append']>[0]);
      }
      default:
        return undefined;
    }
  };
}

export function progressSink(progress: ProgressSink): Subscriber {
  return (e: RunEvent) => {
    switch (e.type) {
      case 'run-start':
        return progress.start(e.steps);
      case 'step-start':
        return progress.event({ type: 'step-start', step: e.step, title: e.title });
      case 'step-done':
        return progress.event({ type: 'step-done', step: e.step, ms: e.ms, detail: e.outcome === 'done' ? '' : e.outcome });
      case 'step-failed':
        return progress.event({ type: 'step-failed', step: e.step, ms: e.ms, detail: e.error });
      case 'step-retry':
        return progress.event({ type: 'note', step: e.step, detail: 'connection lost; repeating the step after reconnecting' });
      case 'note':
        return progress.event({ type: 'note', step: e.step, detail: e.detail });
      case 'rollback-start':
        return progress.event({ type: 'note', step: e.step, detail: `rolling back the join of ${e.member}` });
      case 'rollback':
        return e.member ? progress.event({ type: 'note', step: e.step, detail: `rolled back ${e.member}: ${e.detail}` }) : undefined;
      case 'copy-wait':
        return progress.event({ type: 'note', step: e.step, detail: `waiting for the db copy to ${e.path} to end before stopping` });
      case 'steps-over':
        return progress.stop();
      default:
        return undefined;
    }
  };
}

export function logSink(log: Logger): Subscriber {
  return (e: RunEvent) => {
    switch (e.type) {
      case 'step-start':
        return log.debug({ step: e.step, node: e.node, action: e.action }, `step ${e.step} ${e.title}`);
      case 'step-done':
        return log.debug({ step: e.step, ms: e.ms, outcome: e.outcome }, `step ${e.step} ${e.outcome}`);
      case 'step-failed':
        return log.debug({ step: e.step, error: e.error }, `step ${e.step} failed`);
      case 'step-retry':
        return log.warn({ step: e.step, error: e.error }, 'connection lost during the step; checking the node and repeating the step');
      case 'note':
        return log.debug({ step: e.step }, e.detail);
      case 'rollback':
        return e.member ? log.warn({ member: e.member, did: e.did }, `rolled back the join of ${e.member}`) : undefined;
      case 'copy-failed':
        return log.warn({ step: e.step, error: e.error }, 'the db copy to the bastion failed; the wait step copies it again on resume');
      default:
        return undefined;
    }
  };
}
