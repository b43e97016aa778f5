/**
 * `etcd-dr drill` on the lab: every scenario passes on etcd 3.4 and 3.5 with its reports; a lossy recovery
 * (restoring from the member known to be stale, via --survivor) fails the drill and names the lost keys;
 * a cluster not marked disposable is refused.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { loadKeys, powerOn, labStatus, type LabState } from '../../src/lab/index.js';
import type { DrillReport } from '../../src/drill/drill.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;

async function drill(lab: LabState, scenario: string, extra: string[] = []) {
  const dir = tempDir();
  const files = { json: join(dir, 'drill.json'), junit: join(dir, 'drill.xml'), md: join(dir, 'drill.md') };
  const r = await runCli([
    'drill', '-i', lab.inventoryPath, '--scenario', scenario, '--yes', '--state-dir', join(dir, 'state'),
    '--report', files.json, '--junit', files.junit, '--markdown', files.md, '--lab-dir', lab.dir, ...extra,
  ]);
  const report = JSON.parse(readFileSync(files.json, 'utf8')) as DrillReport;
  return { ...r, report, files };
}

/** Bring back nodes a scenario powered off, so the next drill starts from a healthy cluster. */
async function powerAllOn(lab: LabState) {
  const st = await labStatus(lab);
  for (const n of st.nodes) if (!n.poweredOn) await powerOn(lab, n.name);
}

describe.each([
  ['3.4', e2eNet(18)],
  ['3.5', e2eNet(19)],
] as const)('drill on etcd %s', (version, base) => {
  let lab: LabState;
  beforeAll(async () => {
    lab = await startLab(base, { etcd: version });
    await loadKeys(lab, { keys: 1000, mb: 2 });
  }, T);
  afterAll(async () => stopLab(lab), T);

  // node-lost runs last: it leaves the cluster one member smaller
  const scenarios = ['all-down', 'majority-lost', 'survivor-stale'];
  const passes = async (scenario: string) => {
    const r = await drill(lab, scenario);
    await powerAllOn(lab);
    expect(r.report.checks.filter((c) => !c.pass)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.pass).toBe(true);
    expect(r.report.before!.keys).toBeGreaterThanOrEqual(1002);
    expect(r.report.after!.keys).toBeGreaterThanOrEqual(r.report.before!.keys);
    for (const k of ['stopMs', 'restoreMs', 'firstMemberServingMs', 'verifyMs', 'totalMs'] as const) expect(r.report.timings[k]).toBeGreaterThan(0);
    expect(Object.keys(r.report.timings.joinsMs ?? {}).length).toBe(scenario === 'node-lost' ? 1 : 2);
    if (scenario === 'node-lost') expect(r.report.excluded).toEqual(['etcd3']);
    if (scenario === 'survivor-stale') expect(r.report.survivor).not.toBe('etcd1');
    const junit = readFileSync(r.files.junit, 'utf8');
    expect(junit).toMatch(/<testsuites name="etcd-dr drill" tests="\d+" failures="0"/);
    expect(readFileSync(r.files.md, 'utf8')).toContain('**PASS**');
    for (const f of Object.values(r.files)) expect(statSync(f).mode & 0o777).toBe(0o600);
  };
  it.each(scenarios)('%s passes, with JSON, JUnit and markdown reports', passes, T);

  if (version === '3.5') {
    it('a lossy recovery (the stale member as --survivor) fails and names the missing keys', async () => {
      const r = await drill(lab, 'survivor-stale', ['--survivor', 'etcd1', '--late-keys', '50']);
      expect(r.code).toBe(4);
      expect(r.report.pass).toBe(false);
      expect(r.report.survivor).toBe('etcd1');
      expect(r.report.missingKeys).toHaveLength(50);
      expect(r.report.missingKeys.every((k) => /^\/etcd-dr-drill\/.+\/late\/key-\d{5}$/.test(k))).toBe(true);
      const missing = r.report.checks.find((c) => c.name.startsWith('no key written'))!;
      expect(missing.pass).toBe(false);
      expect(missing.evidence).toMatch(/^50 missing: \/etcd-dr-drill\//);
      expect(readFileSync(r.files.junit, 'utf8')).toMatch(/<failure message="50 missing/);
      expect(readFileSync(r.files.md, 'utf8')).toContain('**FAIL**');
    }, T);
  }

  it('node-lost passes: the powered-off node is left out', () => passes('node-lost'), T);

  if (version === '3.4') {
    it('refuses a cluster that is not marked disposable, unless --disposable', async () => {
      const doc = parse(readFileSync(lab.inventoryPath, 'utf8')) as Record<string, any>;
      doc.cluster.disposable = false;
      const inv = join(tempDir(), 'inventory.yaml');
      writeFileSync(inv, stringify(doc));
      const r = await runCli(['drill', '-i', inv, '--scenario', 'all-down', '--yes', '--state-dir', tempDir()]);
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/not marked disposable.*--disposable/s);
    }, T);
  }
});
