/**
 * Versions of etcd, etcdctl and etcdutl, and what each version can do. etcd-dr supports 3.4 and 3.5
 * and knows what 3.6 changes (no `etcdctl snapshot` restore/status, etcdutl only).
 */
import { EtcdCapabilityError, ParseError } from './errors.js';

export type EtcdTool = 'etcd' | 'etcdctl' | 'etcdutl';

export interface EtcdVersion {
  major: number;
  minor: number;
  patch: number;
  /** the version as printed, e.g. `3.5.30` or `3.6.0-rc.2` */
  raw: string;
  /** `-rc.2` etc., empty for a release */
  prerelease: string;
  /** `API version:` line of etcdctl/etcdutl, e.g. `3.5` */
  api?: string;
  /** `Go Version:` line of etcd */
  go?: string;
}

/** Where the version line is, per tool: `etcd Version: 3.4.23`, `etcdctl version: 3.5.30`, `etcdutl version: 3.5.30`. */
const VERSION_LINE: Record<EtcdTool, RegExp> = {
  etcd: /^etcd Version: (\d{1,4})\.(\d{1,4})\.(\d{1,6})([-+][0-9A-Za-z.+-]{0,64})?\s*$/,
  etcdctl: /^etcdctl version: (\d{1,4})\.(\d{1,4})\.(\d{1,6})([-+][0-9A-Za-z.+-]{0,64})?\s*$/,
  etcdutl: /^etcdutl version: (\d{1,4})\.(\d{1,4})\.(\d{1,6})([-+][0-9A-Za-z.+-]{0,64})?\s*$/,
};

const COMMAND: Record<EtcdTool, string> = {
  etcd: 'etcd --version',
  etcdctl: 'etcdctl version',
  etcdutl: 'etcdutl version',
};

/**
 * Reads `etcd --version`, `etcdctl version` or `etcdutl version`. Other lines (warnings a wrapper or
 * the Go runtime prints first) are skipped; the version line itself must be there.
 */
export function parseToolVersion(tool: EtcdTool, text: string): EtcdVersion {
  let found: EtcdVersion | undefined;
  let api: string | undefined;
  let go: string | undefined;
  // line by line, each line bounded: a huge or hostile output cannot make the regexes backtrack far
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\r$/, '');
    if (line.length > 300) continue;
    const m = VERSION_LINE[tool].exec(line);
    if (m && !found) {
      const prerelease = m[4] ?? '';
      found = {
        major: Number(m[1]),
        minor: Number(m[2]),
        patch: Number(m[3]),
        raw: `${m[1]}.${m[2]}.${m[3]}${prerelease}`,
        prerelease,
      };
      continue;
    }
    const a = /^API version: (\d{1,4}(?:\.\d{1,4})?)\s*$/.exec(line);
    if (a) api = a[1];
    const g = /^Go Version: (\S{1,64})\s*$/.exec(line);
    if (g) go = g[1];
  }
  if (!found) throw new ParseError(COMMAND[tool], `no "${tool} version" line`, text);
  if (api !== undefined) found.api = api;
  if (go !== undefined) found.go = go;
  return found;
}

export const parseEtcdVersion = (text: string): EtcdVersion => parseToolVersion('etcd', text);
export const parseEtcdctlVersion = (text: string): EtcdVersion => parseToolVersion('etcdctl', text);
export const parseEtcdutlVersion = (text: string): EtcdVersion => parseToolVersion('etcdutl', text);

/** `3.5.10` → a version (for tables, tests and minimums); throws on anything else. */
export function parseVersion(s: string): EtcdVersion {
  const m = /^v?(\d{1,4})\.(\d{1,4})\.(\d{1,6})([-+][0-9A-Za-z.+-]{0,64})?$/.exec(s.trim());
  if (!m) throw new ParseError('version', `"${s}" is not a version like 3.5.10`, s);
  const prerelease = m[4] ?? '';
  return {
    major: Number(m[1]),
    minor: Number(m[2]),
    patch: Number(m[3]),
    raw: `${m[1]}.${m[2]}.${m[3]}${prerelease}`,
    prerelease,
  };
}

type VersionLike = Pick<EtcdVersion, 'major' | 'minor' | 'patch'> & { prerelease?: string };

/**
 * Orders versions by major, minor, patch; a pre-release sorts before its release (3.6.0-rc.1 < 3.6.0),
 * and build metadata (`+…`) is ignored, as in semver.
 */
