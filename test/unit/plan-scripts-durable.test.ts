/**
 * Node-side writes are durable: the env-file backup and every env file written or restored is synced
 * before the rename that makes it visible, and its directory after the rename; an old coreutils `sync`
 * that takes no operand falls back to a full sync. Run for real with `sync` and `mv` shims that log.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearEmptyLockScript, EMPTY_SHA256, lockScript, restoreEnvScript, writeEnvScript } from '../../src/plan/scripts.js';
import { sha256Hex } from '../../src/util/hash.js';

let dir: string;
let shims: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-durable-'));
  shims = join(dir, 'bin');
  log = join(dir, 'calls.log');
  mkdirSync(shims);
  writeFileSync(log, '');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** shims that log `name args…` (paths relative to the test dir), then run the real command */
function shim(old = false): void {
  const real = (c: string) => spawnSync('sh', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim();
  const rel = `$(printf '%s ' "$@" | sed "s#${dir}/##g")`;
  writeFileSync(
    join(shims, 'sync'),
    old
      ? `#!/bin/sh\nif [ $# -gt 0 ]; then echo "sync: extra operand" >&2; exit 1; fi\necho "sync(all)" >> ${log}\nexec ${real('sync')}\n`
      : `#!/bin/sh\necho "sync ${rel}" >> ${log}\nexec ${real('sync')} "$@"\n`,
  );
  writeFileSync(join(shims, 'mv'), `#!/bin/sh\necho "mv ${rel}" >> ${log}\nexec ${real('mv')} "$@"\n`);
  chmodSync(join(shims, 'sync'), 0o755);
  chmodSync(join(shims, 'mv'), 0o755);
}

function run(script: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { ...process.env, PATH: `${shims}:${process.env['PATH']}` } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

/** the log with temp names made stable: `.etcd.env.etcd-dr.XXXXXX` → `<tmp>` */
const calls = () =>
  readFileSync(log, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.trim().replace(/\.[\w.-]+\.etcd-dr\.\w{6}/g, '<tmp>'));

describe('durable node-side writes', () => {
  it('write-env: backup synced before its rename, the new file synced before its rename, each directory after', () => {
    shim();
    const f = join(dir, 'etcd.env');
    writeFileSync(f, 'A=1\n');
    const r = run(writeEnvScript({ path: f, backup: `${f}.bak`, beforeSha256: sha256Hex('A=1\n'), content: 'A=2\n', afterSha256: sha256Hex('A=2\n') }));
    expect(r).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(calls()).toEqual(['sync <tmp>', 'mv -f <tmp> etcd.env.bak', `sync ${dir}`, 'sync <tmp>', 'mv -f <tmp> etcd.env', `sync ${dir}`]);
    expect(readFileSync(f, 'utf8')).toBe('A=2\n');
    expect(readFileSync(`${f}.bak`, 'utf8')).toBe('A=1\n');
  });

  it('restore-env: the backup copy synced before it replaces the file, the directory after', () => {
    shim();
    const f = join(dir, 'etcd.env');
    writeFileSync(f, 'A=2\n');
    writeFileSync(`${f}.bak`, 'A=1\n');
    expect(run(restoreEnvScript(f, `${f}.bak`, '20261205T230000Z-aaaa'))).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(calls()).toEqual(['sync <tmp>', 'mv -f <tmp> etcd.env', `sync ${dir}`]);
    expect(readFileSync(f, 'utf8')).toBe('A=1\n');
  });

  it('a created env file and its absent-marker: the marker\'s directory synced, the file synced before its rename', () => {
    shim();
    const f = join(dir, 'new.env');
    const r = run(writeEnvScript({ path: f, backup: `${f}.bak`, beforeSha256: EMPTY_SHA256, content: 'B=1\n', afterSha256: sha256Hex('B=1\n') }));
    expect(r.code).toBe(0);
    expect(calls()).toEqual([`sync ${dir}`, 'sync <tmp>', 'mv -f <tmp> new.env', `sync ${dir}`]);
  });

  it('an old coreutils sync without operands: a full sync in each place instead', () => {
    shim(true);
    const f = join(dir, 'etcd.env');
    writeFileSync(f, 'A=1\n');
    const r = run(writeEnvScript({ path: f, backup: `${f}.bak`, beforeSha256: sha256Hex('A=1\n'), content: 'A=2\n', afterSha256: sha256Hex('A=2\n') }));
    expect(r).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(calls()).toEqual(['sync(all)', 'mv -f <tmp> etcd.env.bak', 'sync(all)', 'sync(all)', 'mv -f <tmp> etcd.env', 'sync(all)']);
  });

  it('the lock file is synced once written; an empty one is cleared (set aside) and a run\'s lock is not', () => {
    shim();
    const lock = join(dir, 'lock');
    expect(run(lockScript(lock, '20261205T230000Z-aaaa', 'ops@b')).out).toBe('etcd-dr:done');
    expect(calls()).toEqual(['sync lock', `sync ${dir}`]);
    const held = run(clearEmptyLockScript(lock));
    expect(held).toMatchObject({ code: 3, err: 'etcd-dr:held-by 20261205T230000Z-aaaa' });
    writeFileSync(lock, '');
    expect(run(clearEmptyLockScript(lock))).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(spawnSync('ls', [dir], { encoding: 'utf8' }).stdout).toMatch(/^lock\.empty-cleared-\d+$/m);
    expect(run(clearEmptyLockScript(lock)).out).toBe('etcd-dr:already');
  });
});
