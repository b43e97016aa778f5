/**
 * A data dir that is its own mount point: what the probe's df section says, which layout a plan chooses,
 * what it refuses before anything is stopped, and what the set-aside and restore scripts do to the files
 * (run with sh in a temp dir; a mount point cannot be made without root, and the scripts' inside layout
 * does not depend on one).
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DATA_DIR_FS, parseDataDirFs, parseWalDirFs, WAL_DIR_FS } from '../../src/facts/probe-script.js';
import type { NodeFacts } from '../../src/facts/types.js';
import { layoutOf, refuseWalDir, roomCheck, setAsidePath } from '../../src/plan/datadir-layout.js';
import { planRecover } from '../../src/plan/recover.js';
import { renderPlanMarkdown, renderPlanText } from '../../src/plan/render.js';
import { planReplace, planScaleIn, planScaleOut } from '../../src/plan/scale.js';
import { moveAsideScript, restoreScript, setAsideScript } from '../../src/plan/scripts.js';
import type { RecoverIntent } from '../../src/plan/types.js';
import { clusterFacts, envFileText, inventory, node, nodeSpec, type NodeOpts } from '../support/facts.js';
import { planContext, refusal, RUN, stepsOf } from '../support/plan-helpers.js';

const MiB = 1048576;

/** `f` with its data dir the root of an ext4 volume with `free` bytes free */
function mounted(f: NodeFacts, free = 10_000 * MiB): NodeFacts {
  f.dataDir = { ...f.dataDir!, mountPoint: true, fsType: 'ext4', freeBytes: free };
  return f;
}

const recoverIntent: RecoverIntent = { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups' };
const stopped = (o: NodeOpts = {}) => [1, 2, 3].map((i) => node(i, { running: false, revision: 1000 + i, version: '3.5.30', ...o }));
const ctxOf = (nodes: NodeFacts[]) => planContext(inventory(nodes.length), clusterFacts(nodes));

describe('the probe: the file system of the data dir', () => {
  it.each([
    ['ext4 57165\nmount-point\n', { freeBytes: 57165 * 1024, fsType: 'ext4', mountPoint: true }],
    ['xfs 1024\n', { freeBytes: 1024 * 1024, fsType: 'xfs', mountPoint: false }],
    ['overlay 80000000', { freeBytes: 80000000 * 1024, fsType: 'overlay', mountPoint: false }],
    ['- -\n', { mountPoint: false }],
    ['', { mountPoint: false }],
  ])('%j', (out, expected) => {
    expect(parseDataDirFs({ rc: 0, out, err: '' })).toEqual(expected);
  });
  it('a failed df says nothing', () => {
    expect(parseDataDirFs({ rc: 1, out: 'ext4 1\nmount-point', err: 'df: no such file' })).toEqual({ mountPoint: false });
    expect(parseDataDirFs(undefined)).toEqual({ mountPoint: false });
  });
});

describe('the probe\'s df sections, run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-probe-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const run = (script: string, arg: string) => {
    const r = spawnSync('sh', ['-c', script, '_', arg], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' } });
    return { rc: r.status ?? -1, out: r.stdout, err: r.stderr };
  };

  it('a data dir: its file system and room; a missing one: its parent\'s; / is a mount point', () => {
    mkdirSync(join(dir, 'etcd'));
    const got = parseDataDirFs(run(DATA_DIR_FS, join(dir, 'etcd')));
    expect(got).toMatchObject({ mountPoint: false, fsType: expect.stringMatching(/^\w/), freeBytes: expect.any(Number) });
    expect(parseDataDirFs(run(DATA_DIR_FS, join(dir, 'none')))).toMatchObject({ mountPoint: false, freeBytes: expect.any(Number) });
    expect(parseDataDirFs(run(DATA_DIR_FS, '/')).mountPoint).toBe(true);
  });

  it.each([
    ['ETCD_WAL_DIR=/', '/'],
    ['ETCD_WAL_DIR="/"', '/'],
    ["  ETCD_WAL_DIR='/'", '/'],
    ['ETCD_WAL_DIR=/first\nETCD_WAL_DIR=/', '/'],
  ])('the WAL dir an env file sets: %j', (line, path) => {
    const env = join(dir, 'etcd.env');
    writeFileSync(env, `ETCD_NAME=etcd1\n${line}\n`);
    expect(parseWalDirFs(run(WAL_DIR_FS, env))).toMatchObject({ path, mountPoint: true });
  });

  it('no WAL dir line: nothing', () => {
    const env = join(dir, 'etcd.env');
    writeFileSync(env, 'ETCD_NAME=etcd1\n');
    expect(parseWalDirFs(run(WAL_DIR_FS, env))).toBeUndefined();
  });
});

