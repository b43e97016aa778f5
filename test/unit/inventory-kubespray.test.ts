/**
 * kubespray's inventories as they are: shaped like inventory/sample/inventory.ini and hosts.yaml of
 * kubespray (both generations: `[all]` + `[etcd]`, and `[kube_control_plane]` + `[etcd:children]`),
 * with group_vars/ and host_vars/ beside them and etcd-dr's own etcd-dr.yaml.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { isAnsibleInventory } from '../../src/inventory/kubespray.js';
import { loadInventory } from '../../src/inventory/index.js';
import { EXIT, formatProblem, InputError } from '../../src/util/errors.js';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-dr-kubespray-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** writes files under <root>/inventory/mycluster/ and loads the first one as `-i` */
async function load(files: Record<string, string>, env: NodeJS.ProcessEnv = {}) {
  const dir = join(root, 'inventory', 'mycluster');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  return loadInventory({ path: join('inventory', 'mycluster', Object.keys(files)[0]!), env: { ETCD_DR_SSH: 'none', USER: 'ops', ...env }, cwd: root, home: join(root, 'home') });
}

async function problems(files: Record<string, string>): Promise<string[]> {
  try {
    await load(files);
  } catch (err) {
    if (err instanceof InputError) {
      expect(err.exitCode).toBe(EXIT.badInput);
      return err.problems.map(formatProblem);
    }
    throw err;
  }
  throw new Error('loaded');
}

const brief = (inv: Awaited<ReturnType<typeof load>>) =>
  inv.nodes.map((n) => ({ name: n.name, host: n.host, address: n.address, sshHost: n.ssh.sshHost, user: n.ssh.user, port: n.ssh.port, become: n.ssh.become, dataDir: n.etcd.dataDir }));

const INI_OLD = `# ## Configure 'ip' variable to bind kubernetes services on a
# ## different ip than the default iface
# ## We should set etcd_member_name for etcd cluster. The node that is not a etcd member do not need to set the value, or can set the empty string value.
[all]
node1 ansible_host=95.54.0.12  ip=10.3.0.1 etcd_member_name=etcd1
node2 ansible_host=95.54.0.13  ip=10.3.0.2 etcd_member_name=etcd2
node3 ansible_host=95.54.0.14  ip=10.3.0.3 etcd_member_name=etcd3
node4 ansible_host=95.54.0.15  ip=10.3.0.4 etcd_member_name=etcd4

# ## configure a bastion host if your nodes are not directly reachable
# bastion ansible_host=x.x.x.x ansible_user=some_user

[kube-master]
node1
node2

[etcd]
node1
node2
node3

[kube-node]
node2
node3
node4

[k8s-cluster:children]
kube-master
kube-node
`;

const INI_NEW = `# This inventory describe a HA typology with stacked etcd (== same nodes as control plane)
# and 3 worker nodes
[kube_control_plane]
node1 ansible_host=95.54.0.12  ip=10.3.0.1 etcd_member_name=etcd1
node2 ansible_host=95.54.0.13  ip=10.3.0.2 etcd_member_name=etcd2
node3 ansible_host=95.54.0.14  ip=10.3.0.3 etcd_member_name=etcd3

[etcd:children]
kube_control_plane

[kube_node]
node4 ansible_host=95.54.0.15  # ip=10.3.0.4
node5 ansible_host=95.54.0.16  # ip=10.3.0.5

[all:vars]
ansible_user=ubuntu
ansible_become=true
`;

const HOSTS_YAML = `all:
  hosts:
    node1:
      ansible_host: 10.10.1.3
      ip: 10.10.1.3
      access_ip: 10.10.1.3
    node2:
      ansible_host: 10.10.1.4
      ip: 10.10.1.4
      access_ip: 10.10.1.4
    node3:
      ansible_host: 10.10.1.5
      ip: 10.10.1.5
      access_ip: 10.10.1.5
    node4:
      ansible_host: 10.10.1.6
      ip: 10.10.1.6
      access_ip: 10.10.1.6
  children:
    kube_control_plane:
      hosts:
        node1:
        node2:
    kube_node:
      hosts:
        node1:
        node2:
        node3:
        node4:
    etcd:
      hosts:
        node1:
        node2:
        node3:
    k8s_cluster:
      children:
        kube_control_plane:
        kube_node:
    calico_rr:
      hosts: {}
`;

