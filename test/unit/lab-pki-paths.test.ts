import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { deriveNodes } from '../../src/lab/naming.js';
import { cacheDir, labAsset, labPaths, nodePaths, OVERLAYS, packageRoot } from '../../src/lab/paths.js';
import { certFiles, certSan, nodeSslFiles } from '../../src/lab/pki.js';

const three = deriveNodes(3, '127.0.10.');

describe('certSan', () => {
  it.each([
    [{ name: 'etcd1', host: 'k2-master01', address: '127.0.10.1' }, 'subjectAltName=IP:127.0.10.1,IP:127.0.0.1,DNS:k2-master01,DNS:localhost'],
    [{ name: 'etcd7', host: 'k2-master07', address: '127.0.23.7' }, 'subjectAltName=IP:127.0.23.7,IP:127.0.0.1,DNS:k2-master07,DNS:localhost'],
  ])('%j', (node, want) => {
    expect(certSan(node)).toBe(want);
  });
});

describe('certFiles', () => {
  it.each([
    ['member', 'k2-master01', '/lab/pki/member-k2-master01.pem', '/lab/pki/member-k2-master01-key.pem'],
    ['admin', 'k2-master03', '/lab/pki/admin-k2-master03.pem', '/lab/pki/admin-k2-master03-key.pem'],
  ] as const)('%s of %s', (kind, host, cert, key) => {
    expect(certFiles('/lab/pki', kind, host)).toEqual({ cert, key });
  });
});

describe('nodeSslFiles', () => {
  const files = nodeSslFiles('/lab/pki', three);

  it("gives every node the CA and every host's member and admin pairs, in kubespray's names", () => {
    expect(files.map((f) => f.name)).toEqual([
      'ca.pem',
      'member-k2-master01.pem', 'member-k2-master01-key.pem', 'admin-k2-master01.pem', 'admin-k2-master01-key.pem',
      'member-k2-master02.pem', 'member-k2-master02-key.pem', 'admin-k2-master02.pem', 'admin-k2-master02-key.pem',
      'member-k2-master03.pem', 'member-k2-master03-key.pem', 'admin-k2-master03.pem', 'admin-k2-master03-key.pem',
    ]);
  });

  it('never hands out the CA key', () => {
    expect(files.some((f) => f.src.endsWith('ca-key.pem') || f.name === 'ca-key.pem')).toBe(false);
  });

  it('keeps keys private (0600) and certificates readable (0644)', () => {
    for (const f of files) expect([f.name, f.mode]).toEqual([f.name, f.name.endsWith('-key.pem') ? 0o600 : 0o644]);
  });

  it('copies each file from the lab pki dir under the same name', () => {
    for (const f of files) expect(f.src).toBe(join('/lab/pki', f.name));
  });

  it('for one node: the CA and that node\'s two pairs', () => {
    expect(nodeSslFiles('/p', deriveNodes(1, '127.0.20.'))).toHaveLength(5);
  });
});

describe('labPaths', () => {
  it('lays out a lab dir', () => {
    expect(labPaths('/tmp/lab')).toEqual({
      dir: '/tmp/lab',
      stateFile: '/tmp/lab/lab.json',
      lockFile: '/tmp/lab/lab.lock',
      binDir: '/tmp/lab/bin',
      pkiDir: '/tmp/lab/pki',
      nodesDir: '/tmp/lab/nodes',
      identityFile: '/tmp/lab/id_ed25519',
      authorizedKeys: '/tmp/lab/authorized_keys',
      knownHosts: '/tmp/lab/known_hosts',
      inventory: '/tmp/lab/inventory.yaml',
    });
  });
});

describe('nodePaths', () => {
  const np = nodePaths('/tmp/lab', 'k2-master02');

  it("keeps every file of a node in its own folder", () => {
    expect(np.nodeDir).toBe('/tmp/lab/nodes/k2-master02');
    expect([np.sshdConfig, np.hostKey, np.sshdPidFile, np.sshdLog, np.bootLog]).toEqual([
      '/tmp/lab/nodes/k2-master02/sshd_config',
      '/tmp/lab/nodes/k2-master02/ssh_host_ed25519_key',
      '/tmp/lab/nodes/k2-master02/sshd.pid',
      '/tmp/lab/nodes/k2-master02/sshd.log',
      '/tmp/lab/nodes/k2-master02/boot.log',
    ]);
  });

  it.each(OVERLAYS.map((o) => [o.target, o.key] as const))('overlay of %s: upper and work dirs under upper/%s and work/%s', (_target, key) => {
    expect(np.upper(key)).toBe(`/tmp/lab/nodes/k2-master02/upper/${key}`);
    expect(np.work(key)).toBe(`/tmp/lab/nodes/k2-master02/work/${key}`);
  });

  it.each(['root', 'home', 'tmp'] as const)("the node's own /%s", (d) => {
    expect(np.own(d)).toBe(`/tmp/lab/nodes/k2-master02/${d}`);
  });

  it("reads etcd's log from the /var/log overlay's upper dir (where the node writes it)", () => {
    expect(np.etcdLog).toBe(`${np.upper('var-log')}/etcd.log`);
  });
});

describe('OVERLAYS', () => {
  it('covers /etc, /var/lib and /var/log, the dirs a node writes', () => {
    expect(OVERLAYS.map((o) => o.target)).toEqual(['/etc', '/var/lib', '/var/log']);
  });
});

describe('package root, assets and cache', () => {
  it('finds the etcd-dr package root and its lab assets', () => {
    const root = packageRoot();
    expect(isAbsolute(root)).toBe(true);
    expect(existsSync(join(root, 'package.json'))).toBe(true);
    for (const a of ['systemctl', 'boot-node.sh', 'fetch-etcd35.sh']) expect(existsSync(labAsset(a))).toBe(true);
  });

  it.each([
    [{}, () => join(packageRoot(), '.cache')],
    [{ ETCD_DR_CACHE: '/var/cache/etcd-dr' }, () => '/var/cache/etcd-dr'],
    [{ ETCD_DR_CACHE: '/var/cache/etcd-dr/../x/' }, () => '/var/cache/x'],
  ])('cacheDir(%j)', (env, want) => {
    expect(cacheDir(env)).toBe(want());
  });

  it('resolves a relative ETCD_DR_CACHE against the cwd', () => {
    expect(cacheDir({ ETCD_DR_CACHE: 'rel-cache' })).toBe(join(process.cwd(), 'rel-cache'));
  });
});
