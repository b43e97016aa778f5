import { expandSshTokens, hostMatches, lookupSshConfig, matchPattern, parseSshConfig, splitConfigWords } from '../../src/inventory/sshconfig.js';
import { parseInventory, type InventoryContext } from '../../src/inventory/index.js';
import { InputError } from '../../src/util/errors.js';

describe('matchPattern', () => {
  it.each([
    ['*', '192.168.30.151', true],
    ['192.168.30.*', '192.168.30.151', true],
    ['192.168.30.*', '192.168.31.151', false],
    ['192.168.30.15?', '192.168.30.151', true],
    ['192.168.30.15?', '192.168.30.15', false],
    ['k2-master0?', 'k2-master01', true],
    ['K2-*', 'k2-master01', true],
    ['*.example.com', 'a.example.com', true],
    ['*.example.com', 'example.com', false],
    ['a*b*c', 'axxbyyc', true],
    ['a*b*c', 'axxbyy', false],
    ['*master*', 'k2-master01', true],
    ['k2-master01', 'k2-master01', true],
    ['k2-master01', 'k2-master011', false],
    ['', '', true],
    ['**', 'x', true],
  ])('%s ~ %s -> %s', (pattern, host, want) => {
    expect(matchPattern(pattern, host)).toBe(want);
  });
});

describe('hostMatches', () => {
  it.each([
    [['192.168.30.*'], '192.168.30.151', true],
    [['192.168.30.*', '!192.168.30.151'], '192.168.30.151', false],
    [['192.168.30.*', '!192.168.30.151'], '192.168.30.152', true],
    [['!192.168.30.151'], '10.0.0.1', false], // negations alone never apply
    [['a', 'b', '10.*'], '10.0.0.1', true],
    [['a,10.*'], '10.0.0.1', true],
    [['a,!10.0.0.1,10.*'], '10.0.0.1', false],
    [[], '10.0.0.1', false],
  ])('%j ~ %s -> %s', (patterns, host, want) => {
    expect(hostMatches(patterns, host)).toBe(want);
  });
});

describe('splitConfigWords', () => {
  it.each([
    ['a b  c', ['a', 'b', 'c']],
    ['"a b" c', ['a b', 'c']],
    ["'a b'c", ['a bc']],
    ['a # comment', ['a']],
    ['a\\ b', ['a b']],
    ['"unclosed', ['unclosed']],
    ['', []],
  ])('%j', (text, want) => {
    expect(splitConfigWords(text)).toEqual(want);
  });
});

describe('parseSshConfig', () => {
  it('sections, keyword forms, comments, Include and Match', () => {
    const cfg = parseSshConfig(
      [
        'User early', // before any Host: applies to all
        '# comment',
        '   # indented comment',
        'Include other.conf',
        'Host=a b',
        '  Port=2222',
        '  hostname = a.example',
        '\tIdentityFile "~/.ssh/my key"',
        'Match all',
        '  User everyone',
        'Match host x exec "true"',
        '  User never',
      ].join('\n'),
      '/h/.ssh/config',
    );
    expect(cfg).toEqual({
      file: '/h/.ssh/config',
      sections: [
        { kind: 'global', patterns: [], line: 1, options: [{ keyword: 'user', args: ['early'], line: 1 }] },
        {
          kind: 'host',
          patterns: ['a', 'b'],
          line: 5,
          options: [
            { keyword: 'port', args: ['2222'], line: 6 },
            { keyword: 'hostname', args: ['a.example'], line: 7 },
            { keyword: 'identityfile', args: ['~/.ssh/my key'], line: 8 },
          ],
        },
        { kind: 'match-all', patterns: [], line: 9, options: [{ keyword: 'user', args: ['everyone'], line: 10 }] },
        { kind: 'match-unsupported', patterns: [], line: 11, options: [{ keyword: 'user', args: ['never'], line: 12 }] },
      ],
    });
  });
});

describe('lookupSshConfig: the first value of each keyword wins', () => {
  const cfg = parseSshConfig(
    [
      'Host 10.0.0.1',
      '  User first',
      '  IdentityFile ~/.ssh/one',
      '  IdentityFile ~/.ssh/two',
      'Host 10.0.0.*',
      '  User second',
      '  Port 2200',
      '  ProxyJump ops@bastion:22,inner',
      'Match canonical',
      '  HostName never',
      'Host *',
      '  HostName %h.lab',
      '  Port 22',
    ].join('\n'),
    'cfg',
  );
  it.each([
    [
      '10.0.0.1',
      {
        user: { value: 'first', line: 2 },
        identityFile: { value: '~/.ssh/one', line: 3 },
        port: { value: '2200', line: 7 },
        proxyJump: { value: 'ops@bastion:22,inner', line: 8 },
        hostName: { value: '%h.lab', line: 12 },
      },
    ],
    ['10.0.0.2', { user: { value: 'second', line: 6 }, port: { value: '2200', line: 7 }, proxyJump: { value: 'ops@bastion:22,inner', line: 8 }, hostName: { value: '%h.lab', line: 12 } }],
    ['db', { hostName: { value: '%h.lab', line: 12 }, port: { value: '22', line: 13 } }],
  ])('%s', (host, want) => {
    expect(lookupSshConfig(cfg, host)).toEqual(want);
  });
  it('an empty config says nothing', () => {
    expect(lookupSshConfig(parseSshConfig('', 'cfg'), 'x')).toEqual({});
  });
});

