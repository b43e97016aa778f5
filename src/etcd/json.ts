/**
 * A JSON reader that keeps uint64 values exact.
 *
 * etcdctl prints member ids, cluster ids and leader ids as bare JSON numbers; most are above 2^53 and
 * `JSON.parse` silently rounds them (member 17948944390879619426 becomes …9619000), which would make
 * etcd-dr promote or remove the wrong member. This reader returns every integer that is not a safe
 * JavaScript integer as a `bigint`, and every other number as a `number`. It is a single linear pass
 * with no regular expressions, so huge outputs cannot make it backtrack.
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export class JsonSyntaxError extends Error {
  override name = 'JsonSyntaxError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
  }
}

/** etcd's outputs are flat; anything nested deeper than this is not etcd's and would only eat stack. */
const MAX_DEPTH = 256;

/** Character codes the reader branches on. */
const Ch = {
  Tab: 9,
  Lf: 10,
  Cr: 13,
  Space: 32,
  Quote: 34,
  Plus: 43,
  Comma: 44,
  Minus: 45,
  Dot: 46,
  Zero: 48,
  Nine: 57,
  Colon: 58,
  UpperE: 69,
  LBracket: 91,
  Backslash: 92,
  RBracket: 93,
  LowerE: 101,
  LBrace: 123,
  RBrace: 125,
} as const;

class Reader {
  pos = 0;
  constructor(private readonly s: string) {}

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.pos);
  }

  skipWs(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c !== Ch.Space && c !== Ch.Tab && c !== Ch.Lf && c !== Ch.Cr) break;
      this.pos++;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    this.skipWs();
    if (this.pos >= this.s.length) this.fail('unexpected end of input');
    const c = this.s.charCodeAt(this.pos);
    if (c === Ch.LBrace) return this.object(depth);
    if (c === Ch.LBracket) return this.array(depth);
    if (c === Ch.Quote) return this.string();
    if (c === Ch.Minus || (c >= Ch.Zero && c <= Ch.Nine)) return this.number();
    if (this.s.startsWith('true', this.pos)) return (this.pos += 4), true;
    if (this.s.startsWith('false', this.pos)) return (this.pos += 5), false;
    if (this.s.startsWith('null', this.pos)) return (this.pos += 4), null;
    return this.fail(`unexpected character ${JSON.stringify(this.s[this.pos])}`);
  }

  object(depth: number): JsonObject {
    this.pos++; // {
    // a prototype-less object: keys like "__proto__" are data here, never a prototype change
    const out: JsonObject = Object.create(null) as JsonObject;
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === Ch.RBrace) {
      this.pos++;
      return out;
    }
    for (;;) {
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== Ch.Quote) this.fail('expected a property name');
      const key = this.string();
      this.skipWs();
      if (this.s.charCodeAt(this.pos) !== Ch.Colon) this.fail('expected ":"');
      this.pos++;
      out[key] = this.value(depth + 1);
      if (!this.another(Ch.RBrace, '}')) return out;
    }
  }

  array(depth: number): JsonValue[] {
    this.pos++; // [
    const out: JsonValue[] = [];
    this.skipWs();
    if (this.s.charCodeAt(this.pos) === Ch.RBracket) {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      if (!this.another(Ch.RBracket, ']')) return out;
    }
  }

  /** After a member or element: true at `,` (another follows), false at the closing bracket; both consumed. */
  another(close: number, closeText: string): boolean {
    this.skipWs();
    const c = this.s.charCodeAt(this.pos);
    if (c !== Ch.Comma && c !== close) this.fail(`expected "," or "${closeText}"`);
    this.pos++;
    return c === Ch.Comma;
  }

  string(): string {
    const start = this.pos; // at the opening quote
    const s = this.s;
    let i = start + 1;
    let escaped = false;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === Ch.Backslash) {
        escaped = true;
        i++; // skip the escaped character; JSON.parse below validates the escape
        continue;
      }
      if (c === Ch.Quote) break;
      if (c < 0x20) {
        this.pos = i;
        this.fail('control character in string');
      }
    }
    if (i >= s.length) {
      this.pos = start;
      this.fail('unterminated string');
    }
    this.pos = i + 1;
    if (!escaped) return s.slice(start + 1, i);
    try {
      return JSON.parse(s.slice(start, i + 1)) as string;
    } catch {
      this.pos = start;
      return this.fail('invalid escape in string');
    }
  }

  number(): number | bigint {
    const s = this.s;
    const start = this.pos;
    let i = start;
    if (s.charCodeAt(i) === Ch.Minus) i++;
    const intStart = i;
    while (i < s.length && s.charCodeAt(i) >= Ch.Zero && s.charCodeAt(i) <= Ch.Nine) i++;
    if (i === intStart) {
      this.pos = i;
      this.fail('expected a digit');
    }
    if (s.charCodeAt(intStart) === Ch.Zero && i - intStart > 1) {
      this.pos = intStart;
      this.fail('leading zero in number');
    }
    let integer = true;
    if (s.charCodeAt(i) === Ch.Dot) {
      integer = false;
      i++;
      const fracStart = i;
      while (i < s.length && s.charCodeAt(i) >= Ch.Zero && s.charCodeAt(i) <= Ch.Nine) i++;
      if (i === fracStart) {
        this.pos = i;
        this.fail('expected a digit after "."');
      }
    }
    const e = s.charCodeAt(i);
    if (e === Ch.LowerE || e === Ch.UpperE) {
      integer = false;
      i++;
      const sign = s.charCodeAt(i);
      if (sign === Ch.Plus || sign === Ch.Minus) i++;
      const expStart = i;
      while (i < s.length && s.charCodeAt(i) >= Ch.Zero && s.charCodeAt(i) <= Ch.Nine) i++;
      if (i === expStart) {
        this.pos = i;
        this.fail('expected a digit in the exponent');
      }
    }
    this.pos = i;
    const text = s.slice(start, i);
    const n = Number(text);
    if (integer && !Number.isSafeInteger(n)) return BigInt(text);
    return n;
  }
}

/** Parses one JSON document; integers outside ±(2^53-1) come back as `bigint`, exactly. */
export function parseJsonExact(text: string): JsonValue {
  const r = new Reader(text);
  const v = r.value(0);
  r.skipWs();
  if (r.pos !== text.length) r.fail('unexpected text after the JSON value');
  return v;
}

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const UINT64_MAX = (1n << 64n) - 1n;

/**
 * A uint64 id (member, cluster, leader) as 16 lowercase hex digits, the form `member list -w table`
 * prints and `member promote`/`member remove`/`move-leader` accept. Undefined when `v` is not an
 * unsigned 64-bit integer.
 */
export function uint64ToHex(v: JsonValue | undefined): string | undefined {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else return undefined;
  if (b < 0n || b > UINT64_MAX) return undefined;
  return b.toString(16).padStart(16, '0');
}
