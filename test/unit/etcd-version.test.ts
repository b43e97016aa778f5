import { readFileSync } from 'node:fs';
import { EtcdCapabilityError, ParseError } from '../../src/etcd/errors.js';
import {
  compareVersions,
  hasEtcdutl,
  isSupportedVersion,
  memberListNeedsQuorum,
  parseEtcdctlVersion,
  parseEtcdutlVersion,
  parseEtcdVersion,
  parseToolVersion,
  parseVersion,
  restoreTool,
  supportsBumpRevision,
  supportsCountOnly,
  supportsLearner,
} from '../../src/etcd/version.js';

const fx = (v: string, name: string) => readFileSync(new URL(`../fixtures/etcd/${v}/${name}.txt`, import.meta.url), 'utf8');

describe.each([
  ['3.4', '3.4.23', 'go1.19.8'],
  ['3.5', '3.5.30', 'go1.26.4'],
])('captured etcd %s', (v, raw, go) => {
  it('etcd --version', () => {
    const ver = parseEtcdVersion(fx(v, 'etcd-version'));
    expect(ver).toMatchObject({ raw, prerelease: '', go });
    expect(`${ver.major}.${ver.minor}.${ver.patch}`).toBe(raw);
    expect(ver.api).toBeUndefined();
  });

  it('etcdctl version', () => {
    expect(parseEtcdctlVersion(fx(v, 'etcdctl-version'))).toMatchObject({ raw, api: v });
  });

  it('etcdutl version (3.5 only)', () => {
    if (v === '3.5') expect(parseEtcdutlVersion(fx(v, 'etcdutl-version'))).toMatchObject({ raw, api: v });
    else expect(() => parseEtcdutlVersion(fx(v, 'etcdctl-version'))).toThrow(ParseError);
  });

  it('agrees with what endpoint status reports as the server version', () => {
    expect(fx(v, 'endpoint-status-json')).toContain(`"version":"${raw}"`);
  });

  it('capabilities', () => {
    const ver = parseEtcdVersion(fx(v, 'etcd-version'));
    expect(isSupportedVersion(ver)).toBe(true);
    expect(supportsLearner(ver)).toBe(true);
    expect(hasEtcdutl(ver)).toBe(v === '3.5');
    expect(memberListNeedsQuorum(ver)).toBe(v === '3.5');
    expect(supportsCountOnly(ver)).toBe(v === '3.5');
    // 3.4.23 predates --bump-revision (3.4.27); 3.5.30 has it: the 3.5 restore capture used it
    expect(supportsBumpRevision(ver)).toBe(v === '3.5');
    expect(restoreTool(ver)).toBe(v === '3.5' ? 'etcdutl' : 'etcdctl');
  });
});

describe('parseToolVersion', () => {
  it('skips lines before the version line and takes the first version line', () => {
    const text = 'warning: something\r\netcdctl version: 3.5.9\r\nAPI version: 3.5\r\netcdctl version: 9.9.9\n';
    expect(parseToolVersion('etcdctl', text)).toEqual({ major: 3, minor: 5, patch: 9, raw: '3.5.9', prerelease: '', api: '3.5' });
  });

  it.each([
    ['etcd Version: 3.6.0-rc.2\nGo Version: go1.23\n', { raw: '3.6.0-rc.2', prerelease: '-rc.2', go: 'go1.23' }],
    ['etcd Version: 3.5.10+git\n', { raw: '3.5.10+git', prerelease: '+git' }],
  ])('etcd %j', (text, want) => {
    expect(parseToolVersion('etcd', text)).toMatchObject(want);
  });

  it.each([
    ['empty', 'etcd', ''],
    ['another tool', 'etcd', 'etcdctl version: 3.5.0\n'],
    ['no version', 'etcdctl', 'etcdctl version: banana\n'],
    ['an over-long line', 'etcd', `etcd Version: 3.5.0${' '.repeat(400)}\n`],
  ] as const)('refuses %s', (_name, tool, text) => {
    expect(() => parseToolVersion(tool, text)).toThrow(ParseError);
  });
});

describe('parseVersion and compareVersions', () => {
  it.each([
    ['3.5.10', { major: 3, minor: 5, patch: 10, raw: '3.5.10', prerelease: '' }],
    ['v3.4.27', { major: 3, minor: 4, patch: 27, raw: '3.4.27', prerelease: '' }],
    [' 3.6.0-rc.1 ', { major: 3, minor: 6, patch: 0, raw: '3.6.0-rc.1', prerelease: '-rc.1' }],
  ])('parseVersion(%j)', (s, want) => {
    expect(parseVersion(s)).toEqual(want);
  });

  it.each(['3.5', '3.5.x', 'latest', ''])('parseVersion refuses %j', (s) => {
    expect(() => parseVersion(s)).toThrow(/is not a version like 3\.5\.10/);
  });

  it.each([
    ['3.4.23', '3.5.0', -1],
    ['3.5.10', '3.5.9', 1],
    ['3.5.10', '3.5.10', 0],
    ['3.6.0-rc.1', '3.6.0', -1],
    ['3.6.0-rc.2', '3.6.0-rc.10', -1],
    ['3.6.0-alpha', '3.6.0-beta', -1],
    ['3.6.0-rc.1', '3.6.0-rc', 1],
    ['3.6.0-1', '3.6.0-rc', -1],
    ['3.5.10+build', '3.5.10', 0],
    ['4.0.0', '3.99.99', 1],
  ])('%s vs %s = %i', (a, b, want) => {
    expect(compareVersions(parseVersion(a), parseVersion(b))).toBe(want);
    expect(compareVersions(parseVersion(b), parseVersion(a))).toBe(-want || 0);
  });
});

describe('capabilities by version', () => {
  it.each([
    ['3.3.27', false, false, false],
    ['3.4.0', false, false, true],
    ['3.4.26', false, false, true],
    ['3.4.27', false, true, true],
    ['3.5.0', true, false, true],
    ['3.5.9', true, false, true],
    ['3.5.10-rc.0', true, false, true],
    ['3.5.10', true, true, true],
    ['3.6.0', true, true, true],
    ['4.0.0', true, true, true],
  ])('%s: etcdutl %s, bump-revision %s, learner %s', (s, utl, bump, learner) => {
    const v = parseVersion(s);
    expect(hasEtcdutl(v)).toBe(utl);
    expect(supportsBumpRevision(v)).toBe(bump);
    expect(supportsLearner(v)).toBe(learner);
  });

  it.each([
    ['3.4.23', {}, 'etcdctl'],
    ['3.5.0', {}, 'etcdutl'],
    ['3.5.30', { etcdutlPresent: false }, 'etcdctl'],
    ['3.6.0', {}, 'etcdutl'],
  ])('restoreTool(%s, %j) = %s', (s, opts, tool) => {
    expect(restoreTool(parseVersion(s), opts)).toBe(tool);
  });

  it('3.6 without etcdutl is an error the operator must fix', () => {
    expect(() => restoreTool(parseVersion('3.6.0'), { etcdutlPresent: false })).toThrow(EtcdCapabilityError);
    expect(() => restoreTool(parseVersion('3.6.0'), { etcdutlPresent: false })).toThrow(/install the etcdutl binary/);
  });

  it.each([
    ['3.3.27', false],
    ['3.4.0', true],
    ['3.5.30', true],
    ['3.6.0', false],
  ])('isSupportedVersion(%s) = %s', (s, ok) => {
    expect(isSupportedVersion(parseVersion(s))).toBe(ok);
  });
});
