import { createHash } from 'node:crypto';
import { ackedCheck, ACKED_CHECK } from '../../src/drill/acked.js';
import { parseInventory } from '../../src/inventory/index.js';
import { renderInventory } from '../../src/lab/render.js';
import { LAB_APISERVER_HOOKS, withApiserverHooks } from '../../src/lab/apiserver.js';

const sha = (v: string) => createHash('sha256').update(v).digest('hex');

describe('the lab inventory with the apiserver hooks', () => {
  const base = renderInventory(
    [1, 2, 3].map((i) => ({ name: `etcd${i}`, host: `k2-master0${i}`, address: `127.0.100.${i}` })),
    { identityFile: '/lab/id_ed25519', knownHostsFile: '/lab/known_hosts' },
  );
  it('every node stops the writer before a recovery and starts it after', () => {
    const inv = parseInventory(withApiserverHooks(base), '/lab/inventory.yaml', { env: {}, home: '/root', cwd: '/' });
    for (const n of inv.nodes) expect(n.hooks).toEqual({ beforeStop: [...LAB_APISERVER_HOOKS.beforeStop], afterVerify: [...LAB_APISERVER_HOOKS.afterVerify], timeoutSec: 60 });
  });
  it('is added once', () => {
    expect(withApiserverHooks(withApiserverHooks(base))).toBe(withApiserverHooks(base));
  });
});

describe('ackedCheck', () => {
  const acked = [
    { node: 'etcd1', key: '/registry/lab-apiserver/a/1', value: 'a/1/t' },
    { node: 'etcd2', key: '/registry/lab-apiserver/b/1', value: 'b/1/t' },
  ];
  const capture = (entries: [string, string][]) => ({ revision: 42, values: new Map(entries.map(([k, v]) => [k, sha(v)])) });
  it.each([
    ['all there', [['/registry/lab-apiserver/a/1', 'a/1/t'], ['/registry/lab-apiserver/b/1', 'b/1/t'], ['/other', 'x']], true, /^all 2 writes acknowledged by the writers on etcd1, etcd2 read back with their values at revision 42$/],
    ['one missing', [['/registry/lab-apiserver/a/1', 'a/1/t']], false, /^1 of 2 acknowledged writes lost \(1 missing, 0 changed\), e\.g\. \/registry\/lab-apiserver\/b\/1$/],
    ['one changed', [['/registry/lab-apiserver/a/1', 'a/1/t'], ['/registry/lab-apiserver/b/1', 'other']], false, /\(0 missing, 1 changed\)/],
  ] as [string, [string, string][], boolean, RegExp][])('%s', (_what, entries, pass, evidence) => {
    const c = ackedCheck(acked, capture(entries));
    expect(c).toMatchObject({ name: ACKED_CHECK, pass });
    expect(c.evidence).toMatch(evidence);
  });
  it('no acknowledged write at all proves nothing: it fails', () => {
    expect(ackedCheck([], capture([]))).toMatchObject({ pass: false, evidence: expect.stringContaining('nothing was proven') });
  });
});
