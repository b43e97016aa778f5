import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInventory, type InventoryContext } from '../../src/inventory/index.js';
import { resolveHooks } from '../../src/inventory/hooks.js';
import type { Inventory } from '../../src/inventory/types.js';
import { MANUAL_HOOKS, repeatedOnResume, withHooks } from '../../src/plan/hooks.js';
import { planRecover } from '../../src/plan/recover.js';
import { renderPlan } from '../../src/plan/render.js';
import { hookScript } from '../../src/plan/scripts.js';
import type { Plan, RecoverIntent } from '../../src/plan/types.js';
import { hookFailure } from '../../src/apply/hook-error.js';
import { ApplyError, EXIT, formatProblem, InputError, RefusedError } from '../../src/util/errors.js';
import { clusterFacts, inventory, node } from '../support/facts.js';

const CTX: InventoryContext = { env: { USER: 'ops' }, home: '/home/ops', cwd: '/work' };

const INV = `cluster:
  name: k2
hooks:
  beforeStop:
    - mkdir -p /etc/kubernetes/manifests.etcd-dr && if [ -f /etc/kubernetes/manifests/kube-apiserver.yaml ]; then mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests.etcd-dr/; fi
  afterVerify:
    - if [ -f /etc/kubernetes/manifests.etcd-dr/kube-apiserver.yaml ]; then mv /etc/kubernetes/manifests.etcd-dr/kube-apiserver.yaml /etc/kubernetes/manifests/; fi
    - systemctl restart kubelet
  timeout: 120
nodes:
  - name: etcd1
    host: k2-master01
    address: 10.0.0.1
  - name: etcd2
    host: k2-master02
    address: 10.0.0.2
    hooks:
      beforeStop: [lab-apiserver stop]
  - name: etcd3
    host: k2-master03
    address: 10.0.0.3
    hooks:
      beforeStop: []
      afterVerify: []
`;

const problemsOf = (text: string): string[] => {
  try {
    parseInventory(text, 'inv.yaml', CTX);
  } catch (err) {
    if (err instanceof InputError) return err.problems.map(formatProblem);
    throw err;
  }
  throw new Error('accepted');
};