describe('layout and set-aside paths', () => {
  it.each([
    [false, 'beside', '/var/lib/etcd.etcd-dr-R'],
    [true, 'inside', '/var/lib/etcd/etcd-dr-R'],
  ] as const)('mount point %s: %s, %s', (mp, layout, path) => {
    const f = node(1);
    if (mp) mounted(f);
    expect(layoutOf(f)).toBe(layout);
    expect(setAsidePath('/var/lib/etcd', layoutOf(f), 'etcd-dr-R')).toBe(path);
  });
});

describe('room for a new data dir', () => {
  const db = 20 * MiB;
  it.each([
    ['beside, plenty', false, 5000 * MiB, 'none'],
    ['beside, short: a warning', false, 40 * MiB, 'warning'],
    ['beside, unknown', false, undefined, 'none'],
    ['inside, plenty', true, 5000 * MiB, 'none'],
    ['inside, db and two WAL files fit', true, db + 124 * MiB, 'none'],
    ['inside, one WAL file short: refused', true, db + 100 * MiB, 'refused'],
    ['inside, unknown', true, undefined, 'none'],
  ] as const)('%s', (_, inside, free, expected) => {
    const f = node(1);
    f.dataDir = { ...f.dataDir!, ...(free !== undefined ? { freeBytes: free } : { freeBytes: undefined }), ...(inside ? { mountPoint: true, fsType: 'ext4' } : {}) };
    if (free === undefined) delete f.dataDir.freeBytes;
    const call = () => roomCheck(nodeSpec(1), f, db, 'the restore');
    if (expected === 'refused') {
      const e = refusal(call);
      expect(e.message).toMatch(/^etcd1: \/var\/lib\/etcd is a file system of its own \(ext4\) with 120 MiB free, and the restore needs about 144 MiB there beside the data set aside/);
      expect(e.hint).toMatch(/grow that volume, or make room on it \(at least 24 MiB more\)/);
    } else if (expected === 'warning') {
      expect(call()).toMatch(/^etcd1: \/var\/lib has 40 MiB free/);
    } else {
      expect(call()).toBeUndefined();
    }
  });
});

describe('a WAL dir apart from the data dir', () => {
  const withWal = (line: string | null) => {
    const f = node(1);
    if (line !== null) f.env = { ...f.env!, text: `${envFileText(1)}${line}\n` };
    return f;
  };
  it.each([
    ['unset', null, false],
    ['inside the data dir, where etcd puts it anyway', 'ETCD_WAL_DIR=/var/lib/etcd/member/wal', false],
    ['the same with a trailing slash', 'ETCD_WAL_DIR=/var/lib/etcd/member/wal/', false],
    ['on a volume of its own', 'ETCD_WAL_DIR=/var/lib/etcd-wal', true],
    ['quoted', 'ETCD_WAL_DIR="/mnt/wal"', true],
  ] as const)('%s', (_, line, refused) => {
    const call = () => refuseWalDir(nodeSpec(1), withWal(line));
    if (refused) expect(refusal(call).message).toMatch(/^etcd1: \/etc\/etcd\.env sets ETCD_WAL_DIR=\S+, a WAL dir apart from the data dir \/var\/lib\/etcd/);
    else expect(call).not.toThrow();
  });

  it('names the WAL dir\'s own file system when the probe found one', () => {
    const f = withWal('ETCD_WAL_DIR=/var/lib/etcd-wal');
    f.dataDir = { ...f.dataDir!, walDir: { path: '/var/lib/etcd-wal', fsType: 'xfs', mountPoint: true } };
    expect(refusal(() => refuseWalDir(nodeSpec(1), f)).message).toMatch(/^etcd1: \/etc\/etcd\.env sets ETCD_WAL_DIR=\/var\/lib\/etcd-wal \(a file system of its own, xfs\), a WAL dir apart/);
  });

  it('refuses recover, scale-in and scale-out before any step', () => {
    const wal = (f: NodeFacts) => ({ ...f, env: { ...f.env!, text: `${f.env!.text}ETCD_WAL_DIR=/var/lib/etcd-wal\n` } });
    const down = stopped();
    down[2] = wal(down[2]!);
    expect(refusal(() => planRecover(ctxOf(down), recoverIntent)).message).toMatch(/^etcd3: .*ETCD_WAL_DIR=\/var\/lib\/etcd-wal/);
    const up = [1, 2, 3].map((i) => node(i));
    up[2] = wal(up[2]!);
    expect(refusal(() => planScaleIn(ctxOf(up), { kind: 'scale-in', members: ['etcd3'] })).message).toMatch(/^etcd3: .*ETCD_WAL_DIR/);
    const grow = [...[1, 2, 3].map((i) => node(i, { members: [1, 2, 3] })), wal(node(4, { running: false, hasDb: false, members: [1, 2, 3] }))];
    expect(refusal(() => planScaleOut(ctxOf(grow), { kind: 'scale-out', nodes: ['etcd4'] })).message).toMatch(/^etcd4: .*ETCD_WAL_DIR/);
  });
});

