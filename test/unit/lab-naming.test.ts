import { resolveLabParams } from '../../src/lab/up.js';
import {
  addressBaseProblem, deriveNodes, etcdVersionProblem, initialCluster, labDirProblem, nodeCountProblem, resolveNodeRef,
} from '../../src/lab/naming.js';
import { resolveLabDir } from '../../src/lab/paths.js';
import { EXIT, ExitError, InputError } from '../../src/util/errors.js';

describe('deriveNodes', () => {
  it.each([
    [1, '127.0.10.', [{ name: 'etcd1', host: 'k2-master01', address: '127.0.10.1' }]],
    [3, '127.0.11.', [
      { name: 'etcd1', host: 'k2-master01', address: '127.0.11.1' },
      { name: 'etcd2', host: 'k2-master02', address: '127.0.11.2' },
      { name: 'etcd3', host: 'k2-master03', address: '127.0.11.3' },
    ]],
  ])('%i nodes on %s', (n, base, want) => {
    expect(deriveNodes(n, base)).toEqual(want);
  });
  it('names the seventh node k2-master07 at .7', () => {
    expect(deriveNodes(7, '127.0.10.')[6]).toEqual({ name: 'etcd7', host: 'k2-master07', address: '127.0.10.7' });
  });
});

describe('input checks', () => {
  it.each([
    [3, undefined],
    [1, undefined],
    [7, undefined],
    [0, /1 to 7/],
    [8, /1 to 7/],
    [2.5, /whole number/],
    ['3', /whole number/],
  ])('node count %j', (n, want) => {
    const p = nodeCountProblem(n);
    if (want) expect(p?.message).toMatch(want);
    else expect(p).toBeUndefined();
  });

  it.each([
    ['3.4', undefined],
    ['3.5', undefined],
    ['3.6', /3\.4, 3\.5/],
    [3.5, /3\.4, 3\.5/],
  ])('etcd version %j', (v, want) => {
    const p = etcdVersionProblem(v);
    if (want) expect(p?.message).toMatch(want);
    else expect(p).toBeUndefined();
  });

  it.each([
    ['127.0.10.', undefined],
    ['127.255.0.', undefined],
    ['127.0.0.', /host's own loopback/],
    ['127.0.10', /trailing dot/],
    ['10.0.0.', /loopback/],
    ['127.0.300.', /0–255/],
    ['127.0.10.1', /trailing dot/],
  ])('address base %j', (base, want) => {
    const p = addressBaseProblem(base, 3);
    if (want) {
      expect(p?.field).toBe('--address-base');
      expect(p?.message).toMatch(want);
    } else expect(p).toBeUndefined();
  });

  it.each([
    ['/tmp/lab', undefined],
    ['/work/main/.etcd-dr/lab', undefined],
    ['/root/x/.etcd-dr/lab', undefined],
    ['/home/me/lab', undefined],
    ['relative/lab', /absolute/],
    ['/tmp/../lab', /normalised/],
    ['/', /normalised/],
    ['/tmp/my lab', /characters/],
    ['/tmp/a,b', /characters/],
    ['/tmp/a:b', /characters/],
    ['/etc/lab', /under \/etc/],
    ['/var/lib/lab', /under \/var\/lib/],
    ['/var/log/x', /under \/var\/log/],
    ['/run/lab', /under \/run/],
    ['/var/libx/lab', undefined],
  ])('lab dir %j', (dir, want) => {
    const p = labDirProblem(dir);
    if (want) expect(p?.message).toMatch(want);
    else expect(p).toBeUndefined();
  });
});

describe('resolveNodeRef', () => {
  const nodes = deriveNodes(3, '127.0.10.');
  it.each([
    ['etcd2', 'etcd2'],
    ['k2-master03', 'etcd3'],
    ['127.0.10.1', 'etcd1'],
    [' etcd1 ', 'etcd1'],
    ['etcd4', undefined],
    ['127.0.10.10', undefined],
  ])('%j -> %j', (ref, want) => {
    expect(resolveNodeRef(nodes, ref)?.name).toBe(want);
  });
});

describe('initialCluster', () => {
  it('lists every member with its peer URL', () => {
    expect(initialCluster(deriveNodes(2, '127.0.10.'))).toBe('etcd1=https://127.0.10.1:2380,etcd2=https://127.0.10.2:2380');
  });
});

describe('resolveLabDir', () => {
  it.each([
    [undefined, {}, '/w', '/w/.etcd-dr/lab'],
    ['x/lab', {}, '/w', '/w/x/lab'],
    ['/abs/lab', { ETCD_DR_LAB_DIR: '/env/lab' }, '/w', '/abs/lab'],
    [undefined, { ETCD_DR_LAB_DIR: '/env/lab' }, '/w', '/env/lab'],
    [undefined, { ETCD_DR_LAB_DIR: 'rel' }, '/w', '/w/rel'],
  ])('option %j env %j cwd %j', (opt, env, cwd, want) => {
    expect(resolveLabDir(opt, env, cwd)).toBe(want);
  });
});

describe('resolveLabParams', () => {
  const existing = { nodeCount: 3, etcd: '3.4' as const, addressBase: '127.0.10.' };
  it.each([
    [undefined, {}, { nodeCount: 3, members: 3, etcd: '3.4', addressBase: '127.0.10.' }],
    [undefined, { nodes: 5, etcd: '3.5' as const, addressBase: '127.0.12.' }, { nodeCount: 5, members: 5, etcd: '3.5', addressBase: '127.0.12.' }],
    [undefined, { nodes: 5, members: 3 }, { nodeCount: 5, members: 3, etcd: '3.4', addressBase: '127.0.10.' }],
    [existing, {}, { ...existing, members: 3 }],
    [existing, { nodes: 3, etcd: '3.4' as const }, { ...existing, members: 3 }],
    [{ ...existing, nodeCount: 5, members: 3 }, { members: 3 }, { ...existing, nodeCount: 5, members: 3 }],
  ])('existing %j, options %j', (ex, opts, want) => {
    expect(resolveLabParams(ex, opts, '/l')).toEqual({ profile: 'plain', features: { eventsCluster: false, kubesprayEnv: false, opsLogin: false }, ...want });
  });

  it.each([
    [undefined, { profile: 'kubespray' as const }, 'kubespray', { eventsCluster: true, kubesprayEnv: true, opsLogin: true }],
    [undefined, { profile: 'kubespray' as const, features: { opsLogin: false } }, 'kubespray', { eventsCluster: true, kubesprayEnv: true, opsLogin: false }],
    [undefined, { features: { eventsCluster: true } }, 'plain', { eventsCluster: true, kubesprayEnv: false, opsLogin: false }],
    // an existing lab keeps what it was made with
    [{ ...existing, profile: 'kubespray' as const, features: { eventsCluster: true, kubesprayEnv: true, opsLogin: true } }, {}, 'kubespray', { eventsCluster: true, kubesprayEnv: true, opsLogin: true }],
  ])('profile: existing %j, options %j', (ex, opts, profile, features) => {
    expect(resolveLabParams(ex, opts, '/l')).toMatchObject({ profile, features });
  });

  it('refuses an unknown profile, and another profile than an existing lab was made with', () => {
    expect(() => resolveLabParams(undefined, { profile: 'k8s' as never }, '/l')).toThrow(/unknown lab profile "k8s"; choose one of: plain, kubespray/);
    expect(() => resolveLabParams(existing, { profile: 'kubespray' }, '/l')).toThrow(/profile kubespray \(it has plain\)/);
  });

  it.each([
    [{ nodes: 5 }, /5 nodes \(it has 3\)/],
    [{ etcd: '3.5' as const }, /etcd 3\.5 \(it runs 3\.4\)/],
    [{ addressBase: '127.0.11.' }, /127\.0\.11\.N/],
    [{ members: 2 }, /2 members \(it was made with 3\)/],
  ])('refuses other parameters on an existing lab: %j', (opts, want) => {
    let err: unknown;
    try {
      resolveLabParams(existing, opts, '/l');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.badInput);
    expect((err as ExitError).message).toMatch(want);
    expect((err as ExitError).hint).toContain('etcd-dr lab down --purge --dir /l');
  });

  it('reports every bad option of a new lab at once', () => {
    let err: unknown;
    try {
      resolveLabParams(undefined, { nodes: 9, addressBase: '10.0.0.' }, '/l');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).problems.map((p) => p.field)).toEqual(['--nodes', '--address-base']);
  });

  it.each([0, 6, 2.5])('refuses %j members of 5 nodes', (members) => {
    let err: unknown;
    try {
      resolveLabParams(undefined, { nodes: 5, members }, '/l');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).problems.map((p) => p.field)).toEqual(['--members']);
  });
});
