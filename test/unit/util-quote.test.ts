import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { buildCommand } from '../../src/ssh/command.js';
import { shellJoin, shellQuote } from '../../src/util/quote.js';
import { ALL_LATIN1, randomString, seededRng } from '../support/seeded.js';

describe('shellQuote', () => {
  test.each([
    ['', "''"],
    ['abc', 'abc'],
    ['/etc/etcd.env', '/etc/etcd.env'],
    ['--endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379', '--endpoints=https://10.0.0.1:2379,https://10.0.0.2:2379'],
    ['user@host', 'user@host'],
    ['a+b%c', 'a+b%c'],
    ['two words', "'two words'"],
    ["it's", "'it'\\''s'"],
    ["'", "''\\'''"],
    ['$(reboot)', "'$(reboot)'"],
    ['`id`', "'`id`'"],
    ['a\\b', "'a\\b'"],
    ['line\nbreak', "'line\nbreak'"],
    ['~root', "'~root'"],
    ['*', "'*'"],
    ['a;b', "'a;b'"],
    ['!', "'!'"],
    ['é', "'é'"],
  ])('%j -> %s', (input, expected) => {
    expect(shellQuote(input)).toBe(expected);
  });

  test('refuses a NUL byte, which no shell argument can hold', () => {
    expect(() => shellQuote('a\0b')).toThrow(/NUL byte/);
  });
});

describe('shellJoin', () => {
  test.each([
    { argv: ['etcdctl', 'member', 'list'], expected: 'etcdctl member list' },
    { argv: ['printf', '%s\\n', 'a b'], expected: "printf '%s\\n' 'a b'" },
    { argv: ['cat', '--', ''], expected: "cat -- ''" },
    // unquoted, `a=b` as the first word would be an assignment, not a command
    { argv: ['a=b', 'x'], expected: "'a=b' x" },
    { argv: ['env', 'A=1', 'cmd'], expected: 'env A=1 cmd' },
  ])('$argv -> $expected', ({ argv, expected }) => {
    expect(shellJoin(argv)).toBe(expected);
  });
});

/** Runs every quoted word through a real shell in one spawn and returns what the shell saw. */
function throughShell(shell: string, words: string[]): string[] {
  const script = `printf '%s\\0' ${words.map(shellQuote).join(' ')}`;
  const r = spawnSync(shell, ['-c', script], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${shell} failed (${r.status}): ${r.stderr.toString()}`);
  const out = r.stdout.toString('utf8');
  return words.length === 0 ? [] : out.slice(0, -1).split('\0');
}

describe('shellQuote round-trips through a real shell', () => {
  // pieces that shells treat specially, mixed with arbitrary unicode (full code points, no NUL)
  const special = fc.constantFrom("'", '"', '\\', '$', '$(id)', '`', '${HOME}', '\n', '\t', ' ', '*', '?', '[a]', '~', '!', '#', ';', '&', '|', '<', '>', '(', ')', '{', '}', '=', '-', '%', '\r');
  const piece = fc.oneof(special, fc.string({ unit: 'binary', maxLength: 8 }), fc.string({ unit: 'grapheme', maxLength: 8 }));
  const word = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join('').replaceAll('\0', ''));

  test.each(['sh', 'bash'])('through %s (100 batches of up to 50 words)', (shell) => {
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 50 }), (words) => {
        expect(throughShell(shell, words)).toEqual(words);
      }),
      { numRuns: 100 },
    );
  });

  test('the literal form from the docs: sh -c \'printf %s "$1"\' _ <quoted>', () => {
    const samples = ["it's", '$(touch /tmp/pwned)', 'a\nb', 'ünï cødé ✓', "'\\''", ''];
    for (const s of samples) {
      const r = spawnSync('sh', ['-c', `sh -c 'printf %s "$1"' _ ${shellQuote(s)}`], { encoding: 'utf8' });
      expect(r.stdout).toBe(s);
    }
  });
});

describe('one word through the literal `sh -c \'printf %s "$1"\'` form, and through sudo\'s second shell', () => {
  const special = fc.constantFrom("'", '"', '\\', '$', '$(id)', '$(touch /tmp/pwned)', '`id`', '${IFS}', ';', '&&', '||', '|', '\n', '\r\n', '\t', ' ', '*', '~', '!', '#', '<', '>', '=', "'\\''");
  const word = fc
    .array(fc.oneof(special, fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ unit: 'binary-ascii', maxLength: 6 })), { maxLength: 10 })
    .map((parts) => parts.join('').replaceAll('\0', ''));

  test('sh -c \'printf %s "$1"\' _ <shellQuote(s)> prints s, for any NUL-free string (300 runs)', () => {
    fc.assert(
      fc.property(word, (s) => {
        const r = spawnSync('sh', ['-c', `sh -c 'printf %s "$1"' _ ${shellQuote(s)}`], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  test('shellJoin(argv) run by sh gives the same argv (200 runs)', () => {
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (words) => {
        // an end marker, so that no words and one empty word are told apart
        const r = spawnSync('sh', ['-c', shellJoin(['printf', '%s\\0', ...words, 'END'])], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout.split('\0').slice(0, -2)).toEqual(words);
      }),
      { numRuns: 200 },
    );
  });

  test('quoted twice (a script quoted for `sudo -n sh -c`), two shells give back the word (200 runs)', () => {
    fc.assert(
      fc.property(word, (s) => {
        const inner = `printf %s ${shellQuote(s)}`;
        const r = spawnSync('sh', ['-c', shellJoin(['sh', '-c', inner])], { encoding: 'utf8' });
        expect(r.status).toBe(0);
        expect(r.stdout).toBe(s);
      }),
      { numRuns: 200 },
    );
  });

  test('a first word with `=` is run as a command, not taken as an assignment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quote-'));
    const script = join(dir, 'a=b');
    writeFileSync(script, '#!/bin/sh\necho ran "$@"\n', { mode: 0o755 });
    const r = spawnSync('sh', ['-c', shellJoin([script, 'x y'])], { encoding: 'utf8' });
    expect(r.stdout).toBe('ran x y\n');
  });
});

