/**
 * The probe's section framing, run for real in the shells a node uses (dash for `sudo -n sh -c`, bash as
 * root's login shell): every section comes back with its exact output (trailing newlines too, which the
 * env-file digest needs), its stderr (trailing newlines dropped: it is a message) and its exit code,
 * whatever it printed, and `parseSections` reads it back. The framing skips base64 for an empty output and leaves out
 * an empty stderr, so those cases are here too.
 */
import { spawnSync } from 'node:child_process';
import { parseSections, probeScript, SECTION_PREFIX } from '../../src/facts/probe-script.js';
import { shellQuote } from '../../src/util/quote.js';
import { nodeSpec } from '../support/facts.js';

/** The probe's own preamble (PATH, fd 4, the `sec` function), taken from the script it sends. */
function preamble(): string {
  const lines = probeScript(nodeSpec(1), { lockFile: '/var/lib/etcd-dr/lock', commandTimeout: 3 }).split('\n');
  const end = lines.findIndex((l) => l.startsWith('sec() {'));
  if (end < 0) throw new Error('the probe script has no sec function');
  return lines.slice(0, end + 1).join('\n');
}

function run(shell: string, body: string): { stdout: string; status: number | null } {
  const r = spawnSync(shell, ['-c', `${preamble()}\n${body}`], { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { stdout: r.stdout, status: r.status };
}

const CASES: Array<[string, string, { rc: number; out: string; err: string }]> = [
  ['output and exit 0', `printf 'a b\\n'`, { rc: 0, out: 'a b\n', err: '' }],
  ['trailing newlines kept', `printf 'x\\n\\n\\n'`, { rc: 0, out: 'x\n\n\n', err: '' }],
  ['no trailing newline', `printf 'x'`, { rc: 0, out: 'x', err: '' }],
  ['nothing at all', 'true', { rc: 0, out: '', err: '' }],
  ['nothing, failing', 'false', { rc: 1, out: '', err: '' }],
  ['stderr only, exit 3', `printf 'boom\\n' >&2; exit 3`, { rc: 3, out: '', err: 'boom' }],
  ['stdout and stderr apart', `printf '{"a":1}'; printf 'warning\\n' >&2`, { rc: 0, out: '{"a":1}', err: 'warning' }],
  ['a line that looks like a section', `printf '${SECTION_PREFIX}end 0 \\n${SECTION_PREFIX}lock 0 Zm9v\\n'`, { rc: 0, out: `${SECTION_PREFIX}end 0 \n${SECTION_PREFIX}lock 0 Zm9v\n`, err: '' }],
  ['UTF-8 and terminal escapes', `printf 'ü 中文 \\033[2J\\r\\n'`, { rc: 0, out: 'ü 中文 \x1b[2J\r\n', err: '' }],
  ['a percent sign and backslashes', `printf '%%s \\\\n %%d\\n'`, { rc: 0, out: '%s \\n %d\n', err: '' }],
];

describe.each(['dash', 'bash'])('probe framing in %s', (shell) => {
  it.each(CASES)('%s', (_what, command, want) => {
    const { stdout, status } = run(shell, `sec s sh -c ${shellQuote(command)}; echo "rc=$?"`);
    expect(status).toBe(0);
    // sec returns the section's exit code to the script
    expect(stdout.trimEnd().split('\n').at(-1)).toBe(`rc=${want.rc}`);
    expect(parseSections(stdout).get('s')).toEqual(want);
  });

  it('many sections in a row keep their own results, and an empty stderr prints no line', () => {
    const { stdout } = run(shell, `sec a echo one\nsec b sh -c 'echo two >&2; exit 4'\nsec c true\nprintf '${SECTION_PREFIX}end 0 \\n'`);
    const s = parseSections(stdout);
    expect([...s.keys()]).toEqual(['a', 'b', 'c', 'end']);
    expect(s.get('a')).toEqual({ rc: 0, out: 'one\n', err: '' });
    expect(s.get('b')).toEqual({ rc: 4, out: '', err: 'two' });
    expect(s.get('c')).toEqual({ rc: 0, out: '', err: '' });
    expect(stdout.split('\n').filter((l) => l.includes('.err '))).toEqual([`${SECTION_PREFIX}b.err 0 ${Buffer.from('two').toString('base64')}`]);
  });
});
