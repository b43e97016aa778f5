/**
 * Reading one command's output: JSON with exact ids, fields whose errors name the command and the
 * path in the output, bounded lines, and `-w table` tables (ASCII on 3.4, box drawing on 3.5).
 */
import { ParseError } from './errors.js';
import { isJsonObject, type JsonObject, JsonSyntaxError, type JsonValue, parseJsonExact, uint64ToHex } from './json.js';
import { type Member, NO_ID, type ResponseHeader } from './records.js';

// ---------------------------------------------------------------- helpers

function readJson(command: string, text: string): JsonValue {
  const trimmed = text.trim();
  if (trimmed === '') throw new ParseError(command, 'no output', text);
  try {
    return parseJsonExact(trimmed);
  } catch (e) {
    if (e instanceof JsonSyntaxError) throw new ParseError(command, `not JSON (${e.message})`, text);
    throw e;
  }
}

export function readObject(command: string, text: string): JsonObject {
  const v = readJson(command, text);
  if (!isJsonObject(v)) throw new ParseError(command, 'expected a JSON object', text);
  return v;
}

export function readArray(command: string, text: string): JsonValue[] {
  const v = readJson(command, text);
  if (!Array.isArray(v)) throw new ParseError(command, 'expected a JSON array', text);
  return v;
}

export class Fields {
  constructor(
    readonly command: string,
    readonly text: string,
    readonly obj: JsonObject,
    readonly where: string,
  ) {}

  fail(reason: string): never {
    throw new ParseError(this.command, `${this.where}: ${reason}`, this.text);
  }

  /** a uint64 id as hex; `optional` ids that are absent (json omits zero) come back as NO_ID */
  id(key: string, optional = false): string {
    const v = this.obj[key];
    if (v === undefined && optional) return NO_ID;
    const hex = uint64ToHex(v);
    if (hex === undefined) this.fail(`"${key}" is not an unsigned 64-bit id (${JSON.stringify(String(v))})`);
    return hex;
  }

  /** a count or index; json omits zeros */
  num(key: string): number {
    const v = this.obj[key];
    if (v === undefined) return 0;
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'bigint') this.fail(`"${key}" is too large for a count (${v})`);
    return this.fail(`"${key}" is not a number`);
  }

  str(key: string, optional = true): string {
    const v = this.obj[key];
    if (v === undefined && optional) return '';
    if (typeof v !== 'string') this.fail(`"${key}" is not a string`);
    return v;
  }

  bool(key: string): boolean {
    const v = this.obj[key];
    if (v === undefined) return false;
    if (typeof v !== 'boolean') this.fail(`"${key}" is not true/false`);
    return v;
  }

  strings(key: string): string[] {
    const v = this.obj[key];
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) this.fail(`"${key}" is not a list of strings`);
    return v as string[];
  }

  object(key: string, optional = false): Fields | undefined {
    const v = this.obj[key];
    if (v === undefined && optional) return undefined;
    if (!isJsonObject(v)) return this.fail(`"${key}" is not an object`);
    return new Fields(this.command, this.text, v, `${this.where}.${key}`);
  }

  array(key: string, optional = true): JsonValue[] {
    const v = this.obj[key];
    if (v === undefined && optional) return [];
    if (!Array.isArray(v)) return this.fail(`"${key}" is not a list`);
    return v;
  }
}

export function root(command: string, text: string, obj: JsonObject): Fields {
  return new Fields(command, text, obj, 'output');
}

export function readHeader(f: Fields): ResponseHeader {
  const h = f.object('header') as Fields;
  return { clusterId: h.id('cluster_id'), memberId: h.id('member_id'), raftTerm: h.num('raft_term'), revision: h.num('revision') };
}

export function readMember(f: Fields): Member {
  const name = f.str('name');
  return {
    id: f.id('ID'),
    name,
    peerUrls: f.strings('peerURLs'),
    clientUrls: f.strings('clientURLs'),
    isLearner: f.bool('isLearner'),
    started: name !== '',
  };
}

export function readMembers(f: Fields, key = 'members'): Member[] {
  return f.array(key).map((m, i) => {
    if (!isJsonObject(m)) return f.fail(`${key}[${i}] is not an object`);
    return readMember(new Fields(f.command, f.text, m, `${f.where}.${key}[${i}]`));
  });
}

export function objectsOf(command: string, text: string, list: JsonValue[]): Fields[] {
  return list.map((v, i) => {
    if (!isJsonObject(v)) throw new ParseError(command, `entry ${i} is not an object`, text);
    return new Fields(command, text, v, `entry ${i}`);
  });
}

/** Lines of at most `max` characters; longer ones are cut, so no regex ever runs over a huge line. */
export function boundedLines(text: string, max = 4096): string[] {
  return text.split('\n').map((l) => (l.length > max ? l.slice(0, max) : l).replace(/\r$/, ''));
}

// ---------------------------------------------------------------- tables

export interface Table {
  header: string[];
  rows: string[][];
}

const isBorder = (l: string) => /^[+┌├└╞╘─-]/.test(l);

/** A `-w table` output, ASCII (3.4) or box drawing (3.5), as header and rows of trimmed cells. */
export function parseTable(text: string, command = 'etcdctl -w table'): Table {
  const rows: string[][] = [];
  for (const raw of boundedLines(text, 65536)) {
    const l = raw.trim();
    if (l === '' || isBorder(l)) continue;
    const sep = l[0];
    if (sep !== '|' && sep !== '│') throw new ParseError(command, `line ${JSON.stringify(l.slice(0, 100))} is not a table row`, text);
    const cells = l.split(sep).slice(1, -1).map((c) => c.trim());
    rows.push(cells);
  }
  const [header, ...body] = rows;
  if (!header) throw new ParseError(command, 'no table', text);
  for (const r of body) {
    if (r.length !== header.length) throw new ParseError(command, `a row has ${r.length} cells, the header ${header.length}`, text);
  }
  return { header, rows: body };
}

export function expectHeader(t: Table, prefix: string[], command: string, text: string): void {
  prefix.forEach((h, i) => {
    if (t.header[i] !== h) throw new ParseError(command, `column ${i + 1} is ${JSON.stringify(t.header[i])}, expected ${h}`, text);
  });
}
