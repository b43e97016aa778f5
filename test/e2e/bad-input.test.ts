/**
 * Hostile and broken input against a real lab: every bad inventory, plan file and flag is refused with
 * exit code 2 and one message naming the file, field and fix, and no remote command runs. Proof that
 * nothing ran: etcd-dr's own debug log has no 'remote command' / 'connected' line, and the nodes' sshd
 * logs (LogLevel VERBOSE, one "Connection from" line per TCP connection) gained no line. A control at the
 * end shows both detectors do see a real `status`.
 *
 * The corpus is written out as docs/bad-input.md by this test (afterAll), never by hand.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabState } from '../../src/lab/index.js';
import { nodePaths } from '../../src/lab/paths.js';
import { planDigest } from '../../src/plan/seal.js';
import type { Plan } from '../../src/plan/types.js';
import { runCli, startLab, stopLab, tempDir, type CliRun } from '../support/cli.js';
import { dots, e2eNet } from '../support/net.js';

const T = 300_000;
const FIX = join(import.meta.dirname, '../fixtures/bad-input');
const OLD_INVENTORIES = join(import.meta.dirname, '../fixtures/inventory/bad');
const DOC = join(import.meta.dirname, '../../docs/bad-input.md');

type Kind = 'inventory' | 'plan' | 'flag';

interface Case {
  id: string;
  kind: Kind;
  /** what is wrong, for the table */
  input: string;
  /** argv after `etcd-dr`; built once the lab and the base plan exist */
  argv: () => string[];
  expectCode: number;
  /** the one message must match this (it names the file / field and the fix) */
  message: RegExp;
  /** a gap that is known and reported: the test records what happens and expects the check to fail */
  gap?: string;
}

interface Seen {
  c: Case;
  code: number;
  message: string;
  remoteLines: number;
  sshdConnections: number;
  runFiles: string[];
  ok: boolean;
}

let lab: LabState;
let work: string;
let basePlan: Record<string, unknown>;
const seen: Seen[] = [];
const labDir = () => lab.dir;

/** "Connection from" lines in every node's sshd log (sshd runs with LogLevel VERBOSE, -E <file>). */
function sshdConnections(): number {
  let n = 0;
  for (const node of lab.nodes) {
    const log = nodePaths(lab.dir, node.host).sshdLog;
    if (existsSync(log)) n += (readFileSync(log, 'utf8').match(/Connection from /g) ?? []).length;
  }
  return n;
}

/** Files a run leaves on the bastion (plan.json, journal.jsonl, log.jsonl) under a state dir. */
function runFiles(state: string): string[] {
  const runs = join(state, 'runs');
  if (!existsSync(runs)) return [];
  return readdirSync(runs).flatMap((r) => readdirSync(join(runs, r)).map((f) => `runs/${r}/${f}`));
}

const plain = (s: string) => s.replaceAll(work, '<tmp>').replaceAll(labDir(), '<lab>').replaceAll(process.cwd(), '.');

/** What the user reads: from the first `etcd-dr:` line on (main prints the error last; log lines come before it). */
function messageOf(r: CliRun): string {
  const lines = r.stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('etcd-dr: '));
  return at < 0 ? r.stderr.trim() : lines.slice(at).join('\n').trim();
}

// ---------------------------------------------------------------------------------------------------------
// the corpus

