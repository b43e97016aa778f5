/** Helpers shared by the planner unit tests. */
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
