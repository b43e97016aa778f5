/**
 * Secrets on a real lab: an SSH key passphrase (an encrypted identity file, passphrase in
 * ETCD_DR_SSH_PASSPHRASE) and etcd credentials in the bastion's environment (ETCDCTL_USER /
 * ETCDCTL_PASSWORD, as an operator running etcdctl by hand has them) never appear in stdout, stderr at
 * trace level, a saved plan, or any file etcd-dr writes under its state dir; nor does the private key.
 * Run files are private: run dir 0700, plan/log 0600, and `plan -o` writes 0600.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labExec, type LabState } from '../../src/lab/index.js';
import { registerSecret } from '../../src/util/secrets.js';
import { runCli, startLab, stopLab, tempDir, type CliRun } from '../support/cli.js';
import { e2eNet } from '../support/net.js';

const T = 300_000;
const tag = randomBytes(4).toString('hex');
// quotes, $, backslash and non-ASCII: every written form (as is, sh-quoted, JSON-escaped) must be caught
const PASSPHRASE = `pa$$ 'phrase' "x" \\ ü-${tag}`;
const ETCD_PASSWORD = `etcd-S3cret-'${tag}'-pw`;
const WRONG_PASSPHRASE = `wrong-${tag}-pass`;

let lab: LabState;
let work: string;
let inventory: string;
let keyBody: string[];

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? filesUnder(join(dir, e.name)) : [join(dir, e.name)]));
}

/** The forms a secret could leak in: as is, inside sh single quotes, JSON-escaped, and a long enough fragment. */
function leakForms(secret: string): string[] {
  return [secret, secret.replaceAll("'", "'\\''"), JSON.stringify(secret).slice(1, -1), secret.slice(-12)];
}

function expectNoSecret(where: string, text: string): void {
  for (const s of [PASSPHRASE, ETCD_PASSWORD, WRONG_PASSPHRASE]) {
    for (const f of leakForms(s)) expect({ where, leaked: text.includes(f) ? f : null }).toEqual({ where, leaked: null });
  }
  // not one line of the private key's body either
  for (const line of keyBody) expect({ where, keyLine: text.includes(line) }).toEqual({ where, keyLine: false });
}

const ENV = () => ({
  ETCD_DR_SSH_PASSPHRASE: PASSPHRASE,
  ETCDCTL_USER: `root:${ETCD_PASSWORD}`,
  ETCDCTL_PASSWORD: ETCD_PASSWORD,
  // the key must come from the file, not from an agent
  SSH_AUTH_SOCK: '',
});

describe('no secret in output, plans, logs or run files', () => {
  beforeAll(async () => {
    work = tempDir('etcd-dr-secrets-');
    lab = await startLab(e2eNet(31), { etcd: '3.4' });
    // an encrypted identity, authorised for root on every node (beside the lab's own key)
    const key = join(work, 'id_encrypted');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-C', 'etcd-dr secrets test', '-f', key]);
    keyBody = readFileSync(key, 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('-----'));
    const pub = readFileSync(`${key}.pub`, 'utf8');
    for (const n of lab.nodes) {
      const r = await labExec(lab, n.name, ['sh', '-c', 'umask 077; mkdir -p /root/.ssh && cat >> /root/.ssh/authorized_keys'], { stdin: pub });
      if (r.code !== 0) throw new Error(`authorized_keys on ${n.name}: ${r.stderr}`);
    }
    inventory = join(work, 'inventory.yaml');
    writeFileSync(inventory, readFileSync(lab.inventoryPath, 'utf8').replace(/^ {2}identityFile: .*$/m, `  identityFile: ${key}`));
    expect(readFileSync(inventory, 'utf8')).toContain(`identityFile: ${key}`);
  }, T);

  afterAll(async () => {
    await stopLab(lab);
    rmSync(work, { recursive: true, force: true });
  }, T);

  it('the leak check itself finds each secret and a key line', () => {
    for (const s of [PASSPHRASE, ETCD_PASSWORD, JSON.stringify(PASSPHRASE), keyBody[1]!]) expect(() => expectNoSecret('self-test', `x${s}x`)).toThrow();
  });

  it('the encrypted key is what connects: without the passphrase it is refused, and a wrong one is not echoed', async () => {
    const none = await runCli(['status', '-i', inventory, '--json'], { ...ENV(), ETCD_DR_SSH_PASSPHRASE: '' });
    expect(none.code).not.toBe(0);
    expect(none.stdout + none.stderr).toMatch(/is encrypted and no passphrase was given/);
    const wrong = await runCli(['status', '-i', inventory, '--json', '--log-level', 'trace'], { ...ENV(), ETCD_DR_SSH_PASSPHRASE: WRONG_PASSPHRASE });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stdout + wrong.stderr).toMatch(/passphrase does not decrypt/);
    expectNoSecret('status with a wrong passphrase: stdout', wrong.stdout);
    expectNoSecret('status with a wrong passphrase: stderr', wrong.stderr);
  });

  it('status --json and plan recover --format json at trace level: no secret anywhere, run files private', async () => {
    // as if etcd-dr had learned the etcd password (the registry is process-wide; runCli runs in this process)
    registerSecret(ETCD_PASSWORD);
    const state = join(work, 'state');
    const runs: [string, CliRun][] = [];

    const st = await runCli(['status', '-i', inventory, '--json', '--log-level', 'trace'], ENV());
    expect(st.code).toBe(0);
    expect(st.stderr).toMatch(/remote command/); // trace level did log the commands
    expect((JSON.parse(st.stdout) as { assessment: { verdict: string } }).assessment.verdict).toBe('healthy');
    runs.push(['status --json', st]);

    const planFile = join(work, 'plan.json');
    const pl = await runCli(['plan', 'recover', '-i', inventory, '--force', '--format', 'json', '-o', planFile, '--log-level', 'trace', '--state-dir', state], ENV());
    expect(pl.code).toBe(0);
    runs.push(['plan recover --format json', pl]);
    // the saved plan: 0600, and it holds no secret
    expect(statSync(planFile).mode & 0o777).toBe(0o600);
    expectNoSecret('plan -o file', readFileSync(planFile, 'utf8'));

    // apply (no --yes: it stops at the confirmation) opens the run dir and its JSON log, and runs the stale check's probes
    const ap = await runCli(['apply', planFile, '-i', inventory, '--log-level', 'trace', '--state-dir', state], ENV());
    expect(ap.stderr).toMatch(/without a confirmation|the plan is stale/);
    expect(ap.code).toBe(3);
    runs.push(['apply (refused at the confirmation)', ap]);

    for (const [what, r] of runs) {
      expectNoSecret(`${what}: stdout`, r.stdout);
      expectNoSecret(`${what}: stderr`, r.stderr);
    }

    const runId = (JSON.parse(readFileSync(planFile, 'utf8')) as { runId: string }).runId;
    const runDir = join(state, 'runs', runId);
    expect(statSync(join(state, 'runs')).mode & 0o777).toBe(0o700);
    expect(statSync(runDir).mode & 0o777).toBe(0o700);
    const files = filesUnder(state);
    expect(files.map((f) => f.slice(runDir.length + 1)).sort()).toEqual(['log.jsonl', 'plan.json']);
    for (const f of files) {
      expect({ f, mode: (statSync(f).mode & 0o777).toString(8) }).toEqual({ f, mode: '600' });
      expectNoSecret(f, readFileSync(f, 'utf8'));
    }
    // the JSON log did record the remote commands (so it was a real test of what it keeps)
    expect(readFileSync(join(runDir, 'log.jsonl'), 'utf8')).toMatch(/"msg":"remote command"/);
  });
});