export function compareVersions(a: VersionLike, b: VersionLike): -1 | 0 | 1 {
  for (const k of ['major', 'minor', 'patch'] as const) {
    if (a[k] !== b[k]) return a[k] < b[k] ? -1 : 1;
  }
  const pa = prereleaseOf(a);
  const pb = prereleaseOf(b);
  if (pa === pb) return 0;
  if (pa === '') return 1;
  if (pb === '') return -1;
  return comparePrerelease(pa.slice(1), pb.slice(1));
}

/** `-rc.1+abc` → `-rc.1`; `+abc` → `` (build metadata does not order versions) */
function prereleaseOf(v: VersionLike): string {
  const base = (v.prerelease ?? '').split('+')[0] ?? '';
  return base.startsWith('-') ? base : '';
}

/** semver pre-release order: dot-separated identifiers, numeric ones compared as numbers (rc.2 < rc.10). */
function comparePrerelease(a: string, b: string): -1 | 0 | 1 {
  const xs = a.split('.');
  const ys = b.split('.');
  for (let i = 0; i < Math.max(xs.length, ys.length); i++) {
    const x = xs[i];
    const y = ys[i];
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    if (x === y) continue;
    const nx = /^\d+$/.test(x);
    const ny = /^\d+$/.test(y);
    if (nx && ny) return Number(x) < Number(y) ? -1 : 1;
    if (nx !== ny) return nx ? -1 : 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const at = (major: number, minor: number, patch: number): VersionLike => ({ major, minor, patch });

function atLeast(v: VersionLike, min: VersionLike): boolean {
  // a pre-release of the minimum does not count as the minimum: 3.5.10-rc.0 may lack the feature
  return compareVersions(v, min) >= 0;
}

/** etcdutl ships from 3.5 on. */
export function hasEtcdutl(v: VersionLike): boolean {
  return atLeast(v, at(3, 5, 0));
}

/**
 * Which tool runs `snapshot restore` and `snapshot status`: etcdutl from 3.5 on when it is installed,
 * etcdctl otherwise (3.5's etcdctl still has them, deprecated). 3.6's etcdctl has no snapshot
 * restore/status at all, so 3.6 without etcdutl is an error the operator must fix.
 */
export function restoreTool(v: VersionLike, opts: { etcdutlPresent?: boolean } = {}): 'etcdutl' | 'etcdctl' {
  const present = opts.etcdutlPresent ?? true;
  if (hasEtcdutl(v) && present) return 'etcdutl';
  if (atLeast(v, at(3, 6, 0))) {
    throw new EtcdCapabilityError(
      `etcd ${fmt(v)} restores snapshots with etcdutl only, and etcdutl is not installed on the node: ` +
        'install the etcdutl binary of the same version next to etcdctl',
    );
  }
  return 'etcdctl';
}

/**
 * `snapshot restore --bump-revision N --mark-compacted` exists from 3.4.27 within 3.4, from 3.5.10
 * within 3.5, and in every later version. It moves revisions forward after a restore so Kubernetes
 * watchers do not trust revisions that went backwards.
 */
export function supportsBumpRevision(v: VersionLike): boolean {
  if (v.major !== 3) return v.major > 3;
  if (v.minor === 4) return atLeast(v, at(3, 4, 27));
  if (v.minor === 5) return atLeast(v, at(3, 5, 10));
  return v.minor > 5;
}

/** Learners (`member add --learner`, `member promote`) exist from 3.4 on. */
export function supportsLearner(v: VersionLike): boolean {
  return atLeast(v, at(3, 4, 0));
}

/** `member list` is answered through raft (linearizable) from 3.5 on: it fails without quorum. */
export function memberListNeedsQuorum(v: VersionLike): boolean {
  return atLeast(v, at(3, 5, 0));
}

/** `get --count-only` exists from 3.5 on, and only with `-w fields`; a keys-only read counts in every version. */
export function supportsCountOnly(v: VersionLike): boolean {
  return atLeast(v, at(3, 5, 0));
}

/** etcd-dr is built and tested against 3.4 and 3.5. */
export function isSupportedVersion(v: VersionLike): boolean {
  return v.major === 3 && (v.minor === 4 || v.minor === 5);
}

function fmt(v: VersionLike): string {
  return `${v.major}.${v.minor}.${v.patch}${v.prerelease ?? ''}`;
}
