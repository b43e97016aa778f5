import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { shellJoin, shellQuote } from '../../src/ssh/quote.js';

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
