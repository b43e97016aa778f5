/**
 * Run ids: every plan is made for one run, and its id names the run's dir, journal, locks and the data
 * dirs the run sets aside. Pure.
 */
import { randomBytes } from 'node:crypto';

/** `20261124T193012Z-3f9c`: sortable, unique enough, safe in file names and shell words. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(2).toString('hex')}`;
}

export const RUN_ID_RE = /^\d{8}T\d{6}Z-[0-9a-f]{4}$/;
