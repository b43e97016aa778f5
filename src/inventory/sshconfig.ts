/**
 * A pure reader of OpenSSH client config (~/.ssh/config), enough for what bastion users rely on: which
 * user, port, key and jump host reach a node, and its real HostName. Semantics follow ssh_config(5):
 * keywords are case-insensitive, `Host` lines take patterns with `*`, `?` and `!negation`, and for each
 * keyword the first value that applies wins.
 *
 * Not supported, on purpose: `Include` (ignored: the included files are not read), and `Match` blocks
 * other than `Match all` (their criteria need canonicalisation and `exec`; such blocks are skipped).
 */

export interface SshConfigOption {
  /** lower case */
  keyword: string;
  args: string[];
  line: number;
}

export interface SshConfigSection {
  /** `global`: options before the first Host/Match line; they apply to every host */
  kind: 'global' | 'host' | 'match-all' | 'match-unsupported';
  /** the `Host` patterns as written (empty for the other kinds) */
  patterns: string[];
  line: number;
  options: SshConfigOption[];
}

export interface SshConfig {
  file: string;
  sections: SshConfigSection[];
}

/** Splits a config line into words: whitespace separates, double or single quotes group, `#` starts a comment. */
export function splitConfigWords(text: string): string[] {
  const words: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (i >= text.length || text[i] === '#') break;
    let word = '';
    while (i < text.length && !/\s/.test(text[i]!)) {
      const c = text[i]!;
      if (c === '"' || c === "'") {
        const end = text.indexOf(c, i + 1);
        // an unclosed quote runs to the end of the line, as OpenSSH would fail on it anyway
        word += end < 0 ? text.slice(i + 1) : text.slice(i + 1, end);
        i = end < 0 ? text.length : end + 1;
      } else if (c === '\\' && i + 1 < text.length) {
        word += text[i + 1];
        i += 2;
      } else {
        word += c;
        i++;
      }
    }
    words.push(word);
  }
  return words;
}

export function parseSshConfig(text: string, file: string): SshConfig {
  const sections: SshConfigSection[] = [{ kind: 'global', patterns: [], line: 1, options: [] }];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const line = idx + 1;
    // `Keyword value`, `Keyword=value` and `Keyword = value` are all valid
    const m = /^\s*([A-Za-z][A-Za-z0-9]*)\s*(?:=\s*|\s+|$)(.*)$/.exec(raw);
    if (!m || raw.trimStart().startsWith('#')) return;
    const keyword = m[1]!.toLowerCase();
    const args = splitConfigWords(m[2] ?? '');
    if (keyword === 'host') {
      sections.push({ kind: 'host', patterns: args, line, options: [] });
    } else if (keyword === 'match') {
      const all = args.length === 1 && args[0]!.toLowerCase() === 'all';
      sections.push({ kind: all ? 'match-all' : 'match-unsupported', patterns: [], line, options: [] });
    } else if (keyword !== 'include') {
      sections[sections.length - 1]!.options.push({ keyword, args, line });
    }
  });
  return { file, sections };
}

/** One OpenSSH pattern: `*` any run of characters, `?` one character; case-insensitive. */
export function matchPattern(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  // iterative glob with backtracking to the last `*`
  let pi = 0;
  let hi = 0;
  let star = -1;
  let mark = 0;
  while (hi < h.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === h[hi])) {
      pi++;
      hi++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = hi;
    } else if (star >= 0) {
      pi = star + 1;
      hi = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/**
 * A `Host` line applies when one of its positive patterns matches and none of its `!negated` ones
 * does (a line of negations alone never applies). Patterns may also be comma-separated lists.
 */
export function hostMatches(patterns: string[], host: string): boolean {
  let positive = false;
  for (const pat of patterns.flatMap((p) => p.split(',')).filter((p) => p !== '')) {
    if (pat.startsWith('!')) {
      if (matchPattern(pat.slice(1), host)) return false;
    } else if (matchPattern(pat, host)) {
      positive = true;
    }
  }
  return positive;
}

export interface SshConfigValue {
  value: string;
  line: number;
}

/** What the config says for one host, for the keywords etcd-dr uses (first value wins, as in OpenSSH). */
export interface SshConfigMatch {
  hostName?: SshConfigValue;
  user?: SshConfigValue;
  port?: SshConfigValue;
  /** the first IdentityFile that applies (OpenSSH would try all of them; etcd-dr uses one key per node) */
  identityFile?: SshConfigValue;
  proxyJump?: SshConfigValue;
}

const KEYWORDS: Record<string, keyof SshConfigMatch> = {
  hostname: 'hostName',
  user: 'user',
  port: 'port',
  identityfile: 'identityFile',
  proxyjump: 'proxyJump',
};

export function lookupSshConfig(config: SshConfig, host: string): SshConfigMatch {
  const out: SshConfigMatch = {};
  for (const s of config.sections) {
    const applies = s.kind === 'global' || s.kind === 'match-all' || (s.kind === 'host' && hostMatches(s.patterns, host));
    if (!applies) continue;
    for (const o of s.options) {
      const key = KEYWORDS[o.keyword];
      if (!key || out[key] !== undefined) continue;
      // ProxyJump's value is one comma-separated list; the others take one word
      out[key] = { value: key === 'proxyJump' ? o.args.join('') : (o.args[0] ?? ''), line: o.line };
    }
  }
  return out;
}

/**
 * ssh_config(5) tokens that make sense without a connection: `%%`, `%d` home, `%u` local user,
 * `%h` remote host name, `%n` host as given, `%r` remote user, `%p` port. Others are left as they are.
 */
export function expandSshTokens(value: string, tokens: Partial<Record<'d' | 'u' | 'h' | 'n' | 'r' | 'p', string>>): string {
  return value.replace(/%([%duhnrp])/g, (m, t: string) => (t === '%' ? '%' : (tokens[t as keyof typeof tokens] ?? m)));
}
