/**
 * The etcd env file (`/etc/etcd.env`, read by the etcd unit as `EnvironmentFile=`), as a model that
 * can be edited without disturbing anything etcd-dr does not change: comments, order, blank lines,
 * quoting style, CRLF line endings and a missing final newline all survive, byte for byte.
 *
 * Parsing follows systemd's EnvironmentFile rules (src/basic/env-file.c), because systemd is what
 * reads the file: `#` and `;` start comments, whitespace around the key and the value is dropped,
 * single and double quotes may span lines, a backslash continues a line, the last assignment of a
 * key wins, and lines with an invalid name are ignored.
 *
 * etcd-dr only ever writes values that need no quoting at all (the same bytes mean the same thing to
 * systemd, a shell and `docker --env-file`), and refuses anything else rather than escaping it.
 */
import { EtcdArgumentError } from './errors.js';

export type EnvLineKind = 'blank' | 'comment' | 'assignment' | 'invalid';

export interface EnvLine {
  /** the line's bytes without its final line ending (a quoted or continued value may hold newlines) */
  readonly text: string;
  /** the line ending as found: `\n`, `\r\n`, `\r`, or `` for a last line without one */
  readonly eol: string;
  /** 1-based number of the physical line this line starts on */
  readonly lineNo: number;
  readonly kind: EnvLineKind;
  /** assignment (and invalid lines that had a `=`): the name as written, whitespace trimmed */
  readonly key?: string;
  /** assignment: the value as systemd sees it (quotes removed, escapes applied) */
  readonly value?: string;
  /** assignment: everything before the value (indent, key, `=`, spaces), kept when the value changes */
  readonly prefix?: string;
  /** assignment: `"` or `'` when the whole value is one quoted string, else `` */
  readonly quote?: '"' | "'" | '';
  /** the file ends inside this line's quote or right after a backslash: text added after it would join it */
  readonly open?: boolean;
}

export interface EnvFile {
  readonly lines: readonly EnvLine[];
  /** what the operator should know: duplicates, ignored lines, edits of duplicated keys */
  readonly warnings: readonly string[];
}

export type EnvChanges = Readonly<Record<string, string | undefined>>;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Values etcd-dr writes: no whitespace, quotes, backslashes, `$`, `#`, `;` or control characters. */
const SAFE_VALUE = /^[A-Za-z0-9_.\/:,=@%+~\-\[\]]*$/;

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t';
const isNl = (c: string | undefined): boolean => c === '\n' || c === '\r';

type State =
  | 'pre-key'
  | 'key'
  | 'comment'
  | 'comment-escape'
  | 'pre-value'
  | 'value'
  | 'value-escape'
  | 'single'
  | 'double'
  | 'double-escape';

interface Pending {
  start: number;
  lineNo: number;
  kind: EnvLineKind;
  keyStart: number;
  keyEnd: number;
  valueStart: number;
  value: string;
  /** quote characters seen that opened a segment, and whether unquoted text was seen */
  quotes: string[];
  unquoted: boolean;
  /** index in `value` after the last non-whitespace character of an unquoted run */
  trimTo: number;
}