/** test/fixtures/bad-input/inventory/*.yaml: the lab's inventory with one defect each (so a missed check would reach the lab) */
function inventoryFixtureCases(): Case[] {
  const dir = join(FIX, 'inventory');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f): Case => {
      const text = readFileSync(join(dir, f), 'utf8');
      const command = /^# command: (.*)$/m.exec(text)?.[1];
      const expect = /^# expect: (.*)$/m.exec(text)?.[1];
      if (!command || !expect) throw new Error(`${f}: needs "# command:" and "# expect:" lines`);
      const what = f.replace(/^\d+-/, '').replace(/\.yaml$/, '').replaceAll('-', ' ');
      return {
        id: `inventory/${f}`,
        kind: 'inventory',
        input: `inventory: ${what}`,
        argv: () => {
          const path = join(work, 'inventory', f);
          if (!existsSync(path)) {
            mkdirSync(join(work, 'inventory'), { recursive: true });
            writeFileSync(path, text.replaceAll('@BASE@', lab.addressBase).replaceAll('@DIR@', lab.dir));
          }
          return [...command.split(' '), '-i', path];
        },
        expectCode: 2,
        // located (file:line:column) and about the defect
        message: new RegExp(`^(?=[\\s\\S]*${f.replaceAll('.', '\\.')}:\\d+:\\d+: )[\\s\\S]*${expect.replaceAll('@BASE@', dots(e2eNet(17)))}`),
      };
    });
}

/** a sample of the unit corpus of bad inventories, run through the CLI */
function oldInventoryCases(): Case[] {
  const pick = ['02-duplicate-key', '03-top-level-list', '31-newline-in-value', '32-shell-metachar-path', '44-multiple-documents', '49-nul-and-redirect', '50-everything-at-once'];
  return pick.map((name) => ({
    id: `inventory/bad/${name}.yaml`,
    kind: 'inventory' as const,
    input: `inventory (unit corpus): ${name.replace(/^\d+-/, '').replaceAll('-', ' ')}`,
    argv: () => ['status', '-i', join(OLD_INVENTORIES, `${name}.yaml`)],
    expectCode: 2,
    message: new RegExp(`${name}\\.yaml:\\d+:\\d+: `),
  }));
}

function otherInventoryCases(): Case[] {
  return [
    {
      id: 'inventory/missing-file',
      kind: 'inventory',
      input: '-i names a file that does not exist',
      argv: () => ['status', '-i', join(work, 'nope.yaml')],
      expectCode: 2,
      message: /no inventory file at .*nope\.yaml \(given with -i\).*pass one with `-i FILE`/s,
    },
    {
      id: 'inventory/directory',
      kind: 'inventory',
      input: '-i names a directory',
      argv: () => ['plan', 'recover', '-i', work],
      expectCode: 2,
      message: /is a directory, not an inventory file/,
    },
    {
      id: 'inventory/env-missing',
      kind: 'inventory',
      input: '$ETCD_DR_INVENTORY names a missing file (no -i)',
      argv: () => ['status'],
      expectCode: 2,
      message: /no inventory file at .*from-env\.yaml \(from ETCD_DR_INVENTORY\)/,
    },
  ];
}

/**
 * The saved plan, changed. `reseal`: the digest is recomputed after the change, as a careful forger or
 * another tool would, so the checks behind the digest (steps, actions, nodes) are reached too.
 */
function planFile(name: string, mutate: (p: Record<string, any>) => unknown, o: { reseal?: boolean } = {}): () => string {
  return () => {
    const path = join(work, 'plans', name);
    if (!existsSync(path)) {
      mkdirSync(join(work, 'plans'), { recursive: true });
      const p = structuredClone(basePlan) as Record<string, any>;
      const out = mutate(p) ?? p;
      if (o.reseal && typeof out !== 'string') (out as Record<string, unknown>)['digest'] = planDigest(out as unknown as Plan);
      writeFileSync(path, typeof out === 'string' ? out : `${JSON.stringify(out, null, 2)}\n`);
    }
    return path;
  };
}

/** The lab's inventory with the data dir changed: the same cluster and member names, another inventory. */
function otherInventory(): string {
  const path = join(work, 'other-inventory.yaml');
  if (!existsSync(path)) writeFileSync(path, readFileSync(lab.inventoryPath, 'utf8').replace(/^ {2}dataDir: .*$/m, '  dataDir: /var/lib/etcd-k2'));
  return path;
}

