/** Pure pieces of running remote commands: command lines, sudo, host key algorithm order. */
import { shellJoin, shellQuote } from '../util/quote.js';

/**
 * The command line sent over SSH. Without become, an argv is sent as quoted words and a script as
 * `sh -c <script>` (so the script runs under sh whatever the user's login shell). With become, both run
 * as `sudo -n sh -c <quoted script>`: `-n` makes sudo fail at once instead of waiting for a password
 * nobody can type, and the inner `sh -c` keeps redirections and `&&` inside the root shell.
 */
export function buildCommand(what: { argv: readonly string[] } | { script: string }, become: boolean): string {
  const inner = 'argv' in what ? shellJoin(what.argv) : what.script;
  if (become) return `sudo -n sh -c ${shellQuote(inner)}`;
  return 'argv' in what ? inner : `sh -c ${shellQuote(inner)}`;
}

/**
 * Whether a command run through `sudo -n` failed because sudo wanted a password (no NOPASSWD rule, or
 * the user is not in sudoers at all: sudo asks for the password before it checks the rules). sudo says
 * so on stderr and exits 1; the text is matched only in that combination so a command's own output
 * cannot trigger it.
 */
export function isSudoPasswordPrompt(result: { code: number | null; stderr: string }): boolean {
  return result.code === 1 && /^sudo: (a password is required|a terminal is required to read the password)/m.test(result.stderr);
}

/** The host key algorithms ssh2 can verify, in its default preference. */
export const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

/** The signature algorithms that prove possession of a key of each known_hosts key type. */
function algorithmsForKeyType(keyType: string): string[] {
  if (keyType === 'ssh-rsa') return ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
  return (HOST_KEY_ALGORITHMS as readonly string[]).includes(keyType) ? [keyType] : [];
}

/**
 * Host key algorithms to offer, known ones first, as OpenSSH orders them: a host whose ECDSA key is on
 * record must be asked for that key, not for an Ed25519 key nobody has recorded (which would look like
 * an unknown host).
 */
export function hostKeyAlgorithmOrder(knownTypes: readonly string[]): string[] {
  const first = knownTypes.flatMap(algorithmsForKeyType);
  return [...new Set([...first, ...HOST_KEY_ALGORITHMS])];
}
