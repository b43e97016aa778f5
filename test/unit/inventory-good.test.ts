import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory, sshGResolver, type EtcdSettings, type InventoryContext, type NodeSpec, type SshSettings } from '../../src/inventory/index.js';
import { clientUrl, peerUrl } from '../../src/inventory/types.js';
import { kubesprayEtcd } from '../support/facts.js';

const GOOD = join(import.meta.dirname, '../fixtures/inventory/good');
/** fixtures are parsed as if they lived here, so resolved paths do not depend on the checkout */
const VIRTUAL_DIR = '/srv/k2';
const CTX: InventoryContext = { env: { USER: 'ops' }, home: '/home/ops', cwd: '/work' };

function parseGood(name: string, ctx: InventoryContext = CTX) {
  return parseInventory(readFileSync(join(GOOD, name), 'utf8'), `${VIRTUAL_DIR}/${name}`, ctx);
}

const ETCD = kubesprayEtcd;

const SSH = (address: string, over: Partial<SshSettings> = {}): SshSettings => ({
  sshHost: address,
  user: 'ops',
  port: 22,
  knownHostsFile: '/home/ops/.ssh/known_hosts',
  become: false,
  connectTimeout: 10,
  commandTimeout: 60,
  ...over,
});

const node = (name: string, host: string, address: string, ssh: Partial<SshSettings> = {}, etcd: Partial<EtcdSettings> = {}): NodeSpec => ({
  name,
  host,
  address,
  ssh: SSH(address, ssh),
  etcd: ETCD(host, etcd),
});

