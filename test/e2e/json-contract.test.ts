/**
 * The --json contract (docs/json.md) on the real lab: every command prints exactly one JSON document on
 * stdout, successes and errors alike, with schemaVersion, command and exitCode (the process's own exit
 * code); the changing commands carry their plan inside it. One lab (etcd 3.4, 3 members and a bare node
 * on 127.0.140.x) serves every command; the lab itself is brought up and down through `lab … --json`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown } from '../../src/lab/index.js';
import { JSON_SCHEMA_VERSION } from '../../src/cli/output.js';
import { runCli, type CliRun } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 240_000;
const work = mkdtempSync(join(tmpdir(), 'etcd-dr-json-'));
const dir = join(work, 'lab');
const state = join(work, 'state');
let inventory = '';

/** stdout must be exactly one JSON object (JSON.parse refuses anything before or after it). */
function doc(r: CliRun, command: string): Record<string, any> {
  let d: unknown;
  try {
    d = JSON.parse(r.stdout);
  } catch (e) {
    throw new Error(`${command}: stdout is not one JSON document (${(e as Error).message}):\n${r.stdout.slice(0, 2000)}\n--- stderr:\n${r.stderr.slice(-2000)}`);
  }
  expect(d).toMatchObject({ schemaVersion: JSON_SCHEMA_VERSION, command, exitCode: r.code });
  return d as Record<string, any>;
}

// --json first: `lab exec` takes everything after `--` as the node's command
const cli = (argv: string[]) => runCli(['--json', ...argv], { ETCD_DR_STATE_DIR: state });
const inv = () => ['-i', inventory];

afterAll(async () => {
  await labDown({ dir, purge: true, log: () => undefined }).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
}, T);