function planCases(): Case[] {
  const apply = (file: () => string) => () => ['apply', file(), '-i', lab.inventoryPath];
  const c = (id: string, input: string, file: () => string, message: RegExp, extra: Partial<Case> = {}): Case => ({
    id: `plan/${id}`,
    kind: 'plan',
    input,
    argv: apply(file),
    expectCode: 2,
    message,
    ...extra,
  });
  const fixture = (f: string) => () => join(FIX, 'plans', f);
  return [
    c('empty', 'plan file: empty', fixture('empty.json'), /empty\.json: \(file\): not JSON .*truncated/),
    c('not-json', 'plan file: YAML/text, not JSON', fixture('not-json.txt'), /not-json\.txt: \(file\): not JSON/),
    c('array', 'plan file: a JSON array', fixture('array.json'), /array\.json: \(file\): not a JSON object/),
    c('binary', 'plan file: binary garbage', fixture('garbage.bin'), /garbage\.bin: \(file\): not JSON/),
    c('other-tool', 'plan file: JSON of another tool', fixture('other-tool.json'), /other-tool\.json: format: is undefined, not "etcd-dr\/plan"/),
    c('truncated', 'plan file: truncated (first half of a saved plan)', planFile('truncated.json', () => JSON.stringify(basePlan, null, 2).slice(0, Math.floor(JSON.stringify(basePlan, null, 2).length / 2))), /truncated\.json: \(file\): not JSON .*may be truncated/),
    c('truncated-tail', 'plan file: last closing brace cut', planFile('cut.json', () => JSON.stringify(basePlan, null, 2).slice(0, -2)), /cut\.json: \(file\): not JSON/),
    c('newer-version', 'plan file: newer format version (2)', planFile('v2.json', (p) => void (p['version'] = 2)), /v2\.json: version: is 2, newer than this etcd-dr understands \(1\)/),
    c('older-version', 'plan file: older format version (0)', planFile('v0.json', (p) => void (p['version'] = 0)), /v0\.json: version: is 0, this etcd-dr reads version 1/),
    c('version-string', 'plan file: version "1" as a string', planFile('vstr.json', (p) => void (p['version'] = '1')), /vstr\.json: version: is missing/),
    c('format', 'plan file: format field changed', planFile('format.json', (p) => void (p['format'] = 'etcd-dr/report')), /format\.json: format: is "etcd-dr\/report"/),
    c('runid-word', 'plan file: runId "latest"', planFile('runid.json', (p) => void (p['runId'] = 'latest')), /runid\.json: runId: "latest" is not a run id/),
    c('runid-traversal', 'plan file: runId with ../ (path traversal into the state dir)', planFile('traversal.json', (p) => void (p['runId'] = '../../../etc/cron.d/x')), /traversal\.json: runId: .* is not a run id/),
    c('runid-missing', 'plan file: runId removed', planFile('norunid.json', (p) => void delete p['runId']), /norunid\.json: runId: undefined is not a run id/),
    c('other-cluster', 'plan file: made for another cluster (prod)', planFile('prod.json', (p) => void (p['inventory'].cluster = 'prod')), /prod\.json: inventory\.cluster: the plan is for cluster "prod", the inventory .* is cluster "k2"/),
    // hand edits: the digest no longer matches
    c('edited-step', 'plan file: a step\'s script edited by hand', planFile('edited.json', (p) => void ((p['steps'] as any[])[1].commands[0] += '; rm -rf /var/lib/etcd')), /edited\.json: digest: the plan's content does not match its digest: it was edited/),
    c('edited-env-content', 'plan file: write-env content edited by hand', planFile('envedit.json', (p) => void ((p['steps'] as any[]).find((s) => s.action.type === 'write-env').action.content += 'ETCD_EXTRA=1\n')), /envedit\.json: digest: .*edited/),
    c('edited-addresses', 'plan file: addresses rewritten by hand', planFile('elsewhere.json', () => JSON.parse(JSON.stringify(basePlan).replaceAll(lab.addressBase, '192.168.30.15'))), /elsewhere\.json: digest: /),
    c('digest-removed', 'plan file: digest removed', planFile('nodigest.json', (p) => void delete p['digest']), /nodigest\.json: digest: /),
    c('other-inventory', 'plan applied with another inventory (same cluster and member names, other data dir)', () => join(work, 'base-plan.json'), /base-plan\.json: inventory\.fingerprint: the plan was made from another inventory/, {
      argv: () => ['apply', join(work, 'base-plan.json'), '-i', otherInventory()],
    }),
    // edits with the digest recomputed: the checks behind the digest
    c('node-not-in-inventory', 'plan file: a step on node etcd9 (digest recomputed)', planFile('etcd9.json', (p) => void ((p['steps'] as any[]).find((s) => s.node).node = 'etcd9'), { reseal: true }), /etcd9\.json: steps\[\d+\]\.node: "etcd9" is not a node of/),
    c('nodes-not-in-inventory', 'plan file: fan-out step naming k2-master01, a host, not a member (digest recomputed)', planFile('fanout.json', (p) => void ((p['steps'] as any[]).find((s) => Array.isArray(s.nodes)).nodes.push('k2-master01')), { reseal: true }), /fanout\.json: steps\[\d+\]\.node: "k2-master01" is not a node of/),
    c('unknown-action', 'plan file: unknown action type rm-rf (digest recomputed)', planFile('action.json', (p) => void ((p['steps'] as any[])[1].action.type = 'rm-rf'), { reseal: true }), /action\.json: steps\[1\]\.action\.type: "rm-rf" is not an action this etcd-dr runs/),
    c('edited-step-id', 'plan file: step id edited (digest recomputed)', planFile('stepid.json', (p) => void ((p['steps'] as any[])[2].id = 'run this first'), { reseal: true }), /stepid\.json: steps\[2\]\.id: "run this first" is not a step id/),
    c('duplicated-step', 'plan file: a step copied twice (digest recomputed)', planFile('dup.json', (p) => void (p['steps'] as any[]).splice(3, 0, structuredClone((p['steps'] as any[])[3])), { reseal: true }), /dup\.json: steps\[4\]\.id: .* appears twice/),
    c('no-steps', 'plan file: steps emptied (digest recomputed)', planFile('nosteps.json', (p) => void (p['steps'] = []), { reseal: true }), /nosteps\.json: steps: is missing or empty/),
    // what the inventory does not give, digest recomputed: every action is checked against the inventory
    c('restore-elsewhere', "plan file: the restore's data dir and db moved to /tmp (digest recomputed)", planFile('restore-tmp.json', (p) => void Object.assign((p['steps'] as any[]).find((s) => s.action.type === 'restore-db').action, { dataDir: '/tmp/etcd', db: '/tmp/x.db' }), { reseal: true }), /restore-tmp\.json: the plan names what the inventory .* does not give:\n.*\.action\.db: "\/tmp\/x\.db" is not a db set aside beside .*\n.*\.action\.dataDir: "\/tmp\/etcd" is not etcd\d's data dir/),
    c('env-path-elsewhere', 'plan file: an env file rewrite aimed at /etc/profile (digest recomputed)', planFile('env-profile.json', (p) => void ((p['steps'] as any[]).find((s) => s.action.type === 'write-env').action.path = '/etc/profile'), { reseal: true }), /env-profile\.json: the plan names what the inventory .* does not give:\n.*\.action\.path: "\/etc\/profile" is not etcd\d's env file/),
    c('foreign-peer-url', 'plan file: a member added with a peer URL of another host (digest recomputed)', planFile('peer.json', (p) => void ((p['steps'] as any[]).find((s) => s.action.type === 'member-add').action.peerUrl = 'https://203.0.113.9:2380'), { reseal: true }), /peer\.json: the plan names what the inventory .* does not give:\n.*\.action\.peerUrl: "https:\/\/203\.0\.113\.9:2380" is not etcd\d's peer URL/),
    c('lockfile-relative', 'plan file: lockFile made relative', planFile('lock.json', (p) => void (p['lockFile'] = 'lock')), /lock\.json: lockFile: is missing or not an absolute path/),
    c('digest-missing', 'plan file: factsDigest removed', planFile('digest.json', (p) => void delete p['factsDigest']), /digest\.json: factsDigest: is missing/),
    c('missing-file', 'apply: plan file does not exist', () => join(work, 'no-such-plan.json'), /no-such-plan\.json: \(file\): does not exist/),
    c('directory', 'apply: plan path is a directory', () => work, /\(file\): cannot be read \(EISDIR\)/),
  ];
}

function flagCases(): Case[] {
  const inv = () => lab.inventoryPath;
  const c = (id: string, input: string, argv: () => string[], message: RegExp, extra: Partial<Case> = {}): Case => ({ id: `flag/${id}`, kind: 'flag', input, argv, expectCode: 2, message, ...extra });
  return [
    c('unknown-flag', 'status --bogus', () => ['status', '-i', inv(), '--bogus'], /Unknown argument: bogus.*etcd-dr --help/s),
    c('misspelt-flag', 'plan recover --exlude etcd3', () => ['plan', 'recover', '-i', inv(), '--exlude', 'etcd3'], /Unknown argument: exlude/),
    c('unknown-command', 'statsu (typo of status)', () => ['statsu', '-i', inv()], /Unknown argument: statsu|Did you mean status/),
    c('no-command', 'no command at all', () => ['-i', inv()], /Name a command/),
    c('plan-unknown-operation', 'plan frobnicate', () => ['plan', 'frobnicate', '-i', inv()], /Name what to plan: recover/),
    c('bad-format', 'plan recover --format yaml', () => ['plan', 'recover', '-i', inv(), '--format', 'yaml'], /Invalid values:.*format.*yaml.*Choices: "text", "markdown", "json"/s),
    c('bad-log-level', '--log-level loud', () => ['status', '-i', inv(), '--log-level', 'loud'], /Invalid values:.*log-level.*loud/s),
    c('apply-no-plan', 'apply without a plan file', () => ['apply', '-i', inv()], /Not enough non-option arguments/),
    c('extra-positional', 'status etcd1 (status takes no node)', () => ['status', 'etcd1', '-i', inv()], /Unknown argument: etcd1/),
    c('resume-unknown-run', 'resume 20991231T000000Z-abcd (no such run)', () => ['resume', '20991231T000000Z-abcd', '-i', inv(), '--state-dir', join(work, 'state-empty')], /no run 20991231T000000Z-abcd in .*runs.*--state-dir/s),
    c('resume-malformed-run', 'resume ../../etc (not a run id)', () => ['resume', '../../etc', '-i', inv(), '--state-dir', join(work, 'state-empty')], /"\.\.\/\.\.\/etc" is not a run id like 20261124T193012Z-3f9c/),
    c('resume-nothing', 'resume with no unfinished run in the state dir', () => ['resume', '-i', inv(), '--state-dir', join(work, 'state-empty')], /no unfinished run in .*name a run id/s),
    c('resume-unknown-flag', 'resume --from-step 3', () => ['resume', '--from-step', '3', '-i', inv()], /Unknown argument/),
    c('plan-no-operation', 'plan (no operation)', () => ['plan', '-i', inv()], /recover/),
    c('exclude-unknown', '--exclude etcd9 (not in the inventory)', () => ['plan', 'recover', '-i', inv(), '--exclude', 'etcd9', '--force'], /etcd9/),
    c('survivor-unknown', '--survivor etcd9 (not in the inventory)', () => ['recover', '--yes', '-i', inv(), '--survivor', 'etcd9', '--force'], /etcd9/),
    c('survivor-excluded', '--survivor etcd1 --exclude etcd1', () => ['plan', 'recover', '-i', inv(), '--survivor', 'etcd1', '--exclude', 'etcd1', '--force'], /--survivor etcd1.*--exclude|--exclude.*--survivor/s),
  ];
}

// ---------------------------------------------------------------------------------------------------------

const corpus: Case[] = [...inventoryFixtureCases(), ...oldInventoryCases(), ...otherInventoryCases(), ...planCases(), ...flagCases()];
const good = corpus.filter((c) => !c.gap);
const gaps = corpus.filter((c) => c.gap);

async function runCase(c: Case): Promise<Seen> {
  const state = join(work, 'state', c.id.replace(/[^a-z0-9]+/gi, '_'));
  const argv = [...c.argv(), '--log-level', 'debug'];
  const before = sshdConnections();
  // each case journals (if it did) into its own state dir, given by env so commands without --state-dir take it too
  const r = await runCli(argv, { ETCD_DR_INVENTORY: join(work, 'from-env.yaml'), ETCD_DR_STATE_DIR: state });
  const s: Seen = {
    c,
    code: r.code,
    message: messageOf(r),
    remoteLines: r.stderr.split('\n').filter((l) => /remote command|connected/.test(l)).length,
    sshdConnections: sshdConnections() - before,
    runFiles: runFiles(state).filter((f) => !f.endsWith('/log.jsonl') || statSync(join(state, f)).size > 0),
    ok: false,
  };
  s.ok =
    s.code === c.expectCode &&
    s.remoteLines === 0 &&
    s.sshdConnections === 0 &&
    s.runFiles.length === 0 &&
    c.message.test(s.message) &&
    (s.message.match(/^etcd-dr: /gm) ?? []).length === 1 &&
    !/internal error/.test(s.message);
  seen.push(s);
  return s;
}

function expectRefusedCleanly(s: Seen): void {
  expect({ id: s.c.id, code: s.code }).toEqual({ id: s.c.id, code: s.c.expectCode });
  expect(s.message).toMatch(s.c.message);
  // one message: a single "etcd-dr: …" headline (problem lists and the → hint belong to it)
  expect(s.message.match(/^etcd-dr: /gm) ?? []).toHaveLength(1);
  expect(s.message).not.toMatch(/internal error|    at /);
  // nothing reached a node: no transport log line at debug, no new sshd connection on any node
  expect(s.remoteLines).toBe(0);
  expect(s.sshdConnections).toBe(0);
  // and nothing was journaled on the bastion
  expect(s.runFiles).toEqual([]);
}

describe('bad input is refused before any node is contacted', () => {
  beforeAll(async () => {
    work = tempDir('etcd-dr-bad-input-');
    lab = await startLab(e2eNet(17), { etcd: '3.4' });
    // a real saved plan to damage; --force because the lab is healthy (a plan changes nothing)
    const p = await runCli(['plan', 'recover', '-i', lab.inventoryPath, '--force', '--format', 'json', '-o', join(work, 'base-plan.json'), '--state-dir', join(work, 'state-base')]);
    if (p.code !== 0) throw new Error(`could not make the base plan: ${p.stderr}`);
    basePlan = JSON.parse(readFileSync(join(work, 'base-plan.json'), 'utf8')) as Record<string, unknown>;
  }, T);

  afterAll(async () => {
    try {
      // only a run of the whole corpus rewrites the table (a run filtered with -t would truncate it)
      if (seen.length === corpus.length) writeFileSync(DOC, renderTable());
    } finally {
      await stopLab(lab);
      rmSync(work, { recursive: true, force: true });
    }
  }, T);

  it('the corpus has at least 40 bad inputs across inventories, plan files and flags', () => {
    expect(good.length).toBeGreaterThanOrEqual(40);
    for (const k of ['inventory', 'plan', 'flag'] as const) expect(good.filter((c) => c.kind === k).length).toBeGreaterThanOrEqual(8);
  });

  it('the saved plan the plan cases start from is itself accepted by apply (up to the confirmation)', async () => {
    // proves the damaged copies fail for their damage, not for something else; no --yes: nothing is applied
    const r = await runCli(['apply', join(work, 'base-plan.json'), '-i', lab.inventoryPath, '--state-dir', join(work, 'state-control-apply')]);
    expect(r.stderr).toMatch(/without a confirmation|the plan is stale/);
    expect(r.stderr).not.toMatch(/\(file\)|is not/);
    expect(r.code).toBe(3);
  });

  it.each(good.map((c) => [c.id, c] as const))('%s', async (_id, c) => {
    expectRefusedCleanly(await runCase(c));
  });

  // A known gap passes while it is a gap: once the check exists, this fails and the `gap` mark must go.
  if (gaps.length) {
    it.failing.each(gaps.map((c) => [c.id, c] as const))('known gap: %s', async (_id, c) => {
      expectRefusedCleanly(await runCase(c));
    });
  }

  it('control: the detectors see a real command (status connects to every node)', async () => {
    const before = sshdConnections();
    const r = await runCli(['status', '-i', lab.inventoryPath, '--log-level', 'debug']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/remote command/);
    expect(r.stderr).toMatch(/connected/);
    expect(sshdConnections() - before).toBeGreaterThanOrEqual(lab.nodes.length);
  });
});

function renderTable(): string {
  // control characters (a binary plan's bytes end up in JSON.parse's message) shown as \u escapes
  const cell = (s: string) =>
    plain(s)
      .replace(/[\u0000-\u0009\u000b-\u001f\u007f\ufffd]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)
      .replaceAll('|', '\\|')
      .replaceAll('\n', '<br>');
  const first = (m: string) => {
    const lines = m.split('\n');
    const head = lines[0] ?? '';
    // for a problem list, the first problem is the informative line; the hint says what to do
    const problem = lines.find((l) => l.startsWith('  - '))?.trim() ?? '';
    const hint = lines.find((l) => l.trim().startsWith('→'))?.trim() ?? '';
    const s = [head.length > 160 ? `${head.slice(0, 157)}…` : head, problem.length > 260 ? `${problem.slice(0, 257)}…` : problem, hint].filter(Boolean).join('\n');
    return s;
  };
  const rows = seen.map((s, i) => {
    const expected = `exit ${s.c.expectCode}, no remote command`;
    const nodes = s.remoteLines || s.sshdConnections ? `**${s.sshdConnections} ssh connection(s), ${s.remoteLines} transport log line(s)**` : 'none';
    const result = s.ok ? 'ok' : s.c.gap ? `**known gap**: ${s.c.gap}` : '**FAILED**';
    return `| ${i + 1} | ${s.c.kind} | ${cell(s.c.input)} | \`${cell(s.c.argv().join(' '))}\` | ${expected} | exit ${s.code}; nodes contacted: ${nodes} | ${cell(first(s.message))} | ${result} |`;
  });
  const okCount = seen.filter((s) => s.ok).length;
  return [
    '# Bad input: what etcd-dr does with it',
    '',
    '<!-- generated by test/e2e/bad-input.test.ts (afterAll); do not edit by hand: run',
    '     NODE_OPTIONS=--experimental-vm-modules npx jest test/e2e/bad-input.test.ts --selectProjects e2e -->',
    '',
    `Each input below was given to the real CLI against a 3-node lab (etcd ${lab.version}) with \`--log-level debug\`.`,
    'Expected for each: exit code 2 (bad input), one message naming the file, field and fix, and no remote',
    "command: no 'remote command' or 'connected' line in etcd-dr's own log and no new connection in any",
    "node's sshd log. A final control run of `status` shows both detectors do see a real connection.",
    '',
    `${seen.length} inputs: ${okCount} refused as expected, known gaps: ${seen.filter((s) => !s.ok && s.c.gap).length}, failures: ${seen.filter((s) => !s.ok && !s.c.gap).length}.`,
    '',
    '| # | kind | input | command | expected | seen | message | result |',
    '|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
