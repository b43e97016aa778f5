import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { EtcdArgumentError } from '../../src/etcd/errors.js';
import { diffEnv } from '../../src/etcd/envdiff.js';
import { assertWritable, get, parseEnvFile, render, setVars, vars, type EnvLine } from '../../src/etcd/envfile.js';
import { initialClusterString, parseInitialCluster } from '../../src/etcd/initial-cluster.js';
import { parseMemberAddSimple } from '../../src/etcd/parse-members.js';

/** The shape kubespray writes to /etc/etcd.env (roles/etcd/templates/etcd.env.j2), with a few hand edits on top. */
const KUBESPRAY = [
  '# Environment file for etcd v3.5.30',
  'ETCD_DATA_DIR=/var/lib/etcd',
  'ETCD_ADVERTISE_CLIENT_URLS=https://10.0.0.1:2379',
  'ETCD_INITIAL_ADVERTISE_PEER_URLS=https://10.0.0.1:2380',
  'ETCD_INITIAL_CLUSTER_STATE=existing',
  'ETCD_METRICS=basic',
  'ETCD_LISTEN_CLIENT_URLS=https://10.0.0.1:2379,https://127.0.0.1:2379',
  'ETCD_ELECTION_TIMEOUT=5000',
  'ETCD_HEARTBEAT_INTERVAL=250',
  'ETCD_INITIAL_CLUSTER_TOKEN=k8s_etcd',
  'ETCD_LISTEN_PEER_URLS=https://10.0.0.1:2380',
  'ETCD_NAME=etcd1',
  'ETCD_PROXY=off',
  'ETCD_INITIAL_CLUSTER=etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380,etcd3=https://10.0.0.3:2380',
  'ETCD_AUTO_COMPACTION_RETENTION=8',
  'ETCD_SNAPSHOT_COUNT=10000',
  '',
  '# TLS settings',
  'ETCD_TRUSTED_CA_FILE=/etc/ssl/etcd/ssl/ca.pem',
  'ETCD_CERT_FILE=/etc/ssl/etcd/ssl/member-k2-master01.pem',
  'ETCD_KEY_FILE=/etc/ssl/etcd/ssl/member-k2-master01-key.pem',
  'ETCD_CLIENT_CERT_AUTH=true',
  '; an operator note, systemd style',
  '   ETCD_QUOTA_BACKEND_BYTES = "8589934592"   ',
  "ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK='true'",
  'export NOT_A_VAR=1',
  'JUNK LINE WITHOUT EQUALS',
  '',
].join('\n');

describe('parseEnvFile / render round-trip', () => {
  const cases: [string, string][] = [
    ['kubespray file', KUBESPRAY],
    ['kubespray file with CRLF', KUBESPRAY.replaceAll('\n', '\r\n')],
    ['kubespray file without the final newline', KUBESPRAY.slice(0, -1)],
    ['empty', ''],
    ['only newlines', '\n\n\n'],
    ['comments only', '# a\n; b\n#\n'],
    ['old Mac CR endings', 'A=1\rB=2\r'],
    ['mixed endings', 'A=1\r\nB=2\nC=3\r'],
    ['multi-line quoted values', "A='one\ntwo'\nB=\"x\\\ny\"\nC=3"],
    ['backslash continuation', 'A=x\\\ny\nB=2\n'],
    ['unterminated quote', 'A="never closed\nB=2\n'],
    ['trailing backslash at EOF', 'A=1\\'],
    ['tabs and spaces', '\tA\t=\t1\t\n  B=  2  \n'],
    ['comment continuation', '# comment \\\nstill comment\nA=1\n'],
    ['utf-8', 'A=é\n# ünïcödé\n'],
  ];
  it.each(cases)('%s survives byte for byte', (_name, text) => {
    expect(render(parseEnvFile(text))).toBe(text);
  });

  it('any text survives byte for byte (property)', () => {
    const chars = fc.constantFrom('A', 'B', '_', '1', '=', ' ', '\t', '\n', '\r', '"', "'", '\\', '#', ';', '$', 'é', 'x');
    fc.assert(
      fc.property(fc.array(chars, { maxLength: 80 }).map((a) => a.join('')), (text) => render(parseEnvFile(text)) === text),
      { numRuns: 2000 },
    );
  });
});

