/**
 * etcd-dr as people install it: `npm pack`, then `npm install -g` of the tarball into a clean prefix, then
 * the installed command from a fresh directory with a fresh $HOME: `--help`, `inventory show`, `show` of
 * a saved plan, and the demo (a 3-node lab on 127.0.142.x, with --json: one document). The package carries its licence,
 * docs and example inventory; nothing is written inside the installed package, and the run's files land
 * in $HOME/.local/state/etcd-dr.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { tempDir } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 420_000;
const work = tempDir('etcd-dr-pkg-');
const prefix = join(work, 'prefix');
const home = join(work, 'home');
const cwd = join(work, 'cwd');
const pkgDir = join(prefix, 'lib', 'node_modules', 'etcd-dr');
const bin = join(prefix, 'bin', 'etcd-dr');

/** Every file under a dir with its size and mtime: what "nothing written there" is checked against. */
function listing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)} ${statSync(p).size} ${statSync(p).mtimeMs}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** The installed command, as a user's shell runs it: PATH with the prefix's bin, a fresh HOME, no XDG or etcd-dr variables. */
function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { PATH: `${join(prefix, 'bin')}:${process.env['PATH'] ?? '/usr/bin:/bin'}`, HOME: home, LANG: 'C.UTF-8', CI: 'true' };
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (c: Buffer) => out.push(c));
    child.stderr!.on('data', (c: Buffer) => err.push(c));
    child.once('exit', (code) => resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }));
  });
}

beforeAll(() => {
  for (const d of [prefix, home, cwd]) mkdirSync(d, { recursive: true });
  const env = { ...process.env };
  delete env['NODE_OPTIONS'];
  const tgz = execFileSync('npm', ['pack', '--silent', '--pack-destination', work], { cwd: process.cwd(), env, encoding: 'utf8' }).trim().split('\n').pop()!;
  // dependencies from npm's cache when it has them (npm ci filled it), else from the registry
  execFileSync('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel', 'error', join(work, tgz)], { env, stdio: 'ignore' });
}, T);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('the installed package', () => {
  it('carries its licence, docs and example inventory, and no cache or state', () => {
    for (const f of ['LICENSE', 'README.md', 'SECURITY.md', 'inventory.example.yaml', 'docs/json.md', 'docs/design.md', 'dist/cli/main.js', 'lab-assets/systemctl']) {
      expect(existsSync(join(pkgDir, f))).toBe(true);
    }
    expect(readFileSync(join(pkgDir, 'LICENSE'), 'utf8')).toContain('Apache License\n                           Version 2.0, January 2004');
    const pj = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { engines: { node: string }; license: string };
    expect(pj).toMatchObject({ license: 'Apache-2.0', engines: { node: '>=22' } });
    for (const f of ['.cache', '.etcd-dr', 'src', 'test', 'node_modules/.bin/jest']) expect(existsSync(join(pkgDir, f))).toBe(false);
  });

  it('--help and -h from any directory; --version', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('etcd-dr status');
    expect((await run(['recover', '-h'])).stdout).toMatch(/Examples:[^]*Exit codes: 0 /);
    const v = await run(['--version']);
    expect(v.stdout.trim()).toBe((JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('inventory show: how each node of ./inventory.yaml will be reached, connecting to none', async () => {
    const nodes = [1, 2, 3].map((i) => `  - { name: etcd${i}, host: k2-master0${i}, address: 192.0.2.${i} }\n`).join('');
    writeFileSync(join(cwd, 'inventory.yaml'), `cluster:\n  name: k2\nnodes:\n${nodes}`);
    const text = await run(['inventory', 'show']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^etcd1 \(192\.0\.2\.1\): [^]*route +direct/m);
    const json = await run(['inventory', 'show', '--json']);
    expect(json.code).toBe(0);
    const doc = JSON.parse(json.stdout) as { command: string; nodes: { name: string; host: string; port: number }[] };
    expect(doc.command).toBe('inventory show');
    expect(doc.nodes.map((n) => [n.name, n.host, n.port])).toEqual([['etcd1', '192.0.2.1', 22], ['etcd2', '192.0.2.2', 22], ['etcd3', '192.0.2.3', 22]]);
  });

  it('the demo runs from the installed package and writes nothing inside it', async () => {
    const before = listing(pkgDir);
    const r = await run(['demo', '--json', '--address-base', e2eNet(142), '--keys', '300', '--mb', '2']);
    if (r.code !== 0) console.error(r.stdout, r.stderr.slice(-4000));
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout) as { schemaVersion: number; command: string; pass: boolean; files: { json: string } };
    expect(doc).toMatchObject({ schemaVersion: 1, command: 'demo', pass: true });
    // the run's files in the user's XDG state dir; the demo's lab was in the working directory, and is gone
    expect(doc.files.json.startsWith(join(home, '.local', 'state', 'etcd-dr', 'runs'))).toBe(true);
    expect(existsSync(doc.files.json)).toBe(true);
    expect(existsSync(join(cwd, '.etcd-dr', 'demo-lab'))).toBe(false);
    expect(listing(pkgDir)).toEqual(before);

    // a plan saved by the run is shown again with no inventory at all
    const plan = join(doc.files.json, '..', 'plan.json');
    const shown = await run(['show', plan, '--format', 'markdown']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^# etcd-dr plan `[0-9a-fTZ-]+`: recover of cluster `k2`/);
  }, T);
});
