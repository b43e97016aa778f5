/**
 * Finding a lab node's processes on the host: every node is a mount (and PID, UTS) namespace whose
 * /etc is an overlay with its upper dir in the lab dir, which identifies it even after a crash.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  /** one-letter state from /proc/<pid>/stat (R, S, D, Z, …) */
  state: string;
  comm: string;
  /** mount namespace inode, null for zombies and vanished processes */
  mntNs: string | null;
  /** argv joined with spaces */
  cmdline: string;
}

/** `mnt:[4026532177]` -> `4026532177` */
export function nsInode(link: string): string | null {
  const m = /^\w+:\[(\d+)\]$/.exec(link);
  return m?.[1] ?? null;
}

/** Parse /proc/<pid>/stat: comm may hold spaces and parentheses, so split at the last `)`. */
export function parseStat(text: string): { pid: number; comm: string; state: string; ppid: number } | null {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const rest = text.slice(close + 2).split(' ');
  return { pid: Number(text.slice(0, open).trim()), comm: text.slice(open + 1, close), state: rest[0] ?? '?', ppid: Number(rest[1]) };
}

export function readProc(pid: number): ProcInfo | null {
  try {
    const st = parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    if (!st) return null;
    let mntNs: string | null = null;
    try {
      mntNs = nsInode(readlinkSync(`/proc/${pid}/ns/mnt`));
    } catch {
      mntNs = null;
    }
    let cmdline = '';
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    } catch {
      cmdline = '';
    }
    return { pid, ppid: st.ppid, state: st.state, comm: st.comm, mntNs, cmdline };
  } catch {
    return null;
  }
}

export function scanProcs(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) out.push(p);
  }
  return out;
}

/** A live (not zombie) process. */
export function isAlive(pid: number): boolean {
  const p = readProc(pid);
  return p !== null && p.state !== 'Z' && p.state !== 'X';
}

/**
 * Which lab node a mount namespace belongs to, from its mountinfo: the node's /etc overlay names
 * `upperdir=<lab dir>/nodes/<host>/upper/etc`. Undefined when it is not a node of this lab.
 */
export function nodeOfMountinfo(mountinfo: string, labDir: string): string | undefined {
  const prefix = `upperdir=${labDir}/nodes/`;
  for (const line of mountinfo.split('\n')) {
    // fields: id parent major:minor root mountpoint options ... - fstype source superoptions
    const parts = line.split(' ');
    const dash = parts.indexOf('-');
    if (dash < 0 || parts[4] !== '/etc' || parts[dash + 1] !== 'overlay') continue;
    for (const opt of (parts[dash + 3] ?? '').split(',')) {
      if (!opt.startsWith(prefix)) continue;
      const m = /^([^/]+)\/upper\/etc$/.exec(opt.slice(prefix.length));
      if (m) return m[1];
    }
  }
  return undefined;
}

/** Processes of every node of the lab in `labDir`, by host. */
export function labNodeProcesses(labDir: string, procs: ProcInfo[] = scanProcs()): Map<string, ProcInfo[]> {
  let hostNs: string | null = null;
  try {
    hostNs = nsInode(readlinkSync('/proc/self/ns/mnt'));
  } catch {
    hostNs = null;
  }
  const byNs = new Map<string, ProcInfo[]>();
  for (const p of procs) {
    if (!p.mntNs || p.mntNs === hostNs) continue;
    const list = byNs.get(p.mntNs) ?? [];
    list.push(p);
    byNs.set(p.mntNs, list);
  }
  const result = new Map<string, ProcInfo[]>();
  for (const list of byNs.values()) {
    let host: string | undefined;
    for (const p of list) {
      try {
        host = nodeOfMountinfo(readFileSync(`/proc/${p.pid}/mountinfo`, 'utf8'), labDir);
        break;
      } catch {
        // that process is gone; ask the next one of the namespace
      }
    }
    if (host) result.set(host, [...(result.get(host) ?? []), ...list]);
  }
  return result;
}

/** pids of this process and its ancestors (never to be killed by a cleanup that matches on cmdline). */
export function selfAndAncestors(): Set<number> {
  const s = new Set<number>();
  let pid = process.pid;
  while (pid > 1 && !s.has(pid)) {
    s.add(pid);
    const p = readProc(pid);
    if (!p) break;
    pid = p.ppid;
  }
  return s;
}

/**
 * Leftovers that mention the lab dir on their command line (an sshd, an etcd, an `unshare` of a node
 * boot), wherever they run; never this process or its ancestors (whose own argv may name the dir).
 */
export function labCmdlineProcesses(labDir: string, procs: ProcInfo[] = scanProcs()): ProcInfo[] {
  const spare = selfAndAncestors();
  const needle = `${labDir}/`;
  return procs.filter((p) => {
    if (spare.has(p.pid) || p.state === 'Z' || !p.cmdline.includes(needle)) return false;
    return ['sshd', 'etcd', 'unshare'].includes(p.comm) || p.cmdline.startsWith('sshd:') || p.cmdline.includes('boot-node.sh');
  });
}

/** SIGKILL the given pids (ignoring ones already gone). */
export function killAll(pids: Iterable<number>): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * SIGKILL what `find` returns until it returns nothing. The `unshare` holding a node is spared at
 * first: once its child (the node's sshd, PID 1 of the node) dies, the kernel ends the whole node
 * and `unshare` reaps it and exits, so no zombie is left behind for a host init that may not reap.
 * Returns how many processes were signalled.
 */
export async function killUntilGone(find: () => ProcInfo[], what: string, timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  let killed = 0;
  for (;;) {
    const live = find().filter((p) => p.state !== 'Z' && p.state !== 'X');
    if (live.length === 0) return killed;
    const elapsed = Date.now() - started;
    if (elapsed > timeoutMs) {
      throw new Error(`${what}: processes ${live.map((p) => `${p.pid} (${p.comm})`).join(', ')} are still alive ${timeoutMs / 1000} s after SIGKILL; a process stuck in the kernel (state D) cannot be killed`);
    }
    const first = live.filter((p) => p.comm !== 'unshare');
    const targets = first.length && elapsed < 2000 ? first : live;
    killAll(targets.map((p) => p.pid));
    killed += targets.length;
    await sleep(15);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
