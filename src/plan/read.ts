/**
 * A saved plan's text checked for people (`etcd-dr show`; the caller reads the file), without an inventory
 * or any node: it must be a plan of this format that etcd-dr made and nobody edited since (its digest).
 * What `apply` checks besides (the inventory it was made from, the nodes it names) is left to `apply`. Pure.
 */
import { EXIT, ExitError } from '../util/errors.js';
import { planDigest } from './seal.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type Plan } from './types.js';

function fail(file: string, field: string, problem: string, fix: string): never {
  throw new ExitError(`${file}: ${field}: ${problem}`, EXIT.badInput, fix);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function parseSavedPlan(text: string, file: string): Plan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(file, '(file)', `not JSON (${(e as Error).message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)})`, 'give a plan saved with `etcd-dr plan … -o plan.json`');
  }
  // the --json document of `plan …` carries the plan under "plan"
  if (isObj(doc) && isObj(doc['plan']) && doc['schemaVersion'] !== undefined) doc = doc['plan'];
  if (!isObj(doc)) fail(file, '(file)', 'not a JSON object', 'give a plan saved with `etcd-dr plan … -o plan.json`');
  if (doc['format'] !== PLAN_FORMAT) fail(file, 'format', `is ${JSON.stringify(doc['format'])}, not "${PLAN_FORMAT}"`, 'give a plan saved with `etcd-dr plan … -o plan.json`');
  if (doc['version'] !== PLAN_FORMAT_VERSION) fail(file, 'version', `is ${JSON.stringify(doc['version'])}; this etcd-dr reads version ${PLAN_FORMAT_VERSION}`, 'show it with the etcd-dr version that made it');
  if (typeof doc['digest'] !== 'string' || doc['digest'] !== planDigest(doc as unknown as Plan)) {
    fail(file, 'digest', "the plan's content does not match its digest: it was edited after etcd-dr made it", 'make a new plan with `etcd-dr plan … -o plan.json`');
  }
  for (const f of ['runId', 'summary', 'createdAt'] as const) if (typeof doc[f] !== 'string') fail(file, f, 'is missing', 'make a new plan');
  if (!isObj(doc['intent']) || !isObj(doc['inventory']) || !Array.isArray(doc['steps']) || !Array.isArray(doc['finalMembers']) || !Array.isArray(doc['warnings'])) {
    fail(file, 'intent, inventory, steps, finalMembers, warnings', 'one of them is missing', 'make a new plan');
  }
  return doc as unknown as Plan;
}