/** Parses an env file's text. Never throws: what systemd would ignore becomes an `invalid` line and a warning. */
export function parseEnvFile(text: string): EnvFile {
  const lines: EnvLine[] = [];
  const warnings: string[] = [];
  let state: State = 'pre-key';
  let physLine = 1;
  let p: Pending = fresh(0, 1);

  function fresh(start: number, lineNo: number): Pending {
    return { start, lineNo, kind: 'blank', keyStart: -1, keyEnd: -1, valueStart: -1, value: '', quotes: [], unquoted: false, trimTo: 0 };
  }

  function finish(end: number, eol: string): void {
    const lineText = text.slice(p.start, end);
    const open = eol === '' && state !== 'pre-key' && state !== 'key' && state !== 'comment' && state !== 'pre-value' && state !== 'value';
    if (p.kind === 'assignment') {
      const key = text.slice(p.keyStart, p.keyEnd).replace(/[ \t]+$/, '');
      const value = p.unquoted ? p.value.slice(0, p.trimTo) : p.value;
      const quote = !p.unquoted && p.quotes.length === 1 ? (p.quotes[0] as '"' | "'") : '';
      if (!NAME.test(key)) {
        warnings.push(`line ${p.lineNo}: "${key}" is not a valid variable name; systemd ignores this line`);
        lines.push({ text: lineText, eol, lineNo: p.lineNo, kind: 'invalid', key });
      } else {
        if (state === 'single' || state === 'double' || state === 'double-escape') {
          warnings.push(`line ${p.lineNo}: the quoted value of ${key} is never closed; systemd reads it up to the end of the file`);
        }
        lines.push({
          text: lineText,
          eol,
          lineNo: p.lineNo,
          kind: 'assignment',
          key,
          value,
          prefix: text.slice(p.start, p.valueStart),
          quote,
          ...(open ? { open } : {}),
        });
      }
    } else if (p.kind === 'invalid') {
      warnings.push(`line ${p.lineNo}: no "=" in ${JSON.stringify(lineText.trim().slice(0, 80))}; systemd ignores this line`);
      lines.push({ text: lineText, eol, lineNo: p.lineNo, kind: 'invalid' });
    } else {
      lines.push({ text: lineText, eol, lineNo: p.lineNo, kind: p.kind, ...(open ? { open } : {}) });
    }
  }

  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    // a newline that ends the logical line (in the states where systemd ends an entry)
    const ends =
      isNl(c) && (state === 'pre-key' || state === 'key' || state === 'comment' || state === 'pre-value' || state === 'value');
    if (ends) {
      const eol = c === '\r' && text[i + 1] === '\n' ? '\r\n' : c;
      if (state === 'key') p.kind = 'invalid';
      // an empty value starts at the line end; a closed quote (also 'pre-value') already has its start
      if (state === 'pre-value' && p.valueStart < 0) p.valueStart = i;
      finish(i, eol);
      i += eol.length;
      physLine++;
      state = 'pre-key';
      p = fresh(i, physLine);
      continue;
    }
    if (c === '\n' || (c === '\r' && text[i + 1] !== '\n')) physLine++;
    switch (state) {
      case 'pre-key':
        if (c === '#' || c === ';') {
          p.kind = 'comment';
          state = 'comment';
        } else if (!isWs(c)) {
          p.kind = 'assignment';
          p.keyStart = i;
          state = 'key';
          if (c === '=') {
            p.keyEnd = i;
            state = 'pre-value';
          }
        }
        break;
      case 'key':
        if (c === '=') {
          p.keyEnd = i;
          state = 'pre-value';
        }
        break;
      case 'comment':
        if (c === '\\') state = 'comment-escape';
        break;
      case 'comment-escape':
        state = 'comment';
        break;
      case 'pre-value':
        if (isWs(c)) break;
        if (p.valueStart < 0) p.valueStart = i;
        if (c === "'") {
          p.quotes.push("'");
          state = 'single';
        } else if (c === '"') {
          p.quotes.push('"');
          state = 'double';
        } else if (c === '\\') {
          p.unquoted = true;
          state = 'value-escape';
        } else {
          p.unquoted = true;
          p.value += c;
          p.trimTo = p.value.length;
          state = 'value';
        }
        break;
      case 'value':
        if (c === '\\') state = 'value-escape';
        else {
          p.value += c;
          if (!isWs(c)) p.trimTo = p.value.length;
        }
        break;
      case 'value-escape':
        state = 'value';
        // a backslash before `\r\n` escapes only the `\r` (as in systemd); the `\n` then ends the line
        if (!isNl(c)) {
          p.value += c;
          p.trimTo = p.value.length;
        }
        break;
      case 'single':
        if (c === "'") {
          state = 'pre-value';
          p.trimTo = p.value.length;
        } else p.value += c;
        break;
      case 'double':
        if (c === '"') {
          state = 'pre-value';
          p.trimTo = p.value.length;
        } else if (c === '\\') state = 'double-escape';
        else p.value += c;
        break;
      case 'double-escape':
        state = 'double';
        if (c === '"' || c === '\\' || c === '`' || c === '$') p.value += c;
        else if (c !== '\n') p.value += `\\${c}`;
        break;
    }
    i++;
  }
  if (p.start < text.length) {
    if (state === 'key') p.kind = 'invalid';
    if (state === 'pre-value' && p.valueStart < 0) p.valueStart = text.length;
    finish(text.length, '');
  }

  warnings.push(...duplicateWarnings(lines));
  return { lines, warnings };
}

function duplicateWarnings(lines: readonly EnvLine[]): string[] {
  const seen = new Map<string, number[]>();
  for (const l of lines) {
    if (l.kind !== 'assignment' || l.key === undefined) continue;
    const list = seen.get(l.key) ?? [];
    list.push(l.lineNo);
    seen.set(l.key, list);
  }
  const out: string[] = [];
  for (const [key, nos] of seen) {
    if (nos.length > 1) {
      out.push(`${key} is set on lines ${nos.join(', ')}; systemd uses the last one (line ${nos[nos.length - 1]})`);
    }
  }
  return out;
}

/** The value systemd gives `key` (its last assignment), or undefined. */
export function get(env: EnvFile, key: string): string | undefined {
  for (let i = env.lines.length - 1; i >= 0; i--) {
    const l = env.lines[i] as EnvLine;
    if (l.kind === 'assignment' && l.key === key) return l.value;
  }
  return undefined;
}

