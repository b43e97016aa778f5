/**
 * OpenSSH known_hosts, read and matched the way `ssh` does with StrictHostKeyChecking=yes (and written
 * the way `accept-new` does). Pure apart from `readKnownHosts` and `appendKnownHost`.
 *
 * Supported: plain host patterns (comma lists, `*` and `?` wildcards, `!` negation, case-insensitive),
 * `[host]:port` names for ports other than 22, hashed names (`|1|salt|hash`, HMAC-SHA1 of the looked-up
 * name), comments and blank lines, and the markers `@revoked` (that key is refused for the hosts the line
 * names) and `@cert-authority`. etcd-dr does not verify host certificates, so a `@cert-authority` line is
 * kept but never counts as a host key: a host known only through its CA is "unknown" here, and its plain
 * host key has to be recorded (with --accept-new-host-keys or ssh-keyscan) like any other.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { matchPattern } from '../util/glob.js';

export type KnownHostMarker = 'revoked' | 'cert-authority';

export interface KnownHostEntry {
  /** 1-based line number in the file */
  line: number;
  marker?: KnownHostMarker;
  /** the host field as written (patterns, or one `|1|salt|hash`) */
  hosts: string;
  /** set when the host field is a hashed name */
  hashed?: { salt: Buffer; hash: Buffer };
  /** the patterns of a plain host field, as written */
  patterns: string[];
  keyType: string;
  /** the decoded key (SSH wire format) */
  keyBlob: Buffer;
}

export interface KnownHostsProblem {
  line: number;
  message: string;
}

export interface KnownHostsDb {
  /** the file the entries came from, for messages; may be a label for text that has no file */
  file: string;
  entries: KnownHostEntry[];
  /** lines that are neither comments, blank nor valid entries; `ssh` skips them too */
  problems: KnownHostsProblem[];
}

export type HostKeyStatus = 'match' | 'unknown' | 'changed' | 'revoked';

export interface HostKeyCheck {
  status: HostKeyStatus;
  /** `SHA256:…` of the key the host presented */
  presentedFingerprint: string;
  /** for `changed`: the fingerprint on record; for `revoked`: the revoked key's */
  knownFingerprint?: string;
  /** the line that decided `match`, `changed` or `revoked` */
  line?: number;
  /**
   * for `unknown`: key types the file does hold for this host (OpenSSH asks the server for those first;
   * a host with only other key types on record is unknown, not changed)
   */
  otherKnownTypes?: string[];
}

/** The name `ssh` looks up in known_hosts: `host` on port 22, `[host]:port` otherwise; lower-cased. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The fingerprint as `ssh-keygen -l` and `ssh` print it: `SHA256:` and unpadded base64 of the key's SHA-256. */
export function fingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The key type a public key blob names in its first field (e.g. `ssh-ed25519`), or undefined if malformed. */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  const t = blob.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(t) ? t : undefined;
}

/**
 * OpenSSH's match_hostname over a comma list: false as soon as a `!pattern` matches, else true when any
 * plain pattern matches. Case-insensitive, as host names are.
 */
export function matchHostPatterns(name: string, patterns: readonly string[]): boolean {
  const n = name.toLowerCase();
  let positive = false;
  for (const raw of patterns) {
    const neg = raw.startsWith('!');
    const pat = (neg ? raw.slice(1) : raw).toLowerCase();
    if (pat === '') continue;
    if (matchPattern(n, pat)) {
      if (neg) return false;
      positive = true;
    }
  }
  return positive;
}

