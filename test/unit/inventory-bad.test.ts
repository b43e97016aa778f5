import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseInventory, sshGResolver, type InventoryContext } from '../../src/inventory/index.js';
import { normaliseString, stringProblem, type StringFormat } from '../../src/inventory/formats.js';
import { shellQuote } from '../../src/util/quote.js';
import { HOSTILE_PIECES, seededRng } from '../support/seeded.js';
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

/**
 * Injection attempts, field by field: every string field of the inventory that reaches a remote command,
 * a file name or a URL, written with each piece a shell (or a terminal) gives a meaning to, is refused as
 * bad input (exit 2) with one problem naming that field, and the message shows the value escaped.
 */
describe('injection attempts in every field are refused', () => {
  const BASE = {
    cluster: { name: 'k2' },
    nodes: [
      { name: 'etcd1', host: 'k2-master01', address: '10.0.0.1' },
      { name: 'etcd2', host: 'k2-master02', address: '10.0.0.2' },
    ],
  };
  const PAYLOADS = [
    "'", '"', ';', '$(id)', '`id`', '${IFS}', '\n', '\r', '\t', ' ', '|', '&', '&&', '>', '<', '\\', '*', '?', '!', '#', '\0', '(', ')', '=', ',', '%',
    '^', '\x1b[2J', '\u009b', '\x7f', 'é', '\u202e', "'$(reboot)'", '\nrm -rf /',
  ];
  /** [field as reported, where it is set, a valid value with {} where the payload goes] */
  const FIELDS: [string, (doc: any, v: string) => void, string][] = [
    ['cluster.name', (d, v) => (d.cluster.name = v), 'k2{}x'],
    ['ssh.user', (d, v) => (d.ssh = { user: v }), 'ops{}x'],
    ['ssh.identityFile', (d, v) => (d.ssh = { identityFile: v }), '/keys/id{}x'],
    ['ssh.knownHostsFile', (d, v) => (d.ssh = { knownHostsFile: v }), '/keys/known{}x'],
    ['ssh.jumpHost', (d, v) => (d.ssh = { jumpHost: v }), 'ops@bastion{}x'],
    ['ssh.jumpHost.host', (d, v) => (d.ssh = { jumpHost: { host: v } }), 'bastion{}x'],
    ['ssh.jumpHost.user', (d, v) => (d.ssh = { jumpHost: { host: 'bastion', user: v } }), 'ops{}x'],
    ['ssh.jumpHost.identityFile', (d, v) => (d.ssh = { jumpHost: { host: 'bastion', identityFile: v } }), '/keys/jump{}x'],
    ['etcd.envFile', (d, v) => (d.etcd = { envFile: v }), '/etc/etcd.env{}x'],
    ['etcd.dataDir', (d, v) => (d.etcd = { dataDir: v }), '/var/lib/etcd{}x'],
    ['etcd.service', (d, v) => (d.etcd = { service: v }), 'etcd{}x'],
    ['etcd.caCert', (d, v) => (d.etcd = { caCert: v }), '/etc/ssl/ca{}x.pem'],
    ['etcd.clientCert', (d, v) => (d.etcd = { clientCert: v }), '/etc/ssl/admin-{host}{}x.pem'],
    ['etcd.clientKey', (d, v) => (d.etcd = { clientKey: v }), '/etc/ssl/admin-{host}-key{}x.pem'],
    ['nodes[0].name', (d, v) => (d.nodes[0].name = v), 'etcd1{}x'],
    ['nodes[0].host', (d, v) => (d.nodes[0].host = v), 'k2-master01{}x'],
    ['nodes[0].address', (d, v) => (d.nodes[0].address = v), '10.0.0.1{}x'],
    ['nodes[1].address', (d, v) => (d.nodes[1].address = v), 'db{}x.example'],
    ['nodes[0].ssh.user', (d, v) => (d.nodes[0].ssh = { user: v }), 'root{}x'],
    ['nodes[0].ssh.identityFile', (d, v) => (d.nodes[0].ssh = { identityFile: v }), '~/.ssh/id{}x'],
    ['nodes[0].ssh.jumpHost', (d, v) => (d.nodes[0].ssh = { jumpHost: v }), 'bastion{}x:22'],
    ['nodes[0].etcd.dataDir', (d, v) => (d.nodes[0].etcd = { dataDir: v }), '/data/etcd{}x'],
    ['nodes[0].etcd.envFile', (d, v) => (d.nodes[0].etcd = { envFile: v }), '/etc/default/etcd{}x'],
    ['nodes[0].etcd.service', (d, v) => (d.nodes[0].etcd = { service: v }), 'etcd-main{}x.service'],
    ['nodes[1].etcd.clientKey', (d, v) => (d.nodes[1].etcd = { clientKey: v }), '/pki/{host}{}x.key'],
  ];
  const text = (doc: object) => stringify(doc, { defaultStringType: 'QUOTE_DOUBLE' });

  it('the valid values the payloads go into are accepted', () => {
    for (const [, set, valid] of FIELDS) {
      const doc = structuredClone(BASE);
      set(doc, valid.replace('{}', ''));
      expect(() => parseInventory(text(doc), 'inventory.yaml', CTX)).not.toThrow();
    }
  });

  it.each(FIELDS.map(([field, set, valid]) => [field, set, valid] as const))('%s', (field, set, valid) => {
    const unexpected: string[] = [];
    for (const payload of PAYLOADS) {
      const doc = structuredClone(BASE);
      const value = valid.replace('{}', payload);
      set(doc, value);
      let err: unknown;
      try {
        parseInventory(text(doc), 'inventory.yaml', CTX);
      } catch (e) {
        err = e;
      }
      const what = JSON.stringify(value);
      if (!(err instanceof InputError)) {
        unexpected.push(`${what}: ${err ? `threw ${String(err)}` : 'accepted'}`);
        continue;
      }
      if (err.exitCode !== EXIT.badInput) unexpected.push(`${what}: exit ${err.exitCode}`);
      const problems = err.problems.map((p) => ({ field: p.field, text: formatProblem(p) }));
      if (problems.length !== 1 || problems[0]!.field !== field) unexpected.push(`${what}: problems ${JSON.stringify(problems)}`);
      // the message shows the value escaped: no line break, NUL, escape or C1 control of the value gets through
      if (/[\n\r\0\x1b\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(err.problems.map(formatProblem).join(' '))) unexpected.push(`${what}: raw control character in the message`);
    }
    expect(unexpected).toEqual([]);
  });

  it.each([
    ['HostName', (v: string) => `Host 10.0.0.1\n  HostName "db${v}x"\n`],
    ['User', (v: string) => `Host 10.0.0.1\n  User "ops${v}x"\n`],
    ['ProxyJump', (v: string) => `Host 10.0.0.1\n  ProxyJump "ops@bastion${v}x"\n`],
  ])('~/.ssh/config %s values (as `ssh -G` gives them) are checked as strictly', (keyword, config) => {
    const unexpected: string[] = [];
    const file = join(mkdtempSync(join(tmpdir(), 'etcd-dr-sshcfg-')), 'config');
    const resolveSsh = sshGResolver({ configFile: file });
    for (const payload of [';', '$(id)', '`id`', '|', '&', '>', '<', '(', ')', '\x1b', '\u009b', '{', '*', "'", '\\\\']) {
      writeFileSync(file, config(payload));
      let err: unknown;
      try {
        parseInventory(text(BASE), 'inventory.yaml', { ...CTX, resolveSsh });
      } catch (e) {
        err = e;
      }
      const p = err instanceof InputError ? err.problems : [];
      if (!(err instanceof InputError) || p.length !== 1 || !p[0]!.message.includes(keyword)) {
        unexpected.push(`${JSON.stringify(payload)}: ${err instanceof InputError ? JSON.stringify(p) : 'accepted'}`);
      }
    }
    expect(unexpected).toEqual([]);
  });
});

/**
 * The other direction, as a seeded property: whatever the validation accepts for a value that ends up on a
 * remote command line is one plain shell word, which `shellQuote` leaves as it is (no quoting needed at all).
 */
describe('seeded property: every accepted remote-bound value is a plain shell word', () => {
  const SAFE_CHARS = 'abcxyzABZ0189.-_/:@+[]{}';
  const FORMATS: [StringFormat, string][] = [
    ['name', ''],
    ['hostName', ''],
    ['address', ''],
    ['user', ''],
    ['service', ''],
    ['remotePath', '/'],
  ];

  it.each(FORMATS)('%s', (format, prefix) => {
    const rng = seededRng(0xf0e1 + format.length);
    let accepted = 0;
    const bad: string[] = [];
    for (let i = 0; i < 4000; i++) {
      let v = prefix;
      const n = rng.int(1, 16);
      for (let j = 0; j < n; j++) {
        const r = rng.next();
        v += r < 0.85 ? SAFE_CHARS[rng.int(0, SAFE_CHARS.length - 1)] : r < 0.9 ? '{host}' : r < 0.95 ? rng.pick(HOSTILE_PIECES) : String.fromCharCode(rng.int(1, 255));
      }
      if (stringProblem(v, format)) continue;
      accepted++;
      const word = normaliseString(v, format).replaceAll('{host}', 'k2-master01');
      if (shellQuote(word) !== word) bad.push(JSON.stringify(v));
    }
    expect(bad).toEqual([]);
    // the property was tested on real values, not vacuously
    expect(accepted).toBeGreaterThan(100);
  });
});
