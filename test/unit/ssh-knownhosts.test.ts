import { execFileSync } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  appendKnownHost,
  checkHostKey,
  fingerprint,
  keyTypeOfBlob,
  knownHostLine,
  knownHostName,
  knownKeyTypes,
  matchHostPatterns,
  parseKnownHosts,
  readKnownHosts,
} from '../../src/ssh/knownhosts.js';
import { matchPattern } from '../../src/util/glob.js';
import { blob } from '../support/ssh-blobs.js';

const ED_A = blob('ssh-ed25519', 1);
const ED_B = blob('ssh-ed25519', 2);
const ED_C = blob('ssh-ed25519', 3);
const ECDSA = blob('ecdsa-sha2-nistp256', 4);
const b64 = (b: Buffer): string => b.toString('base64');

/** A hashed known_hosts name, computed as OpenSSH does: |1|base64(salt)|base64(HMAC-SHA1(salt, name)). */
function hashed(name: string, salt = randomBytes(20)): string {
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('matchPattern / matchHostPatterns (OpenSSH semantics)', () => {
  test.each([
    ['node1', 'node1', true],
    ['node1', 'node?', true],
    ['node10', 'node?', false],
    ['node10', 'node*', true],
    ['10.0.0.5', '10.0.0.*', true],
    ['10.0.1.5', '10.0.0.*', false],
    ['a.example.com', '*.example.com', true],
    ['example.com', '*.example.com', false],
    ['abc', '*', true],
    ['abc', 'a*c*', true],
    ['abc', '*b', false],
    ['[10.0.0.1]:2222', '[10.0.0.1]:2222', true],
    ['[10.0.0.1]:2222', '[10.0.0.*]:2222', true],
    ['[10.0.0.1]:2222', '10.0.0.1', false],
  ])('%s ~ %s -> %s', (name, pattern, expected) => {
    expect(matchPattern(name, pattern)).toBe(expected);
  });

  test.each([
    ['node1', ['node1', 'node2'], true],
    ['NODE1', ['node1'], true],
    ['node1', ['Node1'], true],
    ['node3', ['node1', 'node2'], false],
    ['node1', ['node*', '!node1'], false],
    ['node2', ['node*', '!node1'], true],
    // a negation alone never makes a match
    ['node2', ['!node1'], false],
    ['node1', ['!node1', 'node1'], false],
  ])('%s in %j -> %s', (name, patterns, expected) => {
    expect(matchHostPatterns(name, patterns)).toBe(expected);
  });
});

describe('knownHostName', () => {
  test.each([
    ['10.0.0.1', 22, '10.0.0.1'],
    ['10.0.0.1', 2222, '[10.0.0.1]:2222'],
    ['Node1.Example.COM', 22, 'node1.example.com'],
    ['fd00::1', 2222, '[fd00::1]:2222'],
    ['fd00::1', 22, 'fd00::1'],
  ])('%s port %d -> %s', (host, port, expected) => {
    expect(knownHostName(host, port)).toBe(expected);
  });
});

describe('parseKnownHosts', () => {
  test('reads entries, markers, comments and blank lines; reports bad lines with their numbers', () => {
    const text = [
      '# a comment',
      '',
      `node1,10.0.0.1 ssh-ed25519 ${b64(ED_A)} root@node1`,
      `@revoked * ssh-ed25519 ${b64(ED_C)}`,
      `@cert-authority *.example.com ssh-ed25519 ${b64(ED_B)}`,
      `${hashed('node2')} ecdsa-sha2-nistp256 ${b64(ECDSA)}`,
      '   # indented comment',
      `@bogus node1 ssh-ed25519 ${b64(ED_A)}`,
      'node1 ssh-ed25519',
      'node1 ssh-ed25519 !!notbase64!!',
      `node1 ssh-rsa ${b64(ED_A)}`,
      `|1|abc ssh-ed25519 ${b64(ED_A)}`,
      `\tnode4\tssh-ed25519\t${b64(ED_B)}\r`,
    ].join('\n');
    const db = parseKnownHosts(text, '/k');
    expect(db.entries.map((e) => [e.line, e.marker ?? '-', e.keyType, e.hashed ? 'hashed' : e.patterns.join(',')])).toEqual([
      [3, '-', 'ssh-ed25519', 'node1,10.0.0.1'],
      [4, 'revoked', 'ssh-ed25519', '*'],
      [5, 'cert-authority', 'ssh-ed25519', '*.example.com'],
      [6, '-', 'ecdsa-sha2-nistp256', 'hashed'],
      [13, '-', 'ssh-ed25519', 'node4'],
    ]);
    expect(db.problems.map((p) => p.line)).toEqual([8, 9, 10, 11, 12]);
    expect(db.problems[0]!.message).toMatch(/unknown marker "@bogus"/);
    expect(db.problems[3]!.message).toMatch(/says it is ssh-ed25519, the line says ssh-rsa/);
    expect(db.problems[4]!.message).toMatch(/\|1\|salt\|hash/);
  });
});

describe('checkHostKey', () => {
  const file = [
    /* 1 */ `node1,10.0.0.1 ssh-ed25519 ${b64(ED_A)}`,
    /* 2 */ `[10.0.0.1]:2222 ssh-ed25519 ${b64(ED_B)}`,
    /* 3 */ `web*,!web9 ssh-ed25519 ${b64(ED_A)}`,
    /* 4 */ `${hashed('10.0.0.7')} ssh-ed25519 ${b64(ED_A)}`,
    /* 5 */ `${hashed('[10.0.0.8]:2200')} ssh-ed25519 ${b64(ED_B)}`,
    /* 6 */ `@revoked 10.0.0.9 ssh-ed25519 ${b64(ED_C)}`,
    /* 7 */ `10.0.0.9 ssh-ed25519 ${b64(ED_C)}`,
    /* 8 */ `@cert-authority *.example.com ssh-ed25519 ${b64(ED_A)}`,
    /* 9 */ `ecdsa-only ecdsa-sha2-nistp256 ${b64(ECDSA)}`,
    /* 10 */ `two-keys ssh-ed25519 ${b64(ED_A)}`,
    /* 11 */ `two-keys ssh-ed25519 ${b64(ED_B)}`,
  ].join('\n');
  const db = parseKnownHosts(file, '/home/u/.ssh/known_hosts');
  const fpA = fingerprint(ED_A);
  const fpB = fingerprint(ED_B);

  test.each([
    ['plain name', 'node1', 22, ED_A, { status: 'match', line: 1 }],
    ['second name in the list, other case', '10.0.0.1', 22, ED_A, { status: 'match', line: 1 }],
    ['plain name, different key', 'node1', 22, ED_B, { status: 'changed', line: 1, knownFingerprint: fpA }],
    ['[host]:port entry', '10.0.0.1', 2222, ED_B, { status: 'match', line: 2 }],
    ['[host]:port entry, different key', '10.0.0.1', 2222, ED_A, { status: 'changed', line: 2, knownFingerprint: fpB }],
    ['port-22 entry does not cover another port', 'node1', 2200, ED_A, { status: 'unknown' }],
    ['wildcard', 'web3', 22, ED_A, { status: 'match', line: 3 }],
    ['wildcard with negation', 'web9', 22, ED_A, { status: 'unknown' }],
    ['hashed name', '10.0.0.7', 22, ED_A, { status: 'match', line: 4 }],
    ['hashed name, different key', '10.0.0.7', 22, ED_B, { status: 'changed', line: 4, knownFingerprint: fpA }],
    ['hashed [host]:port', '10.0.0.8', 2200, ED_B, { status: 'match', line: 5 }],
    ['hashed [host]:port, wrong port', '10.0.0.8', 22, ED_B, { status: 'unknown' }],
    ['revoked beats a matching line', '10.0.0.9', 22, ED_C, { status: 'revoked', line: 6 }],
    ['cert-authority is not a host key', 'db.example.com', 22, ED_A, { status: 'unknown' }],
    ['other key type on record is unknown, not changed', 'ecdsa-only', 22, ED_A, { status: 'unknown', otherKnownTypes: ['ecdsa-sha2-nistp256'] }],
    ['any of two keys of a type matches', 'two-keys', 22, ED_B, { status: 'match', line: 11 }],
    ['not in the file', 'stranger', 22, ED_A, { status: 'unknown' }],
  ])('%s', (_what, host, port, key, expected) => {
    const r = checkHostKey(db, host, port, keyTypeOfBlob(key)!, key);
    expect(r).toMatchObject(expected);
    expect(r.presentedFingerprint).toBe(fingerprint(key));
    if (expected.status === 'unknown' && !('otherKnownTypes' in expected)) expect(r.otherKnownTypes).toBeUndefined();
  });

  test('knownKeyTypes lists the unmarked key types for the host, in file order', () => {
    expect(knownKeyTypes(db, 'ecdsa-only', 22)).toEqual(['ecdsa-sha2-nistp256']);
    expect(knownKeyTypes(db, '10.0.0.9', 22)).toEqual(['ssh-ed25519']);
    expect(knownKeyTypes(db, 'db.example.com', 22)).toEqual([]);
  });
});

describe('keyTypeOfBlob', () => {
  test.each([
    ['ed25519 blob', ED_A, 'ssh-ed25519'],
    ['too short', Buffer.from([0, 0]), undefined],
    ['length past the end', Buffer.from([0, 0, 0, 9, 0x61]), undefined],
    ['zero length', Buffer.from([0, 0, 0, 0]), undefined],
    ['binary type', Buffer.from([0, 0, 0, 2, 0x00, 0x01]), undefined],
  ])('%s', (_what, b, expected) => {
    expect(keyTypeOfBlob(b)).toBe(expected);
  });
});

describe('fingerprint matches ssh-keygen -l', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-fp-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.each([['ed25519'], ['ecdsa'], ['rsa']])('%s key', (type) => {
    const key = join(dir, `id_${type}`);
    execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', key]);
    const [keyType, keyB64] = readFileSync(`${key}.pub`, 'utf8').split(' ') as [string, string];
    const expected = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`], { encoding: 'utf8' }).split(' ')[1];
    const b = Buffer.from(keyB64, 'base64');
    expect(fingerprint(b)).toBe(expected);
    expect(fingerprint(b)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
    expect(keyTypeOfBlob(b)).toBe(keyType);
  });
});

describe('appendKnownHost', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'etcd-dr-kh-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('creates the directory 0700 and the file 0600, writes plain [host]:port lines that match afterwards', async () => {
    const file = join(dir, 'new', '.ssh', 'known_hosts');
    await appendKnownHost(file, '10.0.0.1', 22, 'ssh-ed25519', b64(ED_A));
    await appendKnownHost(file, '10.0.0.1', 2222, 'ssh-ed25519', b64(ED_B));
    expect(statSync(join(dir, 'new', '.ssh')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe(`10.0.0.1 ssh-ed25519 ${b64(ED_A)}\n[10.0.0.1]:2222 ssh-ed25519 ${b64(ED_B)}\n`);
    const db = await readKnownHosts(file);
    expect(checkHostKey(db, '10.0.0.1', 22, 'ssh-ed25519', ED_A).status).toBe('match');
    expect(checkHostKey(db, '10.0.0.1', 2222, 'ssh-ed25519', ED_B).status).toBe('match');
  });

  test('keeps an existing file mode and starts a new line when the last one lacks its newline', async () => {
    const file = join(dir, 'known_hosts');
    writeFileSync(file, `node1 ssh-ed25519 ${b64(ED_A)}`, { mode: 0o644 });
    await appendKnownHost(file, 'node2', 22, 'ssh-ed25519', b64(ED_B));
    expect(statSync(file).mode & 0o777).toBe(0o644);
    expect(readFileSync(file, 'utf8').split('\n')).toEqual([`node1 ssh-ed25519 ${b64(ED_A)}`, `node2 ssh-ed25519 ${b64(ED_B)}`, '']);
  });

  test('concurrent appends never interleave inside a line', async () => {
    const file = join(dir, 'known_hosts');
    await Promise.all(Array.from({ length: 40 }, (_, i) => appendKnownHost(file, `node${i}`, 22, 'ssh-ed25519', b64(blob('ssh-ed25519', i)))));
    const db = await readKnownHosts(file);
    expect(db.problems).toEqual([]);
    expect(db.entries).toHaveLength(40);
  });

  test('a missing file reads as empty', async () => {
    const db = await readKnownHosts(join(dir, 'absent'));
    expect(db).toEqual({ file: join(dir, 'absent'), entries: [], problems: [] });
  });

  test('knownHostLine', () => {
    expect(knownHostLine('Node1', 22, 'ssh-ed25519', 'AAAA')).toBe('node1 ssh-ed25519 AAAA\n');
    expect(knownHostLine('10.0.0.1', 2022, 'ssh-ed25519', 'AAAA')).toBe('[10.0.0.1]:2022 ssh-ed25519 AAAA\n');
  });
});
