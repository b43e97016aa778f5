/**
 * Secret values (key passphrases, etcd passwords) must never reach a log, an error message or a saved
 * plan. Whoever learns a secret registers it here; every string etcd-dr writes out goes through `scrub`.
 * pino's `redact` matches object keys only, so a secret inside a command string needs this value-based
 * pass (see createLogger's `scrub` option).
 */

const REPLACEMENT = '***';

/** every form a registered secret can take in our output, longest first so overlaps scrub fully */
let forms: string[] = [];
const registered = new Set<string>();

/**
 * The forms a secret takes once etcd-dr has written it somewhere: as is, inside POSIX single quotes
 * (`'` becomes `'\''`), and inside a JSON string (the JSON log file escapes quotes, backslashes and
 * control characters).
 */
function formsOf(value: string): string[] {
  return [value, value.replaceAll("'", "'\\''"), JSON.stringify(value).slice(1, -1)];
}

/** Remembers `value` for the rest of the process; an empty value is ignored (it would match everywhere). */
export function registerSecret(value: string): void {
  if (value === '' || registered.has(value)) return;
  registered.add(value);
  const all = new Set(forms);
  for (const f of formsOf(value)) if (f !== '') all.add(f);
  forms = [...all].sort((a, b) => b.length - a.length);
}

/** `text` with every registered secret (in each of its written forms) replaced by `***`. */
export function scrub(text: string): string {
  let out = text;
  for (const f of forms) if (out.includes(f)) out = out.split(f).join(REPLACEMENT);
  return out;
}

/** Forgets every registered secret; for tests that need a clean registry. */
export function clearSecrets(): void {
  registered.clear();
  forms = [];
}
