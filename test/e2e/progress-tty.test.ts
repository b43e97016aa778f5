/**
 * The live progress view in a real terminal (tmux, its own server): a warning logged in the middle of a
 * run is printed above the step list and stays on screen, the list is drawn again below it, and no stale
 * step line is left once the run ends. The warning is real: the run is held right after a step
 * (test/support/stop-after-step.mjs), the node of the next step drops etcd-dr's SSH connection, and
 * the run goes on (the transport warns "connection lost" and reconnects). On TERM=dumb the same kind of
 * run prints plain lines. Lab on 127.0.141.x.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { labExec, type LabState } from '../../src/lab/index.js';
import { startLab, stopLab, tempDir } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 240_000;
const SOCKET = `etcd-dr-progress-${process.pid}`;
const BIN = join(process.cwd(), 'bin', 'etcd-dr.js');
const STOP_HOOK = pathToFileURL(join(process.cwd(), 'test', 'support', 'stop-after-step.mjs')).href;
let lab: LabState;
/** etcd-dr processes of this file, killed at the end whatever happened */
const pids: number[] = [];
const work = tempDir('etcd-dr-tty-');

const tmux = (...args: string[]) => execFileSync('tmux', ['-L', SOCKET, ...args], { encoding: 'utf8' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function until<V>(what: string, f: () => V | undefined, ms = 120_000): Promise<V> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; the pane:\n${screen().join('\n')}`);
    await sleep(200);
  }
}

/** The pane, one string per row, trailing blanks cut: the visible rows, or with `history` all since the run began. */
function screen(history = false): string[] {
  return tmux('capture-pane', '-p', '-J', '-t', 'run', ...(history ? ['-S', '-'] : [])).split('\n').map((l) => l.trimEnd());
}

/**
 * Runs etcd-dr in the pane under a non-interactive shell (no job control: a process held with SIGSTOP
 * stays the pane's foreground program). It writes its pid first, so the test can hold and release it.
 */
function runInPane(name: string, env: Record<string, string>, argv: string[]): string {
  const pidFile = join(work, `${name}.pid`);
  const vars = Object.entries({ ETCD_DR_STATE_DIR: join(work, 'state'), ...env }).map(([k, v]) => `${k}=${q(v)}`).join(' ');
  const run = `bash -c ${q(`echo $$ > ${pidFile}; exec env -u CI -u NODE_OPTIONS ${vars} ${process.execPath} --import ${STOP_HOOK} ${BIN} ${argv.map(q).join(' ')}`)}`;
  tmux('respawn-pane', '-k', '-t', 'run', `clear; ${run}; echo "EXIT=$?"; sleep 600`);
  tmux('clear-history', '-t', 'run');
  return pidFile;
}

beforeAll(async () => {
  lab = await startLab(e2eNet(141), { nodes: 4, members: 3 });
  // a 140x60 terminal; each run replaces the pane's program
  tmux('new-session', '-d', '-s', 'run', '-x', '140', '-y', '60', 'sleep 600');
}, T);
afterAll(async () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // it ended
    }
  }
  try {
    tmux('kill-server');
  } catch {
    // the server is gone already
  }
  await stopLab(lab);
  rmSync(work, { recursive: true, force: true });
}, T);

describe('live progress in a real terminal (tmux)', () => {
  it('a warning logged during the run stays visible above the steps; no stale step line remains', async () => {
    const pidFile = runInPane('grow', { TERM: 'xterm-256color', ETCD_DR_STOP_AFTER_STEP: '03-add-etcd4' }, ['scale-out', '--node', 'etcd4', '-i', lab.inventoryPath, '--yes']);
    const pid = await until('the pid', () => (existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : undefined));
    pids.push(pid);
    // held the moment 03-add-etcd4 is journaled done: the live view is on screen, that step running
    await until('the run to stop after 03-add-etcd4', () => (/^\d+ \(.*\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')) ? true : undefined));
    expect(screen().join('\n')).toMatch(/^✓ 02-move-aside-etcd4 .*\n▸ 03-add-etcd4 /m);
    // etcd4 drops etcd-dr's SSH session (its per-connection sshd, not the listener)
    const cut = await labExec(lab, 'etcd4', ['sh', '-c', "pkill -f '^sshd: [^/]*@' && echo cut"]);
    expect(cut.stdout).toContain('cut');
    process.kill(pid, 'SIGCONT');
    await until('the run to end', () => (screen().some((l) => l.startsWith('EXIT=')) ? true : undefined));

    // the whole pane since the run began (the warnings quote a step's script, so they are long)
    const rows = screen(true);
    const text = rows.join('\n');
    expect(text).toContain('EXIT=0');
    // the run's last lines are on the visible screen
    expect(screen().join('\n')).toMatch(/✓ 12-unlock [^\n]*\n[^]*kube-apiserver: --etcd-servers=[^]*EXIT=0/);
    // the warning is on screen, above the step list
    const warn = rows.findIndex((l) => /WARN +etcd4: connection lost/.test(l));
    // a row of the view: its icon (✓ ▸ ✗ ·, or a blank for a pending step), the step id, one space, the title
    // (the plan printed before the run has its step ids followed by two spaces)
    const viewRow = /^[✓▸✗· ] \d\d-[a-z0-9.-]+ \S/;
    const first = rows.findIndex((l) => viewRow.test(l) && l.includes(' 01-lock '));
    if (warn < 0) throw new Error(`no warning in the pane:\n${text}`);
    expect(warn).toBeLessThan(first);
    // every step line once, all done: nothing stale, nothing half-drawn
    const stepRows = rows.filter((l) => viewRow.test(l));
    const ids = stepRows.map((l) => l.split(' ')[1]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(stepRows.length).toBeGreaterThanOrEqual(10);
    expect(stepRows.filter((l) => !l.startsWith('✓'))).toEqual([]);
    expect(rows.filter((l) => l.includes('▸'))).toEqual([]);
  }, T);

  it('TERM=dumb: plain lines, no live view', async () => {
    runInPane('shrink', { TERM: 'dumb' }, ['scale-in', '--member', 'etcd4', '-i', lab.inventoryPath, '--yes']);
    await until('the run to end', () => (screen().some((l) => l.startsWith('EXIT=')) ? true : undefined));
    const rows = screen();
    expect(rows).toContain('EXIT=0');
    expect(rows.some((l) => /^\+\S+ (ms|s) start 01-lock /.test(l))).toBe(true);
    expect(rows.filter((l) => /^[✓▸✗] /.test(l))).toEqual([]);
  }, T);
});
