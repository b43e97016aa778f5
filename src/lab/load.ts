/** `lab load`: keys and 1 MiB values written through etcd's JSON gateway. */
import { randomBytes } from 'node:crypto';
import { ApplyError, InputError, type InputProblem } from '../util/errors.js';
import { labPaths } from './paths.js';
import { requireRoot } from './prereq.js';
import { sleep } from './procs.js';
import { ctxOf, findNode, type LabTarget, refreshPower, requireLab } from './target.js';
import { etcdClient } from './tls.js';
import type { LoadOptions, LoadResult } from './types.js';

/** how long one batch of puts is retried through leader elections (5 s election timeout, twice, and some) */
const RETRY_MS = 30_000;
/** etcd's default --max-txn-ops */
const MAX_TXN_OPS = 128;

/**
 * Write `keys` small keys and `mb` 1 MiB values through etcd's JSON gateway (`POST /v3/kv/txn`,
 * 128 puts per transaction, several in flight on keep-alive connections).
 */
export async function loadKeys(target: LabTarget, opts: LoadOptions): Promise<LoadResult> {
  requireRoot();
  const c = ctxOf(target, opts.log);
  const problems: InputProblem[] = [];
  if (!Number.isInteger(opts.keys) || opts.keys < 0) problems.push({ field: '--keys', message: `must be a whole number ≥ 0, got ${String(opts.keys)}` });
  const mb = opts.mb ?? 0;
  if (!Number.isInteger(mb) || mb < 0) problems.push({ field: '--mb', message: `must be a whole number ≥ 0, got ${String(mb)}` });
  const prefix = opts.prefix ?? '/registry/';
  if (!prefix.startsWith('/')) problems.push({ field: '--prefix', message: `must start with /, got "${prefix}"` });
  if (problems.length) throw new InputError(problems, 'cannot load that');
  const f = refreshPower(requireLab(c.dir));
  const n = opts.node ? findNode(f, c.dir, opts.node) : f.nodes.find((x) => x.poweredOn);
  if (!n || !n.poweredOn) throw new ApplyError(`no powered-on node to send the writes to in the lab in ${c.dir}`, `etcd-dr lab up --dir ${c.dir}`);
  const client = etcdClient(labPaths(c.dir).pkiDir, n.address, n.host, 8, opts.clientPort);
  const started = Date.now();
  let revision = '0';
  let bytes = 0;
  const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
  const txn = async (puts: { key: string; value: Buffer }[]) => {
    const body = { success: puts.map((p) => ({ requestPut: { key: b64(p.key), value: b64(p.value) } })) };
    // puts are idempotent, so a write that met a leader election (etcd answers 503, or the
    // connection drops) is simply sent again, for up to RETRY_MS
    const deadline = Date.now() + RETRY_MS;
    let r: { status: number; body: string } | undefined;
    for (;;) {
      let failure: string;
      try {
        r = await client.call('POST', '/v3/kv/txn', body, 30_000);
        if (r.status === 200) break;
        failure = `etcd refused the write (${r.status}): ${r.body.slice(0, 500)}`;
        if (r.status !== 503 && !/leader|timed out|unavailable/i.test(r.body)) throw new ApplyError(`${n.host}: ${failure}`);
      } catch (e) {
        if (e instanceof ApplyError) throw e;
        failure = `writing to ${client.endpoint} failed: ${(e as Error).message}`;
      }
      if (Date.now() > deadline) throw new ApplyError(`${n.host}: ${failure} (still after ${RETRY_MS / 1000} s of retries)`, 'is the cluster up? etcd-dr lab status');
      await sleep(200);
    }
    const rev = (JSON.parse(r.body) as { header?: { revision?: string } }).header?.revision;
    if (rev && BigInt(rev) > BigInt(revision)) revision = rev;
    bytes += puts.reduce((s, p) => s + p.key.length + p.value.length, 0);
  };
  try {
    const batches: { key: string; value: Buffer }[][] = [];
    for (let i = 1; i <= opts.keys; i += MAX_TXN_OPS) {
      const batch = [];
      for (let k = i; k < Math.min(i + MAX_TXN_OPS, opts.keys + 1); k++) {
        const key = `${prefix}lab/key-${String(k).padStart(6, '0')}`;
        batch.push({ key, value: Buffer.from(smallValue(k)) });
      }
      batches.push(batch);
    }
    // a 1 MiB value is most of etcd's default 1.5 MiB request limit: one per transaction
    for (let k = 1; k <= mb; k++) batches.push([{ key: `${prefix}lab-blobs/blob-${String(k).padStart(4, '0')}`, value: randomBytes(1024 * 1024) }]);
    await runLimited(batches, 4, txn);
  } finally {
    client.close();
  }
  const result: LoadResult = { keys: opts.keys, blobs: mb, bytes, durationMs: Date.now() - started, revision, endpoint: client.endpoint };
  c.log(`loaded ${result.keys} keys and ${result.blobs} MiB values in ${(result.durationMs / 1000).toFixed(2)} s via ${result.endpoint}; revision ${revision}`);
  return result;
}

/** A ~100-byte JSON value, like a small Kubernetes object's worth of text. */
export function smallValue(k: number): string {
  const head = `{"kind":"LabKey","n":${k},"pad":"`;
  const tail = '"}';
  return head + 'x'.repeat(Math.max(0, 100 - head.length - tail.length)) + tail;
}

async function runLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
