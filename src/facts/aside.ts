/**
 * What earlier etcd-dr runs left on a node, from the probe's sections: the data dirs they set aside (a
 * recovery weighs them like live data dirs, so an interrupted run's good copies are never passed over for
 * a staler live one), the locks they released at their end, and a lock file left empty by a crash.
 */
import { parseSnapshotStatusJson } from '../etcd/parse.js';
import { parseWalMetadata } from '../etcd/walmeta.js';
import type { Section } from './probe-script.js';
import type { NodeFacts, SetAsideDir } from './types.js';

/** `<dataDir>.etcd-dr-<run id>` or `<dataDir>/etcd-dr-<run id>`: the run id at the end of the name */
const ASIDE_RE = /etcd-dr-(\d{8}T\d{6}Z-[0-9a-f]{4})$/;
const RELEASED_RE = /^.+\.released-(\d{8}T\d{6}Z-[0-9a-f]{4})$/;

function firstLine(s: string): string {
  return s.trim().split('\n').filter(Boolean).pop()?.slice(0, 300) ?? '';
}

/** The set-aside data dirs in the probe's `aside_<i>` sections, in the probe's order (newest run first). */
export function setAsideFromSections(s: Map<string, Section>, warnings: string[]): SetAsideDir[] {
  const out: SetAsideDir[] = [];
  for (let i = 1; s.has(`aside_${i}`); i++) {
    const head = s.get(`aside_${i}`)!;
    const [path = '', ctime = '', bytes = ''] = head.out.split('\n');
    const runId = ASIDE_RE.exec(path)?.[1];
    if (head.rc !== 0 || !runId) {
      warnings.push(`a set-aside data dir could not be read: ${firstLine(head.err || head.out) || 'no output'}`);
      continue;
    }
    const d: SetAsideDir = { path, runId };
    if (/^\d+$/.test(ctime)) d.at = new Date(Number(ctime) * 1000).toISOString();
    if (/^\d+$/.test(bytes)) d.dbBytes = Number(bytes);
    const wal = s.get(`aside_${i}_wal`);
    if (wal?.rc === 0 && wal.out.trim()) {
      const md = parseWalMetadata(Buffer.from(wal.out.trim(), 'base64'));
      if (md) {
        d.walMemberId = md.memberId;
        d.walClusterId = md.clusterId;
      }
    }
    const st = s.get(`aside_${i}_status`);
    if (st) {
      if (st.rc === 0) {
        try {
          const r = parseSnapshotStatusJson(st.out);
          d.db = { revision: r.revision, totalKey: r.totalKey, totalSize: r.totalSize, hash: r.hash };
        } catch (err) {
          d.dbError = `snapshot status: ${(err as Error).message}`;
        }
      } else d.dbError = `snapshot status failed: ${firstLine(st.err || st.out)}`;
    }
    out.push(d);
  }
  const skipped = s.get('aside_skipped');
  if (skipped?.rc === 0 && skipped.out.trim()) {
    warnings.push(`${skipped.out.trim()} older set-aside data dir(s) not read (only the newest ${readCount(s)} are)`);
  }
  return out;
}

function readCount(s: Map<string, Section>): number {
  let i = 0;
  while (s.has(`aside_${i + 1}`)) i++;
  return i;
}

/** The lock file's state and the runs that released their lock on this node, into `facts`. */
export function lockFromSections(s: Map<string, Section>, facts: NodeFacts): void {
  const lock = s.get('lock');
  if (lock?.rc === 0) {
    const kv = Object.fromEntries(lock.out.split('\n').map((l) => l.split('=', 2) as [string, string]).filter((p) => p.length === 2));
    if (kv.run) facts.lock = { runId: kv.run, ...(kv.holder ? { holder: kv.holder } : {}) };
    // created, never written: a run crashed between the two (or the disk filled up)
    else facts.lockEmpty = true;
  }
  const hist = s.get('lock_history');
  if (hist?.rc === 0) {
    const runs = hist.out.split('\n').flatMap((l) => {
      const m = RELEASED_RE.exec(l.trim());
      return m ? [m[1]!] : [];
    });
    if (runs.length) facts.releasedRuns = runs;
  }
}