describe('kubespray inventories are recognised', () => {
  it.each([
    ['inventory.ini', INI_OLD, true],
    ['hosts.yaml', HOSTS_YAML, true],
    ['hosts.yml', 'etcd:\n  node1:\n    ip: 10.3.0.1\n', true],
    ['inventory.yaml', 'cluster:\n  name: k2\nnodes: []\n', false],
    ['hosts', '[etcd]\nnode1\n', true],
  ])('%s', (file, text, want) => {
    expect(isAnsibleInventory(`/x/${file}`, text)).toBe(want);
  });
});

describe('kubespray inventories load as etcd-dr inventories', () => {
  it('inventory.ini of the [all] + [etcd] generation: the etcd group, ansible_host for ssh, ip for etcd, etcd_member_name', async () => {
    const inv = await load({ 'inventory.ini': INI_OLD });
    expect(inv.cluster).toEqual({ name: 'mycluster', disposable: false });
    expect(brief(inv)).toEqual([1, 2, 3].map((i) => ({ name: `etcd${i}`, host: `node${i}`, address: `10.3.0.${i}`, sshHost: `95.54.0.${11 + i}`, user: 'ops', port: 22, become: false, dataDir: '/var/lib/etcd' })));
    expect(inv.nodes[0]!.etcd.clientCert).toBe('/etc/ssl/etcd/ssl/admin-node1.pem');
  });

  it('inventory.ini of the [kube_control_plane] + [etcd:children] generation, [all:vars] for user and become', async () => {
    const inv = await load({ 'inventory.ini': INI_NEW });
    expect(brief(inv)).toEqual([1, 2, 3].map((i) => ({ name: `etcd${i}`, host: `node${i}`, address: `10.3.0.${i}`, sshHost: `95.54.0.${11 + i}`, user: 'ubuntu', port: 22, become: true, dataDir: '/var/lib/etcd' })));
  });

  it('hosts.yaml: access_ip first; no etcd_member_name: etcd1.. in the etcd group order, as kubespray names them', async () => {
    const inv = await load({ 'hosts.yaml': HOSTS_YAML.replace('access_ip: 10.10.1.4', 'access_ip: 172.16.0.4') });
    expect(brief(inv).map((n) => [n.name, n.host, n.address, n.sshHost])).toEqual([
      ['etcd1', 'node1', '10.10.1.3', '10.10.1.3'],
      ['etcd2', 'node2', '172.16.0.4', '10.10.1.4'],
      ['etcd3', 'node3', '10.10.1.5', '10.10.1.5'],
    ]);
  });

  it('the oldest hosts.yaml shape (hosts right under the group, ansible_ssh_host)', async () => {
    const old = 'kube-master:\n  node1:\n    ip: 10.3.0.1\netcd:\n  node1:\n    ip: 10.3.0.1\n    ansible_ssh_host: 95.54.0.12\n  node2:\n    ip: 10.3.0.2\n    ansible_ssh_host: 95.54.0.13\n  node3:\n    ip: 10.3.0.3\n    ansible_ssh_host: 95.54.0.14\n';
    const inv = await load({ 'hosts.yaml': old });
    expect(brief(inv).map((n) => [n.name, n.address, n.sshHost])).toEqual([
      ['etcd1', '10.3.0.1', '95.54.0.12'],
      ['etcd2', '10.3.0.2', '95.54.0.13'],
      ['etcd3', '10.3.0.3', '95.54.0.14'],
    ]);
  });

  it('group_vars/ and host_vars/ beside it, with Ansible precedence (all < group < host, a file per dir entry)', async () => {
    const inv = await load({
      'hosts.yaml': HOSTS_YAML,
      'group_vars/all/all.yml': '---\nansible_user: admin\nbin_dir: /usr/local/bin\n',
      'group_vars/all/etcd.yml': '---\n## Directory where etcd data stored\netcd_data_dir: /var/lib/etcd-all\netcd_deployment_type: host\n',
      'group_vars/etcd.yml': 'etcd_data_dir: /data/etcd\nansible_port: 2222\n',
      'host_vars/node3.yml': 'ansible_port: 2203\nansible_ssh_private_key_file: ~/.ssh/node3_key\n',
      'host_vars/node2/ssh.yml': 'ansible_user: core\n',
      '../../home/.ssh/node3_key': 'key',
    });
    expect(brief(inv).map((n) => [n.host, n.user, n.port, n.dataDir])).toEqual([
      ['node1', 'admin', 2222, '/data/etcd'],
      ['node2', 'core', 2222, '/data/etcd'],
      ['node3', 'admin', 2203, '/data/etcd'],
    ]);
    expect(inv.nodes[2]!.ssh.identityFile).toBe(join(root, 'home', '.ssh', 'node3_key'));
    expect(inv.notes?.filter((n) => !n.startsWith('no `ssh` program'))).toEqual([]);
  });

  it('etcd_cert_dir moves the certificates; bin_dir elsewhere and the events cluster are noted', async () => {
    const inv = await load({
      'inventory.ini': INI_NEW,
      'group_vars/all/all.yml': 'bin_dir: /opt/bin\n',
      'group_vars/etcd.yml': 'etcd_cert_dir: /etc/etcd/pki\netcd_events_cluster_enabled: true\n',
    });
    expect(inv.nodes[1]!.etcd).toMatchObject({ caCert: '/etc/etcd/pki/ca.pem', clientCert: '/etc/etcd/pki/admin-node2.pem', clientKey: '/etc/etcd/pki/admin-node2-key.pem' });
    expect(inv.notes).toEqual(
      expect.arrayContaining([expect.stringContaining('bin_dir is /opt/bin (inventory/mycluster/group_vars/all/all.yml)'), expect.stringContaining('etcd_events_cluster_enabled is true')]),
    );
  });

  it("etcd-dr.yaml beside it: the cluster's name, known_hosts, jump host, timeouts, hooks", async () => {
    const inv = await load({
      'inventory.ini': INI_OLD,
      'etcd-dr.yaml': 'cluster:\n  name: prod-eu\nssh:\n  knownHostsFile: known_hosts\n  jumpHost: ops@bastion.example\n  commandTimeout: 120\nhooks:\n  beforeStop: [systemctl stop kubelet]\n',
    });
    expect(inv.nodes[0]!.hooks).toMatchObject({ beforeStop: ['systemctl stop kubelet'] });
    expect(inv.cluster.name).toBe('prod-eu');
    expect(inv.nodes[0]!.ssh).toMatchObject({ knownHostsFile: join(root, 'inventory', 'mycluster', 'known_hosts'), jumpHost: { user: 'ops', host: 'bastion.example', port: 22 }, commandTimeout: 120 });
  });
});