describe('parseEnvFile: values as systemd reads them', () => {
  it('reads the kubespray file', () => {
    const env = parseEnvFile(KUBESPRAY);
    const v = vars(env);
    expect(v['ETCD_NAME']).toBe('etcd1');
    expect(v['ETCD_INITIAL_CLUSTER']).toBe('etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380,etcd3=https://10.0.0.3:2380');
    expect(v['ETCD_QUOTA_BACKEND_BYTES']).toBe('8589934592');
    expect(v['ETCD_EXPERIMENTAL_INITIAL_CORRUPT_CHECK']).toBe('true');
    expect(v['NOT_A_VAR']).toBeUndefined();
    expect(Object.keys(v)).not.toContain('export NOT_A_VAR');
    expect(env.warnings).toEqual([
      'line 26: "export NOT_A_VAR" is not a valid variable name; systemd ignores this line',
      'line 27: no "=" in "JUNK LINE WITHOUT EQUALS"; systemd ignores this line',
    ]);
    const kinds = env.lines.map((l) => l.kind);
    expect(kinds.filter((k) => k === 'comment')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'blank')).toHaveLength(1);
    expect(kinds.filter((k) => k === 'invalid')).toHaveLength(2);
  });

  const values: [string, string, Record<string, string>][] = [
    ['plain', 'A=1\n', { A: '1' }],
    ['whitespace around key and value', '  A  =  spaced value  \n', { A: 'spaced value' }],
    ['empty value', 'A=\n', { A: '' }],
    ['double quotes with escapes', 'K="a\\"b\\$c\\n"\n', { K: 'a"b$c\\n' }],
    ['single quotes keep backslashes', "K='a\\b'\n", { K: 'a\\b' }],
    ['quoted value spans lines', "K='multi\nline'\nX=1\n", { K: 'multi\nline', X: '1' }],
    ['backslash continues a line', 'A=x\\\ny\n', { A: 'xy' }],
    ['# inside a value is not a comment', 'A=1 # two\n', { A: '1 # two' }],
    ['last assignment wins', 'A=1\nA=2\n', { A: '2' }],
    ['CRLF is not part of the value', 'A=1\r\nB="2"\r\n', { A: '1', B: '2' }],
  ];
  it.each(values)('%s', (_name, text, want) => {
    expect(vars(parseEnvFile(text))).toEqual(want);
  });

  it('get returns the value of the last assignment', () => {
    const env = parseEnvFile('A=1\nB=2\nA=3\n');
    expect(get(env, 'A')).toBe('3');
    expect(get(env, 'Z')).toBeUndefined();
  });

  it('warns about duplicates and unterminated quotes, and marks an open last line', () => {
    expect(parseEnvFile('A=1\nA=2\nA=3\n').warnings).toEqual(['A is set on lines 1, 2, 3; systemd uses the last one (line 3)']);
    const open = parseEnvFile('A="never closed\nB=2');
    expect(open.warnings[0]).toMatch(/quoted value of A is never closed/);
    expect(open.lines).toHaveLength(1);
    expect(open.lines[0]!.open).toBe(true);
    expect(parseEnvFile('A=1').lines[0]!.open).toBeUndefined();
  });

  it('numbers lines by the physical line they start on', () => {
    const env = parseEnvFile("A='x\ny'\r\nB=1\rC=2\n\nD=3");
    expect(env.lines.map((l) => [l.key ?? l.kind, l.lineNo, l.eol])).toEqual([
      ['A', 1, '\r\n'],
      ['B', 3, '\r'],
      ['C', 4, '\n'],
      ['blank', 5, '\n'],
      ['D', 6, ''],
    ]);
  });
});

