/**
 * Where etcd-dr keeps its files on the bastion, following the XDG base directory convention so that an
 * installed package never writes inside itself and every working directory sees the same runs:
 *
 * - state (run journals, plans, logs, backups): --state-dir, else $ETCD_DR_STATE_DIR, else
 *   $XDG_STATE_HOME/etcd-dr, else ~/.local/state/etcd-dr;
 * - cache (etcd 3.5 binaries for the lab): $ETCD_DR_CACHE, else a `.cache` that a source checkout already
 *   has (scripts/setup.sh fills it), else $XDG_CACHE_HOME/etcd-dr, else ~/.cache/etcd-dr.
 *
 * Runs started by earlier versions live in ./.etcd-dr/runs: `resume` still looks there (see runStateDirs).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/** The XDG variable when it is set to an absolute path (the spec says relative ones are ignored), else ~/<fallback>. */
function xdgHome(env: NodeJS.ProcessEnv, name: 'XDG_STATE_HOME' | 'XDG_CACHE_HOME', fallback: string): string {
  const v = env[name];
  if (v && isAbsolute(v)) return v;
  const home = env['HOME'] && isAbsolute(env['HOME']) ? env['HOME'] : homedir();
  return join(home, fallback);
}

/** The state dir for new runs (absolute). */
export function defaultStateDir(env: NodeJS.ProcessEnv, cwd: string, flag?: string): string {
  if (flag !== undefined) return resolve(cwd, flag);
  if (env['ETCD_DR_STATE_DIR']) return resolve(cwd, env['ETCD_DR_STATE_DIR']);
  return join(xdgHome(env, 'XDG_STATE_HOME', join('.local', 'state')), 'etcd-dr');
}

/** Where earlier versions of etcd-dr kept runs: ./.etcd-dr under the working directory. */
export function legacyStateDir(cwd: string): string {
  return resolve(cwd, '.etcd-dr');
}

/**
 * The state dirs `resume` searches, in order: the one given (flag or $ETCD_DR_STATE_DIR) alone; else the
 * XDG state dir, then ./.etcd-dr when it holds runs, so an interrupted run of an earlier version is found.
 */
export function runStateDirs(env: NodeJS.ProcessEnv, cwd: string, flag?: string): string[] {
  const primary = defaultStateDir(env, cwd, flag);
  if (flag !== undefined || env['ETCD_DR_STATE_DIR']) return [primary];
  const legacy = legacyStateDir(cwd);
  return legacy !== primary && existsSync(join(legacy, 'runs')) ? [primary, legacy] : [primary];
}

/** The cache dir (absolute); `checkoutCache` is a source checkout's own `.cache`, used only when it exists. */
export function defaultCacheDir(env: NodeJS.ProcessEnv, checkoutCache?: string): string {
  if (env['ETCD_DR_CACHE']) return resolve(env['ETCD_DR_CACHE']);
  if (checkoutCache && existsSync(checkoutCache)) return checkoutCache;
  return join(xdgHome(env, 'XDG_CACHE_HOME', '.cache'), 'etcd-dr');
}
