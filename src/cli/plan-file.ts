/**
 * Saved plan files read from the bastion's disk (for apply, resume and show); the plan layer checks their
 * text and does no I/O, and the resume use case is handed the read.
 */
import { readFileSync } from 'node:fs';
import type { Inventory } from '../inventory/types.js';
import { parsePlan } from '../plan/load.js';
import { parseSavedPlan } from '../plan/read.js';
import type { Plan } from '../plan/types.js';
import { EXIT, ExitError } from '../util/errors.js';

/** A saved plan file's text; a missing or unreadable file is bad input naming it. */
export function readPlanText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ExitError(
      `${path}: (file): ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (e as Error).message})`}`,
      EXIT.badInput,
      'give the path of a plan saved with `etcd-dr plan … -o plan.json`',
    );
  }
}

/** A plan file for `apply` and `resume`, checked against the inventory it is to run with. */
export function loadPlan(path: string, inventory: Inventory): Plan {
  return parsePlan(readPlanText(path), path, inventory);
}

/** A plan file for people (`show`). */
export function readSavedPlan(path: string): Plan {
  return parseSavedPlan(readPlanText(path), path);
}
