/**
 * What each kind of string in the inventory may look like. Names, host names, addresses and paths end
 * up in remote shell commands, etcd URLs and file names, so each kind has a strict character set and a
 * structure check, and every message says what is wrong and what would be valid.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { suggest } from './suggest.js';

export type StringFormat = 'name' | 'hostName' | 'address' | 'sshName' | 'user' | 'service' | 'remotePath' | 'localPath' | 'jumpHost' | 'command';

interface FormatSpec {
  /** what a value of this kind is called in messages */
  what: string;
  /** one allowed character */
  char: RegExp;
  /** the allowed characters, for messages */
  charsText: string;
  /** structure check once every character is allowed: what is wrong and what would be valid */
  check?: (v: string) => string | undefined;
  /** canonical form of a valid value (e.g. IPv6 without brackets, paths without `//`) */
  normalise?: (v: string) => string;
}

/** Placeholders that etcd paths may hold, replaced per node. */
export const PLACEHOLDERS = ['host'] as const;

const MAX_NAME = 63;
/** Characters a POSIX shell gives a meaning to, or that break a line or a URL. */
const SHELL_META = new Set([...'\n\r\0\t \'"`;$|&<>\\()*?[]#!~{}%^=,']);
const CHAR_NAMES: Record<string, string> = {
  '\n': 'a newline',
  '\r': 'a carriage return',
  '\0': 'a NUL byte',
  '\t': 'a tab',
  ' ': 'a space',
  '`': 'a backtick',
};

function describeChar(c: string): string {
  const named = CHAR_NAMES[c];
  if (named) return named;
  const code = c.codePointAt(0) ?? 0;
  if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return `the control character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
  if (INVISIBLE.test(c)) return `the invisible character U+${code.toString(16).padStart(4, '0').toUpperCase()}`;
  return `\`${c}\``;
}

/** Bidirectional overrides and isolates: they reorder the text shown around them. */
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069]/;

/**
 * A value as messages show it: JSON-quoted, and with the characters JSON leaves as they are but a terminal
 * acts on (DEL, C1 controls, bidirectional overrides) escaped too, so a hostile value is seen, not obeyed.
 */
