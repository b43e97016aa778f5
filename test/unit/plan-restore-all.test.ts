import type { NodeFacts } from '../../src/facts/types.js';
import { checkExclude } from '../../src/plan/exclude.js';
import { planRecovery, sentDbPath } from '../../src/plan/restore-all.js';
import { renderPlan } from '../../src/plan/render.js';
import { commitDbScript, receiveDbScript, sentDbCheckScript } from '../../src/plan/scripts.js';
import type { Plan, RecoverIntent } from '../../src/plan/types.js';
import { clusterFacts, inventory, node, nodeSpec, type NodeOpts } from '../support/facts.js';
import { planContext, refusal, RUN, runSh, stepsOf } from '../support/plan-helpers.js';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';

const MiB = 1048576;

function intent(over: Partial<RecoverIntent> = {}): RecoverIntent {
  return { kind: 'recover', exclude: [], learner: true, force: false, localBackup: true, backupDir: '/root/.etcd-dr/backups', ...over };
}

function stopped(o: NodeOpts = {}, per: Record<number, NodeOpts> = {}): NodeFacts[] {
  const revs = [1000, 1200, 1100];
  return [1, 2, 3].map((i) => node(i, { running: false, revision: revs[i - 1], version: '3.5.30', ...o, ...per[i] }));
}

const plan = (nodes: NodeFacts[], over: Partial<RecoverIntent> = {}): Plan => planRecovery(planContext(inventory(nodes.length), clusterFacts(nodes)), intent(over));
const outline = (p: Plan) => p.steps.map((s) => `${s.action.type} ${s.node ?? (s.nodes ?? []).join(',')}`);

