import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseInventory, type InventoryContext } from '../../src/inventory/index.js';
import { EXIT, formatProblem, InputError } from '../../src/util/errors.js';

/**
 * Every bad/*.yaml has a bad/*.expect.txt: `problems: N`, then one line per problem as it must appear
 * in the message (file:line:column: field: text). Every problem is reported at once, sorted by line.
 */
const BAD = join(import.meta.dirname, '../fixtures/inventory/bad');
const CTX: InventoryContext = { env: { USER: 'ops' }, home: '/home/ops', cwd: '/work' };
const corpus = readdirSync(BAD)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

function expectation(file: string): { count: number; lines: string[] } {
  const [head, ...lines] = readFileSync(join(BAD, file.replace(/\.yaml$/, '.expect.txt')), 'utf8').trimEnd().split('\n');
  const m = /^problems: (\d+)$/.exec(head ?? '');
  if (!m) throw new Error(`${file}: its .expect.txt must start with "problems: N"`);
  return { count: Number(m[1]), lines };
}

function failure(file: string): InputError {
  try {
    parseInventory(readFileSync(join(BAD, file), 'utf8'), file, CTX);
  } catch (err) {
    if (err instanceof InputError) return err;
    throw err;
  }
  throw new Error(`${file} was accepted`);
}

describe('bad inventories', () => {
  it('the corpus is large enough', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(30);
  });

  it.each(corpus)('%s', (file) => {
    const want = expectation(file);
    const err = failure(file);
    expect(err.exitCode).toBe(EXIT.badInput);
    expect(err.problems).toHaveLength(want.count);
    expect(want.lines).toHaveLength(want.count);
    for (const line of want.lines) expect(err.message).toContain(line);
    // each problem is located in the file, and they come in line order
    const lines = err.problems.map((p) => p.line ?? 0);
    expect(lines.every((l) => l > 0)).toBe(true);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(err.problems.map(formatProblem).every((s) => s.startsWith(`${file}:`))).toBe(true);
  });
});