describe('--json: one document on stdout from every command', () => {
  it('lab up, status, load, exec, power-off, power-on', async () => {
    const up = await cli(['lab', 'up', '--dir', dir, '--nodes', '4', '--members', '3', '--address-base', e2eNet(140)]);
    expect(up.code).toBe(0);
    inventory = doc(up, 'lab up').inventoryPath as string;
    expect(doc(await cli(['lab', 'status', '--dir', dir]), 'lab status').nodes).toHaveLength(4);
    expect(doc(await cli(['lab', 'load', '--dir', dir, '--keys', '100']), 'lab load')).toMatchObject({ keys: 100, exitCode: 0 });
    const ex = await cli(['lab', 'exec', '--dir', dir, 'etcd1', '--', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(ex.code).toBe(3);
    expect(doc(ex, 'lab exec')).toMatchObject({ node: 'etcd1', code: 3, stdout: 'out\n', stderr: 'err\n' });
    expect(doc(await cli(['lab', 'power-off', '--dir', dir, 'etcd4']), 'lab power-off').exitCode).toBe(0);
    expect(doc(await cli(['lab', 'power-on', '--dir', dir, 'etcd4']), 'lab power-on').exitCode).toBe(0);
  }, T);

  it('inventory show, status, unlock, and the plans: a refusal is a document too', async () => {
    const shown = await cli(['inventory', 'show', ...inv()]);
    expect(shown.code).toBe(0);
    expect(doc(shown, 'inventory show').nodes).toHaveLength(4);

    const st = await cli(['status', ...inv()]);
    expect(st.code).toBe(0);
    expect(doc(st, 'status').assessment.verdict).toBe('healthy');

    const un = await cli(['unlock', '--empty', ...inv()]);
    expect(un.code).toBe(0);
    expect(doc(un, 'unlock')).toMatchObject({ cleared: {} });
    const unBad = await cli(['unlock', ...inv()]);
    expect(unBad.code).toBe(2);
    expect(doc(unBad, 'unlock')).toMatchObject({ kind: 'bad-input', error: expect.stringContaining('--empty') });

    const refused = await cli(['plan', 'recover', ...inv()]);
    expect(refused.code).toBe(3);
    expect(doc(refused, 'plan recover')).toMatchObject({ kind: 'refused', error: expect.stringMatching(/quorum/) });

    const grow = join(work, 'grow.json');
    const p = await cli(['plan', 'scale-out', '--node', 'etcd4', '-o', grow, ...inv()]);
    expect(p.code).toBe(0);
    const plan = doc(p, 'plan scale-out').plan;
    expect(plan).toMatchObject({ format: 'etcd-dr/plan', intent: { kind: 'scale-out', nodes: ['etcd4'] } });
    // show reads the saved file: the same plan, no inventory needed
    expect(doc(await cli(['show', grow]), 'show').plan).toEqual(plan);
    for (const which of ['plan scale-in', 'plan replace']) {
      const r = await cli([...which.split(' '), '--member', 'etcd3', ...inv()]);
      expect(r.code).toBe(0);
      expect(doc(r, which).plan.intent.kind).toBe(which.split(' ')[1]);
    }
  }, T);

  it('apply, scale-in, replace, recover, resume: the summary with the plan inside, or the error with it', async () => {
    const grow = join(work, 'grow.json');
    const a = await cli(['apply', grow, '--yes', ...inv()]);
    expect(a.code).toBe(0);
    const applied = doc(a, 'apply');
    expect(applied).toMatchObject({ outcome: 'done', members: ['etcd1', 'etcd2', 'etcd3', 'etcd4'], plan: { intent: { kind: 'scale-out' } } });
    expect(applied.runId).toBe(applied.plan.runId);

    const again = await cli(['apply', grow, '--yes', ...inv()]);
    expect(again.code).toBe(3);
    expect(doc(again, 'apply')).toMatchObject({ kind: 'refused', plan: { runId: applied.runId }, hint: expect.stringContaining('resume') });

    const shrink = await cli(['scale-in', '--member', 'etcd4', '--yes', ...inv()]);
    expect(shrink.code).toBe(0);
    const shrunk = doc(shrink, 'scale-in');
    expect(shrunk).toMatchObject({ outcome: 'done', members: ['etcd1', 'etcd2', 'etcd3'], plan: { intent: { kind: 'scale-in' } } });
    // people (and CI logs) read the plan it applied on stderr
    expect(shrink.stderr).toContain(`etcd-dr plan ${shrunk.runId as string} (scale-in)`);

    // no terminal to ask on and no --yes: refused after the plan was made, the plan in the document
    const rep = await cli(['replace', '--member', 'etcd3', ...inv()]);
    expect(rep.code).toBe(3);
    expect(doc(rep, 'replace')).toMatchObject({ kind: 'refused', plan: { intent: { kind: 'replace', member: 'etcd3' } } });

    const rec = await cli(['recover', '--yes', ...inv()]);
    expect(rec.code).toBe(3);
    expect(doc(rec, 'recover').kind).toBe('refused');

    const res = await cli(['resume', ...inv()]);
    expect(res.code).toBe(2);
    expect(doc(res, 'resume')).toMatchObject({ kind: 'bad-input', error: expect.stringContaining('no unfinished run') });
  }, T);

  it('drill, then a broken cluster, then lab down', async () => {
    const d = await cli(['drill', '--scenario', 'all-down', '--disposable', '--yes', ...inv()]);
    expect(d.code).toBe(0);
    expect(doc(d, 'drill')).toMatchObject({ pass: true, scenario: 'all-down', files: { json: expect.any(String) }, plan: { intent: { kind: 'recover' } } });

    expect(doc(await cli(['lab', 'break', '--dir', dir, '--scenario', 'all-down']), 'lab break').exitCode).toBe(0);
    const lost = await cli(['status', ...inv()]);
    expect(lost.code).toBe(6);
    expect(doc(lost, 'status').assessment.verdict).toBe('quorum-lost');

    const down = await cli(['lab', 'down', '--dir', dir, '--purge']);
    expect(down.code).toBe(0);
    expect(doc(down, 'lab down')).toMatchObject({ purged: true });
  }, T);
});