describe('inventory hooks', () => {
  it('cluster-wide lists, a node that replaces one, a node that has none', () => {
    const inv = parseInventory(INV, 'inv.yaml', CTX);
    const [a, b, c] = inv.nodes;
    expect(a!.hooks).toEqual({
      beforeStop: [expect.stringContaining('mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests.etcd-dr/')],
      afterVerify: [expect.stringContaining('manifests.etcd-dr/kube-apiserver.yaml /etc/kubernetes/manifests/'), 'systemctl restart kubelet'],
      timeoutSec: 120,
    });
    expect(b!.hooks).toEqual({ beforeStop: ['lab-apiserver stop'], afterVerify: a!.hooks!.afterVerify, timeoutSec: 120 });
    expect(c!.hooks).toBeUndefined();
  });

  it('no hooks anywhere: none on the nodes', () => {
    expect(resolveHooks(undefined, undefined)).toBeUndefined();
    expect(resolveHooks({ timeout: 5 }, {})).toBeUndefined();
  });

  const bad: [string, string, RegExp][] = [
    ['not a list', 'hooks:\n  beforeStop: systemctl stop kubelet\n', /^inv\.yaml:4:15: hooks\.beforeStop: expected a list \(commands run on every node before etcd is stopped/],
    ['an empty command', 'hooks:\n  afterVerify:\n    - ""\n', /^inv\.yaml:5:7: hooks\.afterVerify\[0\]: "" is empty; expected a shell command/],
    ['only blanks', 'hooks:\n  afterVerify:\n    - "   "\n', /hooks\.afterVerify\[0\]: "   " is only blanks; write the command, or remove the item/],
    ['a number', 'hooks:\n  beforeStop: [42]\n', /hooks\.beforeStop\[0\]: expected a shell command, got the number 42; if 42 is meant, quote it/],
    ['a misspelt hook', 'hooks:\n  beforestop: [x]\n', /^inv\.yaml:4:3: hooks: unknown key `beforestop`; did you mean `beforeStop`\? valid keys: beforeStop, afterVerify, timeout/],
    ['a synonym', 'hooks:\n  preStop: [x]\n', /unknown key `preStop`; did you mean `beforeStop`\?/],
    ['a bad timeout', 'hooks:\n  timeout: 0\n', /hooks\.timeout: 0 is not a timeout; expected a number of seconds greater than 0/],
    ['a control character', 'hooks:\n  beforeStop: ["stop\\u001b[2J"]\n', /hooks\.beforeStop\[0\]: .* contains the control character U\+001B/],
    ['no value', 'hooks:\n  beforeStop:\n', /hooks\.beforeStop: has no value; expected a list .*or remove the key to use the default \(none\)/],
  ];
  it.each(bad)('bad input, %s: one problem with file:line, field and fix', (_what, hooks, want) => {
    const text = `cluster:\n  name: k2\n${hooks}nodes:\n  - {name: etcd1, host: k2-master01, address: 10.0.0.1}\n`;
    const p = problemsOf(text);
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(want);
  });

  it('a node-level problem names the node field', () => {
    const text = 'cluster:\n  name: k2\nnodes:\n  - name: etcd1\n    host: k2-master01\n    address: 10.0.0.1\n    hooks:\n      afterVerify: {a: b}\n';
    expect(problemsOf(text)).toEqual([expect.stringMatching(/^inv\.yaml:8:20: nodes\[0\]\.hooks\.afterVerify: expected a list/)]);
  });
});

const RUN = '20261206T004500Z-abcd';
const intent = (over: Partial<RecoverIntent> = {}): RecoverIntent => ({ kind: 'recover', exclude: [], learner: true, force: false, localBackup: false, backupDir: '/b', ...over });
const stopped = () => [1, 2, 3].map((i) => node(i, { running: false, revision: 100 + i }));
const withInvHooks = (inv: Inventory, h: (name: string) => { beforeStop: string[]; afterVerify: string[] } | undefined): Inventory => ({
  ...inv,
  nodes: inv.nodes.map((n) => {
    const x = h(n.name);
    return x ? { ...n, hooks: { ...x, timeoutSec: 60 } } : n;
  }),
});
const planWith = (inv: Inventory, nodes = stopped(), over: Partial<RecoverIntent> = {}): Plan =>
  planRecover({ inventory: inv, facts: clusterFacts(nodes), runId: RUN, now: new Date(0), toolVersion: 't', lockFile: '/var/lib/etcd-dr/lock', holder: 'h' }, intent(over));
const STOP = 'mv /etc/kubernetes/manifests/kube-apiserver.yaml /etc/kubernetes/manifests.etcd-dr/';
const START = 'mv /etc/kubernetes/manifests.etcd-dr/kube-apiserver.yaml /etc/kubernetes/manifests/';
const both = () => withInvHooks(inventory(3), () => ({ beforeStop: [STOP], afterVerify: [START, 'systemctl restart kubelet'] }));

describe('recovery plans with hooks', () => {
  it('beforeStop right after the lock, afterVerify right after the verification; ids numbered in order', () => {
    const p = planWith(both());
    const kinds = p.steps.map((s) => s.action.type);
    expect(kinds.slice(0, 3)).toEqual(['lock', 'hook', 'stop-etcd']);
    expect(kinds.slice(-3)).toEqual(['verify', 'hook', 'unlock']);
    expect(p.steps.map((s) => Number(s.id.slice(0, 2)))).toEqual(p.steps.map((_, i) => i + 1));
    expect(p.steps[1]!.id).toBe('02-hook-before-stop');
    expect(p.steps[p.steps.length - 2]!.id).toMatch(/^\d\d-hook-after-verify$/);
    expect(p.steps[1]).toMatchObject({ phase: 'hook', nodes: ['etcd1', 'etcd2', 'etcd3'], action: { type: 'hook', hook: 'beforeStop', run: { etcd1: [STOP], etcd2: [STOP], etcd3: [STOP] }, timeoutSec: 60 } });
    expect(p.warnings.join('\n')).not.toContain('no hooks');
  });

  it('the plan shows the exact commands, in text, markdown and JSON', () => {
    const p = planWith(both());
    for (const f of ['text', 'markdown', 'json'] as const) {
      const out = renderPlan(p, f);
      if (f === 'text') {
        expect(out).toContain(`  etcd2 $ ${STOP}\n`);
        expect(out).toContain('  etcd3 $ systemctl restart kubelet\n');
        continue;
      }
      const shown = f === 'json' ? JSON.parse(out).steps.flatMap((s: Plan['steps'][number]) => s.commands).join('\n') : out;
      expect(shown).toContain(`sh -c '${STOP}'`);
      expect(shown).toContain("sh -c 'systemctl restart kubelet'");
    }
    expect(p.steps[1]!.commands[0]).toBe(`# etcd1\n${hookScript('beforeStop', [STOP])}`);
  });

  it('an excluded node that cannot be reached runs no hook; a node without hooks is named', () => {
    const nodes = [node(1, { running: false, revision: 101 }), node(2, { running: false, revision: 102 }), node(3, { reachable: false })];
    const inv = withInvHooks(inventory(3), (n) => (n === 'etcd2' ? undefined : { beforeStop: [STOP], afterVerify: [START] }));
    const p = planWith(inv, nodes, { exclude: ['etcd3'] });
    const hooks = p.steps.filter((s) => s.action.type === 'hook');
    expect(hooks.map((s) => s.nodes)).toEqual([['etcd1'], ['etcd1']]);
    expect(p.warnings).toContain('etcd2 has no hooks: stop and restart the kube-apiservers there by hand, if any run there');
  });

  it('without hooks: no hook step, and the plan says what to do by hand', () => {
    const p = planWith(inventory(3));
    expect(p.steps.some((s) => s.action.type === 'hook')).toBe(false);
    expect(p.warnings).toContain(MANUAL_HOOKS);
    expect(MANUAL_HOOKS).toMatch(/stop every kube-apiserver.*restart the control plane/);
  });

  it('only one of the two: the other is said in words', () => {
    const onlyBefore = planWith(withInvHooks(inventory(3), () => ({ beforeStop: [STOP], afterVerify: [] })));
    expect(onlyBefore.warnings).toContain('the inventory has no afterVerify hook: restart the control plane by hand once the run is over');
    const onlyAfter = planWith(withInvHooks(inventory(3), () => ({ beforeStop: [], afterVerify: [START] })));
    expect(onlyAfter.warnings).toContain('the inventory has no beforeStop hook: stop every kube-apiserver by hand before applying this plan');
    expect(onlyAfter.steps[1]!.action.type).toBe('stop-etcd');
  });

  it('withHooks keeps a plan without hooks as it is, step ids included', () => {
    const p = planWith(inventory(3));
    expect(withHooks(p, inventory(3), ['etcd1']).steps).toEqual(p.steps);
  });

  it('resume repeats a done beforeStop until the cluster is verified', () => {
    const p = planWith(both());
    const ids = p.steps.map((s) => s.id);
    const verify = p.steps.find((s) => s.action.type === 'verify')!.id;
    expect(repeatedOnResume(p, new Set(ids.slice(0, 2)))).toEqual(['02-hook-before-stop']);
    expect(repeatedOnResume(p, new Set(ids.slice(0, 1)))).toEqual([]);
    expect(repeatedOnResume(p, new Set(ids.slice(0, ids.indexOf(verify) + 1)))).toEqual([]);
  });
});

describe('hookScript, run by sh', () => {
  const run = (script: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  it('runs every command in order and ends with etcd-dr:done', () => {
    const r = run(hookScript('beforeStop', ['echo one', "echo 'two three'", 'printf "%s\\n" "$((1+1))"']));
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('one\ntwo three\n2\netcd-dr:done\n');
  });
  it('stops at the first failing command and names it with its exit code', () => {
    const r = run(hookScript('afterVerify', ['echo first', 'echo oops >&2; exit 7', 'echo never']));
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('first\n');
    expect(r.stderr.trim().split('\n').pop()).toBe('the afterVerify command 2 of 3 failed (exit 7): echo oops >&2; exit 7');
  });
  it('a multi-line command runs as one script', () => {
    const r = run(hookScript('beforeStop', ['for i in 1 2; do\n  echo "$i"\ndone']));
    expect(r.stdout).toBe('1\n2\netcd-dr:done\n');
  });
});

describe('the kubespray example in inventory.example.yaml', () => {
  const file = new URL('../../inventory.example.yaml', import.meta.url).pathname;
  const inv = parseInventory(readFileSync(file, 'utf8'), file, CTX);

  it('every node gets its hooks: manifests moved aside and back, the kubelet restarted', () => {
    for (const n of inv.nodes) {
      expect(n.hooks!.timeoutSec).toBe(300);
      expect(n.hooks!.beforeStop[0]).toContain('mv /etc/kubernetes/manifests/$m.yaml /etc/kubernetes/manifests.etcd-dr/');
      expect(n.hooks!.afterVerify).toEqual([expect.stringContaining('mv /etc/kubernetes/manifests.etcd-dr/$m.yaml /etc/kubernetes/manifests/'), 'systemctl restart kubelet']);
    }
  });

  it('is idempotent: run twice (a resumed run), it ends in the same state without an error', () => {
    // the same commands with /etc/kubernetes under a scratch dir, and no kubelet or container runtime
    const root = mkdtempSync(join(tmpdir(), 'etcd-dr-hooks-'));
    try {
      const k = join(root, 'kubernetes');
      mkdirSync(join(k, 'manifests'), { recursive: true });
      for (const m of ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'etcd-other']) writeFileSync(join(k, 'manifests', `${m}.yaml`), m);
      const local = (c: string) => c.replaceAll('/etc/kubernetes', k).replaceAll('crictl ps --name kube-apiserver -q', 'true').replace('systemctl restart kubelet', 'true');
      const h = inv.nodes[0]!.hooks!;
      const run = (cmds: string[]) => spawnSync('sh', ['-c', hookScript('x', cmds.map(local))], { encoding: 'utf8' });
      const listing = () => ['manifests', 'manifests.etcd-dr'].map((d) => (existsSync(join(k, d)) ? readdirSync(join(k, d)).sort().join(',') : '-'));
      for (let i = 0; i < 2; i++) expect(run(h.beforeStop).status).toBe(0);
      expect(listing()).toEqual(['etcd-other.yaml', 'kube-apiserver.yaml,kube-controller-manager.yaml,kube-scheduler.yaml']);
      for (let i = 0; i < 2; i++) expect(run(h.afterVerify).status).toBe(0);
      expect(listing()).toEqual(['etcd-other.yaml,kube-apiserver.yaml,kube-controller-manager.yaml,kube-scheduler.yaml', '']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('hookFailure: the error of a failed hook says what state the cluster is in', () => {
  it.each([
    ['beforeStop', /^etcd was not stopped on any node.*`etcd-dr resume R1`: it runs the hook again on every node and goes on/],
    ['afterVerify', /^the cluster is recovered, verified and serving; the control plane was not restarted.*`etcd-dr resume R1`: it runs the hook again on every node and releases the locks/],
  ] as const)('%s', (hook, hint) => {
    const e = hookFailure(new ApplyError('etcd2: x failed: y', 'generic'), hook, 'R1') as ApplyError;
    expect(e).toBeInstanceOf(ApplyError);
    expect(e.message).toBe('etcd2: x failed: y');
    expect(e.exitCode).toBe(EXIT.failed);
    expect(e.hint).toMatch(hint);
  });
  it('other errors (a refused lock, a lost connection) pass through unchanged', () => {
    const other = new RefusedError('held');
    expect(hookFailure(other, 'beforeStop', 'R1')).toBe(other);
  });
});
