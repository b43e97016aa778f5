import fc from 'fast-check';
import { parseJumpSpec, stringProblem, type StringFormat } from '../../src/inventory/formats.js';
import { editDistance, suggest } from '../../src/inventory/suggest.js';
import { parseInventory } from '../../src/inventory/index.js';
import { InputError } from '../../src/util/errors.js';

describe('stringProblem: valid values', () => {
  it.each<[StringFormat, string]>([
    ['name', 'etcd1'],
    ['name', 'k2-master01.etcd_a'],
    ['name', '1'],
    ['name', 'a'.repeat(63)],
    ['hostName', 'k2-master01'],
    ['hostName', 'db-a.eu-1.example.com'],
    ['hostName', '123'],
    ['address', '192.168.30.151'],
    ['address', '127.0.0.2'],
    ['address', '::1'],
    ['address', '[2001:db8::1]'],
    ['address', 'etcd1.k2.example'],
    ['address', 'localhost'],
    ['user', 'root'],
    ['user', '_etcd'],
    ['user', 'first.last'],
    ['service', 'etcd'],
    ['service', 'etcd@main.service'],
    ['remotePath', '/etc/etcd.env'],
    ['remotePath', '/etc/ssl/etcd/ssl/admin-{host}-key.pem'],
    ['remotePath', '/'],
    ['localPath', '~/.ssh/id_ed25519'],
    ['localPath', 'keys/id'],
    ['localPath', '/abs/key+1@x:y'],
    ['jumpHost', 'bastion'],
    ['jumpHost', 'ops@bastion.example:2222'],
    ['jumpHost', '[2001:db8::1]:22'],
  ])('%s %s', (format, value) => {
    expect(stringProblem(value, format)).toBeUndefined();
  });
});

describe('stringProblem: what is wrong, and what would be valid', () => {
  it.each<[StringFormat, string, string]>([
    ['name', '', '"" is empty; expected a name'],
    ['name', 'etcd 1', 'contains a space, a shell metacharacter; a name may contain only letters, digits, `.`, `_` and `-`'],
    ['name', '.etcd', 'must start with a letter or a digit'],
    ['name', 'a'.repeat(64), 'is 64 characters long; at most 63'],
    ['name', 'etcd\t1', 'contains a tab'],
    ['name', 'etcd\u00e9', 'contains `\u00e9`;'],
    ['name', 'etcd\u0007', 'contains the control character U+0007'],
    ['hostName', 'k2.-x', 'has the label `-x`, which starts or ends with `-`'],
    ['hostName', `${'a'.repeat(64)}.b`, 'has the label `aaaa'],
    ['hostName', 'a.'.repeat(127) + 'a', 'is 255 characters long; a host name has at most 253'],
    ['address', '10.0.0', 'is not a valid IPv4 address'],
    ['address', '010.0.0.1', 'is not a valid IPv4 address'],
    ['address', 'host.123', 'looks like an IPv4 address but is not one'],
    ['address', 'fe80::1%eth0', 'contains `%`, a shell metacharacter'],
    ['address', '[::1', 'is not a valid IPv6 address'],
    ['address', 'a b', 'contains a space'],
    ['user', '-root', 'must start with a letter, a digit or `_`'],
    ['user', 'root$', 'contains `$`, a shell metacharacter'],
    ['service', '-etcd', 'must start with a letter or a digit, e.g. etcd'],
    ['service', 'etcd service', 'contains a space'],
    ['remotePath', 'etc/etcd.env', 'is not absolute'],
    ['remotePath', '/etc/../etcd.env', 'has a `.` or `..` segment'],
    ['remotePath', '/etc/./etcd.env', 'has a `.` or `..` segment'],
    ['remotePath', '/etc/{host', 'unbalanced'],
    ['remotePath', '/etc/host}', 'unbalanced'],
    ['remotePath', '/etc/{HOST}.pem', 'unknown placeholder `{HOST}`; did you mean `{host}`?'],
    ['remotePath', '/etc/{}.pem', 'unknown placeholder `{}`;'],
    ['remotePath', '/etc/a b', 'contains a space, a shell metacharacter'],
    ['remotePath', '/etc/a>b', 'contains `>`, a shell metacharacter'],
    ['remotePath', '/etc/a<b', 'contains `<`, a shell metacharacter'],
    ['remotePath', '/etc/a&b', 'contains `&`, a shell metacharacter'],
    ['remotePath', '/etc/a\\b', 'contains `\\`, a shell metacharacter'],
    ['remotePath', '/etc/"a"', 'contains `"`, a shell metacharacter'],
    ['remotePath', '/etc/a\rb', 'contains a carriage return'],
    ['remotePath', '/etc/a*', 'contains `*`, a shell metacharacter'],
    ['localPath', '~root/.ssh/id', '(`~user/`) is not supported'],
    ['localPath', 'keys/~/id', 'has `~` after the start'],
    ['localPath', '~/a/~', 'has `~` after the start'],
    ['localPath', '/keys/{host}', 'contains `{`, a shell metacharacter'],
    ['jumpHost', 'ops@', 'has no host'],
    ['jumpHost', '@bastion', 'has an empty user before `@`'],
    ['jumpHost', 'bastion:0', 'has the port `0`; a port is an integer 1..65535'],
    ['jumpHost', 'bastion:ssh', 'has the port `ssh`'],
    ['jumpHost', '[::1', 'has `[` without `]`'],
    ['jumpHost', '[::1]22', 'has text after `]`'],
    ['jumpHost', 'bastion_1', 'host "bastion_1" contains `_`'],
  ])('%s %j', (format, value, want) => {
    expect(stringProblem(value, format)).toContain(want);
  });
});