describe('good inventories normalise to exactly this', () => {
  it('minimal: kubespray defaults, $USER, no key named and none known to exist (ssh-agent)', () => {
    expect(parseGood('minimal.yaml')).toStrictEqual({
      file: '/srv/k2/minimal.yaml',
      cluster: { name: 'k2', disposable: false },
      nodes: [node('etcd1', 'k2-master01', '192.168.30.151')],
    });
  });

  it('minimal without $USER: root', () => {
    expect(parseGood('minimal.yaml', { ...CTX, env: {} }).nodes[0]!.ssh.user).toBe('root');
  });

  it('full: every field given', () => {
    expect(parseGood('full.yaml')).toStrictEqual({
      file: '/srv/k2/full.yaml',
      cluster: { name: 'prod.eu-1', disposable: true },
      nodes: [
        {
          name: 'etcd-a',
          host: 'db-a.eu-1.example.com',
          address: 'db-a.eu-1.example.com',
          ssh: {
            sshHost: 'db-a.eu-1.example.com',
            user: 'deploy',
            port: 2222,
            identityFile: '/keys/etcd_ed25519',
            knownHostsFile: '/keys/known_hosts',
            // the jump host's user and port are its own; its key is the node's
            jumpHost: { user: 'ops', host: 'bastion.example', port: 2200, identityFile: '/keys/etcd_ed25519' },
            become: true,
            connectTimeout: 2.5,
            commandTimeout: 300,
          },
          etcd: {
            envFile: '/etc/default/etcd',
            dataDir: '/data/etcd',
            service: 'etcd-main.service',
            caCert: '/etc/etcd/pki/ca.crt',
            clientCert: '/etc/etcd/pki/db-a.eu-1.example.com.crt',
            clientKey: '/etc/etcd/pki/db-a.eu-1.example.com.key',
            scheme: 'http',
            clientPort: 12379,
            peerPort: 12380,
          },
        },
      ],
    });
  });

  it('overrides: a node overrides single fields, the rest comes from the inventory-wide blocks', () => {
    const base = { user: 'root', identityFile: '/keys/id_ed25519' };
    expect(parseGood('overrides.yaml').nodes).toStrictEqual([
      node('etcd1', 'k2-master01', '192.168.30.151', base),
      node('etcd2', 'k2-master02', '192.168.30.152', { ...base, port: 2222, become: true }, { dataDir: '/data/etcd' }),
      node(
        'etcd3',
        'k2-master03',
        '192.168.30.153',
        { user: 'admin', identityFile: '/keys/etcd3', commandTimeout: 120 },
        { clientCert: '/etc/etcd/k2-master03-client.pem', peerPort: 2390 },
      ),
    ]);
  });

  it('jumpHost as a string: user@host:port, `none`, host alone, IPv6 in brackets', () => {
    const key = { identityFile: '/keys/id_ed25519' };
    expect(parseGood('jump-string.yaml').nodes).toStrictEqual([
      node('etcd1', 'k2-master01', '192.168.30.151', { ...key, jumpHost: { user: 'ops', host: 'bastion.example', port: 2222, ...key } }),
      node('etcd2', 'k2-master02', '192.168.30.152', key),
      node('etcd3', 'k2-master03', '192.168.30.153', { ...key, jumpHost: { user: 'ops', host: 'bastion2.example', port: 22, ...key } }),
      node('etcd4', 'k2-master04', '2001:db8::4', { ...key, jumpHost: { user: 'jump', host: '2001:db8::1', port: 22, ...key } }),
    ]);
  });

  it('jumpHost as a mapping: its identityFile resolves next to the inventory; a node replaces it whole', () => {
    const key = { identityFile: '/home/ops/.ssh/k2' };
    expect(parseGood('jump-object.yaml').nodes).toStrictEqual([
      node('etcd1', 'k2-master01', '192.168.30.151', { ...key, jumpHost: { user: 'ops', host: '10.0.0.254', port: 2022, identityFile: '/srv/k2/keys/bastion_ed25519' } }),
      node('etcd2', 'k2-master02', '192.168.30.152', { ...key, jumpHost: { user: 'ops', host: 'bastion-b.example', port: 22, ...key } }),
    ]);
  });

  it('paths: `~/` is home, relative is next to the inventory, `{host}` everywhere, `//` and trailing `/` dropped, IPv6 brackets dropped', () => {
    const inv = parseGood('paths.yaml');
    const paths = { dataDir: '/var/lib/etcd' };
    expect(inv.nodes).toStrictEqual([
      node(
        'etcd1',
        'k2-master01',
        'fd00::151',
        { identityFile: '/home/ops/.ssh/etcd1', knownHostsFile: '/home/ops/.ssh/k2_known_hosts' },
        { ...paths, caCert: '/etc/ssl/etcd/ssl/ca-k2-master01.pem', clientCert: '/etc/ssl/etcd/k2-master01/admin-k2-master01.pem' },
      ),
      node(
        'etcd2',
        'k2-master02',
        '192.168.30.152',
        { identityFile: '/keys/etcd2', knownHostsFile: '/home/ops/.ssh/k2_known_hosts' },
        { ...paths, caCert: '/etc/ssl/etcd/ssl/ca-k2-master02.pem', clientCert: '/etc/ssl/etcd/k2-master02/admin-k2-master02.pem' },
      ),
    ]);
    // IPv6 goes into URLs in brackets
    expect(peerUrl(inv.nodes[0]!)).toBe('https://[fd00::151]:2380');
    expect(clientUrl(inv.nodes[1]!)).toBe('https://192.168.30.152:2379');
  });

  it('a relative inventory file name resolves against cwd, and so do its relative key paths', () => {
    const inv = parseInventory(readFileSync(join(GOOD, 'paths.yaml'), 'utf8'), 'conf/paths.yaml', CTX);
    expect(inv.file).toBe('/work/conf/paths.yaml');
    expect(inv.nodes[0]!.ssh.identityFile).toBe('/home/ops/.ssh/etcd1');
    const global = parseInventory(readFileSync(join(GOOD, 'overrides.yaml'), 'utf8').replace('/keys/id_ed25519', 'k/id'), 'conf/o.yaml', CTX);
    expect(global.nodes[0]!.ssh.identityFile).toBe('/work/conf/k/id');
  });

  it('ssh config (read by `ssh -G`) fills what the inventory leaves out; HostName changes only the SSH target', () => {
    const resolveSsh = sshGResolver({ configFile: join(GOOD, 'ssh_config'), home: '/home/ops' });
    const inv = parseGood('ssh-config.yaml', { ...CTX, resolveSsh });
    const bastion = { user: 'ops', host: 'bastion.example.com', port: 22, identityFile: '/home/ops/.ssh/bastion_key', name: 'bastion' };
    expect(inv.nodes.map((n) => n.ssh)).toMatchObject([
      { sshName: '192.168.30.151', sshHost: '192.168.30.151', user: 'core', port: 2200, identityFile: '/home/ops/.ssh/k2_192.168.30.151', jumpHost: bastion },
      // the inventory's user and port win over the config's; %h in IdentityFile is the HostName
      { sshName: '192.168.30.152', sshHost: 'master02.internal', user: 'root', port: 22, identityFile: '/home/ops/.ssh/k2_master02.internal', jumpHost: bastion },
      // `Match exec "true"` applies, as it does for ssh
      { sshName: '10.9.9.9', sshHost: '10.9.9.9', user: 'never-used', port: 22 },
    ]);
    expect(inv.nodes[2]!.ssh.jumpHost).toBeUndefined();
    expect(peerUrl(inv.nodes[1]!)).toBe('https://192.168.30.152:2380');
  });
});

