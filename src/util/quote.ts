/**
 * The one quoting function for every remote argument. Remote commands are parsed by the login shell of
 * the SSH user (and again by `sh -c` under sudo), so each argument is made a single POSIX shell word.
 */

/** characters no POSIX shell gives a meaning to, in any position */
const SAFE = /^[A-Za-z0-9_./:=@%+,-]+$/;

/**
 * `arg` as one POSIX sh word: unchanged when it holds only safe characters, else in single quotes with
 * each `'` written as `'\''`. The empty string becomes `''`. A NUL byte cannot be passed in an argument
 * at all, so it is refused rather than silently cut.
 */
export function shellQuote(arg: string): string {
  if (arg.includes('\0')) {
    throw new Error(`cannot pass an argument containing a NUL byte to a remote shell: ${JSON.stringify(arg.slice(0, 80))}`);
  }
  if (arg === '') return "''";
  if (SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", "'\\''")}'`;
}

/**
 * An argv as one shell command line. The first word is quoted even when it is "safe" if it holds a `=`:
 * unquoted, `a=b` there would be a variable assignment instead of the command name.
 */
export function shellJoin(argv: readonly string[]): string {
  return argv
    .map((a, i) => (i === 0 && a.includes('=') ? `'${a.replaceAll("'", "'\\''")}'` : shellQuote(a)))
    .join(' ');
}