describe('plans on data dirs that are mount points', () => {
  it('recover sets every member/ aside inside its mount, restores inside it, and shows the layout', () => {
    const p = planRecover(ctxOf(stopped().map((f) => mounted(f))), recoverIntent);
    expect(stepsOf(p, 'move-data-dir').map((s) => s.action)).toEqual(
      [1, 2, 3].map(() => ({ type: 'move-data-dir', from: '/var/lib/etcd', to: `/var/lib/etcd/etcd-dr-${RUN}`, inside: true })),
    );
    const [restore] = stepsOf(p, 'restore-db');
    expect(restore!.action).toMatchObject({ db: `/var/lib/etcd/etcd-dr-${RUN}/member/snap/db`, dataDir: '/var/lib/etcd', inside: true });
    expect(restore!.commands[0]).toContain(`scratch=/var/lib/etcd/etcd-dr-${RUN}-restoring`);
    expect(p.dataDirs).toEqual(
      [1, 2, 3].map((i) => ({ node: `etcd${i}`, path: '/var/lib/etcd', layout: 'inside', fsType: 'ext4', freeBytes: 10_000 * MiB, setAside: `/var/lib/etcd/etcd-dr-${RUN}` })),
    );
    expect(renderPlanText(p)).toMatch(/^etcd3 +\/var\/lib\/etcd +ext4, 10000 MiB free +inside: its own mount point +\/var\/lib\/etcd\/etcd-dr-\S+\/member$/m);
    expect(renderPlanMarkdown(p)).toContain(`| etcd1 | /var/lib/etcd | ext4, 10000 MiB free | inside: its own mount point | /var/lib/etcd/etcd-dr-${RUN}/member |`);
  });

  it('a plain data dir keeps the layout beside it, and the plan says so', () => {
    const p = planRecover(ctxOf(stopped()), recoverIntent);
    expect(stepsOf(p, 'move-data-dir').map((s) => s.action.to)).toEqual([1, 2, 3].map(() => `/var/lib/etcd.etcd-dr-${RUN}`));
    expect(stepsOf(p, 'move-data-dir').some((s) => 'inside' in s.action)).toBe(false);
    expect('inside' in stepsOf(p, 'restore-db')[0]!.action).toBe(false);
    expect(p.dataDirs?.map((r) => r.layout)).toEqual(['beside', 'beside', 'beside']);
  });

  it('mixed: only the member whose data dir is a mount point sets aside inside it', () => {
    const nodes = stopped();
    mounted(nodes[0]!);
    const p = planRecover(ctxOf(nodes), recoverIntent);
    expect(stepsOf(p, 'move-data-dir').map((s) => s.action.to)).toEqual([`/var/lib/etcd/etcd-dr-${RUN}`, `/var/lib/etcd.etcd-dr-${RUN}`, `/var/lib/etcd.etcd-dr-${RUN}`]);
  });

  it('recover is refused when a joiner\'s volume cannot hold its copy beside the data set aside', () => {
    const nodes = stopped({ hasDb: true });
    mounted(nodes[0]!, 50 * MiB);
    const e = refusal(() => planRecover(ctxOf(nodes), recoverIntent));
    expect(e.message).toMatch(/^etcd1: \/var\/lib\/etcd is a file system of its own \(ext4\) with 50 MiB free, and its copy of the db from the leader needs about \d+ MiB there/);
  });

  it('scale-in and replace set the removed member\'s data aside inside its mount', () => {
    const up = () => [1, 2, 3].map((i) => mounted(node(i)));
    const inn = planScaleIn(ctxOf(up()), { kind: 'scale-in', members: ['etcd3'] });
    expect(stepsOf(inn, 'move-data-dir').map((s) => s.action)).toEqual([{ type: 'move-data-dir', from: '/var/lib/etcd', to: `/var/lib/etcd/etcd-dr-${RUN}`, inside: true }]);
    expect(stepsOf(inn, 'move-data-dir')[0]!.commands[0]).toContain('mv "$src/member" "$dst/member"');
    const rep = planReplace(ctxOf(up()), { kind: 'replace', member: 'etcd3' });
    expect(stepsOf(rep, 'move-data-dir').map((s) => [s.node, s.action.to])).toEqual([['etcd3', `/var/lib/etcd/etcd-dr-${RUN}`]]);
    expect(rep.dataDirs?.map((r) => r.node)).toEqual(['etcd3']);
  });
});

