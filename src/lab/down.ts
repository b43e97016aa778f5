/** `lab down`: every node powered off, nothing of the lab left running, the dir purged on request. */
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { ApplyError, EXIT, ExitError } from '../util/errors.js';
import { requireRoot } from './prereq.js';
import { killUntilGone, labCmdlineProcesses, labNodeProcesses, scanProcs } from './procs.js';
import { readLabFile, withLabLock, writeLabFile } from './store.js';
import { ctxOf } from './target.js';
import type { LabDownOptions } from './types.js';

export interface LabDownResult {
  dir: string;
  killed: number;
  purged: boolean;
}

/**
 * Power off every node (kill every process of every node namespace, and any leftover whose command
 * line names the lab dir) and check nothing is left. Node disks are kept unless `purge`.
 */
export async function labDown(opts: LabDownOptions = {}): Promise<LabDownResult> {
  requireRoot();
  const c = ctxOf(opts);
  if (!existsSync(c.dir)) {
    // A lab dir deleted while its nodes ran: the nodes keep running (their namespaces hold the dir),
    // and their mounts and command lines still name it, so they are found and stopped all the same.
    const killed = await killLab(c.dir);
    assertNothingLeft(c.dir);
    c.log(killed ? `${c.dir} is gone, but ${killed} process${killed === 1 ? '' : 'es'} of its nodes ran: killed` : `no lab in ${c.dir}: nothing to do`);
    return { dir: c.dir, killed, purged: false };
  }
  return withLabLock(c.dir, async () => {
    const f = readLabFile(c.dir);
    const killed = await killLab(c.dir);
    if (killed) c.log(`killed ${killed} process${killed === 1 ? '' : 'es'} of the lab's nodes`);
    assertNothingLeft(c.dir);
    if (f) writeLabFile(c.dir, { ...f, nodes: f.nodes.map((n) => ({ ...n, poweredOn: false, sshdPid: null, unsharePid: null, mntNs: null })) });
    if (opts.purge) {
      if (!f && !looksLikeLabDir(c.dir)) {
        throw new ExitError(`${c.dir} does not look like a lab dir (no lab.json, no nodes/): not removing it`, EXIT.refused, 'remove it yourself if that is what you want');
      }
      rmSync(c.dir, { recursive: true, force: true });
      c.log(`removed ${c.dir}`);
    }
    return { dir: c.dir, killed, purged: Boolean(opts.purge) };
  });
}

function looksLikeLabDir(dir: string): boolean {
  const entries = readdirSync(dir);
  return entries.length === 0 || entries.includes('nodes') || entries.includes('lab.json');
}

async function killLab(dir: string): Promise<number> {
  try {
    return await killUntilGone(() => {
      const procs = scanProcs();
      const all = [...[...labNodeProcesses(dir, procs).values()].flat(), ...labCmdlineProcesses(dir, procs)];
      return [...new Map(all.map((p) => [p.pid, p])).values()];
    }, `the lab in ${dir}`);
  } catch (e) {
    throw new ApplyError((e as Error).message, 'look at them with ps');
  }
}

/** Nothing of the lab runs any more and the host has no mount from the lab dir. */
function assertNothingLeft(dir: string): void {
  const procs = scanProcs();
  const inNs = [...labNodeProcesses(dir, procs).values()].flat().filter((p) => p.state !== 'Z');
  const byCmd = labCmdlineProcesses(dir, procs);
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.includes(`${dir}/`) || l.split(' ')[4] === dir);
  if (inNs.length || byCmd.length || mounts.length) {
    throw new ApplyError(
      `the lab in ${dir} is not completely down:` +
        [...inNs, ...byCmd].map((p) => `\n  pid ${p.pid} ${p.cmdline || p.comm}`).join('') +
        mounts.map((m) => `\n  host mount: ${m}`).join(''),
    );
  }
}
