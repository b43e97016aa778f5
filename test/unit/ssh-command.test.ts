import { spawnSync } from 'node:child_process';
import { buildCommand, hostKeyAlgorithmOrder, isSudoPasswordPrompt } from '../../src/ssh/command.js';
import { ConnectFailedError, ConnectionLostError, HostKeyError, SudoPasswordError, isConnectError } from '../../src/ssh/errors.js';
import { Semaphore } from '../../src/ssh/semaphore.js';
import { EXIT, RefusedError } from '../../src/util/errors.js';
import { clearSecrets, registerSecret, scrub } from '../../src/util/secrets.js';

describe('buildCommand', () => {
  test.each([
    { what: { argv: ['etcdctl', 'member', 'list'] }, become: false, expected: 'etcdctl member list' },
    { what: { argv: ['cat', '--', '/etc/etcd.env'] }, become: true, expected: "sudo -n sh -c 'cat -- /etc/etcd.env'" },
    { what: { argv: ['echo', "it's"] }, become: true, expected: "sudo -n sh -c 'echo '\\''it'\\''\\'\\'''\\''s'\\'''" },
    { what: { script: 'echo a && echo b' }, become: false, expected: "sh -c 'echo a && echo b'" },
    { what: { script: 'echo a && echo b' }, become: true, expected: "sudo -n sh -c 'echo a && echo b'" },
  ])('$what become=$become -> $expected', ({ what, become, expected }) => {
    expect(buildCommand(what, become)).toBe(expected);
  });

  test('an argv under sudo reaches the inner shell word for word', () => {
    const argv = ['printf', '%s|', "it's", '$(id)', 'a b', ''];
    // stand in for sudo with `env` (it runs its argv unchanged) so the test needs no root
    const cmd = buildCommand({ argv }, true).replace(/^sudo -n /, 'env ');
    const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
    expect(r.stdout).toBe("it's|$(id)|a b||");
  });
});

describe('isSudoPasswordPrompt', () => {
  test.each([
    [1, 'sudo: a password is required\n', true],
    [1, 'sudo: a terminal is required to read the password; either use the -S option to read from standard input or configure an askpass helper\nsudo: a password is required\n', true],
    [1, 'some warning\nsudo: a password is required\n', true],
    // the same words from the command itself, with another exit code, are not sudo's
    [2, 'sudo: a password is required\n', false],
    [0, 'sudo: a password is required\n', false],
    [null, 'sudo: a password is required\n', false],
    [1, 'etcdctl: sudo: a password is required', false],
    [1, 'sudo: unable to resolve host node1\n', false],
    [1, '', false],
  ])('code %s stderr %j -> %s', (code, stderr, expected) => {
    expect(isSudoPasswordPrompt({ code, stderr })).toBe(expected);
  });
});

