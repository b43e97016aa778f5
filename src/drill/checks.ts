/**
 * Checks every drill makes, whatever it rehearsed: the data written before (keys, values, counts per
 * prefix, revision) and what the run's own verification measured (hashkv, membership). Pure.
 */
import type { RunResult } from '../apply/executor.js';
import type { Plan } from '../plan/types.js';
import { compareCaptures, type Capture } from './capture.js';

export interface Check {
  name: string;
  pass: boolean;
  evidence: string;
}

/** What the executor's verify step returns. */
export interface Verification {
  members: string[];
  leader: string;
  hashkv?: { revision: number; hashes: Record<string, number> };
  keys?: { count: number };
}

/** hashkv and membership as the run's verification found them. */
export function verificationChecks(plan: Plan, verification: Record<string, unknown> | undefined): Check[] {
  const v = verification as Verification | undefined;
  const hashes = Object.values(v?.hashkv?.hashes ?? {});
  return [
    {
      name: 'hashkv equal on every member',
      pass: hashes.length === plan.finalMembers.length && new Set(hashes).size === 1,
      evidence: v?.hashkv ? `revision ${v.hashkv.revision}: ${Object.entries(v.hashkv.hashes).map(([e, h]) => `${e}=${h}`).join(', ')}` : 'no hashkv',
    },
    {
      name: 'membership as planned, one leader, no learner',
      pass: Boolean(v) && [...(v?.members ?? [])].sort().join(',') === [...plan.finalMembers].sort().join(','),
      evidence: `members ${v?.members.join(', ') ?? '?'}; leader ${v?.leader ?? '?'}`,
    },
  ];
}

/** Nothing of `before` (captured before `event`) missing or changed in `after`; counts per prefix and the revision not lower. */
export function keyChecks(before: Capture, after: Capture, event = 'the failure'): { checks: Check[]; missing: string[]; changed: string[] } {
  const diff = compareCaptures(before, after);
  const lower = Object.entries(before.prefixes).filter(([p, n]) => (after.prefixes[p] ?? 0) < n);
  const checks: Check[] = [
    {
      name: `no key written before ${event} is missing`,
      pass: diff.missing.length === 0,
      evidence: diff.missing.length ? `${diff.missing.length} missing: ${diff.missing.slice(0, 20).join(', ')}${diff.missing.length > 20 ? ', …' : ''}` : `all ${before.keys} keys present`,
    },
    {
      name: 'no value changed',
      pass: diff.changed.length === 0,
      evidence: diff.changed.length ? `${diff.changed.length} changed: ${diff.changed.slice(0, 20).join(', ')}` : `${before.keys} values identical (sha256)`,
    },
    {
      name: 'key count per prefix not lower',
      pass: lower.length === 0,
      evidence: lower.length ? lower.map(([p, n]) => `${p}: ${n} → ${after.prefixes[p] ?? 0}`).join('; ') : Object.entries(after.prefixes).map(([p, n]) => `${p}=${n}`).join(', '),
    },
    { name: 'revision not lower', pass: after.revision >= before.revision, evidence: `${before.revision} → ${after.revision}` },
  ];
  return { checks, missing: diff.missing, changed: diff.changed };
}

/** The check that the run itself (recovery or change) went through, with its size and time. */
export function completedCheck(name: string, r: RunResult, detail?: string): Check {
  return { name, pass: true, evidence: `run ${r.runId}: ${r.steps.length} steps in ${(r.ms / 1000).toFixed(1)} s${detail ? `; ${detail}` : ''}` };
}
