import { formatProblem, InputError, EXIT } from '../../src/util/errors.js';

describe('formatProblem', () => {
  it.each([
    [{ file: 'inv.yaml', line: 3, column: 5, field: 'nodes[0].name', message: 'bad' }, 'inv.yaml:3:5: nodes[0].name: bad'],
    [{ file: 'inv.yaml', field: 'ssh.port', message: 'bad' }, 'inv.yaml: ssh.port: bad'],
    [{ message: 'just this' }, 'just this'],
  ])('%j', (p, want) => {
    expect(formatProblem(p)).toBe(want);
  });
  it('InputError lists every problem and exits 2', () => {
    const e = new InputError([{ message: 'a' }, { message: 'b' }]);
    expect(e.exitCode).toBe(EXIT.badInput);
    expect(e.message).toContain('2 problems');
    expect(e.message).toContain('  - a\n  - b');
  });
});
