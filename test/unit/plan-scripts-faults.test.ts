/**
 * What the step scripts say when the node lets them down: a restore that runs out of disk, a member that
 * does not serve in time. Run with sh against fake etcdutl / etcdctl / systemctl first on the PATH.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FAILED_POLLS, restoreScript, waitHealthyScript } from '../../src/plan/scripts.js';
import { nodeSpec } from '../support/facts.js';

const RUN = '20261124T200000Z-ab12';
let dir: string;
let bin: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-scripts-'));
  bin = join(dir, 'bin');
  mkdirSync(bin);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fake(name: string, body: string): void {
  writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
  chmodSync(join(bin, name), 0o755);
}

function sh(script: string): { code: number | null; out: string; err: string } {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, LANG: 'C' } });
  return { code: r.status, out: r.stdout.trim(), err: r.stderr.trim() };
}

describe('restore on a full disk', () => {
  // an etcdutl that writes 1 MiB of the db into its --data-dir, then fails as on ENOSPC
  const enospc = [
    'for a in "$@"; do case "$a" in --data-dir=*) d=${a#--data-dir=} ;; esac; done',
    'mkdir -p "$d/member/snap"',
    'head -c 1048576 /dev/zero > "$d/member/snap/db"',
    'echo \'{"level":"info","msg":"restoring snapshot"}\' >&2',
    'echo "Error: write $d/member/snap/db: no space left on device" >&2',
    'exit 1',
  ].join('\n');

  function params() {
    const aside = join(dir, 'etcd.aside');
    mkdirSync(join(aside, 'member', 'snap'), { recursive: true });
    writeFileSync(join(aside, 'member', 'snap', 'db'), Buffer.alloc(3 * 1024 * 1024, 7));
    return {
      tool: 'etcdutl' as const,
      db: join(aside, 'member', 'snap', 'db'),
      dataDir: join(dir, 'etcd'),
      name: 'etcd1',
      peerUrl: 'https://10.0.0.1:2380',
      initialCluster: 'etcd1=https://10.0.0.1:2380',
      token: `etcd-dr-${RUN}`,
      markCompacted: false,
      runId: RUN,
    };
  }

  it('fails saying what etcdutl said, the free space before it, the room it needs and what it left; deletes nothing', () => {
    const p = params();
    fake('etcdutl', enospc);
    const r = sh(restoreScript(p));
    expect(r.code).toBe(1);
    const last = r.err.split('\n').pop()!;
    const scratch = `${p.dataDir}.etcd-dr-${RUN}-restoring`;
    expect(last).toMatch(
      new RegExp(
        `^etcd-dr:restore-failed \\(exit 1\\) Error: write ${scratch}/member/snap/db: no space left on device; ${dir}( )had \\d+ MiB free and this restore needs about 65 MiB \\(the db and a 64 MB WAL\\); the incomplete ${scratch} \\(1 MiB\\) may be removed$`,
      ),
    );
    // etcdutl's own output is kept above it, for the journal
    expect(r.err).toContain('"restoring snapshot"');
    expect(existsSync(p.dataDir)).toBe(false);
    expect(existsSync(join(scratch, 'member', 'snap', 'db'))).toBe(true);
    expect(readFileSync(p.db)).toEqual(Buffer.alloc(3 * 1024 * 1024, 7));
  });

  it('once there is room, the next attempt sets the incomplete one aside and restores', () => {
    const p = params();
    fake('etcdutl', enospc);
    expect(sh(restoreScript(p)).code).toBe(1);
    fake('etcdutl', ['for a in "$@"; do case "$a" in --data-dir=*) d=${a#--data-dir=} ;; esac; done', 'mkdir -p "$d/member/snap"', 'echo restored > "$d/member/snap/db"'].join('\n'));
    expect(sh(restoreScript(p))).toMatchObject({ code: 0, out: 'etcd-dr:done' });
    expect(readFileSync(join(p.dataDir, 'member', 'snap', 'db'), 'utf8')).toBe('restored\n');
    expect(readdirSync(dir).filter((f) => f.includes('-restoring.interrupted.'))).toHaveLength(1);
  });
});

describe('wait until a member serves', () => {
  const unhealthy = [
    'echo \'{"level":"warn","msg":"retrying of unary invoker failed"}\' >&2',
    'echo "https://10.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded" >&2',
    'echo "Error: unhealthy cluster" >&2',
    'exit 1',
  ].join('\n');

  it("times out with etcdctl's last answer and the service state on one line", () => {
    fake('etcdctl', unhealthy);
    fake('systemctl', 'echo activating');
    const r = sh(waitHealthyScript(nodeSpec(1), 1));
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      'etcd-dr:timeout after 1 s; its last answer: https://10.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded Error: unhealthy cluster (service activating)',
    );
  });

  it('stops at once when the service failed', () => {
    fake('etcdctl', unhealthy);
    fake('systemctl', 'echo failed');
    const r = sh(waitHealthyScript(nodeSpec(1), 60));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^etcd-dr:service-failed https:\/\/10\.0\.0\.1:2379 is unhealthy: .* Error: unhealthy cluster$/);
  });

  // One line per poll: etcdctl's answer, then what `systemctl is-active` says; the last line repeats.
  // The wait gives up on a failed service only when it stays failed for FAILED_POLLS polls in a row (just
  // after a start queued with --no-block the service can still show the failure from before it); every
  // answer of etcd's is "not yet".
  const answers: Record<string, string> = {
    serving: 'echo "https://10.0.0.1:2379 is healthy: successfully committed proposal"; exit 0',
    unhealthy: 'echo "https://10.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded" >&2; echo "Error: unhealthy cluster" >&2; exit 1',
    'leader-changed': 'echo "https://10.0.0.1:2379 is unhealthy: failed to commit proposal: etcdserver: leader changed" >&2; echo "Error: unhealthy cluster" >&2; exit 1',
    'no-leader': 'echo "https://10.0.0.1:2379 is unhealthy: failed to commit proposal: etcdserver: no leader" >&2; echo "Error: unhealthy cluster" >&2; exit 1',
    refused: 'echo "https://10.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded" >&2; echo "Error: unhealthy cluster" >&2; exit 1',
  };
  function polls(lines: string[]): void {
    writeFileSync(join(dir, 'polls'), `${lines.join('\n')}\n`);
    // etcdctl counts the polls; systemctl answers for the poll etcdctl just made
    const line = 'n=$(cat "$D/n" 2>/dev/null || echo 0); l=$(sed -n "${n}p" "$D/polls"); [ -n "$l" ] || l=$(tail -n 1 "$D/polls")';
    fake('etcdctl', [`D=${dir}`, 'n=$(( $(cat "$D/n" 2>/dev/null || echo 0) + 1 )); echo $n > "$D/n"', line, 'case ${l%% *} in', ...Object.entries(answers).map(([k, v]) => `  ${k}) ${v} ;;`), 'esac'].join('\n'));
    fake('systemctl', [`D=${dir}`, line, 'echo "${l#* }"'].join('\n'));
  }
  const polled = () => Number(readFileSync(join(dir, 'n'), 'utf8'));

  it.each([
    ['a start queued after a failure: failed once, then activating, then serving', ['unhealthy failed', 'refused activating', 'serving active'], 'healthy', 3],
    ['failed on two polls, then serving', ['refused failed', 'refused failed', 'serving active'], 'healthy', 3],
    ['unhealthy cluster, no leader, leader changed while active: not yet', ['unhealthy active', 'no-leader active', 'leader-changed active', 'unhealthy activating', 'serving active'], 'healthy', 5],
    ['failed, active, failed twice, then serving: the count starts again', ['refused failed', 'unhealthy active', 'refused failed', 'refused failed', 'serving active'], 'healthy', 5],
    ['failed and staying failed', ['refused failed'], 'service-failed', FAILED_POLLS],
    ['activating, then failed for good', ['unhealthy activating', 'unhealthy activating', 'refused failed'], 'service-failed', 2 + FAILED_POLLS],
  ])('%s', (_what, lines, outcome, n) => {
    polls(lines);
    const r = sh(waitHealthyScript(nodeSpec(1), 60));
    expect(polled()).toBe(n);
    if (outcome === 'healthy') expect(r).toMatchObject({ code: 0, out: expect.stringMatching(/etcd-dr:healthy$/) as unknown as string });
    else expect([r.code, r.err]).toEqual([1, 'etcd-dr:service-failed https://10.0.0.1:2379 is unhealthy: failed to commit proposal: context deadline exceeded Error: unhealthy cluster']);
  });

  it('is healthy as soon as etcdctl says so', () => {
    fake('etcdctl', 'echo "https://10.0.0.1:2379 is healthy: successfully committed proposal"');
    fake('systemctl', 'echo active');
    expect(sh(waitHealthyScript(nodeSpec(1), 60))).toEqual({ code: 0, out: 'etcd-dr:healthy', err: '' });
  });
});
