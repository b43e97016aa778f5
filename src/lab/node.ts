/**
 * One lab node's life: boot (namespaces + overlays + sshd), power-off (every process of the node
 * killed at once), and running a command inside it (nsenter, argv only).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createConnection } from 'node:net';
import { ApplyError } from '../util/errors.js';
import type { ExecResult } from '../ssh/types.js';
import { labAsset, nodePaths } from './paths.js';
import { ROOT_PATH } from './prereq.js';
import {
  isAlive, killAll, killUntilGone, labCmdlineProcesses, labNodeProcesses, readProc, scanProcs, sleep,
} from './procs.js';
import { runFile, tailLines } from './run.js';
import type { LabFileNode } from './store.js';

/** The environment of a root login on a node (what sshd gives root), for commands run via nsenter. */
export function nodeEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: ROOT_PATH, HOME: '/root', USER: 'root', LOGNAME: 'root', SHELL: '/bin/bash', LANG: 'C.UTF-8', ...extra };
}

/** The node is up: its recorded sshd still runs, in the recorded mount namespace. */
export function nodeIsUp(n: LabFileNode): boolean {
  if (!n.poweredOn || !n.sshdPid || !n.mntNs) return false;
  const p = readProc(n.sshdPid);
  return p !== null && p.state !== 'Z' && p.mntNs === n.mntNs && p.comm === 'sshd';
}

/** nsenter argv that runs `argv` as root inside the node whose sshd has host pid `sshdPid`. */
export function nsenterArgs(sshdPid: number, argv: readonly string[]): string[] {
  return ['-t', String(sshdPid), '--mount', '--uts', '--pid', '--', ...argv];
}

/** Run `argv` inside a node (mount, UTS and PID namespaces of its sshd), as root, with a root login's PATH. */
export function execInNode(
  node: Pick<LabFileNode, 'host' | 'sshdPid'>,
  argv: readonly string[],
  opts: { timeout?: number; stdin?: string | Buffer; env?: Record<string, string> } = {},
): Promise<ExecResult> {
  if (!node.sshdPid) throw new ApplyError(`${node.host} is powered off: cannot run ${argv[0] ?? 'a command'} in it`, 'power it on: etcd-dr lab power-on ' + node.host);
  return runFile('nsenter', nsenterArgs(node.sshdPid, argv), { timeout: opts.timeout ?? 120, stdin: opts.stdin, env: nodeEnv(opts.env) });
}

/** true when something accepts TCP connections on address:port (within timeoutMs). */
export function tcpAnswers(address: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const sock = createConnection({ host: address, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolvePromise(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

/**
 * Kill every process of a node (found by its namespace, so also an etcd whose sshd already died, and
 * any leftover whose command line names the node's folder) and wait until none is left.
 */
export async function killNode(labDir: string, host: string, timeoutMs = 15_000): Promise<number> {
  try {
    return await killUntilGone(() => {
      const procs = scanProcs();
      const inNs = labNodeProcesses(labDir, procs).get(host) ?? [];
      const byCmd = labCmdlineProcesses(`${labDir}/nodes/${host}`, procs);
      return [...new Map([...inNs, ...byCmd].map((p) => [p.pid, p])).values()];
    }, host, timeoutMs);
  } catch (e) {
    throw new ApplyError((e as Error).message, 'look at them with ps');
  }
}

export interface BootResult {
  sshdPid: number;
  unsharePid: number;
  mntNs: string;
}

/**
 * Boot a node: `unshare` runs lab-assets/boot-node.sh as PID 1 of new namespaces; it mounts the
 * node's disk and becomes its sshd. Resolves once sshd wrote its pid file (it does so after it
 * listens), with the host pids.
 */
export async function bootNode(labDir: string, n: LabFileNode, timeoutMs = 15_000): Promise<BootResult> {
  const np = nodePaths(labDir, n.host);
  rmSync(np.sshdPidFile, { force: true });
  const logFd = openSync(np.bootLog, 'a', 0o644);
  writeSync(logFd, `== boot ${new Date().toISOString()}\n`);
  let child;
  try {
    child = spawn(
      'unshare',
      ['--mount', '--uts', '--pid', '--fork', '--kill-child', '--mount-proc', '--propagation', 'private', 'sh', labAsset('boot-node.sh'), labDir, n.host],
      // detached: the node outlives the etcd-dr process that booted it
      { detached: true, stdio: ['ignore', logFd, logFd], env: { PATH: ROOT_PATH, LANG: 'C.UTF-8' } },
    );
  } finally {
    closeSync(logFd);
  }
  const unsharePid = child.pid;
  child.unref();
  if (!unsharePid) throw new ApplyError(`${n.host}: could not start unshare to boot the node`);
  const fail = (why: string) =>
    new ApplyError(
      `${n.host}: the node did not boot: ${why}\n${tailLines(readText(np.bootLog) + readText(np.sshdLog), 15).replace(/^/gm, '    ')}`,
      `logs: ${np.bootLog}, ${np.sshdLog}`,
    );
  const deadline = Date.now() + timeoutMs;
  let sshdPid: number | undefined;
  for (;;) {
    if (!isAlive(unsharePid)) throw fail('its boot script exited');
    if (sshdPid === undefined) sshdPid = scanProcs().find((p) => p.ppid === unsharePid)?.pid;
    if (sshdPid !== undefined && existsSync(np.sshdPidFile)) {
      const p = readProc(sshdPid);
      if (p && p.comm === 'sshd' && p.mntNs) return { sshdPid, unsharePid, mntNs: p.mntNs };
    }
    if (Date.now() > deadline) {
      killAll([unsharePid]);
      throw fail(`sshd did not start within ${timeoutMs / 1000} s`);
    }
    await sleep(10);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

