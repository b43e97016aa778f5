/** The lab's data-dir volume option: validated with the other parameters, chosen only when a lab is made. */
import { resolveLabParams } from '../../src/lab/up.js';
import { dataDirMountProblem, type DataDirMount } from '../../src/lab/datadir-mount.js';
import { EXIT, ExitError, InputError } from '../../src/util/errors.js';

const ext4 = (sizeMiB: number): DataDirMount => ({ fs: 'ext4', sizeMiB });

describe('dataDirMountProblem', () => {
  it.each([
    [undefined, undefined],
    [ext4(256), undefined],
    [ext4(96), undefined],
    [ext4(95), '--data-dir-size'],
    [ext4(100.5), '--data-dir-size'],
    [{ fs: 'tmpfs', sizeMiB: 256 } as unknown as DataDirMount, '--data-dir-mount'],
  ])('%j', (m, field) => {
    expect(dataDirMountProblem(m)?.field).toBe(field);
  });
});

describe('resolveLabParams with a data-dir volume', () => {
  const existing = { nodeCount: 3, etcd: '3.4' as const, addressBase: '127.0.10.' };
  const fail = (f: () => unknown): unknown => {
    try {
      f();
    } catch (e) {
      return e;
    }
    throw new Error('expected an error');
  };

  it('a new lab takes it; an existing lab keeps its own, and a repeat of it is fine', () => {
    expect(resolveLabParams(undefined, { dataDirMount: ext4(512) }, '/l')).toMatchObject({ dataDirMount: ext4(512) });
    expect(resolveLabParams({ ...existing, dataDirMount: ext4(512) }, {}, '/l')).toMatchObject({ dataDirMount: ext4(512) });
    expect(resolveLabParams({ ...existing, dataDirMount: ext4(512) }, { dataDirMount: ext4(512) }, '/l')).toMatchObject({ dataDirMount: ext4(512) });
    expect(resolveLabParams(existing, {}, '/l')).not.toHaveProperty('dataDirMount');
  });

  it('the kubespray profile gives every node a 1 GiB ext4 data dir; --data-dir-mount chooses another; plain has none', () => {
    expect(resolveLabParams(undefined, { profile: 'kubespray' }, '/l')).toMatchObject({ dataDirMount: ext4(1024) });
    expect(resolveLabParams(undefined, { profile: 'kubespray', dataDirMount: ext4(300) }, '/l')).toMatchObject({ dataDirMount: ext4(300) });
    expect(resolveLabParams(undefined, { profile: 'plain' }, '/l')).not.toHaveProperty('dataDirMount');
  });

  it.each([
    [existing, ext4(256), /data dirs on a 256 MiB ext4 file system \(its data dirs are on the node's \/var\/lib\)/],
    [{ ...existing, dataDirMount: ext4(512) }, ext4(256), /data dirs on a 256 MiB ext4 file system \(it has a 512 MiB ext4 file system\)/],
  ])('an existing lab refuses another one (%#)', (ex, m, want) => {
    const e = fail(() => resolveLabParams(ex, { dataDirMount: m }, '/l')) as ExitError;
    expect(e).toBeInstanceOf(ExitError);
    expect(e.exitCode).toBe(EXIT.badInput);
    expect(e.message).toMatch(want);
  });

  it('a new lab with a bad size is bad input naming the option', () => {
    const e = fail(() => resolveLabParams(undefined, { dataDirMount: ext4(10) }, '/l')) as InputError;
    expect(e).toBeInstanceOf(InputError);
    expect(e.problems.map((p) => p.field)).toEqual(['--data-dir-size']);
  });
});
