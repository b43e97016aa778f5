/**
 * `etcd-dr inventory show --json` against OpenSSH itself, over a corpus of real-world ssh_config shapes.
 *
 * The truth is what `ssh` does, not what etcd-dr thinks it does:
 * - host, port and user of the node: `ssh -G` with the same config and the inventory's settings as `-o`;
 * - the route: ssh is run for real (`ssh -v`, BatchMode, nothing listens on 127.0.139.*, names do not
 *   resolve), and every "Executing proxy command" line it and its nested jump ssh processes log is read
 *   back: a jump ssh (`ssh [-l U] [-p P] [-J CHAIN] -F CFG -v -W '[h]:p' HOP`) is one hop, resolved with
 *   `ssh -G` on exactly those arguments; anything else is the ProxyCommand the route starts with.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import type { ShownInventory } from '../../src/inventory/show.js';

interface Case {
  config: string;
  /** more files of the case (for Include); `$D` is the case's directory */
  files?: Record<string, string>;
  /** the name given to ssh (`ssh.host`) */
  name: string;
  /** the inventory's own ssh settings for the node */
  inv?: { user?: string; port?: number; jumpHost?: string };
}

const CORPUS: Record<string, Case> = {
  'plain Host block': { config: 'Host m1\n  HostName 127.0.139.11\n  User core\n  Port 2201\n', name: 'm1' },
  'no match: the name itself, port 22, local user': { config: 'Host other\n  User x\n', name: 'm1.example' },
  'empty config': { config: '', name: 'm1.example' },
  'keywords are case-insensitive, `=` separators': { config: 'HOST m1\n  hostname=127.0.139.12\n  USER = ops\n  Port=2222\n', name: 'm1' },
  'first value wins': { config: 'Host m1\n  User first\nHost m1\n  User second\n  Port 2002\nHost *\n  Port 2003\n', name: 'm1' },
  'Host * first wins over later blocks': { config: 'Host *\n  User everyone\nHost m1\n  User core\n', name: 'm1' },
  'Host * last: a default': { config: 'Host m1\n  User core\nHost *\n  User everyone\n  Port 2022\n', name: 'm1' },
  'wildcard *': { config: 'Host master-*\n  User core\n  HostName %h.k8s.example\n', name: 'master-2' },
  'wildcard ?': { config: 'Host master-?\n  Port 2200\n', name: 'master-3' },
  'wildcard ? does not match two characters': { config: 'Host master-?\n  Port 2200\n', name: 'master-10' },
  'negation excludes a host': { config: 'Host *.example !bastion.example\n  User core\n', name: 'bastion.example' },
  'negation with a match elsewhere on the line': { config: 'Host *.example !bastion.example\n  User core\n', name: 'm2.example' },
  'a line of negations alone never applies': { config: 'Host !bastion\n  User core\n', name: 'm1' },
  'Host list separated by spaces': { config: 'Host m1 m2 m3\n  User core\n  Port 2200\n', name: 'm2' },
  'Host a,b is one literal pattern (no comma split)': { config: 'Host m1,m2\n  User core\n', name: 'm1' },
  'Host patterns are case-sensitive': { config: 'Host MASTER1\n  User core\n', name: 'master1' },
  'Host pattern exact case': { config: 'Host Master1\n  User core\n', name: 'Master1' },
  'HostName with %h': { config: 'Host m*\n  HostName %h.internal.example\n', name: 'm4' },
  'HostName with %h twice': { config: 'Host m1\n  HostName %h.%h.example\n', name: 'm1' },
  'HostName an IPv6 address': { config: 'Host m6\n  HostName fd00::6\n  Port 2206\n', name: 'm6' },
  'quoted values': { config: 'Host "m1"\n  User "core"\n  HostName "127.0.139.13"\n', name: 'm1' },
  'comments and blank lines': { config: '# fleet\n\nHost m1 # the first\n  # a comment\n  User core\n\n', name: 'm1' },
  'tab indentation': { config: 'Host m1\n\tUser core\n\tPort 2211\n', name: 'm1' },
  'Include a config.d glob': {
    config: 'Include $D/config.d/*\nHost *\n  User fallback\n',
    files: { 'config.d/10-k8s': 'Host master-*\n  User core\n  Port 2210\n', 'config.d/20-other': 'Host db\n  User db\n' },
    name: 'master-1',
  },
  'Include: first file of the glob wins (sorted)': {
    config: 'Include $D/config.d/*.conf\n',
    files: { 'config.d/b.conf': 'Host m1\n  User second\n', 'config.d/a.conf': 'Host m1\n  User first\n' },
    name: 'm1',
  },
  'Include inside a Host block applies only there': {
    config: 'Host m1\n  Include $D/inner\nHost *\n  Port 2299\n',
    files: { inner: 'User included\nPort 2201\n' },
    name: 'm1',
  },
  'Include inside a Host block, other host': {
    config: 'Host m1\n  Include $D/inner\nHost *\n  Port 2299\n',
    files: { inner: 'User included\nPort 2201\n' },
    name: 'm2',
  },
  'Include of a missing file is fine': { config: 'Include $D/nothing/*\nHost m1\n  User core\n', name: 'm1' },
  'Match host': { config: 'Match host m1\n  User matched\n', name: 'm1' },
  'Match host with a list and negation': { config: 'Match host "m*,!m2"\n  User matched\n', name: 'm2' },
  'Match host against the HostName': { config: 'Host alias1\n  HostName real1.example\nMatch host real1.example\n  Port 2233\n', name: 'alias1' },
  'Match originalhost': { config: 'Host alias1\n  HostName real1.example\nMatch originalhost alias1\n  User orig\n', name: 'alias1' },
  'Match user (the target user)': { config: 'Host m1\n  User core\nMatch user core\n  Port 2244\n', name: 'm1' },
  'Match user, not matching': { config: 'Match user nobody\n  Port 2244\n', name: 'm1' },
  'Match localuser': { config: 'Match localuser root\n  User fromlocal\n', name: 'm1' },
  'Match exec true': { config: 'Match exec "true %h"\n  User viaexec\n', name: 'm1' },
  'Match exec false': { config: 'Match exec "false"\n  User viaexec\nHost *\n  User other\n', name: 'm1' },
  'Match exec with a test on %h': { config: 'Match exec "test %h = m1"\n  Port 2255\n', name: 'm1' },
  'Match final': { config: 'Match final host m1\n  User final\n', name: 'm1' },
  'Match all': { config: 'Match all\n  User everyone\n', name: 'm1' },
  'Match canonical (no canonicalisation: does not apply)': { config: 'Match canonical\n  User canon\nHost *\n  User plain\n', name: 'm1' },
  'Match negated criteria': { config: 'Match !host m1\n  User notm1\n', name: 'm2' },
  'Match with several criteria': { config: 'Match host m* user core\n  Port 2266\nHost *\n  User core\n', name: 'm1' },
  'ProxyJump: one hop': { config: 'Host m1\n  HostName 127.0.139.21\n  ProxyJump ops@bastion.example:2222\n', name: 'm1' },
  'ProxyJump to an alias with its own settings': {
    config: 'Host bastion\n  HostName bastion.k8s.example\n  User jump\n  Port 2022\nHost m1\n  ProxyJump bastion\n',
    name: 'm1',
  },
  'ProxyJump: two hops': { config: 'Host m1\n  ProxyJump outer.example,inner.example\n', name: 'm1' },
  'ProxyJump: three hops with users and ports': { config: 'Host m1\n  ProxyJump a@one.example:2001,b@two.example:2002,c@three.example:2003\n', name: 'm1' },
  'ProxyJump chain whose hops are aliases': {
    config: 'Host edge\n  HostName edge.dc1.example\n  User e\nHost core\n  HostName core.dc1.example\n  Port 2200\nHost m1\n  ProxyJump edge,core\n',
    name: 'm1',
  },
  'a hop with its own ProxyJump (nested)': {
    config: 'Host inner\n  ProxyJump outer.example\nHost m1\n  ProxyJump inner\n',
    name: 'm1',
  },
  'Host * ProxyJump bastion, bastion says none': {
    config: 'Host bastion\n  HostName bastion.example\n  ProxyJump none\nHost *\n  ProxyJump bastion\n',
    name: 'm1',
  },
  'ProxyJump with ssh:// URI': { config: 'Host m1\n  ProxyJump ssh://ops@bastion.example:2022\n', name: 'm1' },
  'ProxyJump none': { config: 'Host m1\n  ProxyJump none\nHost *\n  ProxyJump bastion.example\n', name: 'm1' },
  'ProxyCommand with %h %p': { config: 'Host m1\n  HostName 127.0.139.31\n  Port 2201\n  ProxyCommand /bin/false %h %p\n', name: 'm1' },
  'ProxyCommand ssh -W': { config: 'Host m1\n  ProxyCommand ssh -W %h:%p bastion.example\n', name: 'm1' },
  'ProxyCommand with %r and %n': { config: 'Host m1\n  User core\n  HostName real.example\n  ProxyCommand /bin/false %r %n %h\n', name: 'm1' },
  'ProxyCommand none': { config: 'Host m1\n  ProxyCommand none\nHost *\n  ProxyCommand /bin/false %h\n', name: 'm1' },
  'ProxyCommand first wins over a later ProxyJump': { config: 'Host m1\n  ProxyCommand /bin/false %h\nHost *\n  ProxyJump bastion.example\n', name: 'm1' },
  'ProxyJump first wins over a later ProxyCommand': { config: 'Host m1\n  ProxyJump bastion.example\nHost *\n  ProxyCommand /bin/false %h\n', name: 'm1' },
  'a hop reached through a ProxyCommand': { config: 'Host bastion\n  ProxyCommand /bin/false %h %p\nHost m1\n  ProxyJump bastion\n', name: 'm1' },
  'HostKeyAlias': { config: 'Host m1\n  HostName 127.0.139.41\n  HostKeyAlias k8s-master-1\n', name: 'm1' },
  'a jump spec with a port, its user from the config': { config: 'Host m1\n  ProxyJump bastion.example:2200\nHost bastion.example\n  User bast\n', name: 'm1' },
  'inventory user and port win over the config': { config: 'Host m1\n  User core\n  Port 2200\n', name: 'm1', inv: { user: 'admin', port: 2201 } },
  'inventory user decides Match user': { config: 'Match user admin\n  Port 2277\n', name: 'm1', inv: { user: 'admin' } },
  'inventory jumpHost wins over the config ProxyJump': { config: 'Host m1\n  ProxyJump other.example\n', name: 'm1', inv: { jumpHost: 'ops@bastion.example:2222' } },
  'inventory jumpHost none wins over the config': { config: 'Host *\n  ProxyJump bastion.example\n', name: 'm1', inv: { jumpHost: 'none' } },
  'inventory jumpHost is resolved by the config': { config: 'Host bastion\n  HostName bastion.k8s.example\n  User jump\n', name: 'm1', inv: { jumpHost: 'bastion' } },
  'an IP address as the name': { config: 'Host 127.0.139.*\n  User core\n', name: '127.0.139.51' },
  'an IP address as the name, CIDR-like pattern does not apply': { config: 'Host 127.0.139.5?\n  Port 2255\n', name: '127.0.139.51' },
  'a long real-world config': {
    config: [
      'Host *',
      '  ServerAliveInterval 30',
      '  AddKeysToAgent yes',
      '  IdentitiesOnly yes',
      'Host bastion-prod',
      '  HostName 127.0.139.61',
      '  User ubuntu',
      'Host prod-master-*',
      '  User ubuntu',
      '  ProxyJump bastion-prod',
      '  StrictHostKeyChecking yes',
      'Host prod-master-1',
      '  HostName 127.0.139.62',
      'Host prod-master-2',
      '  HostName 127.0.139.63',
    ].join('\n'),
    name: 'prod-master-2',
  },
};