/**
 * The same property with etcd-dr's own seeded generator (test/support/seeded.ts): every string, including
 * each of the bytes 1–255, newlines, quotes, terminal escapes and unicode, comes back word for word through
 * a real `sh -c`, through bash, and through the exact layering etcd-dr sends over SSH (the login shell
 * runs `sh -c '<script>'`, or with become `sudo -n sh -c '<script>'`). Failures name the seed and case.
 */
describe('seeded property: quoted words come back byte for byte through real shells and sudo', () => {
  const SEED = 0x7e7c0d;

  /** Runs `cmdline` as `<shell> -c`, returns stdout as bytes; the command must succeed. */
  function run(shell: string[], cmdline: string | Buffer): Buffer {
    const r = spawnSync(shell[0]!, [...shell.slice(1), '-c', cmdline as string], { maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${shell.join(' ')} -c failed (${r.status}): ${r.stderr.toString()}`);
    return r.stdout;
  }

  /** printf '%s\0' for each word and an end marker, so no word and one empty word differ. */
  const printfArgv = (words: string[]) => ['printf', '%s\\0', ...words, 'END'];
  function words(out: Buffer, encoding: BufferEncoding = 'utf8'): string[] {
    const parts = out.toString(encoding).split('\0');
    expect(parts.slice(-2)).toEqual(['END', '']);
    return parts.slice(0, -2);
  }

  function batches(seed: number, count: number, size: number): string[][] {
    const rng = seededRng(seed);
    return Array.from({ length: count }, () => Array.from({ length: rng.int(1, size) }, () => randomString(rng)));
  }

  test('the generator is reproducible and covers what it claims', () => {
    expect(batches(SEED, 3, 5)).toEqual(batches(SEED, 3, 5));
    const all = batches(SEED, 200, 10).flat().join('');
    for (const c of ["'", '"', '\n', '\r', '`', '$', '\\', '\x1b', '\u009b', '\u202e']) expect(all).toContain(c);
    expect([...all].some((c) => c.codePointAt(0)! > 0xffff)).toBe(true);
    expect(all).not.toContain('\0');
  });

  test('each of the bytes 1–255, alone and all in one word, as text (UTF-8 on the wire)', () => {
    const ws = [...ALL_LATIN1, ALL_LATIN1, `${ALL_LATIN1}${ALL_LATIN1}`];
    expect(words(run(['sh'], shellJoin(printfArgv(ws))))).toEqual(ws);
    expect(words(run(['bash'], shellJoin(printfArgv(ws))))).toEqual(ws);
  });

  test('each of the bytes 1–255 as raw bytes (not UTF-8) through sh -c', () => {
    // the quoting only ever adds ASCII, so the quoted line of a Latin-1 string is the same bytes read as Latin-1
    const ws = [...ALL_LATIN1, ALL_LATIN1];
    const line = Buffer.from(shellJoin(printfArgv(ws)), 'latin1');
    expect(line.includes(0xff)).toBe(true);
    const dir = mkdtempSync(join(tmpdir(), 'quote-bytes-'));
    const file = join(dir, 'cmdline');
    writeFileSync(file, line);
    // the inner sh gets exactly those bytes as its -c argument (no trailing newline to strip)
    const out = run(['sh'], `sh -c "$(cat ${shellQuote(file)})"`);
    expect(words(out, 'latin1')).toEqual(ws);
  });

  test.each([
    ['sh -c', ['sh']],
    ['bash -c', ['bash']],
  ])('%s: 150 batches of up to 20 random words', (_name, shell) => {
    batches(SEED + 1, 150, 20).forEach((ws, i) => {
      const got = words(run(shell, shellJoin(printfArgv(ws))));
      expect({ seed: SEED + 1, batch: i, got }).toEqual({ seed: SEED + 1, batch: i, got: ws });
    });
  });

  test('what etcd-dr sends over SSH, run by a login shell: argv, `sh -c <script>`, and `sudo -n sh -c <script>` (become)', () => {
    batches(SEED + 2, 40, 12).forEach((ws, i) => {
      for (const become of [false, true]) {
        const argvLine = buildCommand({ argv: printfArgv(ws) }, become);
        const scriptLine = buildCommand({ script: `set -eu\n${shellJoin(printfArgv(ws))}` }, become);
        if (become) expect(argvLine.startsWith('sudo -n sh -c ')).toBe(true);
        for (const line of [argvLine, scriptLine]) {
          const got = words(run(['sh'], line));
          expect({ seed: SEED + 2, batch: i, become, got }).toEqual({ seed: SEED + 2, batch: i, become, got: ws });
        }
      }
    });
  });

  test('nothing in a quoted word runs: a word that tries every way out of the quotes creates no file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'quote-pwn-'));
    const flag = join(dir, 'pwned');
    const attempts = [`$(touch ${flag})`, `\`touch ${flag}\``, `'; touch ${flag}; '`, `"; touch ${flag}; "`, `\n touch ${flag}`, `'\\''; touch ${flag} #`, `\\'; touch ${flag}`];
    for (const become of [false, true]) {
      const got = words(run(['sh'], buildCommand({ argv: printfArgv(attempts) }, become)));
      expect(got).toEqual(attempts);
    }
    expect(existsSync(flag)).toBe(false);
  });
});
