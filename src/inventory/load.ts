/**
 * Finds and reads the inventory (and ~/.ssh/config), then hands the text to the pure parser.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { InputError } from '../util/errors.js';
import { kubesprayInventory, isAnsibleInventory } from './kubespray.js';
import { parseInventory } from './parse.js';
import { sshGResolver } from './ssh-settings.js';
import type { Inventory } from './types.js';

export interface LoadInventoryOptions {
  /** `-i FILE`; relative to `cwd` */
  path?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** default: $HOME, else the OS's idea of it */
  home?: string;
  /**
   * the ssh config given to `ssh -G -F`; default: $ETCD_DR_SSH_CONFIG, else ssh's own files (~/.ssh/config,
   * /etc/ssh/ssh_config); a named file that does not exist means no ssh config
   */
  sshConfigPath?: string;
}

export type InventorySource = 'option' | 'env' | 'default';

/** `-i FILE`, else $ETCD_DR_INVENTORY, else ./inventory.yaml; relative paths are relative to `cwd`. */
export function resolveInventoryPath(opts: { path?: string; env: NodeJS.ProcessEnv; cwd: string; home: string }): { path: string; source: InventorySource } {
  const [given, source]: [string, InventorySource] = opts.path
    ? [opts.path, 'option']
    : opts.env.ETCD_DR_INVENTORY
      ? [opts.env.ETCD_DR_INVENTORY, 'env']
      : ['inventory.yaml', 'default'];
  const expanded = given === '~' ? opts.home : given.startsWith('~/') ? join(opts.home, given.slice(2)) : given;
  return { path: resolve(opts.cwd, expanded), source };
}

const HOW_TO_PASS = 'pass one with `-i FILE` or set ETCD_DR_INVENTORY=FILE (inventory.example.yaml shows every field); `etcd-dr lab up` writes one for the local lab';

export async function loadInventory(opts: LoadInventoryOptions): Promise<Inventory> {
  const home = opts.home ?? opts.env.HOME ?? homedir();
  const { path, source } = resolveInventoryPath({ ...opts, home });
  const why = { option: 'given with -i', env: 'from ETCD_DR_INVENTORY', default: 'the default, ./inventory.yaml' }[source];

  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const what =
      code === 'ENOENT'
        ? `no inventory file at ${path} (${why})`
        : code === 'EISDIR'
          ? `${path} (${why}) is a directory, not an inventory file`
          : `cannot read the inventory ${path} (${why}): ${(err as Error).message}`;
    throw new InputError([{ file: path, message: `${what}; ${HOW_TO_PASS}` }], 'no inventory');
  }

  const configFile = opts.sshConfigPath ?? (opts.env.ETCD_DR_SSH_CONFIG || undefined);
  const resolveSsh = sshGResolver({
    ssh: opts.env.ETCD_DR_SSH || 'ssh',
    ...(configFile !== undefined ? { configFile: existsSync(configFile) ? configFile : 'none' } : {}),
  });
  // messages name the file as the user would type it from here
  const rel = relative(opts.cwd, path);
  const display = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  const ctx = {
    env: opts.env,
    home,
    cwd: opts.cwd,
    resolveSsh,
    exists: (p: string) => existsSync(p),
  };
  // kubespray's own inventory (inventory.ini, hosts.yaml), or etcd-dr's
  if (isAnsibleInventory(path, text)) return kubesprayInventory(text, path, display, ctx);
  return parseInventory(text, display, ctx);
}
