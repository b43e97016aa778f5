/**
 * etcd-dr as a separate process (so it can be SIGKILLed, held at a step, or left holding its run dir),
 * and the judgement of a cluster by what its nodes hold: keys and values, hashkv, membership, env files.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { etcdctlInNode, type LabState } from '../../src/lab/index.js';
import { fileIn, keysOf, lostOrChanged, membersOf } from './keys.js';

const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const STOP_HOOK = pathToFileURL(join(process.cwd(), 'test', 'support', 'stop-after-step.mjs')).href;

export interface Proc {
  child: ChildProcess;
  pid: number;
  started: number;
  stderr: () => string;
  stdout: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exited: () => boolean;
}

export const children = new Set<ChildProcess>();

/** `node bin/etcd-dr.js ARGS`; with `stopAfterStep` the process stops itself (SIGSTOP) once that step is journaled done. */
export function etcdDr(args: string[], stopAfterStep?: string): Proc {
  const env: NodeJS.ProcessEnv = { ...process.env, CI: 'true' };
  delete env['NODE_OPTIONS'];
  if (stopAfterStep) env['ETCD_DR_STOP_AFTER_STEP'] = stopAfterStep;
  const child = spawn(process.execPath, [...(stopAfterStep ? ['--import', STOP_HOOK] : []), BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  children.add(child);
  const err: Buffer[] = [];
  const out: Buffer[] = [];
  child.stderr!.on('data', (c: Buffer) => err.push(c));
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  let done = false;
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  return { child, pid: child.pid!, started: Date.now(), stderr: () => Buffer.concat(err).toString('utf8'), stdout: () => Buffer.concat(out).toString('utf8'), exit, exited: () => done };
}

/** The state letter of /proc/<pid>/stat: R, S, T (stopped), Z, … */
export function procState(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the process stopped itself at its step (or fails when it exits first). */
export async function heldAtStep(p: Proc, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (procState(p.pid) !== 'T') {
    if (p.exited()) throw new Error(`etcd-dr exited before its step: ${JSON.stringify(await p.exit)}\n${p.stderr().slice(-3000)}`);
    if (Date.now() > deadline) throw new Error(`etcd-dr did not reach its step in ${timeoutMs / 1000} s\n${p.stderr().slice(-3000)}`);
    await sleep(25);
  }
}

export interface Judged {
  keysBefore: number;
  keysAfter: number;
  lost: string[];
  revision: number;
  /** hashkv of every member at one revision */
  hashes: number[];
  members: { name: string; isLearner: boolean; started: boolean }[];
  /** members whose /etc/etcd.env names exactly the expected cluster, state existing */
  envFinal: string[];
}

/** Judge the cluster of `expected` members by what the nodes hold. */
export async function judge(lab: LabState, before: Map<string, string>, expected: string[]): Promise<Judged> {
  const via = expected[0]!;
  const after = await keysOf(lab, via);
  const st = await etcdctlInNode(lab, via, ['endpoint', 'status', '-w', 'json'], { timeout: 60 });
  const revision = (JSON.parse(st.stdout) as { Status: { header: { revision: number } } }[])[0]!.Status.header.revision;
  const hashes = await Promise.all(
    expected.map(async (n) => {
      const r = await etcdctlInNode(lab, n, ['endpoint', 'hashkv', `--rev=${revision}`, '-w', 'json'], { timeout: 60 });
      return (JSON.parse(r.stdout) as { HashKV: { hash: number } }[])[0]!.HashKV.hash;
    }),
  );
  const cluster = lab.nodes
    .filter((n) => expected.includes(n.name))
    .map((n) => `${n.name}=https://${n.address}:2380`)
    .join(',');
  const envFinal: string[] = [];
  for (const n of expected) {
    const env = await fileIn(lab, n, '/etc/etcd.env');
    if (env.includes(`ETCD_INITIAL_CLUSTER=${cluster}\n`) && env.includes('ETCD_INITIAL_CLUSTER_STATE=existing\n')) envFinal.push(n);
  }
  return { keysBefore: before.size, keysAfter: after.size, lost: lostOrChanged(before, after), revision, hashes, members: await membersOf(lab, via), envFinal };
}

/** Every key kept, hashkv equal, exactly the expected started voting members, their env files final. */
export function judgedOk(j: Judged, expected: string[]): boolean {
  return (
    j.lost.length === 0 &&
    new Set(j.hashes).size === 1 &&
    j.members.length === expected.length &&
    j.members.every((m) => expected.includes(m.name) && m.started && !m.isLearner) &&
    j.envFinal.length === expected.length
  );
}

export function describeJudged(j: Judged): string {
  return `${j.keysBefore - j.lost.length}/${j.keysBefore} keys unchanged (${j.lost.length} lost or changed); hashkv at revision ${j.revision}: ${new Set(j.hashes).size === 1 ? `equal on ${j.hashes.length} members` : `differs (${j.hashes.join(', ')})`}; members ${j.members.map((m) => `${m.name}${m.isLearner ? ' (learner)' : ''}${m.started ? '' : ' (not started)'}`).join(', ')}; final env files on ${j.envFinal.length}`;
}