describe('the scripts, run', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-mount-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sh = (script: string, path = '/usr/bin:/bin') => {
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: path, LANG: 'C' } });
    return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
  };
  /** a data dir as a volume's root holds it: etcd's member/ and the file system's lost+found */
  const dataDir = () => {
    const d = join(dir, 'etcd');
    mkdirSync(join(d, 'member', 'snap'), { recursive: true });
    mkdirSync(join(d, 'lost+found'));
    writeFileSync(join(d, 'member', 'snap', 'db'), 'old data');
    return d;
  };

  it('inside: member/ moves into <dataDir>/etcd-dr-<run>, closed to others; lost+found stays; a repeat is already done', () => {
    const d = dataDir();
    const to = join(d, `etcd-dr-${RUN}`);
    expect(sh(moveAsideScript(d, to, true))).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(readdirSync(d).sort()).toEqual([`etcd-dr-${RUN}`, 'lost+found']);
    expect(readFileSync(join(to, 'member', 'snap', 'db'), 'utf8')).toBe('old data');
    expect(sh(`stat -c %a ${to}`).out).toBe('700');
    expect(sh(moveAsideScript(d, to, true))).toMatchObject({ code: 0, out: 'etcd-dr:already' });
    // no member/ at all (an empty volume): nothing to do
    rmSync(dir + '/x', { force: true });
    expect(sh(moveAsideScript(join(dir, 'empty'), join(dir, 'empty', 'x'), true)).out).toBe('etcd-dr:nothing');
  });

  it('setAsideScript sets an ordinary data dir aside beside it', () => {
    const d = dataDir();
    expect(sh(setAsideScript(d, `etcd-dr-${RUN}-failed-join-1`))).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(existsSync(d)).toBe(false);
    expect(readFileSync(join(`${d}.etcd-dr-${RUN}-failed-join-1`, 'member', 'snap', 'db'), 'utf8')).toBe('old data');
  });

  it('setAsideScript sets member/ aside inside a data dir that is a mount point (here: / as the test sees it, through a fake mountpoint)', () => {
    const d = dataDir();
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'mountpoint'), '#!/bin/sh\nexit 0\n');
    chmodSync(join(bin, 'mountpoint'), 0o755);
    expect(sh(setAsideScript(d, `etcd-dr-${RUN}-failed-join-1`), `${bin}:/usr/bin:/bin`)).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(readdirSync(d).sort()).toEqual([`etcd-dr-${RUN}-failed-join-1`, 'lost+found']);
  });

  it('restore inside: the scratch dir is on the volume, member/ is renamed into place with the marker, a repeat is already done', () => {
    const d = join(dir, 'etcd');
    mkdirSync(join(d, 'lost+found'), { recursive: true });
    const aside = join(d, `etcd-dr-${RUN}`);
    mkdirSync(join(aside, 'member', 'snap'), { recursive: true });
    writeFileSync(join(aside, 'member', 'snap', 'db'), 'the db');
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'etcdutl'), '#!/bin/sh\nfor a in "$@"; do case "$a" in --data-dir=*) d=${a#--data-dir=} ;; esac; done\nmkdir -p "$d/member/snap" "$d/member/wal"\necho restored > "$d/member/snap/db"\n');
    chmodSync(join(bin, 'etcdutl'), 0o755);
    const p = { tool: 'etcdutl' as const, db: join(aside, 'member', 'snap', 'db'), dataDir: d, name: 'etcd1', peerUrl: 'https://10.0.0.1:2380', initialCluster: 'etcd1=https://10.0.0.1:2380', token: `etcd-dr-${RUN}`, markCompacted: false, inside: true, runId: RUN };
    const path = `${bin}:/usr/bin:/bin`;
    expect(sh(restoreScript(p), path)).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(readdirSync(d).sort()).toEqual([`etcd-dr-${RUN}`, 'lost+found', 'member']);
    expect(readFileSync(join(d, 'member', 'snap', 'db'), 'utf8')).toBe('restored\n');
    expect(existsSync(join(d, 'member', `.etcd-dr-restored-${RUN}`))).toBe(true);
    expect(readFileSync(p.db, 'utf8')).toBe('the db');
    expect(sh(restoreScript(p), path)).toMatchObject({ code: 0, out: 'etcd-dr:already' });
    // live data that was not set aside is never restored over
    const other = { ...p, runId: `${RUN}x` };
    const r = sh(restoreScript(other), path);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`etcd-dr:data-dir-exists ${d}/member (it should have been set aside)`);
  });
});