describe('parseJumpSpec', () => {
  it.each([
    ['bastion', { host: 'bastion' }],
    ['ops@bastion', { user: 'ops', host: 'bastion' }],
    ['ops@bastion.example:2222', { user: 'ops', host: 'bastion.example', port: 2222 }],
    ['10.0.0.1:22', { host: '10.0.0.1', port: 22 }],
    ['[2001:db8::1]:2222', { host: '2001:db8::1', port: 2222 }],
    ['2001:db8::1', { host: '2001:db8::1' }],
    ['ops@[::1]', { user: 'ops', host: '::1' }],
    ['Bastion.Example', { host: 'bastion.example' }],
  ])('%s', (spec, want) => {
    expect(parseJumpSpec(spec)).toEqual(want);
  });
});

describe('suggest and editDistance', () => {
  it.each([
    ['', '', 0],
    ['adress', 'address', 1],
    ['prot', 'port', 1],
    ['kitten', 'sitting', 3],
    ['ab', 'ba', 1],
  ])('editDistance(%s, %s) = %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });

  const node = ['name', 'host', 'address', 'ssh', 'etcd'];
  const ssh = ['user', 'port', 'identityFile', 'knownHostsFile', 'jumpHost', 'become', 'connectTimeout', 'commandTimeout'];
  it.each([
    ['adress', node, 'address'],
    ['Address', node, 'address'],
    ['hostname', node, 'host'],
    ['ip', node, 'address'],
    ['nmae', node, 'name'],
    ['identity_file', ssh, 'identityFile'],
    ['known-hosts-file', ssh, 'knownHostsFile'],
    ['proxyjump', ssh, 'jumpHost'],
    ['commandTimout', ssh, 'commandTimeout'],
    ['zzz', node, undefined],
    ['x', node, undefined],
  ])('%s -> %s', (word, valid, want) => {
    expect(suggest(word, valid, { ip: 'address', proxyJump: 'jumpHost' })).toBe(want);
  });
});

describe('properties', () => {
  const META = [...'\n\0\'"`;$|&<> '];
  it('a member name is accepted exactly when it matches the etcd-dr rule', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (s) => {
        const ok = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(s);
        expect(stringProblem(s, 'name') === undefined).toBe(ok);
      }),
    );
  });

  it('no value with a shell metacharacter passes any format', () => {
    const formats: StringFormat[] = ['name', 'hostName', 'address', 'user', 'service', 'remotePath', 'localPath', 'jumpHost'];
    fc.assert(
      fc.property(fc.constantFrom(...formats), fc.string(), fc.constantFrom(...META), fc.string(), (format, a, meta, b) => {
        expect(stringProblem(`/${a}${meta}${b}`, format)).toBeDefined();
      }),
    );
  });

  it('any node name with a metacharacter is refused by parseInventory with its line', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/), fc.constantFrom(...META.filter((c) => c !== '\n' && c !== '\0')), (name, meta) => {
        const text = `cluster:\n  name: k2\nnodes:\n  - name: ${JSON.stringify(name + meta)}\n    host: h1\n    address: 10.0.0.1\n`;
        try {
          parseInventory(text, 'inv.yaml', { env: {}, home: '/h', cwd: '/' });
          return false;
        } catch (err) {
          return err instanceof InputError && err.message.includes('inv.yaml:4:11: nodes[0].name:') && err.problems.length === 1;
        }
      }),
    );
  });
});