describe('expandSshTokens', () => {
  it.each([
    ['~/.ssh/id_%h', '~/.ssh/id_db.lab'],
    ['%d/.ssh/%u-%r@%n:%p', '/home/ops/.ssh/ops-root@db:22'],
    ['100%%', '100%'],
    ['%C stays', '%C stays'],
  ])('%s', (value, want) => {
    expect(expandSshTokens(value, { d: '/home/ops', u: 'ops', h: 'db.lab', n: 'db', r: 'root', p: '22' })).toBe(want);
  });
});

describe('ssh config problems are reported with the config file and line', () => {
  const inventory = ['cluster:', '  name: k2', 'nodes:', ...[1, 2, 3].flatMap((i) => [`  - name: etcd${i}`, `    host: k2-master0${i}`, `    address: 10.0.0.${i}`])].join('\n');
  const ctx = (config: string): InventoryContext => ({ env: { USER: 'ops' }, home: '/home/ops', cwd: '/work', sshConfig: parseSshConfig(config, '/home/ops/.ssh/config') });
  const problems = (config: string): string[] => {
    try {
      parseInventory(inventory, 'inventory.yaml', ctx(config));
    } catch (err) {
      if (err instanceof InputError) return err.message.split('\n').slice(1);
      throw err;
    }
    return [];
  };

  it.each([
    [
      'a bad Port, once for all the nodes it applies to',
      'Host 10.0.0.*\n  Port twenty-two\n',
      ['  - /home/ops/.ssh/config:2: Port: `twenty-two` is not a port; expected an integer 1..65535 (applies to 10.0.0.1, 10.0.0.2, 10.0.0.3)'],
    ],
    ['a bad User', 'Host 10.0.0.2\n  User "a;b"\n', ['  - /home/ops/.ssh/config:2: User: "a;b" contains `;`, a shell metacharacter; a user name may contain only letters, digits, `.`, `_` and `-` (applies to 10.0.0.2)']],
    ['a bad HostName', 'Host 10.0.0.3\n  HostName db_3\n', ['  - /home/ops/.ssh/config:2: HostName: "db_3" contains `_`; a host name or address may contain only letters, digits, `.`, `-`, and `:` `[` `]` in IPv6 addresses (applies to 10.0.0.3)']],
    [
      'a chain of jump hosts',
      'Host 10.0.0.1\n  ProxyJump a,b\n',
      ['  - /home/ops/.ssh/config:2: ProxyJump: `a,b` chains several jump hosts; etcd-dr goes through one: run it from a host that reaches `b` directly, with ssh.jumpHost: b (applies to 10.0.0.1)'],
    ],
    [
      'a jump host that needs a jump host itself',
      'Host bastion\n  ProxyJump outer\nHost 10.0.0.1\n  ProxyJump bastion\n',
      ['  - /home/ops/.ssh/config:2: ProxyJump: the jump host bastion itself needs the jump host `outer`; etcd-dr supports one hop: add `ProxyJump none` for bastion, or name the outer host as jumpHost (applies to 10.0.0.1)'],
    ],
    ['an unparsable ProxyJump', 'Host 10.0.0.1\n  ProxyJump ops@:22\n', ['  - /home/ops/.ssh/config:2: ProxyJump: `ops@:22` has no host; expected `[user@]host[:port]`, e.g. ops@bastion.example:22 (IPv6: ops@[2001:db8::1]:22) (applies to 10.0.0.1)']],
  ])('%s', (_title, config, want) => {
    expect(problems(config)).toEqual(want);
  });

  it('no problem when the bad line is overridden by the inventory, or `Host *` sends every host through a bastion that says ProxyJump none', () => {
    const fine = problems('Host bastion\n  ProxyJump none\nHost *\n  ProxyJump bastion\n');
    expect(fine).toEqual([]);
    const withPort = inventory.replace('nodes:', 'ssh:\n  port: 22\nnodes:');
    expect(() => parseInventory(withPort, 'inventory.yaml', ctx('Host *\n  Port nope\n'))).not.toThrow();
  });

  it('a jump host that names itself (Host * with ProxyJump before its own block) is not a chain', () => {
    const inv = parseInventory(inventory, 'inventory.yaml', ctx('Host *\n  ProxyJump ops@bastion\n'));
    expect(inv.nodes[0]!.ssh.jumpHost).toEqual({ user: 'ops', host: 'bastion', port: 22 });
  });
});
