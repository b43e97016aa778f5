import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labAsset } from '../../src/lab/paths.js';

const shim = labAsset('systemctl');
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-shim-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the shim hands etcd from an env file, as systemd's EnvironmentFile= would read it. */
function envOf(text: string, shell: string): string[] {
  const file = join(dir, `env-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, text);
  return execFileSync(shell, [shim, '__print-env', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
}

describe.each(['sh', 'dash', 'bash'])('systemctl shim env-file reading under %s', (shell) => {
  it.each([
    ['plain lines', 'A=1\nB=two\n', ['A=1', 'B=two']],
    ['comments and blank lines', '# c\n\n; semi\nA=1\n   # indented\n', ['A=1']],
    ['double and single quotes stripped', 'A="x y"\nB=\'z\'\n', ['A=x y', 'B=z']],
    ['lone or unmatched quote kept', 'A="\nB="x\nC=x"\n', ['A="', 'B="x', 'C=x"']],
    ['blanks around key and value', '  A = 1  \n\tB=\t2\n', ['A=1', 'B=2']],
    ['value with = and spaces', 'A=a=b c\n', ['A=a=b c']],
    ['empty values', 'A=\nB=""\n', ['A=', 'B=']],
    ['malformed lines skipped', 'NOEQUALS\n9A=x\nA-B=x\n=x\nOK=1\n', ['OK=1']],
    ['last line without newline', 'A=1\nB=2', ['A=1', 'B=2']],
    ['CRLF-free kubespray lines', 'ETCD_NAME=etcd1\nETCD_INITIAL_CLUSTER=etcd1=https://127.0.10.1:2380\n# TLS settings\nETCD_PEER_CLIENT_CERT_AUTH=True\n',
      ['ETCD_NAME=etcd1', 'ETCD_INITIAL_CLUSTER=etcd1=https://127.0.10.1:2380', 'ETCD_PEER_CLIENT_CERT_AUTH=True']],
    ['shell syntax is not evaluated', 'A=$(echo no)\nB=`x`\nC=$HOME\n', ['A=$(echo no)', 'B=`x`', 'C=$HOME']],
  ])('%s', (_what, text, want) => {
    expect(envOf(text, shell)).toEqual(want);
  });
});

describe('systemctl shim refusals', () => {
  it.each([
    [['start', 'nginx'], 5, /Unit nginx\.service not found/],
    [['stop', 'kubelet.service'], 5, /Unit kubelet\.service not found/],
    [['frobnicate', 'etcd'], 1, /Unknown command verb 'frobnicate'/],
    [['start'], 1, /Too few arguments/],
    [[], 1, /name a verb/],
    [['--bogus', 'start', 'etcd'], 1, /unknown option '--bogus'/],
  ])('%j exits %i', (args, code, msg) => {
    const r = spawnSync('sh', [shim, ...args], { encoding: 'utf8' });
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(msg);
  });

  it('is-active of an unknown unit prints inactive and exits 3, as systemctl does', () => {
    const r = spawnSync('sh', [shim, 'is-active', 'nginx'], { encoding: 'utf8' });
    expect([r.status, r.stdout.trim()]).toEqual([3, 'inactive']);
  });
});

describe('systemctl shim stop', () => {
  // A process whose main thread is gone while another thread still runs: the kernel shows its main thread
  // as a zombie, yet the process keeps its listening socket until its last thread ends. etcd killed by
  // SIGTERM before it installed its handler, while it writes a large snapshot, is such a process.
  const program = [
    'import ctypes, signal, socket, sys, threading, time',
    's = socket.socket()',
    's.bind(("127.0.0.1", 0))',
    's.listen()',
    'threading.Thread(target=lambda: time.sleep(3600)).start()',
    'signal.signal(signal.SIGTERM, lambda *_: ctypes.CDLL(None).pthread_exit(None))',
    'print(s.getsockname()[1], flush=True)',
    'time.sleep(3600)',
  ].join('\n');

  it('returns only once no thread of the process is left, so its ports are free for the next start', async () => {
    // the interpreter itself, not a wrapper script in front of it (a wrapper would name the process)
    const python = execFileSync('python3', ['-c', 'import os, sys; print(os.path.realpath(sys.executable))'], { encoding: 'utf8' }).trim();
    // named etcd, as the unit's process is (the shim counts only the exec chain that ends in etcd)
    const etcd = join(dir, 'etcd');
    symlinkSync(python, etcd);
    const script = join(dir, 'holder.py');
    writeFileSync(script, program);
    const child = spawn(etcd, [script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const port = Number(await new Promise<string>((res) => child.stdout.once('data', (d: Buffer) => res(d.toString()))));
      expect(port).toBeGreaterThan(0);
      const r = spawnSync('sh', [shim, '__stop-pid', String(child.pid)], { encoding: 'utf8', env: { ...process.env, ETCD_DR_LAB_STOP_TIMEOUT: '2' } });
      expect(r.status).toBe(0);
      // what the next start needs: the port bound again
      const server = createServer();
      await new Promise<void>((res, rej) => {
        server.once('error', rej);
        server.listen(port, '127.0.0.1', () => res());
      });
      server.close();
    } finally {
      child.kill('SIGKILL');
    }
  }, 30_000);
});
