import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunDir } from '../../src/apply/rundir.js';
import { pickRun } from '../../src/apply/pick-run.js';
import { defaultCacheDir, defaultStateDir, runStateDirs } from '../../src/util/dirs.js';

describe('state and cache dirs (XDG)', () => {
  test.each([
    ['the flag wins', { ETCD_DR_STATE_DIR: '/srv/e', XDG_STATE_HOME: '/x' }, 'mine', '/w/mine'],
    ['then $ETCD_DR_STATE_DIR (relative to the cwd)', { ETCD_DR_STATE_DIR: 'st', XDG_STATE_HOME: '/x' }, undefined, '/w/st'],
    ['then $XDG_STATE_HOME/etcd-dr', { XDG_STATE_HOME: '/x/state' }, undefined, '/x/state/etcd-dr'],
    ['a relative $XDG_STATE_HOME is ignored', { XDG_STATE_HOME: 'rel', HOME: '/home/op' }, undefined, '/home/op/.local/state/etcd-dr'],
    ['else ~/.local/state/etcd-dr', { HOME: '/home/op' }, undefined, '/home/op/.local/state/etcd-dr'],
    ['no usable $HOME: the passwd home', {}, undefined, join(homedir(), '.local', 'state', 'etcd-dr')],
  ] as const)('state: %s', (_what, env, flag, want) => {
    expect(defaultStateDir(env, '/w', flag)).toBe(want);
  });

  test.each([
    ['$ETCD_DR_CACHE wins', { ETCD_DR_CACHE: '/c', XDG_CACHE_HOME: '/x' }, '/nonexistent/.cache', '/c'],
    ['a checkout cache that does not exist is not used', { XDG_CACHE_HOME: '/x' }, '/nonexistent/.cache', '/x/etcd-dr'],
    ['no checkout: $XDG_CACHE_HOME/etcd-dr', { XDG_CACHE_HOME: '/x' }, undefined, '/x/etcd-dr'],
    ['else ~/.cache/etcd-dr', { HOME: '/home/op' }, undefined, '/home/op/.cache/etcd-dr'],
  ] as const)('cache: %s', (_what, env, checkout, want) => {
    expect(defaultCacheDir(env, checkout)).toBe(want);
  });

  it('uses a checkout cache that exists', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/x' }, tmpdir())).toBe(tmpdir());
  });
});

describe('resume finds a run from any working directory, and the runs of earlier versions in ./.etcd-dr', () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'etcd-dr-dirs-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const run = (stateDir: string, id: string, ends: Array<'done' | 'failed' | 'interrupted'>) => {
    const r = new RunDir(stateDir, id);
    r.create();
    writeFileSync(r.planPath, '{}');
    r.append({ event: 'run-start', runId: id, resumed: false, pid: 1 });
    for (const outcome of ends) r.append({ event: 'run-end', outcome, ms: 1 });
    return r;
  };

  it('searches the XDG state dir, then ./.etcd-dr when it holds runs; a given state dir alone', () => {
    const env = { XDG_STATE_HOME: join(root, 'xdg') };
    const cwd = join(root, 'cwd');
    mkdirSync(cwd);
    expect(runStateDirs(env, cwd)).toEqual([join(root, 'xdg', 'etcd-dr')]);
    mkdirSync(join(cwd, '.etcd-dr', 'runs'), { recursive: true });
    expect(runStateDirs(env, cwd)).toEqual([join(root, 'xdg', 'etcd-dr'), join(cwd, '.etcd-dr')]);
    expect(runStateDirs({ ...env, ETCD_DR_STATE_DIR: '/s' }, cwd)).toEqual(['/s']);
    expect(runStateDirs(env, cwd, 'given')).toEqual([join(cwd, 'given')]);
  });

  it('picks the newest unfinished run across both, and a named run wherever it is', () => {
    const xdg = join(root, 'xdg', 'etcd-dr');
    const legacy = join(root, 'cwd', '.etcd-dr');
    run(xdg, '20261201T100000Z-aaaa', ['interrupted']);
    run(xdg, '20261203T100000Z-cccc', ['done']);
    run(legacy, '20261202T100000Z-bbbb', ['failed']);
    expect(pickRun([xdg, legacy]).runId).toBe('20261202T100000Z-bbbb');
    expect(pickRun([xdg, legacy]).dir).toBe(join(legacy, 'runs', '20261202T100000Z-bbbb'));
    expect(pickRun([xdg, legacy], '20261201T100000Z-aaaa').dir).toBe(join(xdg, 'runs', '20261201T100000Z-aaaa'));
    expect(() => pickRun([xdg, legacy], '20261209T100000Z-dddd')).toThrow(`no run 20261209T100000Z-dddd in ${join(xdg, 'runs')} or ${join(legacy, 'runs')}`);
    run(xdg, '20261204T100000Z-eeee', []);
    expect(pickRun([xdg, legacy]).runId).toBe('20261204T100000Z-eeee');
  });
});