describe('planRecovery: restore-all', () => {
  it('lock, stop, move aside, the copy to the bastion started and sent on as it is made, restore, env files and start on every member at once; verify, unlock', () => {
    // env files that still name an older membership: each is rewritten (an env file already right is left alone)
    const p = plan(stopped({ envCluster: [1, 2] }), { strategy: 'restore-all' });
    expect(p.strategy).toMatchObject({ name: 'restore-all', chosenBy: 'flag' });
    expect(outline(p)).toEqual([
      'lock etcd1,etcd2,etcd3',
      'stop-etcd etcd1,etcd2,etcd3',
      'move-data-dir etcd1',
      'move-data-dir etcd2',
      'move-data-dir etcd3',
      'backup-db etcd2',
      'send-db etcd1,etcd3',
      'backup-wait etcd2',
      'restore-all etcd1,etcd2,etcd3',
      'write-env etcd1',
      'write-env etcd2',
      'write-env etcd3',
      'start-all etcd1,etcd2,etcd3',
      'verify etcd1,etcd2,etcd3',
      'unlock etcd1,etcd2,etcd3',
    ]);
    expect(p.steps.map((s) => s.id)).toEqual([...new Set(p.steps.map((s) => s.id))]);
    expect(stepsOf(p, 'backup-db')[0]!.action.alongside).toBe(true);
    // the send knows the db the copy is made of: a resumed run without the copy makes it again
    expect(stepsOf(p, 'send-db')[0]!.action.from).toEqual({ node: 'etcd2', remoteDb: stepsOf(p, 'backup-db')[0]!.action.remoteDb });
    expect(p.steps.filter((s) => s.allAtOnce).map((s) => s.action.type)).toEqual(['send-db', 'restore-all', 'write-env', 'write-env', 'write-env', 'start-all']);
  });

  it('one token and the full initial cluster everywhere, each member its own name and peer URL; the survivor restores from its own db kept aside', () => {
    const p = plan(stopped({ envCluster: [1, 2] }), { strategy: 'restore-all' });
    const r = stepsOf(p, 'restore-all')[0]!.action;
    expect(r.token).toBe(`etcd-dr-${RUN}`);
    expect(r.initialCluster).toBe([1, 2, 3].map((i) => `etcd${i}=https://10.0.0.${i}:2380`).join(','));
    expect(r.tool).toBe('etcdutl');
    expect(r.markCompacted).toBe(true);
    expect(r.members.map((m) => [m.node, m.name, m.peerUrl])).toEqual([1, 2, 3].map((i) => [`etcd${i}`, `etcd${i}`, `https://10.0.0.${i}:2380`]));
    expect(r.members.find((m) => m.node === 'etcd2')!.db).toBe(`/var/lib/etcd.etcd-dr-${RUN}/member/snap/db`);
    expect(r.members.find((m) => m.node === 'etcd1')!.db).toBe(sentDbPath(nodeSpec(1), RUN));
    const send = stepsOf(p, 'send-db')[0]!.action;
    expect(send.localPath).toBe(stepsOf(p, 'backup-db')[0]!.action.localPath);
    expect(send.to).toEqual([{ node: 'etcd1', path: `/var/lib/etcd.etcd-dr-${RUN}-db` }, { node: 'etcd3', path: `/var/lib/etcd.etcd-dr-${RUN}-db` }]);
    expect(stepsOf(p, 'write-env')).toHaveLength(3);
    for (const e of stepsOf(p, 'write-env')) {
      expect(e.action.content).toContain(`ETCD_INITIAL_CLUSTER=${r.initialCluster}\n`);
      expect(e.action.content).toContain('ETCD_INITIAL_CLUSTER_STATE=existing\n');
    }
    // 3.4 restores with etcdctl
    expect(stepsOf(plan(stopped({ version: '3.4.30' }), { strategy: 'restore-all' }), 'restore-all')[0]!.action.tool).toBe('etcdctl');
  });

  it('its fallback is the rejoin path after the copy, with ids of its own and a token of its own', () => {
    const p = plan(stopped(), { strategy: 'restore-all' });
    const fb = p.fallback!;
    expect(fb.map((s) => s.action.type)).toEqual([
      'restore-db', 'write-env', 'start-etcd', 'member-add', 'write-env', 'start-etcd', 'promote', 'member-add', 'write-env', 'start-etcd', 'promote',
      'wait-healthy', 'wait-healthy', 'write-env', 'write-env', 'write-env', 'backup-wait', 'verify', 'unlock',
    ]);
    expect(fb.map((s) => s.id).slice(0, 2)).toEqual(['13-fb-restore-etcd2', '14-fb-env-etcd2']);
    const ids = [...p.steps, ...fb].map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    const r = stepsOf({ ...p, steps: fb }, 'restore-db')[0]!;
    expect(r.action.token).toBe(`etcd-dr-${RUN}-fb`);
    expect(r.commands[0]).toContain(`--initial-cluster-token=etcd-dr-${RUN}-fb`);
  });

  it('the text and markdown plans show the strategy, both estimates and the fallback', () => {
    const p = plan(stopped(), { strategy: 'restore-all' });
    const text = renderPlan(p, 'text');
    expect(text).toMatch(/Strategy: restore-all \(--strategy\)/);
    expect(text).toMatch(/rejoin .*joins/);
    expect(text).toMatch(/Fallback \(when a restore-all step fails/);
    expect(renderPlan(p, 'markdown')).toMatch(/## Strategy[\s\S]*## Fallback/);
  });

  it.each([
    ['members run different etcd versions', { 3: { version: '3.5.29' } }, /different or unknown etcd versions: .*etcd3 3\.5\.29/],
    ['a member lacks room for the copy and its restore', { 1: { freeBytes: 60 * MiB } }, /not enough room .*etcd1 has 60 MiB free and needs about 101 MiB/],
  ] as const)('refused before anything is stopped when %s; auto runs rejoin and says why', (_w, per, msg) => {
    const nodes = stopped({}, per as Record<number, NodeOpts>);
    expect(refusal(() => plan(nodes, { strategy: 'restore-all' })).message).toMatch(msg);
    const auto = plan(nodes, { strategy: 'auto' });
    expect(auto.strategy?.name).toBe('rejoin');
    expect(auto.warnings.join('\n')).toMatch(/--strategy auto runs rejoin: restore-all cannot run here/);
  });

  it('a data dir that is its own mount point: refused, auto runs rejoin', () => {
    const nodes = stopped();
    nodes[2]!.dataDir!.mountPoint = true;
    expect(refusal(() => plan(nodes, { strategy: 'restore-all' })).message).toMatch(/own mount point yet \(etcd3\)/);
    expect(plan(nodes, { strategy: 'auto' }).strategy?.name).toBe('rejoin');
  });

  it('the survivor needs room for its restore only', () => {
    expect(plan(stopped({}, { 2: { freeBytes: 90 * MiB } }), { strategy: 'restore-all' }).strategy?.name).toBe('restore-all');
  });

  it('--no-local-backup: refused, the copy is what is sent', () => {
    expect(refusal(() => plan(stopped(), { strategy: 'restore-all', localBackup: false })).message).toMatch(/--no-local-backup/);
  });

  it.each([
    [undefined, 'rejoin', 'default'],
    ['rejoin', 'rejoin', 'flag'],
    ['auto', 'restore-all', 'auto'],
  ] as const)('--strategy %s runs %s (chosen by %s), the estimate shown either way', (strategy, name, by) => {
    const p = plan(stopped(), strategy ? { strategy } : {});
    expect(p.strategy).toMatchObject({ name, chosenBy: by, estimate: { faster: 'restore-all' } });
    if (name === 'rejoin') expect(p.fallback).toBeUndefined();
  });

  it('a left-out member is neither sent the db nor restored', () => {
    const nodes = stopped({}, { 3: { reachable: false } });
    const p = plan(nodes, { strategy: 'restore-all', exclude: ['etcd3'] });
    expect(stepsOf(p, 'send-db')[0]!.action.to.map((t) => t.node)).toEqual(['etcd1']);
    expect(stepsOf(p, 'restore-all')[0]!.action.initialCluster).toBe('etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380');
  });
});

describe('the copy scripts', () => {
  it('receive: writes a temp file and says its sha256 and size; commit: puts it in place, moves a file there aside; check: already when whole', () => {
    const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-recv-'));
    const dst = join(dir, 'db');
    const body = Buffer.from('the db bytes\n');
    const sha = createHash('sha256').update(body).digest('hex');
    const recv = (data: Buffer) => spawnSync('sh', ['-c', receiveDbScript(dst)], { input: data, encoding: 'utf8' });
    const commit = (bytes: number) => spawnSync('sh', ['-c', commitDbScript(dst, bytes)], { encoding: 'utf8' });
    // a short copy: what was written is said, nothing stands at dst, and the commit of the bastion's size refuses
    const short = recv(Buffer.from('short'));
    expect(short.status).toBe(0);
    expect(short.stdout.trim()).toBe(`etcd-dr:received ${createHash('sha256').update('short').digest('hex')} 5`);
    expect(existsSync(dst)).toBe(false);
    const refused = commit(body.length);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/etcd-dr:copy-mismatch/);
    expect(existsSync(dst)).toBe(false);
    expect(runSh(sentDbCheckScript(dst, sha)).out).toBe('etcd-dr:missing');
    // the whole copy: received over the short one, committed, found in place after
    const ok = recv(body);
    expect(ok.stdout.trim()).toBe(`etcd-dr:received ${sha} ${body.length}`);
    expect(existsSync(dst)).toBe(false);
    expect(commit(body.length).stdout.trim()).toBe('etcd-dr:done');
    expect(readFileSync(dst)).toEqual(body);
    expect(existsSync(`${dst}.part`)).toBe(false);
    expect(commit(body.length).stdout.trim()).toBe('etcd-dr:already');
    expect(runSh(sentDbCheckScript(dst, sha)).out).toBe('etcd-dr:already');
    // a file already at dst is moved aside by a commit, never deleted
    recv(body);
    writeFileSync(dst, 'older');
    expect(commit(body.length).stdout.trim()).toBe('etcd-dr:done');
    expect(readFileSync(dst)).toEqual(body);
    expect(readdirSync(dir).filter((f) => f.startsWith('db.mismatch.')).map((f) => readFileSync(join(dir, f), 'utf8'))).toEqual(['older']);
    writeFileSync(dst, 'changed');
    expect(runSh(sentDbCheckScript(dst, sha)).out).toBe('etcd-dr:missing');
    expect(readdirSync(dir).filter((f) => f.startsWith('db.mismatch.')).length).toBe(2);
  });
});

describe('the hash a member takes of its copy', () => {
  const body = Buffer.from('x'.repeat(100000) + 'the db bytes\n');
  const sha = createHash('sha256').update(body).digest('hex');
  const shim = (script: string) => {
    const bin = mkdtempSync(join(tmpdir(), 'etcd-dr-bin-'));
    writeFileSync(join(bin, 'openssl'), `#!/bin/sh\n${script}\n`, { mode: 0o755 });
    return `${bin}:${process.env['PATH']}`;
  };
  it.each([
    ['OpenSSL\'s digest', process.env['PATH']!],
    ['sha256sum where openssl refuses the digest', shim('cat >/dev/null; echo "dgst: unsupported" >&2; exit 1')],
    ['sha256sum where openssl dies without reading', shim('exit 1')],
  ])('%s: the same sha256 and size, and the whole copy written', (_name, PATH) => {
    const dst = join(mkdtempSync(join(tmpdir(), 'etcd-dr-recv-')), 'db');
    const r = spawnSync('sh', ['-c', receiveDbScript(dst)], { input: body, encoding: 'utf8', env: { ...process.env, PATH } });
    expect(r.stdout.trim()).toBe(`etcd-dr:received ${sha} ${body.length}`);
    expect(readFileSync(`${dst}.part`)).toEqual(body);
    writeFileSync(dst, body);
    expect(spawnSync('sh', ['-c', sentDbCheckScript(dst, sha)], { encoding: 'utf8', env: { ...process.env, PATH } }).stdout.trim()).toBe('etcd-dr:already');
  });
});

describe('resume --exclude on a restore-all run', () => {
  it('is bad input until the run has gone on as rejoin (its fallback), then applies as on any rejoin run', () => {
    const p = plan(stopped(), { strategy: 'restore-all' });
    expect(() => checkExclude(p, ['etcd3'])).toThrow(/applies once it has gone on as rejoin/);
    const { fallback: _f, ...fellBack } = p;
    expect(() => checkExclude({ ...fellBack, steps: [...p.steps.slice(0, 6), ...p.fallback!] }, ['etcd3'])).not.toThrow();
  });
});

describe('restore-all with inventory hooks', () => {
  it('keeps beforeStop after the lock and afterVerify after the verification, in the plan and in its fallback', () => {
    const inv = inventory(3);
    const hooks = { beforeStop: ['systemctl stop kubelet'], afterVerify: ['systemctl start kubelet'], timeoutSec: 60 };
    const withHooks = { ...inv, nodes: inv.nodes.map((n) => ({ ...n, hooks })) };
    const p = planRecovery(planContext(withHooks, clusterFacts(stopped())), intent({ strategy: 'restore-all' }));
    const types = p.steps.map((s) => (s.action.type === 'hook' ? `hook ${s.action.hook}` : s.action.type));
    expect(types.slice(0, 3)).toEqual(['lock', 'hook beforeStop', 'stop-etcd']);
    expect(types.slice(-3)).toEqual(['verify', 'hook afterVerify', 'unlock']);
    expect(p.fallback!.map((s) => (s.action.type === 'hook' ? `hook ${s.action.hook}` : s.action.type)).slice(-3)).toEqual(['verify', 'hook afterVerify', 'unlock']);
    const ids = [...p.steps, ...p.fallback!].map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