describe('setVars', () => {
  const cluster2 = 'etcd1=https://10.0.0.1:2380,etcd2=https://10.0.0.2:2380';

  it('changes exactly the lines it sets and keeps every other line byte for byte', () => {
    for (const text of [KUBESPRAY, KUBESPRAY.replaceAll('\n', '\r\n'), KUBESPRAY.slice(0, -1)]) {
      const before = parseEnvFile(text);
      const after = setVars(before, { ETCD_INITIAL_CLUSTER: cluster2, ETCD_INITIAL_CLUSTER_STATE: 'new' });
      expect(after.lines).toHaveLength(before.lines.length);
      after.lines.forEach((l, i) => {
        const b = before.lines[i] as EnvLine;
        if (l.key === 'ETCD_INITIAL_CLUSTER' || l.key === 'ETCD_INITIAL_CLUSTER_STATE') {
          expect(l.text).toBe(`${l.key}=${l.value}`);
          expect(l.eol).toBe(b.eol);
        } else {
          expect(l).toEqual(b);
        }
      });
      expect(vars(parseEnvFile(render(after)))).toEqual({ ...vars(before), ETCD_INITIAL_CLUSTER: cluster2, ETCD_INITIAL_CLUSTER_STATE: 'new' });
      // the input model is not changed
      expect(render(before)).toBe(text);
    }
  });

  const edits: [string, string, Record<string, string | undefined>, string][] = [
    ['keeps the indent, spaces and double quotes', '  A = "1"  \n', { A: '2' }, '  A = "2"\n'],
    ['keeps single quotes', "A='x'\nB=1\n", { A: 'y' }, "A='y'\nB=1\n"],
    ['keeps CRLF on the changed line', 'A=1\r\nB=2\r\n', { B: '3' }, 'A=1\r\nB=3\r\n'],
    ['appends a new key with the dominant line ending', "A='x' \r\nB=1\r\n", { Z: '1' }, "A='x' \r\nB=1\r\nZ=1\r\n"],
    ['adds the missing final newline before appending', 'A=1', { Z: '1' }, 'A=1\nZ=1\n'],
    ['keeps a missing final newline when nothing is appended', 'A=1\nB=2', { B: '3' }, 'A=1\nB=3'],
    ['sets an empty value', 'A=\n', { A: '2' }, 'A=2\n'],
    ['sets the empty value at EOF', 'A=', { A: '2' }, 'A=2'],
    ['updates only the last of duplicated assignments', 'A=1\nB=2\nA=3\n', { A: '9' }, 'A=1\nB=2\nA=9\n'],
    ['removes every assignment of a removed key', 'A=1\nB=2\nA=3\n', { A: undefined }, 'B=2\n'],
    ['removing an absent key changes nothing', 'A=1\n', { Z: undefined }, 'A=1\n'],
    ['setting the same value changes nothing, even when quoted', 'A="1"   \n', { A: '1' }, 'A="1"   \n'],
    ['replaces a multi-line quoted value', "K='multi\nline'\nX=1\n", { K: 'z' }, "K='z'\nX=1\n"],
    ['comments and blanks stay where they are', '# head\n\nA=1\n; tail\n', { A: '2', NEW: 'x' }, '# head\n\nA=2\n; tail\nNEW=x\n'],
  ];
  it.each(edits)('%s', (_name, text, changes, want) => {
    expect(render(setVars(parseEnvFile(text), changes))).toBe(want);
  });

  it('a quoted value can be changed twice (the closing quote is not part of the prefix)', () => {
    // regression: a closed quote left the parser in the state of an empty value, which moved the
    // value's start to the end of the line, so a set produced `B="2""x"`
    const once = render(setVars(parseEnvFile('B="2"\nC=\'3\'\n'), { B: 'x', C: 'y' }));
    expect(once).toBe('B="x"\nC=\'y\'\n');
    expect(render(setVars(parseEnvFile(once), { B: 'z' }))).toBe('B="z"\nC=\'y\'\n');
    expect(parseEnvFile('B="2"').lines[0]!.prefix).toBe('B=');
  });

  it('warns when it edits a duplicated key', () => {
    const r = setVars(parseEnvFile('A=1\nA=3\n'), { A: '9' });
    expect(r.warnings).toContain('A is set on lines 1, 2; systemd uses the last one, so line 2 was updated and line 1 left as it was');
    expect(setVars(parseEnvFile('A=1\nA=3\n'), { A: undefined }).warnings).toContain('A was set on lines 1, 2; all of them were removed');
  });

  it.each([
    ['a quote still open', 'A="open', 'A="2"'],
    ['a trailing backslash', 'A=1\\', 'A=2'],
  ])('refuses to append after %s (the new line would join it)', (_name, text, rewritten) => {
    expect(() => setVars(parseEnvFile(text), { Z: '1' })).toThrow(/ends inside a quote or after a backslash/);
    // rewriting that last line itself is fine: the new text is closed
    expect(render(setVars(parseEnvFile(text), { A: '2' }))).toBe(rewritten);
  });

  it.each([
    ['a space', 'A', 'has space'],
    ['a dollar', 'A', 'a$b'],
    ['a quote', 'A', 'x"y'],
    ['a line break', 'A', 'a\nb'],
    ['a comment char', 'A', '#x'],
    ['a bad name', '1A', 'x'],
    ['a name with a dash', 'A-B', 'x'],
  ])('refuses a value or name with %s, changing nothing', (_name, key, value) => {
    const env = parseEnvFile('A=1\n');
    expect(() => setVars(env, { OK: 'fine', [key]: value })).toThrow(EtcdArgumentError);
    expect(() => assertWritable(key, value)).toThrow(/refusing to write/);
    expect(render(env)).toBe('A=1\n');
  });

  it('writes every character of a kubespray value unquoted', () => {
    expect(() => assertWritable('ETCD_INITIAL_CLUSTER', 'etcd1=https://[fd00::1]:2380,etcd-2.x=http://h:2380')).not.toThrow();
    expect(() => assertWritable('X', '')).not.toThrow();
  });
});