/** Every variable systemd would set from this file. */
export function vars(env: EnvFile): Record<string, string> {
  const out: Record<string, string> = {};
  for (const l of env.lines) if (l.kind === 'assignment' && l.key !== undefined) out[l.key] = l.value ?? '';
  return out;
}

/** Throws unless etcd-dr may write `value` for `key` unquoted. */
export function assertWritable(key: string, value: string): void {
  if (!NAME.test(key)) {
    throw new EtcdArgumentError(`refusing to write ${JSON.stringify(key)} to the env file: not a valid variable name`);
  }
  if (/[\r\n]/.test(value)) {
    throw new EtcdArgumentError(`refusing to write ${key} to the env file: the value contains a line break`);
  }
  if (!SAFE_VALUE.test(value)) {
    throw new EtcdArgumentError(
      `refusing to write ${key}=${JSON.stringify(value)} to the env file: the value would need quoting ` +
        '(only letters, digits and _ . / : , = @ % + ~ - [ ] are written)',
    );
  }
}

function dominantEol(lines: readonly EnvLine[]): string {
  let crlf = 0;
  let lf = 0;
  for (const l of lines) {
    if (l.eol === '\r\n') crlf++;
    else if (l.eol === '\n') lf++;
  }
  return crlf > lf ? '\r\n' : '\n';
}

/**
 * Sets (string) or removes (undefined) variables. A set key is replaced in place on the line systemd
 * reads (its last assignment), keeping the line's prefix, quoting style and line ending; a new key is
 * appended at the end. A removed key loses every assignment, so no earlier one comes back into force.
 * Setting a key to the value it already has changes nothing. Throws, changing nothing, when any value
 * would need quoting.
 */
export function setVars(env: EnvFile, changes: EnvChanges): EnvFile {
  for (const [key, value] of Object.entries(changes)) {
    if (value !== undefined) assertWritable(key, value);
    else if (!NAME.test(key)) throw new EtcdArgumentError(`cannot remove ${JSON.stringify(key)}: not a valid variable name`);
  }
  const lines: EnvLine[] = [...env.lines];
  const warnings: string[] = [...env.warnings];
  const appended: [string, string][] = [];

  for (const [key, value] of Object.entries(changes)) {
    const at: number[] = [];
    lines.forEach((l, i) => {
      if (l.kind === 'assignment' && l.key === key) at.push(i);
    });
    if (value === undefined) {
      if (at.length > 1) {
        warnings.push(`${key} was set on lines ${at.map((i) => (lines[i] as EnvLine).lineNo).join(', ')}; all of them were removed`);
      }
      for (const i of at.reverse()) lines.splice(i, 1);
      continue;
    }
    if (at.length === 0) {
      appended.push([key, value]);
      continue;
    }
    const last = at[at.length - 1] as number;
    const old = lines[last] as EnvLine;
    if (old.value === value) continue;
    if (at.length > 1) {
      const earlier = at.slice(0, -1).map((i) => (lines[i] as EnvLine).lineNo);
      warnings.push(
        `${key} is set on lines ${[...earlier, old.lineNo].join(', ')}; systemd uses the last one, so line ${old.lineNo} ` +
          `was updated and line${earlier.length > 1 ? 's' : ''} ${earlier.join(', ')} left as ${earlier.length > 1 ? 'they were' : 'it was'}`,
      );
    }
    const q = old.quote ?? '';
    lines[last] = {
      ...old,
      text: `${old.prefix ?? `${key}=`}${q}${value}${q}`,
      value,
    };
  }

  if (appended.length > 0) {
    const eol = dominantEol(lines);
    const tail = lines[lines.length - 1];
    if (tail && tail.eol === '') {
      if (tail.open) {
        throw new EtcdArgumentError(
          `cannot append ${appended.map(([k]) => k).join(', ')} to the env file: its last line (${tail.lineNo}) ends inside ` +
            'a quote or after a backslash, so a new line would become part of it; fix the end of the file first',
        );
      }
      lines[lines.length - 1] = { ...tail, eol };
    }
    let lineNo = (tail ? tail.lineNo + tail.text.split(/\r\n|\n|\r/).length : 1);
    for (const [key, value] of appended) {
      lines.push({ text: `${key}=${value}`, eol, lineNo: lineNo++, kind: 'assignment', key, value, prefix: `${key}=`, quote: '' });
    }
  }
  return { lines, warnings };
}

/** The file's text: byte-identical to the parsed text for every line that was not changed. */
export function render(env: EnvFile): string {
  let out = '';
  for (const l of env.lines) out += l.text + l.eol;
  return out;
}
