/**
 * The pure pieces of resolving SSH settings with OpenSSH: reading `ssh -G` output, ssh_config tokens, and
 * how the known_hosts files of one host (ssh's UserKnownHostsFile and GlobalKnownHostsFile lists) decide
 * together.
 */
import { expandTokens, jumpText, parseSshG, type TokenValues } from '../../src/inventory/ssh-resolve.js';
import { checkAll } from '../../src/ssh/handshake.js';
import { parseKnownHosts } from '../../src/ssh/knownhosts.js';
import { blob } from '../support/ssh-blobs.js';

const A = blob('ssh-ed25519', 1);
const B = blob('ssh-ed25519', 2);
const EC = blob('ecdsa-sha2-nistp256', 3);
const line = (host: string, k: Buffer, marker = '') => `${marker}${host} ${k.subarray(4, 4 + k.readUInt32BE(0)).toString()} ${k.toString('base64')}\n`;

describe('parseSshG', () => {
  it('one value per keyword, lists for repeated ones (IdentityFile), keywords lower-cased', () => {
    const g = parseSshG('user core\nhostname 10.0.0.1\nidentityfile ~/.ssh/a\nidentityfile ~/.ssh/b\nProxyCommand ssh -W %h:%p b\n\n');
    expect(g.get('user')).toEqual(['core']);
    expect(g.get('identityfile')).toEqual(['~/.ssh/a', '~/.ssh/b']);
    expect(g.get('proxycommand')).toEqual(['ssh -W %h:%p b']);
  });
});

describe('expandTokens (ssh_config TOKENS)', () => {
  const t: TokenValues = { h: 'db.lab', n: 'db', p: '2222', r: 'root', u: 'ops', d: '/home/ops', l: 'bastion.example', L: 'bastion', i: '1000', k: 'db', j: '' };
  it.each([
    ['~/.ssh/%r@%h:%p', '~/.ssh/root@db.lab:2222'],
    ['%d/.ssh/%u-%n', '/home/ops/.ssh/ops-db'],
    ['100%%', '100%'],
    ['%l %L %i %k', 'bastion.example bastion 1000 db'],
    ['%Z is not a token', '%Z is not a token'],
  ])('%s', (value, want) => expect(expandTokens(value, t)).toBe(want));

  it('%C is the hash ssh makes of %l%h%p%r%j', () => expect(expandTokens('%C', t)).toMatch(/^[0-9a-f]{40}$/));

  it('a ProxyCommand takes %h %p %r %n only', () => expect(expandTokens('nc %h %p # %u %d', t, 'hnpr')).toBe('nc db.lab 2222 # %u %d'));
});

describe('jumpText: a jump spec as ProxyJump writes it', () => {
  it.each([
    [{ host: 'b' }, 'b'],
    [{ user: 'ops', host: 'b', port: 2222 }, 'ops@b:2222'],
    [{ host: '2001:db8::1', port: 22 }, '[2001:db8::1]:22'],
  ])('%j', (spec, want) => expect(jumpText(spec)).toBe(want));
});

describe('checkAll: the known_hosts files of a host decide together, as ssh reads them', () => {
  const db = (file: string, text: string) => parseKnownHosts(text, file);
  it.each<[string, [string, string][], Buffer, string, string | undefined]>([
    ['a match in the second file', [['user', ''], ['global', line('db', A)]], A, 'match', 'global'],
    ['revoked in any file wins over a match', [['user', line('db', A)], ['global', line('db', A, '@revoked ')]], A, 'revoked', 'global'],
    ['a match wins over a changed key in another file', [['user', line('db', B)], ['global', line('db', A)]], A, 'match', 'global'],
    ['another key of the type: changed, naming its file', [['user', ''], ['global', line('db', B)]], A, 'changed', 'global'],
    ['nothing on record: unknown', [['user', ''], ['global', '']], A, 'unknown', undefined],
    ['only another type on record (in any file): unknown with the types', [['user', ''], ['global', line('db', EC)]], A, 'unknown', undefined],
  ])('%s', (_t, files, key, status, file) => {
    const got = checkAll(files.map(([f, text]) => db(f, text)), 'db', 22, 'ssh-ed25519', key);
    expect(got.check.status).toBe(status);
    expect(got.file).toBe(file);
    if (_t.startsWith('only another type')) expect(got.check.otherKnownTypes).toEqual(['ecdsa-sha2-nistp256']);
  });
});
