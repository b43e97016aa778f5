/**
 * The CLI's own contract, without any node: every command's help teaches (examples, exit codes, -h),
 * `show` prints a saved plan with no inventory, and with --json every error is one JSON document.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { HELP } from '../../src/cli/help.js';
import { main } from '../../src/cli/main.js';
import { JSON_SCHEMA_VERSION } from '../../src/cli/output.js';
import { planRecover } from '../../src/plan/recover.js';
import { sealPlan } from '../../src/plan/seal.js';
import { clusterFacts, inventory, node } from '../support/facts.js';
import { planContext } from '../support/plan-helpers.js';

async function run(argv: string[], cwd = process.cwd()) {
  const out: string[] = [];
  const err: string[] = [];
  const sink = (a: string[]) => new Writable({ write: (c: Buffer, _e, cb) => (a.push(c.toString()), cb()) });
  const code = await main(argv, { stdout: sink(out), stderr: sink(err), env: { ...process.env, CI: 'true', ETCD_DR_INVENTORY: '' }, cwd, isTTY: false });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

/** stdout as exactly one JSON document (JSON.parse refuses anything before or after it). */
function oneDocument(stdout: string): Record<string, unknown> {
  const doc = JSON.parse(stdout) as unknown;
  expect(typeof doc === 'object' && doc !== null && !Array.isArray(doc)).toBe(true);
  return doc as Record<string, unknown>;
}

let dir: string;
let planFile: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-cli-'));
  const inv = inventory(3);
  const facts = clusterFacts([1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30' })));
  const plan = sealPlan(planRecover({ ...planContext(inv, facts), runId: '20261124T200000Z-ab12' }, { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/b' }));
  planFile = join(dir, 'plan.json');
  writeFileSync(planFile, `${JSON.stringify(plan, null, 2)}\n`);
  writeFileSync(join(dir, 'edited.json'), JSON.stringify({ ...plan, summary: 'something else' }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('help that teaches', () => {
  const paths = Object.keys(HELP);

  it('lists a help entry for every command the CLI has, and no other', async () => {
    const commandsOf = (help: string) => help.slice(0, help.indexOf('Options:'));
    const top = commandsOf((await run(['--help'])).stdout);
    const listed = [...top.matchAll(/^ {2}etcd-dr (\S+)/gm)].map((m) => m[1]!).filter((c) => c !== 'completion');
    expect(listed.sort()).toEqual(paths.filter((p) => !p.includes(' ')).sort());
    for (const parent of ['plan', 'lab']) {
      const sub = commandsOf((await run([parent, '--help'])).stdout);
      const subs = [...sub.matchAll(new RegExp(`^ {2}etcd-dr ${parent} (\\S+)`, 'gm'))].map((m) => `${parent} ${m[1]!}`);
      expect(subs.sort()).toEqual(paths.filter((p) => p.startsWith(`${parent} `)).sort());
    }
  });

  it.each(paths)('%s --help and -h: examples and exit codes, exit 0', async (path) => {
    for (const flag of ['--help', '-h']) {
      const r = await run([...path.split(' '), flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
      expect(r.stdout).toContain(`etcd-dr ${path}`);
      expect(r.stdout).toMatch(/Exit codes: 0 /);
    }
  });

  it('completion prints a bash script that asks etcd-dr for the words', async () => {
    const r = await run(['completion']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('complete -o bashdefault -o default -F _etcd-dr_yargs_completions etcd-dr');
  });
});

describe('show: a saved plan again, with no inventory and no node', () => {
  it.each([
    ['text', /^etcd-dr plan 20261124T200000Z-ab12 \(recover\)/],
    ['markdown', /^# etcd-dr plan `20261124T200000Z-ab12`: recover/],
  ])('--format %s', async (format, want) => {
    const r = await run(['show', planFile, '--format', format]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(want);
  });

  it('--format json prints the plan itself; --json the document with the plan inside', async () => {
    const raw = JSON.parse((await run(['show', planFile, '--format', 'json'])).stdout) as { runId: string };
    expect(raw.runId).toBe('20261124T200000Z-ab12');
    const doc = oneDocument((await run(['show', planFile, '--json'])).stdout);
    expect(doc).toMatchObject({ schemaVersion: JSON_SCHEMA_VERSION, command: 'show', exitCode: 0, plan: raw });
  });

  it('refuses an edited plan: exit 2, naming the file and the field', async () => {
    const r = await run(['show', join(dir, 'edited.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'edited.json')}: digest: `);
  });
});

describe('--json errors: one document with the error, its kind and exit code', () => {
  const bad = join(process.cwd(), 'test', 'fixtures', 'bad-input', 'inventory', '01-typo-key.yaml');
  it.each([
    ['an inventory that does not exist', ['status', '-i', '/nonexistent/inventory.yaml', '--json'], { command: 'status', exitCode: 2, kind: 'bad-input' }],
    ['an inventory with a typo', ['plan', 'recover', '-i', bad, '--json'], { command: 'plan recover', exitCode: 2, kind: 'bad-input', file: expect.stringContaining('01-typo-key.yaml') }],
    ['an unknown option', ['status', '--jsno', '--json'], { command: 'status', exitCode: 2, kind: 'bad-input' }],
    ['plan without an operation', ['plan', '--json'], { command: 'plan', exitCode: 2, kind: 'bad-input' }],
    ['no command at all', ['--json'], { exitCode: 2, kind: 'bad-input' }],
    ['an edited plan', ['show', '__EDITED__', '--json'], { command: 'show', exitCode: 2, kind: 'bad-input' }],
    ['resume with a bad run id', ['resume', 'nope', '-i', '/nonexistent.yaml', '--json'], { command: 'resume', exitCode: 2, kind: 'bad-input' }],
  ])('%s', async (_what, argv, want) => {
    const r = await run(argv.map((a) => (a === '__EDITED__' ? join(dir, 'edited.json') : a)));
    expect(r.code).toBe(want.exitCode);
    const doc = oneDocument(r.stdout);
    expect(doc).toMatchObject({ schemaVersion: JSON_SCHEMA_VERSION, ...want });
    expect(typeof doc['error']).toBe('string');
    // people still read the error on stderr
    expect(r.stderr).toMatch(/^etcd-dr: /);
  });

  it('an input error lists every problem with file, line and field', async () => {
    const doc = oneDocument((await run(['status', '-i', bad, '--json'])).stdout);
    const problems = doc['problems'] as { file: string; line?: number; field?: string; message: string }[];
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ file: expect.stringContaining('01-typo-key.yaml'), message: expect.any(String) });
    expect(doc['field']).toBe(problems[0]!.field);
  });
});
