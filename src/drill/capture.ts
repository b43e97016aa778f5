/**
 * What a drill must find again after the recovery: every key with a digest of its value, key counts per
 * prefix, the revision. Read page by page at one revision (a consistent view) through one member, so a
 * keyspace of hundreds of MiB never sits in memory at once: only key names and 32-byte digests are kept.
 */
import { createHash } from 'node:crypto';
import { etcdctlArgv } from '../etcd/commands.js';
import { etcdTarget } from '../etcd/node.js';
import type { NodeSpec } from '../inventory/types.js';
import type { NodeConnection } from '../ssh/types.js';
import { ApplyError } from '../util/errors.js';

export interface Capture {
  /** the member read through */
  via: string;
  revision: number;
  keys: number;
  /** bytes of all values */
  valueBytes: number;
  /** keys per prefix (the first two path segments: `/registry/pods`) */
  prefixes: Record<string, number>;
  /** sha256 over every key and value digest, in key order */
  digest: string;
  /** key → sha256 of its value (hex); kept for the comparison, left out of reports */
  values: Map<string, string>;
  ms: number;
}

/** `/registry/pods/default/web-0` → `/registry/pods`; `foo` → `foo`. */
export function prefixOf(key: string): string {
  if (!key.startsWith('/')) return key.split('/')[0] ?? key;
  const parts = key.split('/');
  return parts.length > 3 ? `/${parts[1]}/${parts[2]}` : `/${parts[1] ?? ''}`;
}

interface Page {
  header: { revision: number | string };
  kvs?: { key: string; value?: string }[];
  more?: boolean;
}

/**
 * Read every key at one revision in pages of `pageKeys` (fewer when values are large), hashing as it goes.
 * Pages continue from the last key read (`--from-key`), skipping it, so no key is read twice.
 */
export async function captureKeyspace(spec: NodeSpec, conn: NodeConnection, o: { pageKeys?: number; maxPageBytes?: number } = {}): Promise<Capture> {
  const t0 = Date.now();
  const target = etcdTarget(spec, undefined, 60_000);
  const values = new Map<string, string>();
  const prefixes: Record<string, number> = {};
  let valueBytes = 0;
  let revision: number | undefined;
  let start = '';
  let first = true;
  let limit = o.pageKeys ?? 1000;
  const maxPageBytes = o.maxPageBytes ?? 64 * 1024 * 1024;
  for (;;) {
    // the first page is every key from the lowest (`--prefix ''`); later ones start at the last key read
    const range = first ? ['--prefix', '--', ''] : ['--from-key', '--', start];
    const args = ['get', '-w', 'json', `--limit=${limit}`, ...(revision !== undefined ? [`--rev=${revision}`] : []), ...range];
    const r = await conn.exec(etcdctlArgv(target, args), { timeout: 300, retryOnDisconnect: true, maxOutputBytes: maxPageBytes * 2 });
    if (r.code !== 0) throw new ApplyError(`${spec.name}: reading the keyspace failed: ${r.stderr.trim().split('\n').pop() ?? ''}`);
    if (r.stdoutTruncated) {
      if (limit <= 2) throw new ApplyError(`${spec.name}: one value is larger than ${maxPageBytes} bytes; cannot capture it`);
      limit = Math.max(2, Math.floor(limit / 4));
      continue;
    }
    const page = JSON.parse(r.stdout) as Page;
    if (revision === undefined) revision = Number(page.header.revision);
    let kvs = page.kvs ?? [];
    if (!first && kvs.length && Buffer.from(kvs[0]!.key, 'base64').toString('utf8') === start) kvs = kvs.slice(1);
    for (const kv of kvs) {
      const key = Buffer.from(kv.key, 'base64').toString('utf8');
      const v = Buffer.from(kv.value ?? '', 'base64');
      valueBytes += v.length;
      values.set(key, createHash('sha256').update(v).digest('hex'));
      const p = prefixOf(key);
      prefixes[p] = (prefixes[p] ?? 0) + 1;
      start = key;
    }
    // a page of big values shrinks the next one
    // (at least 2 keys a page: a later page repeats its start key)
    if (r.stdout.length > maxPageBytes / 2 && limit > 2) limit = Math.max(2, Math.floor(limit / 2));
    first = false;
    if (!page.more || (page.kvs ?? []).length === 0) break;
  }
  const h = createHash('sha256');
  for (const k of [...values.keys()].sort()) h.update(k).update('\0').update(values.get(k)!).update('\n');
  return { via: spec.name, revision: revision ?? 0, keys: values.size, valueBytes, prefixes, digest: h.digest('hex'), values, ms: Date.now() - t0 };
}

export interface CaptureDiff {
  missing: string[];
  changed: string[];
  added: number;
}

/** What of `before` is missing or changed in `after` (keys added since are counted, not judged). */
export function compareCaptures(before: Capture, after: Capture): CaptureDiff {
  const missing: string[] = [];
  const changed: string[] = [];
  for (const [k, v] of before.values) {
    const a = after.values.get(k);
    if (a === undefined) missing.push(k);
    else if (a !== v) changed.push(k);
  }
  let added = 0;
  for (const k of after.values.keys()) if (!before.values.has(k)) added++;
  return { missing, changed, added };
}

/** A capture without its per-key map, for reports. */
export function captureSummary(c: Capture): Omit<Capture, 'values'> {
  const { values: _values, ...rest } = c;
  return rest;
}