describe('diffEnv', () => {
  const cases: [string, string, string, Parameters<typeof diffEnv>[2], string][] = [
    ['identical', 'A=1\n', 'A=1\n', {}, ''],
    ['one changed line', 'A=1\nB=2\nC=3\n', 'A=1\nB=X\nC=3\n', {}, '@@ -2 +2 @@\n-B=2\n+B=X\n'],
    ['with a header', 'A=1\n', 'A=2\n', { path: '/etc/etcd.env' }, '--- /etc/etcd.env\n+++ /etc/etcd.env\n@@ -1 +1 @@\n-A=1\n+A=2\n'],
    ['an appended line', 'A=1\nB=2\n', 'A=1\nB=2\nC=3\n', {}, '@@ -2,0 +3 @@\n+C=3\n'],
    ['a removed line', 'A=1\nB=2\n', 'B=2\n', {}, '@@ -1 +0,0 @@\n-A=1\n'],
    ['from empty', '', 'A=1\n', {}, '@@ -0,0 +1 @@\n+A=1\n'],
    ['CRLF lines show without the CR', 'A=1\r\nB=2\r\n', 'A=1\r\nB=3\r\n', {}, '@@ -2 +2 @@\n-B=2\n+B=3\n'],
    ['a changed line ending is a change', 'A=1\nB=2\n', 'A=1\r\nB=2\n', {}, '@@ -1 +1 @@\n-A=1\n+A=1\n'],
    ['missing final newline', 'A=1\nB=2', 'A=1\nB=3', {}, '@@ -2 +2 @@\n-B=2\n\\ No newline at end of file\n+B=3\n\\ No newline at end of file\n'],
    ['two hunks', 'A=1\nB=2\nC=3\nD=4\nE=5\nF=6\n', 'A=1\nB=X\nC=3\nD=4\nE=5\nF=Y\n', {}, '@@ -2 +2 @@\n-B=2\n+B=X\n@@ -6 +6 @@\n-F=6\n+F=Y\n'],
    ['context merges nearby hunks', 'A=1\nB=2\nC=3\nD=4\nE=5\n', 'A=1\nB=X\nC=3\nD=4\nE=Y\n', { context: 1 }, '@@ -1,5 +1,5 @@\n A=1\n-B=2\n+B=X\n C=3\n D=4\n-E=5\n+E=Y\n'],
  ];
  it.each(cases)('%s', (_name, a, b, opts, want) => {
    expect(diffEnv(a, b, opts)).toBe(want);
  });

  it('takes EnvFile models as well as text', () => {
    const before = parseEnvFile(KUBESPRAY);
    const after = setVars(before, { ETCD_INITIAL_CLUSTER_STATE: 'new' });
    expect(diffEnv(before, after)).toBe('@@ -5 +5 @@\n-ETCD_INITIAL_CLUSTER_STATE=existing\n+ETCD_INITIAL_CLUSTER_STATE=new\n');
    expect(diffEnv(before, render(after))).toBe(diffEnv(before, after));
  });
});