interface Truth {
  host: string;
  port: number;
  user: string;
  route: { host?: string; port?: number; user?: string; proxyCommand?: string }[];
}

function sshG(cfg: string, args: string[]): Map<string, string> {
  const r = spawnSync('ssh', ['-G', '-F', cfg, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh -G ${args.join(' ')}: ${r.stderr}`);
  return new Map(r.stdout.split('\n').filter(Boolean).map((l) => [l.slice(0, l.indexOf(' ')), l.slice(l.indexOf(' ') + 1)]));
}

function target(g: Map<string, string>): { host: string; port: number; user: string } {
  return { host: g.get('hostname')!, port: Number(g.get('port')), user: g.get('user')! };
}

const JUMP_SSH = /^ssh(?: -l (\S+))?(?: -p (\d+))?(?: -J (\S+))? -F \S+ -v -W '\[.*\]:\d+' (\S+)$/;

function sshTruth(cfg: string, name: string, opts: string[]): Truth {
  const g = sshG(cfg, [...opts, '--', name]);
  const run = spawnSync('ssh', ['-v', '-F', cfg, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=1', ...opts, '--', name, 'true'], { encoding: 'utf8', timeout: 20_000 });
  const commands = run.stderr
    .split(/\r?\n/)
    .map((l) => /^debug1: Executing proxy command: exec (.*)$/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
  const route: Truth['route'] = [];
  for (const c of commands) {
    const m = JUMP_SSH.exec(c);
    if (!m) {
      route.unshift({ proxyCommand: c });
      break;
    }
    const [, user, port, chain, hop] = m;
    const hopArgs = [...(user ? ['-l', user] : []), ...(port ? ['-p', port] : []), ...(chain ? ['-o', `ProxyJump=${chain}`] : []), '--', hop!];
    route.unshift(target(sshG(cfg, hopArgs)));
  }
  return { ...target(g), route };
}

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-dr-sshg-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function show(cfg: string, inventory: string): Promise<ShownInventory> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void) => new Writable({ write: (c: Buffer, _e, cb) => (f(c.toString()), cb()) });
  const code = await main(['inventory', 'show', '--json', '-i', inventory], {
    stdout: sink((s) => (out += s)),
    stderr: sink((s) => (err += s)),
    env: { ...process.env, ETCD_DR_SSH_CONFIG: cfg, SSH_AUTH_SOCK: '' },
    cwd: root,
  });
  if (code !== 0) throw new Error(`inventory show exited ${code}: ${err}`);
  return JSON.parse(out) as ShownInventory;
}

describe('inventory show agrees with OpenSSH on host, port, user and route', () => {
  it(`the corpus holds at least 60 cases (${Object.keys(CORPUS).length})`, () => {
    expect(Object.keys(CORPUS).length).toBeGreaterThanOrEqual(60);
  });

  it.each(Object.entries(CORPUS))('%s', async (title, c) => {
    const dir = join(root, title.replace(/[^A-Za-z0-9]+/g, '-'));
    mkdirSync(dir, { recursive: true });
    const cfg = join(dir, 'config');
    writeFileSync(cfg, c.config.replaceAll('$D', dir));
    for (const [f, text] of Object.entries(c.files ?? {})) {
      mkdirSync(dirname(join(dir, f)), { recursive: true });
      writeFileSync(join(dir, f), text.replaceAll('$D', dir));
    }
    const inv = c.inv ?? {};
    const ssh = [`host: ${c.name.includes(':') ? `"${c.name}"` : c.name}`, ...(inv.user ? [`user: ${inv.user}`] : []), ...(inv.port ? [`port: ${inv.port}`] : []), ...(inv.jumpHost ? [`jumpHost: ${inv.jumpHost}`] : [])];
    const inventory = join(dir, 'inventory.yaml');
    writeFileSync(inventory, `cluster:\n  name: corpus\nnodes:\n  - name: etcd1\n    host: node1\n    address: 127.0.139.1\n    ssh: {${ssh.join(', ')}}\n`);
    const opts = [
      ...(inv.user ? ['-o', `User=${inv.user}`] : []),
      ...(inv.port ? ['-o', `Port=${inv.port}`] : []),
      ...(inv.jumpHost ? ['-o', `ProxyJump=${inv.jumpHost}`] : []),
    ];

    const truth = sshTruth(cfg, c.name, opts);
    const shown = (await show(cfg, inventory)).nodes[0]!;
    const ours: Truth = {
      host: shown.host,
      port: shown.port,
      user: shown.user,
      route: shown.route.map((s) => (s.proxyCommand !== undefined ? { proxyCommand: s.proxyCommand } : { host: s.host!, port: s.port!, user: s.user! })),
    };
    expect(ours).toEqual(truth);
  });
});
