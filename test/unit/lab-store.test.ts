import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deriveNodes } from '../../src/lab/naming.js';
import { LAB_FILE_FORMAT, readLabFile, toLabState, withLabLock, writeLabFile, type LabFile } from '../../src/lab/store.js';
import { EXIT, ExitError } from '../../src/util/errors.js';

function labFile(over: Partial<LabFile> = {}): LabFile {
  return {
    format: LAB_FILE_FORMAT,
    etcd: '3.4',
    nodeCount: 2,
    addressBase: '127.0.10.',
    clusterName: 'k2',
    bootstrapped: true,
    createdAt: '2026-01-01T00:00:00.000Z',
    nodes: deriveNodes(2, '127.0.10.').map((n, i) => ({
      ...n,
      poweredOn: i === 0,
      sshdPid: 1000 + i,
      unsharePid: 900 + i,
      mntNs: '4026532177',
      bootedAt: '2026-01-01T00:00:01.000Z',
    })),
    ...over,
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-store-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('toLabState', () => {
  it('shows what callers need, with the files of the lab dir', () => {
    expect(toLabState('/tmp/lab', labFile())).toEqual({
      dir: '/tmp/lab',
      version: '3.4',
      clusterName: 'k2',
      addressBase: '127.0.10.',
      nodes: [
        { name: 'etcd1', host: 'k2-master01', address: '127.0.10.1', sshdPid: 1000, poweredOn: true },
        // a powered-off node never shows the pid it once had
        { name: 'etcd2', host: 'k2-master02', address: '127.0.10.2', sshdPid: null, poweredOn: false },
      ],
      inventoryPath: '/tmp/lab/inventory.yaml',
      identityFile: '/tmp/lab/id_ed25519',
      knownHostsFile: '/tmp/lab/known_hosts',
      bootstrapped: true,
      profile: 'plain',
      features: { eventsCluster: false, kubesprayEnv: false, opsLogin: false },
    });
  });

  it('names the events inventory of a lab with the events cluster (the kubespray profile)', () => {
    const s = toLabState('/tmp/lab', { ...labFile(), profile: 'kubespray', features: { eventsCluster: true, kubesprayEnv: true, opsLogin: true } });
    expect({ profile: s.profile, events: s.eventsInventoryPath }).toEqual({ profile: 'kubespray', events: '/tmp/lab/inventory.events.yaml' });
  });
});

describe('lab.json', () => {
  it('is absent in a new dir', () => {
    expect(readLabFile(dir)).toBeUndefined();
  });

  it('reads back what was written, leaving no temp file behind', () => {
    const f = labFile({ etcd: '3.5', bootstrapped: false });
    writeLabFile(dir, f);
    expect(readLabFile(dir)).toEqual(f);
    expect(readdirSync(dir)).toEqual(['lab.json']);
    expect(readFileSync(join(dir, 'lab.json'), 'utf8').endsWith('}\n')).toBe(true);
  });

  it('replaces the previous content', () => {
    writeLabFile(dir, labFile());
    writeLabFile(dir, labFile({ bootstrapped: false }));
    expect(readLabFile(dir)?.bootstrapped).toBe(false);
  });

  it.each([
    ['not JSON', '{"format": 1,', /is not valid JSON/],
    ['another format', JSON.stringify({ ...labFile(), format: 2 }), /has format 2; this etcd-dr reads format 1/],
    ['no node list', JSON.stringify({ ...labFile(), nodes: 'x' }), /this etcd-dr reads format 1/],
  ])('%s: refused as bad input, with the command that starts over', (_what, text, message) => {
    writeFileSync(join(dir, 'lab.json'), text);
    let err: unknown;
    try {
      readLabFile(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.badInput);
    expect((err as ExitError).message).toMatch(message);
    expect((err as ExitError).message).toContain(join(dir, 'lab.json'));
    expect((err as ExitError).hint).toBe(`start over with: etcd-dr lab down --purge --dir ${dir}`);
  });
});

describe('withLabLock', () => {
  const lock = () => join(dir, 'lab.lock');

  it('holds the lock file (with our pid) while the work runs and removes it after', async () => {
    const seen = await withLabLock(dir, async () => readFileSync(lock(), 'utf8'));
    expect(seen).toBe(`${process.pid}\n`);
    expect(existsSync(lock())).toBe(false);
  });

  it('removes the lock when the work fails, and passes the error on', async () => {
    await expect(withLabLock(dir, async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(existsSync(lock())).toBe(false);
  });

  it.each([
    ['a process that is gone', '2147483646\n'],
    ['garbage', 'not a pid\n'],
  ])('takes over a lock left by %s', async (_what, content) => {
    writeFileSync(lock(), content);
    await expect(withLabLock(dir, async () => 'ran', 1000)).resolves.toBe('ran');
    expect(existsSync(lock())).toBe(false);
  });

  it('refuses (exit 3) after waiting when a live process holds it', async () => {
    // pid 1 always lives and is never this process
    writeFileSync(lock(), '1\n');
    let ran = false;
    let err: unknown;
    try {
      await withLabLock(dir, async () => { ran = true; }, 150);
    } catch (e) {
      err = e;
    }
    expect(ran).toBe(false);
    expect(err).toBeInstanceOf(ExitError);
    expect((err as ExitError).exitCode).toBe(EXIT.refused);
    expect((err as ExitError).message).toContain('pid 1');
    expect(readFileSync(lock(), 'utf8')).toBe('1\n');
  });

  it('runs calls from one process one after the other, in order', async () => {
    const events: string[] = [];
    const job = (name: string, ms: number) =>
      withLabLock(dir, async () => {
        events.push(`${name} start`);
        await new Promise((r) => setTimeout(r, ms));
        events.push(`${name} end`);
      });
    await Promise.all([job('a', 30), job('b', 0), job('c', 10)]);
    expect(events).toEqual(['a start', 'a end', 'b start', 'b end', 'c start', 'c end']);
  });
});
