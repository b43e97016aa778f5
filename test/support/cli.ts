import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';
import { labDown, labUp, type LabState, type LabEtcdVersion, type LabProfileName } from '../../src/lab/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function sink(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  return {
    stream: new Writable({
      write(c: Buffer, _e, cb) {
        chunks.push(Buffer.from(c));
        cb();
      },
    }),
    text: () => Buffer.concat(chunks).toString('utf8'),
  };
}

let stateHome: string | undefined;

/**
 * Runs etcd-dr in this process, as a user would from a shell, and captures what it prints. Runs started
 * without --state-dir land in a temp $XDG_STATE_HOME of this test file, never in the user's home.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = {}, cwd = process.cwd()): Promise<CliRun> {
  const out = sink();
  const err = sink();
  stateHome ??= mkdtempSync(join(tmpdir(), 'etcd-dr-state-'));
  const code = await main(argv, { stdout: out.stream, stderr: err.stream, env: { ...process.env, CI: 'true', XDG_STATE_HOME: stateHome, ...env }, cwd, isTTY: false });
  return { code, stdout: out.text(), stderr: err.text() };
}

/** A lab of its own for one test file: a temp dir and its own loopback addresses. */
export async function startLab(addressBase: string, opts: { nodes?: number; members?: number; etcd?: LabEtcdVersion; profile?: LabProfileName } = {}): Promise<LabState> {
  const dir = mkdtempSync(join(tmpdir(), 'etcd-dr-e2e-'));
  return labUp({ dir, addressBase, nodes: opts.nodes ?? 3, ...(opts.members ? { members: opts.members } : {}), etcd: opts.etcd ?? '3.4', ...(opts.profile ? { profile: opts.profile } : {}), log: () => undefined });
}

export async function stopLab(s: LabState | undefined): Promise<void> {
  if (s) await labDown({ dir: s.dir, purge: true, log: () => undefined });
}

export function tempDir(prefix = 'etcd-dr-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
