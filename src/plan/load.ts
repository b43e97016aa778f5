/**
 * A plan file's text checked for `apply` (the caller reads the file): it must be a plan of this format
 * version, made for this inventory, naming only its nodes, with every step an action this version can
 * run. Anything else is bad input (exit 2) before any node is contacted. Pure.
 */
import type { Inventory } from '../inventory/types.js';
import { EXIT, ExitError } from '../util/errors.js';
import { planInventoryProblems } from './inventory-check.js';
import { RUN_ID_RE } from './run-id.js';
import { inventoryFingerprint, planDigest } from './seal.js';
import { PLAN_FORMAT, PLAN_FORMAT_VERSION, type ActionType, type Plan } from './types.js';

const ACTIONS: ReadonlySet<ActionType> = new Set<ActionType>([
  'lock',
  'unlock',
  'stop-etcd',
  'move-data-dir',
  'backup-db',
  'backup-wait',
  'restore-db',
  'send-db',
  'restore-all',
  'start-all',
  'write-env',
  'start-etcd',
  'member-add',
  'member-remove',
  'move-leader',
  'promote',
  'wait-healthy',
  'verify',
  'hook',
]);

function fail(file: string, field: string, problem: string, fix: string): never {
  throw new ExitError(`${file}: ${field}: ${problem}`, EXIT.badInput, fix);
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parse and check a plan's text against the inventory it is to run with. */
export function parsePlan(text: string, file: string, inventory: Inventory): Plan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    fail(file, '(file)', `not JSON (${(e as Error).message.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}); the file may be truncated`, 'save the plan again with `etcd-dr plan … -o plan.json --format json`');
  }
  if (!isObj(doc)) fail(file, '(file)', 'not a JSON object', 'pass a plan saved with `-o plan.json`');
  if (doc['format'] !== PLAN_FORMAT) fail(file, 'format', `is ${JSON.stringify(doc['format'])}, not "${PLAN_FORMAT}"`, 'pass a plan saved with `etcd-dr plan … -o plan.json`');
  if (typeof doc['version'] !== 'number') fail(file, 'version', 'is missing', 'pass a plan saved by etcd-dr');
  if (doc['version'] > PLAN_FORMAT_VERSION) {
    fail(file, 'version', `is ${doc['version']}, newer than this etcd-dr understands (${PLAN_FORMAT_VERSION})`, 'apply it with the etcd-dr version that made it, or make a new plan with this one');
  }
  if (doc['version'] !== PLAN_FORMAT_VERSION) fail(file, 'version', `is ${doc['version']}, this etcd-dr reads version ${PLAN_FORMAT_VERSION}`, 'make a new plan');
  if (typeof doc['runId'] !== 'string' || !RUN_ID_RE.test(doc['runId'])) fail(file, 'runId', `${JSON.stringify(doc['runId'])} is not a run id like 20261124T193012Z-3f9c`, 'make a new plan');
  if (typeof doc['factsDigest'] !== 'string' || !doc['factsDigest'].startsWith('sha256:')) fail(file, 'factsDigest', 'is missing', 'make a new plan');
  if (typeof doc['lockFile'] !== 'string' || !doc['lockFile'].startsWith('/')) fail(file, 'lockFile', 'is missing or not an absolute path', 'make a new plan');
  if (typeof doc['holder'] !== 'string') fail(file, 'holder', 'is missing', 'make a new plan');
  const inv = doc['inventory'];
  if (!isObj(inv) || typeof inv['cluster'] !== 'string') fail(file, 'inventory.cluster', 'is missing', 'make a new plan');
  if (inv['cluster'] !== inventory.cluster.name) {
    fail(file, 'inventory.cluster', `the plan is for cluster "${inv['cluster']}", the inventory ${inventory.file} is cluster "${inventory.cluster.name}"`, 'apply the plan with the inventory it was made from (-i)');
  }
  if (typeof inv['fingerprint'] !== 'string' || inv['fingerprint'] !== inventoryFingerprint(inventory)) {
    fail(
      file,
      'inventory.fingerprint',
      `the plan was made from another inventory than ${inventory.file} (node names, addresses, SSH targets or etcd paths differ)`,
      'apply the plan with the inventory it was made from (-i), or make a new plan with this one',
    );
  }
  if (typeof doc['digest'] !== 'string' || doc['digest'] !== planDigest(doc as unknown as Plan)) {
    fail(
      file,
      'digest',
      "the plan's content does not match its digest: it was edited after etcd-dr made it, so it is not the plan that was reviewed (or it comes from another inventory)",
      'make a new plan with `etcd-dr plan … -o plan.json` and review that one',
    );
  }
  if (!isObj(doc['intent']) || typeof doc['intent']['kind'] !== 'string') fail(file, 'intent', 'is missing', 'make a new plan');
  if (!Array.isArray(doc['finalMembers'])) fail(file, 'finalMembers', 'is missing', 'make a new plan');
  const steps = doc['steps'];
  if (!Array.isArray(steps) || steps.length === 0) fail(file, 'steps', 'is missing or empty', 'make a new plan');
  const names = new Set(inventory.nodes.map((n) => n.name));
  const ids = new Set<string>();
  const fallback = Array.isArray(doc['fallback']) ? (doc['fallback'] as unknown[]) : [];
  [...steps, ...fallback].forEach((s, j) => {
    const at = j < steps.length ? `steps[${j}]` : `fallback[${j - steps.length}]`;
    if (!isObj(s)) fail(file, at, 'is not an object', 'make a new plan');
    if (typeof s['id'] !== 'string' || !/^[0-9]{2,}-[a-z0-9._-]+$/.test(s['id'])) fail(file, `${at}.id`, `${JSON.stringify(s['id'])} is not a step id`, 'make a new plan');
    if (ids.has(s['id'])) fail(file, `${at}.id`, `${s['id']} appears twice`, 'make a new plan');
    ids.add(s['id']);
    const a = s['action'];
    if (!isObj(a) || typeof a['type'] !== 'string' || !ACTIONS.has(a['type'] as ActionType)) {
      fail(file, `${at}.action.type`, `${JSON.stringify(isObj(a) ? a['type'] : a)} is not an action this etcd-dr runs`, 'apply it with the etcd-dr version that made it');
    }
    const nodes = [...(typeof s['node'] === 'string' ? [s['node']] : []), ...(Array.isArray(s['nodes']) ? (s['nodes'] as unknown[]) : [])];
    if (s['node'] !== undefined && typeof s['node'] !== 'string') fail(file, `${at}.node`, 'is not a string', 'make a new plan');
    for (const n of nodes) {
      if (typeof n !== 'string' || !names.has(n)) {
        fail(file, `${at}.node`, `${JSON.stringify(n)} is not a node of ${inventory.file}`, 'apply the plan with the inventory it was made from (-i)');
      }
    }
  });
  // a digest can be recomputed by whoever edits the plan: every action must still name the inventory's things
  const problems = planInventoryProblems(doc as unknown as Plan, inventory);
  if (problems.length) {
    throw new ExitError(
      `${file}: the plan names what the inventory ${inventory.file} does not give:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      EXIT.badInput,
      'this is not a plan etcd-dr made from this inventory: make a new plan with `etcd-dr plan … -o plan.json` and review that one',
    );
  }
  return doc as unknown as Plan;
}
