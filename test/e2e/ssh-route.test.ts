/**
 * The routes of OpenSSH's own config reach real lab nodes (etcd 3.4, nodes on 127.0.130.*), with two
 * jump host sshds on 127.0.131.1 and .2 (TCP forwarding on). The inventory names each node by an alias of
 * an ssh config (`ssh.host`), and etcd-dr resolves it with `ssh -G`:
 * - etcd1, etcd2: `ProxyJump hop1,hop2`, a chain of two hops;
 * - etcd3: `ProxyCommand ssh -W %h:%p hop1`.
 * And `status -i hosts.yaml` on a kubespray-shaped inventory of the same lab (group_vars, etcd-dr.yaml).
 * What is checked is what happened on the hosts: `status` is healthy with every node reached, and each jump
 * sshd logged the logins that only those routes make; a hop whose key is not in known_hosts is refused,
 * named as the jump host, before any node is logged into.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterFacts } from '../../src/facts/types.js';
import type { ShownInventory } from '../../src/inventory/show.js';
import type { LabState } from '../../src/lab/index.js';
import { runCli, startLab, stopLab, tempDir } from '../support/cli.js';
import { TestSshd } from '../support/sshd.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;

let lab: LabState;
let work: string;
let hop1: TestSshd;
let hop2: TestSshd;
let config: string;
let inventory: string;
let known: string;

beforeAll(async () => {
  work = tempDir('etcd-dr-ssh-route-');
  lab = await startLab(e2eNet(130), { etcd: '3.4' });
  const pub = readFileSync(`${lab.identityFile}.pub`, 'utf8');
  hop1 = await TestSshd.start({ address: `${e2eNet(131)}1`, authorizedKeys: [pub], extraConfig: ['AllowTcpForwarding yes'] });
  hop2 = await TestSshd.start({ address: `${e2eNet(131)}2`, authorizedKeys: [pub], extraConfig: ['AllowTcpForwarding yes'] });
  known = join(work, 'known_hosts');
  writeFileSync(known, readFileSync(lab.knownHostsFile, 'utf8') + hop1.knownHostsLine() + hop2.knownHostsLine());
  config = join(work, 'ssh_config');
  const [n1, n2, n3] = lab.nodes;
  writeFileSync(
    config,
    [
      '# a bastion user\'s config: two hops to the masters, or a ProxyCommand',
      'Host hop1',
      `  HostName ${hop1.address}`,
      `  Port ${hop1.port}`,
      'Host hop2',
      `  HostName ${hop2.address}`,
      `  Port ${hop2.port}`,
      'Host chain-*',
      '  ProxyJump hop1,hop2',
      `Host chain-${n1!.name}`,
      `  HostName ${n1!.address}`,
      `Host chain-${n2!.name}`,
      `  HostName ${n2!.address}`,
      `Host pc-${n3!.name}`,
      `  HostName ${n3!.address}`,
      `  ProxyCommand ssh -F ${config} -i ${lab.identityFile} -o BatchMode=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=${known} -W %h:%p hop1`,
      'Host *',
      '  User root',
      `  IdentityFile ${lab.identityFile}`,
      '',
    ].join('\n'),
  );
  inventory = join(work, 'inventory.yaml');
  const aliases: Record<string, string> = { [n1!.name]: `chain-${n1!.name}`, [n2!.name]: `chain-${n2!.name}`, [n3!.name]: `pc-${n3!.name}` };
  const text = readFileSync(lab.inventoryPath, 'utf8')
    .replace(/^ {2}knownHostsFile: .*$/m, `  knownHostsFile: ${known}`)
    .replace(/^ {2}- name: (\S+)\n((?: {4}.*\n)*)/gm, (all, name: string) => `${all}    ssh: {host: ${aliases[name]}}\n`);
  writeFileSync(inventory, text);
}, T);

afterAll(async () => {
  await hop1?.stop();
  await hop2?.stop();
  await stopLab(lab);
  if (work) rmSync(work, { recursive: true, force: true });
}, T);

const ENV = () => ({ ETCD_DR_SSH_CONFIG: config, SSH_AUTH_SOCK: '' });

test('inventory show: the chain and the ProxyCommand as ssh resolves them', async () => {
  const r = await runCli(['inventory', 'show', '--json', '-i', inventory], ENV());
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const shown = JSON.parse(r.stdout) as ShownInventory;
  const [n1, , n3] = lab.nodes;
  const hops = shown.nodes.map((n) => n.route.map((s) => s.proxyCommand ?? `${s.user}@${s.host}:${s.port}`));
  const chain = [`root@${hop1.address}:${hop1.port}`, `root@${hop2.address}:${hop2.port}`];
  expect(hops).toEqual([chain, chain, [expect.stringMatching(new RegExp(`-W ${n3!.address.replaceAll('.', '\\.')}:22 hop1$`))]]);
  expect(shown.nodes[0]).toMatchObject({ sshName: `chain-${n1!.name}`, host: n1!.address, port: 22, user: 'root', knownHostsFiles: [known, '/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'] });
}, T);

test('status reaches every node: two through the two-hop chain, one through the ProxyCommand', async () => {
  const before = { hop1: hop1.acceptedLogins(), hop2: hop2.acceptedLogins() };
  const r = await runCli(['status', '--json', '--log-level', 'debug', '-i', inventory], ENV());
  expect(r.code).toBe(0);
  const facts = JSON.parse(r.stdout) as ClusterFacts;
  expect(facts.assessment.verdict).toBe('healthy');
  expect(facts.nodes.map((n) => [n.name, n.reachable])).toEqual(lab.nodes.map((n) => [n.name, true]));
  // hop2 is only on the chain: one login (shared by both nodes behind it); hop1 carries the chain's
  // login to hop2 and the ProxyCommand's own ssh. One connection per node and per hop: no attempt
  // failed and none was made again (on a mismatch, the run's own log says which one and why).
  const connections = r.stderr.split('\n').filter((l) => /^\S+ \w+ +\S+: (connected|connection attempt failed|connection lost)\b/.test(l));
  expect({ hop2: hop2.acceptedLogins() - before.hop2, hop1: hop1.acceptedLogins() - before.hop1, connections }).toEqual({
    hop2: 1,
    hop1: 2,
    connections: lab.nodes.map(() => expect.stringMatching(/: connected \(.*reconnect=false/)),
  });
}, T);

test('a hop whose key is not in known_hosts is refused as the jump host, and nothing behind it is logged into', async () => {
  const partial = join(work, `known_hosts_${randomBytes(3).toString('hex')}`);
  writeFileSync(partial, readFileSync(lab.knownHostsFile, 'utf8') + hop1.knownHostsLine());
  const inv = join(work, 'inventory-partial.yaml');
  writeFileSync(inv, readFileSync(inventory, 'utf8').replace(/^ {2}knownHostsFile: .*$/m, `  knownHostsFile: ${partial}`));
  const before = hop2.acceptedLogins();
  const r = await runCli(['status', '-i', inv], ENV());
  expect(r.code).toBe(3);
  expect(r.stderr).toContain(`the host key of jump host ${hop2.address}:${hop2.port} (in front of ${lab.nodes[0]!.name}) is not in ${partial}`);
  expect(r.stderr).toContain(hop2.hostKey.fingerprint);
  expect(hop2.acceptedLogins()).toBe(before);
  expect(readFileSync(partial, 'utf8')).not.toContain(hop2.hostKey.base64);
}, T);

test('status -i hosts.yaml: a kubespray inventory of the lab as it is, group_vars and etcd-dr.yaml beside it', async () => {
  const dir = join(work, 'inventory', 'lab');
  mkdirSync(join(dir, 'group_vars', 'all'), { recursive: true });
  const hosts = lab.nodes.map((n) => `    ${n.host}:\n      ansible_host: ${n.address}\n      ip: ${n.address}\n      access_ip: ${n.address}\n      etcd_member_name: ${n.name}\n`).join('');
  writeFileSync(
    join(dir, 'hosts.yaml'),
    `all:\n  hosts:\n${hosts}  children:\n    kube_control_plane:\n      hosts:\n${lab.nodes.map((n) => `        ${n.host}:\n`).join('')}` +
      `    kube_node:\n      hosts:\n${lab.nodes.map((n) => `        ${n.host}:\n`).join('')}` +
      `    etcd:\n      hosts:\n${lab.nodes.map((n) => `        ${n.host}:\n`).join('')}` +
      '    k8s_cluster:\n      children:\n        kube_control_plane:\n        kube_node:\n    calico_rr:\n      hosts: {}\n',
  );
  writeFileSync(join(dir, 'group_vars', 'all', 'all.yml'), `---\nansible_user: root\nansible_ssh_private_key_file: ${lab.identityFile}\nbin_dir: /usr/local/bin\n`);
  writeFileSync(join(dir, 'group_vars', 'all', 'etcd.yml'), '---\n## Directory where etcd data stored\netcd_data_dir: /var/lib/etcd\netcd_deployment_type: host\n');
  writeFileSync(join(dir, 'etcd-dr.yaml'), `cluster:\n  name: lab\nssh:\n  knownHostsFile: ${lab.knownHostsFile}\n`);
  const env = { SSH_AUTH_SOCK: '' };
  const r = await runCli(['status', '--json', '-i', join(dir, 'hosts.yaml')], env);
  expect(r.code).toBe(0);
  const facts = JSON.parse(r.stdout) as ClusterFacts;
  expect(facts.assessment.verdict).toBe('healthy');
  expect(facts.nodes.map((n) => [n.name, n.reachable])).toEqual(lab.nodes.map((n) => [n.name, true]));
  // the members etcd itself lists are the ones the kubespray inventory named, by etcd_member_name
  expect(facts.nodes.map((n) => n.name).sort()).toEqual(lab.nodes.map((n) => n.name).sort());
  const shown = JSON.parse((await runCli(['inventory', 'show', '--json', '-i', join(dir, 'hosts.yaml')], env)).stdout) as ShownInventory;
  expect(shown.cluster).toBe('lab');
  expect(shown.nodes.map((n) => [n.name, n.sshName, n.user, n.identityFiles[0]])).toEqual(lab.nodes.map((n) => [n.name, n.address, 'root', lab.identityFile]));
}, T);
