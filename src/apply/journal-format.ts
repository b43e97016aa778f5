/**
 * The journal's line format, and what a journal read from disk can be trusted for.
 *
 * Each line is one JSON object that carries a sequence number (`seq`, the line's number in the file,
 * from 1) and ends with a checksum field: `{"seq":7,"t":…,"event":…,"sum":"<16 hex>"}`. The sum is the
 * first 16 hex digits of sha256(previous line's sum + the line without its sum field), so a torn, edited,
 * dropped or reordered line breaks the chain from that line on. A journal written before checksums
 * (no `seq`, no `sum`) is still read, as "legacy": its lines can only come before the first checksummed one.
 *
 * What a crash can leave is a last line without its newline (the process died in the write): that line
 * never became durable, so it is dropped and the step it recorded counts as not done (every step checks
 * before it acts). Anything else (a bad line before the last, a gap in `seq`, a sum that does not match,
 * fewer lines than the head file says were written) means the journal cannot tell where the run is.
 */
import { createHash } from 'node:crypto';

export const SUM_LEN = 16;
const SUM_TAIL_RE = /,"sum":"([0-9a-f]{16})"\}$/;

export function lineSum(prevSum: string, body: string): string {
  return createHash('sha256').update(prevSum).update('\n').update(body).digest('hex').slice(0, SUM_LEN);
}

/**
 * The text of one line (without its newline). `json` is the event's JSON as it will be stored (scrubbed
 * already), an object that does not yet carry `seq` or `sum`.
 */
export function encodeLine(seq: number, prevSum: string, json: string): { line: string; sum: string } {
  if (!json.startsWith('{') || !json.endsWith('}')) throw new Error('a journal event is a JSON object');
  const body = json === '{}' ? `{"seq":${seq}}` : `{"seq":${seq},${json.slice(1)}`;
  const sum = lineSum(prevSum, body);
  return { line: `${body.slice(0, -1)},"sum":"${sum}"}`, sum };
}

/** The last line's place in the chain: what the next append continues from, and what the head file keeps. */
export interface JournalHead {
  seq: number;
  sum: string;
}

export interface JournalProblem {
  /** 1-based line number in the journal file */
  line?: number;
  message: string;
}

export interface ParsedJournal<E> {
  /** the events of every intact line, in order (legacy and checksummed) */
  events: E[];
  /** where an append continues: the number of intact lines and the last sum ("" after legacy lines only) */
  head: JournalHead;
  /** lines written before checksums (an older etcd-dr) */
  legacyLines: number;
  checkedLines: number;
  /** a last line cut by a crash in its write (no newline, not intact): dropped, its bytes kept for the record */
  tornTail?: string;
  /** byte length of the intact part (where a torn tail starts) */
  intactBytes: number;
  /** what makes the journal untrustworthy; empty when it can be resumed from */
  problems: JournalProblem[];
}

/**
 * Reads a journal's text. `recorded` is the head file's last (seq, sum), when there is one: a journal
 * with fewer lines than that was truncated.
 */
export function parseJournal<E = Record<string, unknown>>(text: string, recorded?: JournalHead): ParsedJournal<E> {
  const events: E[] = [];
  const problems: JournalProblem[] = [];
  let legacyLines = 0;
  let checkedLines = 0;
  let prevSum = '';
  let intactBytes = 0;
  let tornTail: string | undefined;
  const endsWithNewline = text.endsWith('\n');
  const lines = text.split('\n');
  if (endsWithNewline || text === '') lines.pop();
  let offset = 0;
  for (const [i, line] of lines.entries()) {
    const n = i + 1;
    const isLast = i === lines.length - 1;
    const unterminated = isLast && !endsWithNewline;
    const next = offset + line.length + 1;
    const fail = (message: string): void => {
      // only the write a crash cut short may be dropped; a bad line with more after it is damage
      if (unterminated && problems.length === 0) tornTail = line;
      else problems.push({ line: n, message });
    };
    if (problems.length) break;
    if (line.trim() === '') {
      fail('an empty line');
      offset = next;
      continue;
    }
    const tail = SUM_TAIL_RE.exec(line);
    if (!tail) {
      // a line without a sum: legacy, allowed only before the first checksummed line
      let ev: unknown;
      try {
        ev = JSON.parse(line);
      } catch {
        fail('not a complete JSON line');
        offset = next;
        continue;
      }
      if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) {
        fail('not a journal event');
      } else if (checkedLines > 0 || 'seq' in ev || 'sum' in ev) {
        fail('a line without its checksum among checksummed lines (edited, or written by something else)');
      } else {
        legacyLines++;
        events.push(ev as E);
        intactBytes = unterminated ? offset + line.length : next;
      }
      offset = next;
      continue;
    }
    const body = `${line.slice(0, tail.index)}}`;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(body) as Record<string, unknown>;
    } catch {
      fail('not a complete JSON line');
      offset = next;
      continue;
    }
    if (lineSum(prevSum, body) !== tail[1]) {
      fail('its checksum does not match (the line, or one before it, was changed)');
    } else if (ev['seq'] !== n) {
      fail(`its sequence number is ${String(ev['seq'])}, not ${n} (a line was removed or inserted)`);
    } else {
      checkedLines++;
      prevSum = tail[1]!;
      const { seq: _seq, ...rest } = ev;
      events.push(rest as E);
      // an intact last line whose newline did not make it is whole: what it records happened
      intactBytes = unterminated ? offset + line.length : next;
    }
    offset = next;
  }
  const head = { seq: legacyLines + checkedLines, sum: prevSum };
  if (problems.length === 0 && recorded && recorded.seq > head.seq) {
    problems.push({ message: `it has ${head.seq} intact line(s), but ${recorded.seq} were written durably (journal.head): the end of the journal is missing` });
  } else if (problems.length === 0 && recorded && recorded.seq > 0 && recorded.seq <= head.seq && recorded.sum !== '' && !sumAt(text, recorded.seq, recorded.sum)) {
    problems.push({ line: recorded.seq, message: 'this line differs from the one journal.head recorded as written (the journal was replaced or edited)' });
  }
  return { events, head, legacyLines, checkedLines, ...(tornTail !== undefined ? { tornTail } : {}), intactBytes, problems };
}

/** does line `seq` (1-based) of the text carry `sum` */
function sumAt(text: string, seq: number, sum: string): boolean {
  const line = text.split('\n')[seq - 1] ?? '';
  return line.endsWith(`,"sum":"${sum}"}`);
}

export function encodeHead(h: JournalHead): string {
  return `${JSON.stringify({ seq: h.seq, sum: h.sum })}\n`;
}

export function parseHead(text: string): JournalHead | undefined {
  try {
    const h = JSON.parse(text) as { seq?: unknown; sum?: unknown };
    if (typeof h.seq === 'number' && Number.isInteger(h.seq) && h.seq >= 0 && typeof h.sum === 'string') return { seq: h.seq, sum: h.sum };
  } catch {
    // a head file cut by a crash: it is written by rename, so this is damage, reported by the caller
  }
  return undefined;
}
