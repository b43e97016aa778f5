/** What the lab needs from the machine: root, a few Debian packages, and etcd 3.5 in the cache. */
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApplyError, EXIT, ExitError } from '../util/errors.js';
import { cacheDir, labAsset } from './paths.js';
import { describeFailure, runFile } from './run.js';
import type { LabEtcdVersion, LabLog } from './types.js';

/** The PATH of a root login: where the lab looks for its programs, whatever the caller's PATH. */
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface Prerequisite {
  program: string;
  /** the Debian package that provides it */
  pkg: string;
}

export const COMMON_PREREQS: readonly Prerequisite[] = [
  { program: 'sshd', pkg: 'openssh-server' },
  { program: 'ssh-keygen', pkg: 'openssh-client' },
  { program: 'openssl', pkg: 'openssl' },
  { program: 'unshare', pkg: 'util-linux' },
  { program: 'nsenter', pkg: 'util-linux' },
  { program: 'setsid', pkg: 'util-linux' },
  { program: 'sudo', pkg: 'sudo' },
];

/** Debian's etcd 3.4 packages; 3.5 comes from etcd-dr's cache instead. */
export const ETCD34_PREREQS: readonly Prerequisite[] = [
  { program: 'etcd', pkg: 'etcd-server' },
  { program: 'etcdctl', pkg: 'etcd-client' },
];

export function prerequisitesFor(version: LabEtcdVersion): Prerequisite[] {
  return version === '3.4' ? [...COMMON_PREREQS, ...ETCD34_PREREQS] : [...COMMON_PREREQS];
}

/** Absolute path of `program` on a root login's PATH, or undefined. */
export function findProgram(program: string, path = ROOT_PATH): string | undefined {
  for (const d of path.split(':')) {
    const p = join(d, program);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** One error naming every missing program and the apt-get line that installs them; undefined if none. */
export function missingPrereqsError(missing: readonly Prerequisite[]): ExitError | undefined {
  if (missing.length === 0) return undefined;
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  return new ExitError(
    `the lab needs ${missing.map((m) => m.program).join(', ')}, which ${missing.length === 1 ? 'is' : 'are'} not installed`,
    EXIT.badInput,
    `apt-get install ${pkgs.join(' ')}   (or run scripts/setup.sh, which installs everything etcd-dr needs)`,
  );
}

export function checkPrereqs(version: LabEtcdVersion, find: (p: string) => string | undefined = (p) => findProgram(p)): void {
  const err = missingPrereqsError(prerequisitesFor(version).filter((p) => !find(p.program)));
  if (err) throw err;
}

export const NOT_ROOT_MESSAGE = 'the lab needs root (it creates mount namespaces): run it with sudo';

export function requireRoot(uid: number | undefined = process.getuid?.()): void {
  if (uid !== 0) throw new ExitError(NOT_ROOT_MESSAGE, EXIT.badInput);
}

const ETCD35_BINARIES = ['etcd', 'etcdctl', 'etcdutl'] as const;

/** Folder holding etcd, etcdctl, etcdutl 3.5; fetched into the cache with lab-assets/fetch-etcd35.sh if missing. */
export async function ensureEtcd35(env: NodeJS.ProcessEnv, log: LabLog): Promise<string> {
  const cache = cacheDir(env);
  const bin = join(cache, 'etcd-3.5', 'bin');
  if (ETCD35_BINARIES.every((b) => existsSync(join(bin, b)))) return bin;
  mkdirSync(cache, { recursive: true });
  log(`etcd 3.5 is not in ${cache} yet: fetching Debian's etcd 3.5 packages (one time, about a minute)`);
  const r = await runFile('bash', [labAsset('fetch-etcd35.sh'), cache], { timeout: 600, env: { ...env, PATH: ROOT_PATH } });
  if (r.code !== 0 || !ETCD35_BINARIES.every((b) => existsSync(join(bin, b)))) {
    throw new ApplyError(
      `could not fetch etcd 3.5 into ${cache}: ${describeFailure(r)}`,
      'check that apt can reach the Debian archive, or put etcd, etcdctl and etcdutl 3.5 in ' + bin,
    );
  }
  return bin;
}