function entryNamesHost(e: KnownHostEntry, name: string): boolean {
  if (e.hashed) {
    const h = createHmac('sha1', e.hashed.salt).update(name).digest();
    return h.length === e.hashed.hash.length && timingSafeEqual(h, e.hashed.hash);
  }
  return matchHostPatterns(name, e.patterns);
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

function parseHashed(field: string): { salt: Buffer; hash: Buffer } | string {
  const parts = field.split('|');
  // `|1|salt|hash` splits into ['', '1', salt, hash]
  if (parts.length !== 4 || parts[1] !== '1') return `hashed host name ${JSON.stringify(field)} is not of the form |1|salt|hash`;
  const [, , salt, hash] = parts as [string, string, string, string];
  if (!BASE64.test(salt) || !BASE64.test(hash)) return `hashed host name ${JSON.stringify(field)} has invalid base64`;
  const s = Buffer.from(salt, 'base64');
  const h = Buffer.from(hash, 'base64');
  if (h.length !== 20) return `hashed host name ${JSON.stringify(field)} does not hold a 20-byte SHA-1 HMAC`;
  return { salt: s, hash: h };
}

/** Parses known_hosts text. Never throws: lines it cannot use are listed in `problems`. */
export function parseKnownHosts(text: string, file: string): KnownHostsDb {
  const entries: KnownHostEntry[] = [];
  const problems: KnownHostsProblem[] = [];
  const lines = text.split('\n');
  lines.forEach((rawLine, i) => {
    const line = i + 1;
    const trimmed = rawLine.replace(/\r$/, '').trim();
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const fields = trimmed.split(/[ \t]+/);
    let marker: KnownHostMarker | undefined;
    if (fields[0]!.startsWith('@')) {
      const m = fields.shift()!;
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else {
        problems.push({ line, message: `unknown marker ${JSON.stringify(m)} (expected @revoked or @cert-authority)` });
        return;
      }
    }
    const [hosts, keyType, keyB64] = fields;
    if (hosts === undefined || keyType === undefined || keyB64 === undefined) {
      problems.push({ line, message: 'expected "[marker] hosts key-type base64-key [comment]"' });
      return;
    }
    if (!BASE64.test(keyB64)) {
      problems.push({ line, message: `the key of type ${keyType} is not valid base64` });
      return;
    }
    const keyBlob = Buffer.from(keyB64, 'base64');
    const blobType = keyTypeOfBlob(keyBlob);
    if (blobType !== keyType) {
      problems.push({
        line,
        message: blobType === undefined ? `the ${keyType} key is not a valid SSH public key` : `the key says it is ${blobType}, the line says ${keyType}`,
      });
      return;
    }
    const entry: KnownHostEntry = { line, hosts, patterns: [], keyType, keyBlob, ...(marker ? { marker } : {}) };
    if (hosts.startsWith('|')) {
      const h = parseHashed(hosts);
      if (typeof h === 'string') {
        problems.push({ line, message: h });
        return;
      }
      entry.hashed = h;
    } else {
      entry.patterns = hosts.split(',').filter((p) => p !== '');
    }
    entries.push(entry);
  });
  return { file, entries, problems };
}

/**
 * What known_hosts says about the key `host:port` presented. Order of precedence, as in OpenSSH: a
 * revoked key is refused whatever else matches; then any line holding exactly this key for this host is a
 * match; then a line with a different key of the same type for this host means the key changed;
 * otherwise the host is unknown (possibly with keys of other types on record).
 */
export function checkHostKey(db: KnownHostsDb, host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyCheck {
  const name = knownHostName(host, port);
  const presentedFingerprint = fingerprint(keyBlob);
  const forHost = db.entries.filter((e) => entryNamesHost(e, name));

  const revoked = forHost.find((e) => e.marker === 'revoked' && e.keyBlob.equals(keyBlob));
  if (revoked) return { status: 'revoked', presentedFingerprint, knownFingerprint: presentedFingerprint, line: revoked.line };

  const hostKeys = forHost.filter((e) => e.marker === undefined);
  const same = hostKeys.find((e) => e.keyType === keyType && e.keyBlob.equals(keyBlob));
  if (same) return { status: 'match', presentedFingerprint, line: same.line };

  const differs = hostKeys.find((e) => e.keyType === keyType);
  if (differs) return { status: 'changed', presentedFingerprint, knownFingerprint: fingerprint(differs.keyBlob), line: differs.line };

  const otherKnownTypes = [...new Set(hostKeys.map((e) => e.keyType))];
  return { status: 'unknown', presentedFingerprint, ...(otherKnownTypes.length ? { otherKnownTypes } : {}) };
}

/** The key types known_hosts holds (unmarked) for `host:port`, in file order; used to order host key algorithms. */
export function knownKeyTypes(db: KnownHostsDb, host: string, port: number): string[] {
  const name = knownHostName(host, port);
  return [...new Set(db.entries.filter((e) => e.marker === undefined && entryNamesHost(e, name)).map((e) => e.keyType))];
}

/** Reads and parses a known_hosts file; a file that does not exist yet is an empty one. */
export async function readKnownHosts(file: string): Promise<KnownHostsDb> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { file, entries: [], problems: [] };
    throw new Error(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
  }
  return parseKnownHosts(text, file);
}

/** The line `appendKnownHost` writes: plain (not hashed) name, as `ssh` with HashKnownHosts=no would. */
export function knownHostLine(host: string, port: number, keyType: string, keyBase64: string): string {
  return `${knownHostName(host, port)} ${keyType} ${keyBase64}\n`;
}

/**
 * Records a host key. One `write` on an O_APPEND descriptor, so concurrent writers (several nodes
 * accepted at once) never interleave inside a line. The file is created 0600 and its parent directory
 * 0700 when they do not exist; existing modes are left alone. A file whose last line lacks its newline
 * gets one first, so the new entry starts on its own line.
 */
export async function appendKnownHost(file: string, host: string, port: number, keyType: string, keyBase64: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a+', 0o600);
  try {
    const { size } = await fh.stat();
    let prefix = '';
    if (size > 0) {
      const last = Buffer.alloc(1);
      await fh.read(last, 0, 1, size - 1);
      if (last[0] !== 0x0a) prefix = '\n';
    }
    await fh.write(prefix + knownHostLine(host, port, keyType, keyBase64));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