describe('bad kubespray input: file:line, the variable, and the fix; exit 2', () => {
  it.each<[string, Record<string, string>, string[]]>([
    [
      'no etcd group',
      { 'inventory.ini': '[kube_control_plane]\nnode1 ansible_host=10.0.0.1\n' },
      ['inventory/mycluster/inventory.ini: etcd: no host in the `etcd` group: etcd-dr reaches the etcd members kubespray deployed, the hosts of `[etcd]` (or `[etcd:children]`); add them there'],
    ],
    [
      'a bad ip',
      { 'inventory.ini': '[etcd]\nnode1 ip=10.0.0.1\nnode2 ip=10.0.0.2;id\n' },
      ['inventory/mycluster/inventory.ini:3: node2.ip: "10.0.0.2;id" contains `;`, a shell metacharacter; an address (IPv4, IPv6 or DNS name) may contain only letters, digits, `.`, `-`, and `:` `[` `]` in IPv6 addresses'],
    ],
    [
      'a bad ansible_port in group_vars',
      { 'inventory.ini': '[etcd]\nnode1 ip=10.0.0.1\n', 'group_vars/etcd.yml': '# ssh\n\nansible_port: ssh\n' },
      [expect.stringMatching(/^inventory\/mycluster\/group_vars\/etcd\.yml:3: node1\.ansible_port: .*port/) as unknown as string],
    ],
    [
      'a Jinja template',
      { 'hosts.yaml': 'all:\n  children:\n    etcd:\n      hosts:\n        node1:\n          ansible_host: "{{ lookup(\'env\', \'N1\') }}"\n' },
      ['inventory/mycluster/hosts.yaml:6: node1.ansible_host: "{{ lookup(\'env\', \'N1\') }}" is a Jinja template; etcd-dr reads literal values: write the value itself, or set ssh.host for this node in etcd-dr.yaml'],
    ],
    [
      'two etcd members with one name',
      { 'inventory.ini': '[etcd]\nnode1 ip=10.0.0.1 etcd_member_name=etcd1\nnode2 ip=10.0.0.2 etcd_member_name=etcd1\n' },
      [expect.stringMatching(/^inventory\/mycluster\/inventory\.ini:3: node2\.etcd_member_name: duplicate member name `etcd1`/) as unknown as string],
    ],
    [
      'a host range',
      { 'inventory.ini': '[etcd]\nnode[1:3] ip=10.0.0.1\n' },
      ['inventory/mycluster/inventory.ini:2: the host range `node[1:3]` is not supported; list each host on its own line'],
    ],
    [
      'an unknown key in etcd-dr.yaml',
      { 'inventory.ini': '[etcd]\nnode1 ip=10.0.0.1\n', 'etcd-dr.yaml': 'cluster:\n  name: k\nnodes: []\n' },
      [expect.stringMatching(/etcd-dr\.yaml:3: nodes: unknown key `nodes`; etcd-dr\.yaml takes cluster, ssh, etcd, hooks/) as unknown as string],
    ],
    [
      'a bad value in etcd-dr.yaml',
      { 'inventory.ini': '[etcd]\nnode1 ip=10.0.0.1\n', 'etcd-dr.yaml': 'ssh:\n  connectTimeout: soon\n' },
      [expect.stringMatching(/etcd-dr\.yaml:2: ssh\.connectTimeout: /) as unknown as string],
    ],
  ])('%s', async (_title, files, want) => {
    expect(await problems(files)).toEqual(want);
  });
});