export function showValue(v: string): string {
  return JSON.stringify(v).replace(/[\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const LABEL_RE = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$/;

/** RFC 1123 host name: dot-separated labels of 1..63 letters, digits and `-`, not starting or ending with `-`. */
export function hostNameProblem(v: string): string | undefined {
  if (v.length > 253) return `is ${v.length} characters long; a host name has at most 253`;
  const labels = v.split('.');
  for (const label of labels) {
    if (label === '') return 'has an empty label (two dots in a row, or a dot at the start or end)';
    if (label.length > 63) return `has the label \`${label}\` of ${label.length} characters; a label has at most 63`;
    if (!LABEL_RE.test(label)) return `has the label \`${label}\`, which starts or ends with \`-\``;
  }
  return undefined;
}

const HOST_NAME_RULE = 'a host name is dot-separated labels of letters, digits and `-` (RFC 1123), e.g. k2-master01';

function addressProblem(v: string): string | undefined {
  if (v.includes(':') || v.includes('[') || v.includes(']')) {
    const bare = v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
    return isIPv6(bare) ? undefined : 'is not a valid IPv6 address; expected an IPv4 address, an IPv6 address or a DNS name';
  }
  // all digits and dots: meant as IPv4, so do not accept it as a DNS name either
  if (/^[0-9.]+$/.test(v)) return isIPv4(v) ? undefined : 'is not a valid IPv4 address (four numbers 0-255 without leading zeros, e.g. 192.168.30.151)';
  const p = hostNameProblem(v);
  if (p) return `${p}; expected an IPv4 address, an IPv6 address or a DNS name`;
  const last = v.split('.').pop() ?? '';
  if (/^[0-9]+$/.test(last)) return 'looks like an IPv4 address but is not one (four numbers 0-255, e.g. 192.168.30.151)';
  return undefined;
}

/** Problems with `{…}` placeholders in an etcd path, each with the valid alternative. */
export function placeholderProblem(v: string): string | undefined {
  const rest = v.replace(/\{([^{}]*)\}/g, (_m, name: string) => `\u0001${name}\u0002`);
  if (/[{}]/.test(rest)) return 'has an unbalanced `{` or `}`; placeholders are written `{host}`';
  for (const m of v.matchAll(/\{([^{}]*)\}/g)) {
    const name = m[1] ?? '';
    if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
      const near = suggest(name, PLACEHOLDERS, { hostname: 'host', node: 'host', nodename: 'host' });
      return `has the unknown placeholder \`{${name}}\`;${near ? ` did you mean \`{${near}}\`?` : ''} the only placeholder is \`{host}\` (the node's host)`;
    }
  }
  return undefined;
}

function remotePathProblem(v: string): string | undefined {
  if (!v.startsWith('/')) return 'is not absolute; paths on the nodes must start with `/`, e.g. /etc/etcd.env';
  if (v.split('/').some((seg) => seg === '.' || seg === '..')) return 'has a `.` or `..` segment; write the path without them';
  return placeholderProblem(v);
}

function localPathProblem(v: string): string | undefined {
  const tildes = (v.match(/~/g) ?? []).length;
  if (tildes === 0 || ((v === '~' || v.startsWith('~/')) && tildes === 1)) return undefined;
  return v.startsWith('~') && !v.startsWith('~/')
    ? '(`~user/`) is not supported; write `~/…` for your home, or the full path'
    : 'has `~` after the start; `~` is only understood at the start, as `~/…`';
}

export const FORMATS: Record<StringFormat, FormatSpec> = {
  name: {
    what: 'a name',
    char: /[A-Za-z0-9._-]/,
    charsText: 'letters, digits, `.`, `_` and `-`',
    check: (v) =>
      !NAME_RE.test(v)
        ? 'must start with a letter or a digit'
        : v.length > MAX_NAME
          ? `is ${v.length} characters long; at most ${MAX_NAME}`
          : undefined,
  },
  hostName: {
    what: 'a host name',
    char: /[A-Za-z0-9.-]/,
    charsText: 'letters, digits, `.` and `-`',
    check: (v) => {
      const p = hostNameProblem(v);
      return p ? `${p}; ${HOST_NAME_RULE}` : undefined;
    },
  },
  address: {
    what: 'an address',
    char: /[A-Za-z0-9.:[\]-]/,
    charsText: 'letters, digits, `.`, `-`, and `:` `[` `]` in IPv6 addresses',
    check: addressProblem,
    normalise: (v) => (v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v).toLowerCase(),
  },
  user: {
    what: 'a user name',
    char: /[A-Za-z0-9._-]/,
    charsText: 'letters, digits, `.`, `_` and `-`',
    check: (v) => (/^[A-Za-z0-9_]/.test(v) ? (v.length > 32 ? `is ${v.length} characters long; at most 32` : undefined) : 'must start with a letter, a digit or `_`'),
  },
  service: {
    what: 'a systemd unit name',
    char: /[A-Za-z0-9:_.@-]/,
    charsText: 'letters, digits, `:`, `_`, `.`, `@` and `-`',
    check: (v) => (/^[A-Za-z0-9]/.test(v) ? (v.length > 255 ? 'is longer than 255 characters' : undefined) : 'must start with a letter or a digit, e.g. etcd'),
  },
  remotePath: {
    what: 'a path on the nodes',
    char: /[A-Za-z0-9._/+@:{}-]/,
    charsText: 'letters, digits and `. _ / + @ : { } -`',
    check: remotePathProblem,
    normalise: (v) => v.replace(/\/+/g, '/').replace(/(.)\/$/, '$1'),
  },
  localPath: {
    what: 'a local path',
    char: /[A-Za-z0-9._/+@:~-]/,
    charsText: 'letters, digits and `. _ / + @ : -`, with `~/` at the start for your home',
    check: localPathProblem,
  },
  /** a shell command of the operator's (hooks): run as written, so any printable text; no control characters but tab and newline */
  command: {
    what: 'a shell command',
    char: /[^\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/,
    charsText: 'printable text (tabs and newlines allowed)',
    check: (v) => (v.trim() === '' ? 'is only blanks; write the command, or remove the item' : undefined),
    normalise: (v) => v.trim(),
  },
  // the name given to `ssh -G`: an alias or host name, kept as written (ssh_config patterns are case-sensitive)
  sshName: {
    what: 'a host name or ssh config alias',
    char: /[A-Za-z0-9._:-]/,
    charsText: 'letters, digits, `.`, `_`, `-` and `:`',
    check: (v) => (v.startsWith('-') || v.startsWith('.') ? 'must start with a letter or digit' : undefined),
  },
  jumpHost: {
    what: 'a jump host',
    char: /[A-Za-z0-9._@:[\]-]/,
    charsText: 'letters, digits, `.`, `_`, `-`, `@`, `:` and `[` `]` around IPv6 addresses',
    check: (v) => {
      const r = parseJumpSpec(v);
      return 'error' in r ? r.error : undefined;
    },
  },
};

/**
 * What is wrong with `v` as a value of kind `format`, or undefined when it is valid. The first
 * disallowed character is named (a shell metacharacter is called one), then the structure is checked.
 */
export function stringProblem(v: string, format: StringFormat, what?: string): string | undefined {
  const f = FORMATS[format];
  const called = what ?? f.what;
  if (v === '') return `"" is empty; expected ${called}`;
  if (v.length > 4096) return `a value of ${v.length} characters is too long; expected ${called} of at most 4096`;
  for (const c of v) {
    if (!f.char.test(c)) {
      const meta = SHELL_META.has(c) ? ', a shell metacharacter' : '';
      return `${showValue(v)} contains ${describeChar(c)}${meta}; ${called} may contain only ${f.charsText}`;
    }
  }
  const p = f.check?.(v);
  return p ? `${showValue(v)} ${p}` : undefined;
}

export function normaliseString(v: string, format: StringFormat): string {
  return FORMATS[format].normalise?.(v) ?? v;
}

export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

const JUMP_SYNTAX = 'expected `[user@]host[:port]`, e.g. ops@bastion.example:22 (IPv6: ops@[2001:db8::1]:22)';

/** `[user@]host[:port]`, the form of OpenSSH's ProxyJump (IPv6 hosts in brackets when a port follows). */
export function parseJumpSpec(spec: string): JumpSpec | { error: string } {
  let rest = spec;
  let user: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const p = user === '' ? 'has an empty user before `@`' : stringProblem(user, 'user');
    if (p) return { error: `user ${p}; ${JUMP_SYNTAX}` };
  }
  let host = rest;
  let portText: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) return { error: `has \`[\` without \`]\`; ${JUMP_SYNTAX}` };
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) return { error: `has text after \`]\`; ${JUMP_SYNTAX}` };
      portText = after.slice(1);
    }
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    [host, portText] = rest.split(':') as [string, string];
  }
  if (host === '') return { error: `has no host; ${JUMP_SYNTAX}` };
  const hp = stringProblem(host, 'address', 'a host');
  if (hp) return { error: `host ${hp}` };
  let port: number | undefined;
  if (portText !== undefined) {
    port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
    if (!(port >= 1 && port <= 65535)) return { error: `has the port \`${portText}\`; a port is an integer 1..65535` };
  }
  return { ...(user !== undefined ? { user } : {}), host: normaliseString(host, 'address'), ...(port !== undefined ? { port } : {}) };
}