describe('YAML conveniences', () => {
  it('anchors and aliases share a block between nodes; flow mappings work', () => {
    const text = [
      'cluster: {name: k2}',
      'nodes:',
      '  - {name: etcd1, host: k2-master01, address: 10.0.0.1, ssh: &viaB {port: 2222, jumpHost: ops@b}}',
      '  - name: etcd2',
      '    host: k2-master02',
      '    address: 10.0.0.2',
      '    ssh: *viaB',
    ].join('\n');
    const inv = parseInventory(text, '/srv/k2/inventory.yaml', CTX);
    const ssh = { port: 2222, jumpHost: { user: 'ops', host: 'b', port: 22 } };
    expect(inv.nodes).toStrictEqual([node('etcd1', 'k2-master01', '10.0.0.1', ssh), node('etcd2', 'k2-master02', '10.0.0.2', ssh)]);
  });

  it('an ssh or etcd block with every field commented out is empty, not an error', () => {
    const text = 'cluster:\n  name: k2\nssh:\n  # user: root\netcd:\nnodes:\n  - name: etcd1\n    host: k2-master01\n    address: 10.0.0.1\n    ssh:\n';
    expect(parseInventory(text, '/srv/k2/inventory.yaml', CTX).nodes).toStrictEqual([node('etcd1', 'k2-master01', '10.0.0.1')]);
  });

  it('two members on one machine are fine when ports, data dir, env file and service differ', () => {
    const text = [
      'cluster: {name: lab}',
      'nodes:',
      '  - {name: a, host: h1, address: 127.0.0.1}',
      '  - name: b',
      '    host: h2',
      '    address: 127.0.0.1',
      '    etcd: {clientPort: 12379, peerPort: 12380, dataDir: /var/lib/etcd-b, envFile: /etc/etcd-b.env, service: etcd-b}',
    ].join('\n');
    expect(parseInventory(text, '/srv/lab.yaml', CTX).nodes.map((n) => n.etcd.peerPort)).toEqual([2380, 12380]);
  });
});

