/** Helpers shared by the planner unit tests. */
import { spawnSync } from 'node:child_process';
import type { Action, Plan, Step } from '../../src/plan/types.js';
import { RefusedError } from '../../src/util/errors.js';

/** Runs `f`, which must refuse (throw a RefusedError); returns the refusal for its message and hint. */
export function refusal(f: () => unknown): RefusedError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(RefusedError);
    return e as RefusedError;
  }
  throw new Error('expected a refusal');
}

/** The plan's steps of one action type, typed by it. */
export const stepsOf = <T extends Action['type']>(p: Plan, type: T) => p.steps.filter((s): s is Step & { action: Extract<Action, { type: T }> } => s.action.type === type);

/** Runs a step script with `sh -c`, as a node would. */
export function runSh(script: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}
