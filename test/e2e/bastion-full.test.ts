/**
 * A download to a full bastion file system (issue 15, item 3), at the transport: the bytes of a 3 MiB
 * file streamed over a real sshd into a 1 MiB tmpfs. Before, the write stream's ENOSPC was an unhandled
 * 'error' event that ended the process with a stack trace. Now the download reads to the end, removes its
 * temp file, and fails with a BastionWriteError (exit 8) naming the path and the bytes it needs; once room
 * is made the same download succeeds. (The recovery checks the room before it copies, so this path is the
 * one a disk filled by something else during the copy takes: `journal.test.ts` covers the check.)
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectNode, type SshConnection } from '../../src/ssh/index.js';
import { BastionWriteError } from '../../src/util/bastion-fs.js';
import { EXIT } from '../../src/util/errors.js';
import { TestSshd, makeKey, nodeSpec } from '../support/sshd.js';
import { e2eNet } from '../support/net.js';

const NODE_ADDR = `${e2eNet(123)}1`;

let dir: string;
let small: string | undefined;
let sshd: TestSshd | undefined;
let conn: SshConnection | undefined;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-dr-bastion-full-'));
  const key = makeKey(dir, 'id_ed25519');
  sshd = await TestSshd.start({ address: NODE_ADDR, authorizedKeys: [key.pub] });
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, sshd.knownHostsLine(), { mode: 0o600 });
  conn = await connectNode(nodeSpec('node1', sshd, { identityFile: key.file, knownHostsFile: knownHosts }), { retryMinTimeoutMs: 50, env: {} });
}, 60_000);

afterAll(async () => {
  await conn?.close();
  await sshd?.stop();
  if (small) execFileSync('umount', ['-l', small]);
  rmSync(dir, { recursive: true, force: true });
});

test('ENOSPC while a download streams: exit 8 naming the path and the bytes needed, no temp file left; with room the same download succeeds', async () => {
  const content = randomBytes(3 * 1024 * 1024);
  const remote = join(dir, 'snapshot.db');
  writeFileSync(remote, content, { mode: 0o600 });
  small = mkdtempSync(join(tmpdir(), 'etcd-dr-small-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', small]);
  const local = join(small, 'etcd1-db');

  const err = await conn!.download(remote, local).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(BastionWriteError);
  expect((err as BastionWriteError).exitCode).toBe(EXIT.bastionWrite);
  expect((err as Error).message).toMatch(new RegExp(`^cannot write the copy of node1:${remote} on the bastion: ${local}: (the file system is full|not enough room) \\(ENOSPC, .* free there; it needs 3\\.0 MiB\\)$`));
  expect((err as BastionWriteError).hint).toMatch(/^make room on the file system of .* \(at least 3\.0 MiB\), then `etcd-dr resume`/);
  // no incomplete copy, under its name or as a temp file
  expect(readdirSync(small)).toEqual([]);

  execFileSync('mount', ['-o', 'remount,size=8m', small]);
  const r = await conn!.download(remote, local);
  expect(r.sha256).toBe(createHash('sha256').update(content).digest('hex'));
  expect(readFileSync(local).equals(content)).toBe(true);
  expect(readdirSync(small)).toEqual(['etcd1-db']);
}, 60_000);
