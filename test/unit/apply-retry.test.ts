import { EtcdCommandError, retryEtcd } from '../../src/apply/etcd-ops.js';
import { addPause } from '../../src/apply/handlers/membership.js';
import type { ExecResult } from '../../src/ssh/types.js';

const failed = (stderr: string): EtcdCommandError => {
  const r: ExecResult = { command: 'etcdctl member add', code: 1, signal: null, stdout: '', stderr, durationMs: 5, timedOut: false };
  return new EtcdCommandError('etcd1', 'member add', r);
};

describe('addPause: when to ask again after "unhealthy cluster"', () => {
  const start = 1_000_000;
  test.each([
    ['no joiner started in this run (a resumed run): a plain 250 ms', undefined, start, 250],
    ['just after the start: sleep at most 1 s at a time', start, start + 10, 1000],
    ['1.7 s before the 5 s are up: sleep 1 s', start, start + 3300, 1000],
    ['0.6 s before: sleep until then', start, start + 4400, 600],
    ['0.1 s before: look again in 100 ms', start, start + 4900, 100],
    ['past the 5 s (etcd counts from its connection, a bit later): every 100 ms', start, start + 5600, 100],
  ])('%s', (_what, startedAt, now, expected) => {
    expect(addPause(startedAt, now)).toBe(expected);
  });
});

describe('retryEtcd', () => {
  test('retries what etcd says is retryable, with the pause the caller chose, then returns the value', async () => {
    const errors = [failed('Error: etcdserver: unhealthy cluster'), failed('Error: etcdserver: unhealthy cluster')];
    const pauses: number[] = [];
    const seen: string[] = [];
    const t0 = Date.now();
    const v = await retryEtcd(
      async () => {
        const e = errors.shift();
        if (e) throw e;
        return 'added';
      },
      {
        deadlineMs: 5000,
        retryOn: new Set(['unhealthy-cluster']),
        pauseFor: (e, attempt) => {
          pauses.push(attempt);
          return e.code === 'unhealthy-cluster' ? 20 : undefined;
        },
        onRetry: (e, attempt) => seen.push(`${attempt}:${e.code}`),
      },
    );
    expect(v).toBe('added');
    expect(seen).toEqual(['1:unhealthy-cluster', '2:unhealthy-cluster']);
    expect(pauses).toEqual([1, 2]);
    expect(Date.now() - t0).toBeLessThan(1000); // 2 × 20 ms, not the default 250 + 500
  });

  /** a call that always fails with `stderr`, counting its calls */
  const alwaysFailing = (stderr: string) => {
    const f = { calls: 0, fn: async (): Promise<never> => {
      f.calls++;
      throw failed(stderr);
    } };
    return f;
  };

  test('an error outside retryOn is thrown at once', async () => {
    const f = alwaysFailing('Error: etcdserver: member not found');
    await expect(retryEtcd(f.fn, { deadlineMs: 5000, retryOn: new Set(['unhealthy-cluster']) })).rejects.toMatchObject({ code: 'member-not-found' });
    expect(f.calls).toBe(1);
  });

  test('gives up with the last error when the next pause would pass the deadline', async () => {
    const f = alwaysFailing('Error: etcdserver: unhealthy cluster');
    await expect(retryEtcd(f.fn, { deadlineMs: 100, retryOn: new Set(['unhealthy-cluster']), pauseFor: () => 40 })).rejects.toMatchObject({ code: 'unhealthy-cluster' });
    expect(f.calls).toBeGreaterThanOrEqual(2);
    expect(f.calls).toBeLessThanOrEqual(4);
  });
});
