/**
 * The README's first command, as a user runs it: `etcd-dr demo` from a fresh directory with every
 * default (a 3-node etcd 3.4 lab on 127.0.10.x, 2000 keys and 20 MiB of values, the all-down drill, the
 * report, the lab taken down). The directory is a temp dir so the lab lands there; the run's files go to
 * $XDG_STATE_HOME/etcd-dr, pointed into that temp dir too.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');

function run(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true', XDG_STATE_HOME: join(cwd, 'state') };
    delete env['ETCD_DR_STATE_DIR'];
    delete env['NODE_OPTIONS'];
    const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.once('exit', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

describe('etcd-dr demo (the README first command)', () => {
  it('brings up a lab, breaks it, recovers it, reports PASS with every check met, and takes the lab down', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'etcd-dr-demo-'));
    // every default, unless the suite runs on a range of its own (ETCD_DR_E2E_NET): then only the addresses move
    const r = await run(process.env['ETCD_DR_E2E_NET'] ? ['demo', '--address-base', e2eNet(10)] : ['demo'], cwd);
    if (r.code !== 0) console.error(r.stdout, r.stderr);
    expect(r.code).toBe(0);

    // the report summary on stdout: the verdict, every check met, the RTO
    expect(r.stdout).toContain('drill all-down on k2: PASS');
    const checks = r.stdout.split('\n').filter((l) => /^ {2}(ok|FAIL) /.test(l));
    expect(checks.length).toBeGreaterThanOrEqual(8);
    expect(checks.filter((l) => !l.startsWith('  ok '))).toEqual([]);
    expect(r.stdout).toMatch(/RTO \d+\.\d+ s/);

    // the report files it names exist and say the same
    const json = r.stdout.match(/^ {10}(\S+drill\.json)$/m)?.[1];
    expect(json).toBeDefined();
    expect(json!.startsWith(join(cwd, 'state', 'etcd-dr', 'runs'))).toBe(true);
    const report = JSON.parse(readFileSync(json!, 'utf8')) as { pass: boolean; scenario: string; checks: { name: string; pass: boolean }[] };
    expect(report.scenario).toBe('all-down');
    expect(report.pass).toBe(true);
    expect(report.checks.filter((c) => !c.pass)).toEqual([]);
    for (const f of ['drill.md', 'drill.xml', 'log.jsonl']) expect(existsSync(join(json!, '..', f))).toBe(true);
    expect(readFileSync(join(json!, '..', 'drill.xml'), 'utf8')).toMatch(/<testsuite[^>]* failures="0"/);

    // the progress went to stderr, and the lab is gone afterwards
    expect(r.stderr).toContain('etcd-dr demo: bringing up a 3-node etcd 3.4 lab');
    expect(r.stderr).toContain('etcd-dr demo: lab taken down');
    expect(existsSync(join(cwd, '.etcd-dr', 'demo-lab'))).toBe(false);
    rmSync(cwd, { recursive: true, force: true });
  }, T);
});
