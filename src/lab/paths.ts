/** Where the lab's files live: the package's own assets and cache, and the layout of a lab dir. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCacheDir } from '../util/dirs.js';

let cachedRoot: string | undefined;

/**
 * The etcd-dr package root, found from this module's own location (src/lab or dist/lab), so the lab
 * works from any cwd and from an installed package.
 */
export function packageRoot(): string {
  if (cachedRoot) return cachedRoot;
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        if ((JSON.parse(readFileSync(pj, 'utf8')) as { name?: string }).name === 'etcd-dr') return (cachedRoot = d);
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(d);
    if (up === d) throw new Error(`cannot find the etcd-dr package root above ${fileURLToPath(import.meta.url)}`);
    d = up;
  }
}

export function labAsset(name: string): string {
  return join(packageRoot(), 'lab-assets', name);
}

/**
 * $ETCD_DR_CACHE, else a source checkout's own `.cache` (a git work tree where scripts/setup.sh put etcd 3.5),
 * else $XDG_CACHE_HOME/etcd-dr (~/.cache/etcd-dr): never inside an installed package.
 */
export function cacheDir(env: NodeJS.ProcessEnv): string {
  const root = packageRoot();
  return defaultCacheDir(env, existsSync(join(root, '.git')) ? join(root, '.cache') : undefined);
}

/** The lab dir: the option, else $ETCD_DR_LAB_DIR, else ./.etcd-dr/lab; absolute, relative to cwd. */
export function resolveLabDir(opt: string | undefined, env: NodeJS.ProcessEnv, cwd: string): string {
  return resolve(cwd, opt ?? env.ETCD_DR_LAB_DIR ?? join('.etcd-dr', 'lab'));
}

/** Upper dirs of a node's overlays, by the mount point they cover. */
export const OVERLAYS = [
  { key: 'etc', target: '/etc' },
  { key: 'var-lib', target: '/var/lib' },
  { key: 'var-log', target: '/var/log' },
] as const;

/** The layout of one lab dir. */
export function labPaths(dir: string) {
  return {
    dir,
    stateFile: join(dir, 'lab.json'),
    lockFile: join(dir, 'lab.lock'),
    binDir: join(dir, 'bin'),
    pkiDir: join(dir, 'pki'),
    nodesDir: join(dir, 'nodes'),
    identityFile: join(dir, 'id_ed25519'),
    authorizedKeys: join(dir, 'authorized_keys'),
    knownHosts: join(dir, 'known_hosts'),
    inventory: join(dir, 'inventory.yaml'),
  };
}

export function nodePaths(dir: string, host: string) {
  const nodeDir = join(dir, 'nodes', host);
  return {
    nodeDir,
    upper: (key: string) => join(nodeDir, 'upper', key),
    work: (key: string) => join(nodeDir, 'work', key),
    /** the node's /root, /home and /tmp */
    own: (key: 'root' | 'home' | 'tmp') => join(nodeDir, key),
    sshdConfig: join(nodeDir, 'sshd_config'),
    hostKey: join(nodeDir, 'ssh_host_ed25519_key'),
    sshdPidFile: join(nodeDir, 'sshd.pid'),
    sshdLog: join(nodeDir, 'sshd.log'),
    bootLog: join(nodeDir, 'boot.log'),
    /** the node's /var/log/etcd.log, read from the host (read-only) for error messages */
    etcdLog: join(nodeDir, 'upper', 'var-log', 'etcd.log'),
  };
}
