import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { loadInventory, resolveInventoryPath } from '../../src/inventory/index.js';
import { EXIT, InputError } from '../../src/util/errors.js';

const INVENTORY = `cluster:
  name: k2
nodes:
  - name: etcd1
    host: k2-master01
    address: 192.168.30.151
`;

let root: string;
let home: string;
let work: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'etcd-dr-inventory-'));
  home = join(root, 'home');
  work = join(root, 'work');
  mkdirSync(join(home, '.ssh'), { recursive: true });
  mkdirSync(work);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

async function loadError(opts: Parameters<typeof loadInventory>[0]): Promise<InputError> {
  try {
    await loadInventory(opts);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error('loaded');
}

describe('resolveInventoryPath', () => {
  it.each([
    ['-i wins', { path: 'a.yaml', env: { ETCD_DR_INVENTORY: '/b.yaml' } }, '/cwd/a.yaml', 'option'],
    ['then ETCD_DR_INVENTORY', { env: { ETCD_DR_INVENTORY: '/b.yaml' } }, '/b.yaml', 'env'],
    ['relative ETCD_DR_INVENTORY is relative to cwd', { env: { ETCD_DR_INVENTORY: 'c/b.yaml' } }, '/cwd/c/b.yaml', 'env'],
    ['an empty ETCD_DR_INVENTORY is unset', { env: { ETCD_DR_INVENTORY: '' } }, '/cwd/inventory.yaml', 'default'],
    ['then ./inventory.yaml', { env: {} }, '/cwd/inventory.yaml', 'default'],
    ['~/ is home', { path: '~/k2.yaml', env: {} }, '/home/u/k2.yaml', 'option'],
  ])('%s', (_t, opts, path, source) => {
    expect(resolveInventoryPath({ cwd: '/cwd', home: '/home/u', ...opts })).toEqual({ path, source });
  });
});

describe('loadInventory', () => {
  it('reads ./inventory.yaml by default and finds the default key in home', async () => {
    writeFileSync(join(work, 'inventory.yaml'), INVENTORY);
    writeFileSync(join(home, '.ssh', 'id_ed25519'), 'key');
    const inv = await loadInventory({ env: { USER: 'ops' }, cwd: work, home });
    expect(inv.file).toBe(join(work, 'inventory.yaml'));
    // user and known_hosts as ssh has them (its passwd entry, as `ssh -G` says); the default key in home
    const sshHome = userInfo().homedir;
    expect(inv.nodes[0]!.ssh).toMatchObject({ user: userInfo().username, identityFile: join(home, '.ssh', 'id_ed25519'), knownHostsFile: join(sshHome, '.ssh', 'known_hosts') });
  });

  it('reads the file named by ETCD_DR_INVENTORY, and home from $HOME', async () => {
    writeFileSync(join(root, 'k2.yaml'), INVENTORY);
    const inv = await loadInventory({ env: { ETCD_DR_INVENTORY: join(root, 'k2.yaml'), HOME: home, SSH_AUTH_SOCK: '/agent' }, cwd: work });
    expect(inv.file).toBe(join(root, 'k2.yaml'));
    expect(inv.nodes[0]!.ssh.identityFile).toBeUndefined();
    expect(inv.nodes[0]!.ssh.knownHostsFile).toBe(join(userInfo().homedir, '.ssh', 'known_hosts'));
  });

  it('without an ssh program: the inventory alone, $USER and ~/.ssh/known_hosts, and a note saying so', async () => {
    writeFileSync(join(work, 'inventory.yaml'), INVENTORY);
    const inv = await loadInventory({ env: { USER: 'ops', ETCD_DR_SSH: join(root, 'no-ssh-here') }, cwd: work, home });
    expect(inv.nodes[0]!.ssh).toMatchObject({ user: 'ops', port: 22, sshHost: '192.168.30.151', knownHostsFile: join(home, '.ssh', 'known_hosts') });
    expect(inv.nodes[0]!.ssh.sshName).toBeUndefined();
    expect(inv.notes).toEqual([expect.stringContaining('no `ssh` program was found, so ~/.ssh/config is not read')]);
  });

  it('a config ssh refuses is bad input naming its file and line', async () => {
    writeFileSync(join(work, 'inventory.yaml'), INVENTORY);
    writeFileSync(join(root, 'bad_config'), 'Host *\n  Port 22\n  NoSuchOption yes\n');
    const err = await loadError({ env: {}, cwd: work, home, sshConfigPath: join(root, 'bad_config') });
    expect(err.exitCode).toBe(EXIT.badInput);
    expect(err.problems).toEqual([expect.objectContaining({ file: join(root, 'bad_config'), line: 3 })]);
    expect(err.problems[0]!.message).toContain('Bad configuration option: nosuchoption');
  });

  it('a missing file: names the path and says how to pass one', async () => {
    const err = await loadError({ env: {}, cwd: work, home });
    expect(err.exitCode).toBe(EXIT.badInput);
    expect(err.message).toContain(`no inventory file at ${join(work, 'inventory.yaml')} (the default, ./inventory.yaml)`);
    expect(err.message).toContain('`-i FILE`');
    expect(err.message).toContain('ETCD_DR_INVENTORY');
    expect(err.message).toContain('`etcd-dr lab up` writes one for the local lab');
    const fromEnv = await loadError({ env: { ETCD_DR_INVENTORY: 'nope.yaml' }, cwd: work, home });
    expect(fromEnv.message).toContain(`${join(work, 'nope.yaml')} (from ETCD_DR_INVENTORY)`);
    const fromOption = await loadError({ path: 'x.yaml', env: {}, cwd: work, home });
    expect(fromOption.message).toContain('(given with -i)');
  });

  it('a directory is not an inventory', async () => {
    const err = await loadError({ path: '.', env: {}, cwd: work, home });
    expect(err.message).toContain(`${work} (given with -i) is a directory, not an inventory file`);
  });

  it('problems name the file relative to cwd, and a named key that does not exist is one of them', async () => {
    mkdirSync(join(work, 'conf'));
    writeFileSync(join(work, 'conf', 'inv.yaml'), INVENTORY.replace('cluster:', 'ssh:\n  identityFile: keys/id\ncluster:'));
    const err = await loadError({ path: 'conf/inv.yaml', env: {}, cwd: work, home });
    expect(err.problems).toEqual([
      {
        file: 'conf/inv.yaml',
        line: 2,
        column: 17,
        field: 'ssh.identityFile',
        message: `the identity file ${join(work, 'conf', 'keys', 'id')} does not exist; fix the path, or remove identityFile to use ssh-agent or ~/.ssh/id_ed25519`,
      },
    ]);
    mkdirSync(join(work, 'conf', 'keys'));
    writeFileSync(join(work, 'conf', 'keys', 'id'), 'key');
    const inv = await loadInventory({ path: 'conf/inv.yaml', env: {}, cwd: work, home });
    expect(inv.nodes[0]!.ssh.identityFile).toBe(join(work, 'conf', 'keys', 'id'));
  });

  it('reads the ssh config given (option, else ETCD_DR_SSH_CONFIG) through `ssh -G`', async () => {
    writeFileSync(join(work, 'inventory.yaml'), INVENTORY);
    writeFileSync(join(home, '.ssh', 'config'), 'Host 192.168.30.*\n  User core\n  HostName m1.internal\n');
    const inv = await loadInventory({ env: { ETCD_DR_SSH_CONFIG: join(home, '.ssh', 'config') }, cwd: work, home });
    expect(inv.nodes[0]!.ssh).toMatchObject({ user: 'core', sshHost: 'm1.internal', sshName: '192.168.30.151' });
    writeFileSync(join(root, 'other_config'), 'Host *\n  Port 2200\n');
    const other = await loadInventory({ env: {}, cwd: work, home, sshConfigPath: join(root, 'other_config') });
    expect(other.nodes[0]!.ssh).toMatchObject({ user: 'root', port: 2200, sshHost: '192.168.30.151' });
    const none = await loadInventory({ env: {}, cwd: work, home, sshConfigPath: join(root, 'missing') });
    expect(none.nodes[0]!.ssh).toMatchObject({ user: 'root', port: 22 });
  });
});
