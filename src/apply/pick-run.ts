/** Which run `resume` continues: the one named, or the newest that did not finish. */
import { join } from 'node:path';
import { EXIT, ExitError } from '../util/errors.js';
import { RUN_ID_RE } from '../plan/run-id.js';
import { listRuns, RunDir } from './rundir.js';

/**
 * The newest run that did not finish, or the one named, searched in `stateDirs` in order (see
 * runStateDirs: the state dir, then ./.etcd-dr of earlier versions).
 */
export function pickRun(stateDirs: string | string[], runId?: string): RunDir {
  const dirs = typeof stateDirs === 'string' ? [stateDirs] : stateDirs;
  const where = dirs.map((d) => join(d, 'runs')).join(' or ');
  if (runId !== undefined) {
    if (!RUN_ID_RE.test(runId)) throw new ExitError(`"${runId}" is not a run id like 20261124T193012Z-3f9c`, EXIT.badInput, `runs are in ${where}`);
    const run = dirs.map((d) => new RunDir(d, runId)).find((r) => r.exists());
    if (!run) throw new ExitError(`no run ${runId} in ${where}`, EXIT.badInput, 'give --state-dir where the run was started, or another run id');
    return run;
  }
  const unfinished = dirs
    .flatMap((d) => listRuns(d).map((id) => new RunDir(d, id)))
    .filter((r) => r.exists())
    .filter((r) => {
      const j = r.check();
      // a damaged journal is not skipped: resume says what it can and cannot tell
      if (j.problems.length) return true;
      const ends = j.events.filter((e) => e.event === 'run-end' || e.event === 'run-start');
      const last = ends[ends.length - 1];
      // done, or refused before it changed anything: not to be resumed
      return last !== undefined && !(last.event === 'run-end' && (last.outcome === 'done' || last.outcome === 'refused'));
    })
    .sort((a, b) => (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0));
  const run = unfinished[unfinished.length - 1];
  if (!run) throw new ExitError(`no unfinished run in ${where}`, EXIT.badInput, 'name a run id, or give --state-dir where the run was started');
  return run;
}