describe('hostKeyAlgorithmOrder', () => {
  const all = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  test.each([
    { known: [], expected: all },
    { known: ['ssh-ed25519'], expected: all },
    { known: ['ecdsa-sha2-nistp256'], expected: ['ecdsa-sha2-nistp256', 'ssh-ed25519', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] },
    { known: ['ssh-rsa'], expected: ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521'] },
    { known: ['ssh-dss', 'ecdsa-sha2-nistp521'], expected: ['ecdsa-sha2-nistp521', 'ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] },
  ])('known $known', ({ known, expected }) => {
    expect(hostKeyAlgorithmOrder(known)).toEqual(expected);
  });
});

describe('Semaphore', () => {
  test('never lets more than the limit run, serves waiters in order', async () => {
    const s = new Semaphore(3);
    let running = 0;
    let peak = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        s.use(async () => {
          running++;
          peak = Math.max(peak, running);
          order.push(i);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        }),
      ),
    );
    expect(peak).toBe(3);
    expect(s.peak).toBe(3);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.inUse).toBe(0);
    expect(s.waiting).toBe(0);
  });

  test('a slot is released when the holder throws, and double release is harmless', async () => {
    const s = new Semaphore(1);
    await expect(s.use(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    const release = await s.acquire();
    release();
    release();
    expect(s.inUse).toBe(0);
  });

  test.each([0, -1, 1.5])('limit %d is refused', (n) => {
    expect(() => new Semaphore(n)).toThrow(RangeError);
  });
});

describe('secrets', () => {
  afterEach(() => clearSecrets());

  test.each([
    ['plain', 's3cret', 'pass=s3cret end', 'pass=*** end'],
    ['inside single quotes', "it's-secret", "echo 'it'\\''s-secret'", "echo '***'"],
    ['JSON-escaped', 'a"b\\c', JSON.stringify({ cmd: 'x a"b\\c' }), '{"cmd":"x ***"}'],
    ['several times', 'tok', 'tok tok', '*** ***'],
    ['not present', 'zzz', 'nothing here', 'nothing here'],
  ])('%s', (_what, secret, text, expected) => {
    registerSecret(secret);
    expect(scrub(text)).toBe(expected);
  });

  test('longer secrets are replaced before shorter ones they contain', () => {
    registerSecret('abc');
    registerSecret('abcdef');
    expect(scrub('xabcdefx abc')).toBe('x***x ***');
  });

  test('an empty secret is ignored', () => {
    registerSecret('');
    expect(scrub('text')).toBe('text');
  });
});

describe('transport errors', () => {
  afterEach(() => clearSecrets());
  const target = { label: 'root@10.0.0.1:2222', host: '10.0.0.1', port: 2222, user: 'root' };

  test('a changed key: refused (exit 3), both fingerprints and file:line in the message', () => {
    const e = new HostKeyError(
      'etcd1',
      target,
      { status: 'changed', presentedFingerprint: 'SHA256:new', knownFingerprint: 'SHA256:old', line: 7 },
      '/home/u/.ssh/known_hosts',
      false,
    );
    expect(e).toBeInstanceOf(RefusedError);
    expect(e.exitCode).toBe(EXIT.refused);
    expect(e.message).toContain('etcd1: the host key of 10.0.0.1:2222 has CHANGED');
    expect(e.message).toContain('/home/u/.ssh/known_hosts:7 holds SHA256:old');
    expect(e.message).toContain('presented SHA256:new');
    expect(e.hint).toContain("ssh-keygen -R '[10.0.0.1]:2222' -f /home/u/.ssh/known_hosts");
    expect(e.hint).toContain('never overrides a changed key');
    expect(isConnectError(e)).toBe(true);
  });

  test('an unknown key: names host:port, the fingerprint and both fixes', () => {
    const e = new HostKeyError('etcd1', target, { status: 'unknown', presentedFingerprint: 'SHA256:abc' }, '/k', false);
    expect(e.message).toContain('10.0.0.1:2222 is not in /k');
    expect(e.message).toContain('SHA256:abc');
    expect(e.hint).toContain('--accept-new-host-keys');
    expect(e.hint).toContain('ssh-keyscan -p 2222 10.0.0.1');
  });

  test('a host offering a key type not on record while other types are: refused, never accepted blindly', () => {
    const e = new HostKeyError(
      'etcd1',
      target,
      { status: 'unknown', presentedFingerprint: 'SHA256:ed', otherKnownTypes: ['ecdsa-sha2-nistp256'] },
      '/k',
      false,
    );
    expect(e.message).toContain('while it records ecdsa-sha2-nistp256 keys for it; refusing to connect');
    expect(e.hint).toContain("ssh-keygen -R '[10.0.0.1]:2222' -f /k");
  });

  test('a jump host refusal says it is the jump host, and can be re-issued for another node', () => {
    const e = new HostKeyError('etcd1', target, { status: 'revoked', presentedFingerprint: 'SHA256:r', line: 3 }, '/k', true);
    expect(e.message).toContain('jump host 10.0.0.1:2222 (in front of etcd1)');
    expect(e.message).toContain('@revoked in /k:3');
    const other = e.forNode('etcd2');
    expect(other.message).toMatch(/^etcd2: .*in front of etcd2/);
  });

  test('connect failures: exit 1, permanent only for auth, key file and known_hosts', () => {
    expect(new ConnectFailedError('n', 'auth', 'x').permanent).toBe(true);
    expect(new ConnectFailedError('n', 'key-file', 'x').permanent).toBe(true);
    expect(new ConnectFailedError('n', 'known-hosts', 'x').permanent).toBe(true);
    expect(new ConnectFailedError('n', 'unreachable', 'x').permanent).toBe(false);
    expect(new ConnectFailedError('n', 'timeout', 'x').exitCode).toBe(EXIT.failed);
    expect(new ConnectFailedError('etcd1', 'unreachable', 'cannot reach').forNode('etcd2').message).toBe('etcd2: cannot reach');
  });

  test('sudo password error names node and user and points to SECURITY.md', () => {
    const e = new SudoPasswordError('etcd2', 'deploy', 'sudo -n sh -c id');
    expect(e.message).toMatch(/^etcd2: sudo wants a password for deploy; etcd-dr needs passwordless sudo \(NOPASSWD\)/);
    expect(e.message).toContain('see SECURITY.md');
    expect(e.hint).toContain('deploy ALL=(root) NOPASSWD: ALL');
  });

  test('errors scrub registered secrets', () => {
    registerSecret('hunter2');
    const e = new ConnectionLostError('etcd1', 'etcdctl --password hunter2 get x', true, 'reset');
    expect(e.message).not.toContain('hunter2');
    expect(e.message).toContain('connection lost while running `etcdctl --password *** get x`');
    expect(e.message).toContain('reconnected, but the command was not run again');
  });
});