describe('ETCD_INITIAL_CLUSTER', () => {
  it.each([
    [[{ name: 'etcd1', peerUrl: 'https://10.0.0.1:2380' }], 'etcd1=https://10.0.0.1:2380'],
    [
      [
        { name: 'etcd1', peerUrl: 'https://10.0.0.1:2380' },
        { name: 'etcd2', peerUrl: 'https://[fd00::2]:2380' },
      ],
      'etcd1=https://10.0.0.1:2380,etcd2=https://[fd00::2]:2380',
    ],
    [[{ name: 'a', peerUrl: 'https://x:2380', peerUrls: ['https://x:2380', 'http://y:2380'] }], 'a=https://x:2380,a=http://y:2380'],
  ])('initialClusterString %#', (members, want) => {
    expect(initialClusterString(members)).toBe(want);
    expect(parseInitialCluster(want).map((m) => m.name)).toEqual(members.map((m) => m.name));
  });

  it.each([
    [[], /at least one member/],
    [[{ name: 'bad name', peerUrl: 'https://x:2380' }], /cannot be written/],
    [[{ name: 'a', peerUrl: 'https://x:2380' }, { name: 'a', peerUrl: 'https://y:2380' }], /listed twice/],
    [[{ name: 'a', peerUrl: 'https://x:2380/path' }], /is not a URL/],
    [[{ name: 'a', peerUrl: 'x:2380' }], /is not a URL/],
  ])('initialClusterString refuses %j', (members, msg) => {
    expect(() => initialClusterString(members)).toThrow(msg);
  });

  it('parseInitialCluster keeps order, groups a member named twice, tolerates a stray comma', () => {
    expect(parseInitialCluster('b=https://2:2380, a=https://1:2380,,b=https://3:2380')).toEqual([
      { name: 'b', peerUrl: 'https://2:2380', peerUrls: ['https://2:2380', 'https://3:2380'] },
      { name: 'a', peerUrl: 'https://1:2380', peerUrls: ['https://1:2380'] },
    ]);
    expect(() => parseInitialCluster('')).toThrow(/is empty/);
    expect(() => parseInitialCluster('a=https://1:2380,broken')).toThrow(/entry 2 \("broken"\) is not name=peer-url/);
    expect(() => parseInitialCluster('=https://1:2380')).toThrow(/entry 1/);
  });

  it.each(['3.4', '3.5'])('reads the ETCD_INITIAL_CLUSTER etcdctl %s printed for a new member', (v) => {
    const text = readFileSync(new URL(`../fixtures/etcd/${v}/member-add-learner-simple.txt`, import.meta.url), 'utf8');
    const env = parseMemberAddSimple(text).env;
    const members = parseInitialCluster(env['ETCD_INITIAL_CLUSTER'] as string);
    expect(members.map((m) => m.name).sort()).toEqual(['etcd1', 'etcd2', 'etcd3', 'etcd4']);
    expect(initialClusterString(members)).toBe(env['ETCD_INITIAL_CLUSTER']);
    // etcdctl quotes its lines; the env-file parser reads them as systemd would
    expect(vars(parseEnvFile(text.split('\n').filter((l) => l.startsWith('ETCD_')).join('\n')))).toEqual(env);
  });
});