describe('default identity file', () => {
  const minimal = readFileSync(join(GOOD, 'minimal.yaml'), 'utf8');
  it.each<[string, NodeJS.ProcessEnv, string[], string | undefined]>([
    ['ssh-agent running: none (the agent is used)', { SSH_AUTH_SOCK: '/tmp/agent.sock' }, ['/home/ops/.ssh/id_ed25519'], undefined],
    ['no agent, ~/.ssh/id_ed25519 exists: that key', {}, ['/home/ops/.ssh/id_ed25519'], '/home/ops/.ssh/id_ed25519'],
    ['no agent, no key: none (the SSH layer says so on connect)', {}, [], undefined],
  ])('%s', (_title, env, existing, want) => {
    const inv = parseInventory(minimal, '/srv/k2/inventory.yaml', { ...CTX, env: { USER: 'ops', ...env }, exists: (p) => existing.includes(p) });
    expect(inv.nodes[0]!.ssh.identityFile).toBe(want);
  });

  const resolver = (config: string) => {
    const file = join(mkdtempSync(join(tmpdir(), 'etcd-dr-sshcfg-')), 'config');
    writeFileSync(file, config);
    return sshGResolver({ configFile: file, home: '/home/ops' });
  };

  it('an IdentityFile in the ssh config that does not exist is skipped, as ssh does', () => {
    const resolveSsh = resolver('Host *\n  IdentityFile ~/.ssh/missing\n');
    const inv = parseInventory(minimal, '/srv/k2/inventory.yaml', { ...CTX, resolveSsh, exists: (p) => p === '/home/ops/.ssh/id_ed25519' });
    expect(inv.nodes[0]!.ssh.identityFile).toBe('/home/ops/.ssh/id_ed25519');
  });

  it('a missing first IdentityFile gives way to the next one of the list, not to the default key', () => {
    const resolveSsh = resolver('Host *\n  IdentityFile ~/.ssh/missing\n  IdentityFile ~/.ssh/k2\n  IdentityFile ~/.ssh/other\n');
    const have = ['/home/ops/.ssh/id_ed25519', '/home/ops/.ssh/k2', '/home/ops/.ssh/other'];
    const inv = parseInventory(minimal, '/srv/k2/inventory.yaml', { ...CTX, resolveSsh, exists: (p) => have.includes(p) });
    expect(inv.nodes[0]!.ssh).toMatchObject({ identityFile: '/home/ops/.ssh/k2', identityFiles: ['/home/ops/.ssh/other'] });
  });
});

describe('inventories shipped with etcd-dr', () => {
  it('inventory.example.yaml is the seed cluster of the procedure', () => {
    const file = join(import.meta.dirname, '../../inventory.example.yaml');
    const inv = parseInventory(readFileSync(file, 'utf8'), file, CTX);
    expect(inv.cluster).toEqual({ name: 'k2', disposable: false });
    const key = { user: 'root', identityFile: '/home/ops/.ssh/id_ed25519' };
    // its hooks are checked in plan-hooks.test.ts
    expect(inv.nodes.map(({ hooks: _hooks, ...n }) => n)).toStrictEqual([
      node('etcd1', 'k2-master01', '192.168.30.151', key),
      node('etcd2', 'k2-master02', '192.168.30.152', key),
      node('etcd3', 'k2-master03', '192.168.30.153', key),
    ]);
  });

  it('inventory.events.example.yaml is the events cluster of the same masters: its unit, files, ports and member names', () => {
    const file = join(import.meta.dirname, '../../inventory.events.example.yaml');
    const inv = parseInventory(readFileSync(file, 'utf8'), file, CTX);
    expect(inv.cluster.name).toBe('k2-events');
    expect(inv.nodes.map((n) => [n.name, n.host, n.address])).toEqual([
      ['etcd1-events', 'k2-master01', '192.168.30.151'],
      ['etcd2-events', 'k2-master02', '192.168.30.152'],
      ['etcd3-events', 'k2-master03', '192.168.30.153'],
    ]);
    expect(inv.nodes[0]!.etcd).toMatchObject({ envFile: '/etc/etcd-events.env', dataDir: '/var/lib/etcd-events', service: 'etcd-events', clientPort: 2381, peerPort: 2382, clientCert: '/etc/ssl/etcd/ssl/admin-k2-master01.pem' });
    expect(inv.nodes[0]!.ssh).toMatchObject({ user: 'ops', become: true });
  });

  it('test/docker/inventory.yaml loads, its keys next to it', () => {
    const file = join(import.meta.dirname, '../docker/inventory.yaml');
    const inv = parseInventory(readFileSync(file, 'utf8'), file, CTX);
    expect(inv.nodes.map((n) => n.address)).toEqual(['172.28.0.11', '172.28.0.12', '172.28.0.13']);
    expect(inv.nodes[0]!.ssh.identityFile).toBe(join(import.meta.dirname, '../docker/bastion/id_ed25519'));
  });
});