describe('inventory show --json: one document, errors included', () => {
  async function run(argv: string[]): Promise<{ code: number; stdout: string }> {
    let stdout = '';
    const sink = (f: (s: string) => void) => new Writable({ write: (c: Buffer, _e, cb) => (f(c.toString()), cb()) });
    const code = await main(argv, { stdout: sink((s) => (stdout += s)), stderr: sink(() => {}), env: { ETCD_DR_SSH: 'none', USER: 'ops' }, cwd: root });
    return { code, stdout };
  }

  it('a kubespray inventory: the nodes; a bad one: bad-input with the file, line and variable', async () => {
    const dir = join(root, 'inventory', 'mycluster');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'inventory.ini'), INI_NEW);
    const ok = await run(['inventory', 'show', '--json', '-i', 'inventory/mycluster/inventory.ini']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ command: 'inventory show', exitCode: 0, cluster: 'mycluster', nodes: [{ name: 'etcd1', host: '95.54.0.12', user: 'ubuntu', route: [] }, {}, {}] });
    writeFileSync(join(dir, 'inventory.ini'), '[etcd]\nnode1 ip=10.0.0.1 ansible_port=22x\n');
    const bad = await run(['inventory', 'show', '--json', '-i', 'inventory/mycluster/inventory.ini']);
    expect(bad.code).toBe(EXIT.badInput);
    expect(JSON.parse(bad.stdout)).toMatchObject({
      command: 'inventory show',
      exitCode: 2,
      kind: 'bad-input',
      problems: [{ file: 'inventory/mycluster/inventory.ini', line: 2, field: 'node1.ansible_port' }],
    });
  });
});
