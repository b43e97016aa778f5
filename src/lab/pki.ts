/**
 * The lab's TLS material, laid out as kubespray does: a CA, and per host a member certificate
 * (server and client auth, for etcd's client and peer ports) and an admin certificate (client auth,
 * for etcdctl). ECDSA P-256, made with openssl once per lab and kept in `<lab dir>/pki`.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ApplyError } from '../util/errors.js';
import type { NodeIdentity } from './naming.js';
import { describeFailure, runFile } from './run.js';

export type CertKind = 'member' | 'admin';

const DAYS = '3650';
const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-noenc', '-sha256', '-days', DAYS];

/** Subject alternative names of a host's certificates: its address, loopback, its name, localhost. */
export function certSan(node: NodeIdentity): string {
  return `subjectAltName=IP:${node.address},IP:127.0.0.1,DNS:${node.host},DNS:localhost`;
}

export function certFiles(pkiDir: string, kind: CertKind, host: string) {
  return { cert: join(pkiDir, `${kind}-${host}.pem`), key: join(pkiDir, `${kind}-${host}-key.pem`) };
}

async function openssl(args: string[], what: string): Promise<void> {
  const r = await runFile('openssl', args, { timeout: 60 });
  if (r.code !== 0) throw new ApplyError(`could not create ${what}: ${describeFailure(r)}`);
}

/** Creates whatever is missing of the CA and every host's member and admin certificates. */
export async function ensureLabPki(pkiDir: string, nodes: readonly NodeIdentity[]): Promise<void> {
  mkdirSync(pkiDir, { recursive: true, mode: 0o700 });
  const ca = join(pkiDir, 'ca.pem');
  const caKey = join(pkiDir, 'ca-key.pem');
  if (!existsSync(ca) || !existsSync(caKey)) {
    await openssl(
      ['req', '-x509', ...EC, '-keyout', caKey, '-out', ca, '-subj', '/CN=etcd-dr-lab-ca',
        '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'],
      `the lab CA in ${pkiDir}`,
    );
    chmodSync(caKey, 0o600);
    chmodSync(ca, 0o644);
  }
  const jobs: Promise<void>[] = [];
  for (const node of nodes) {
    for (const kind of ['member', 'admin'] as const) {
      const f = certFiles(pkiDir, kind, node.host);
      if (existsSync(f.cert) && existsSync(f.key)) continue;
      const eku = kind === 'member' ? 'extendedKeyUsage=serverAuth,clientAuth' : 'extendedKeyUsage=clientAuth';
      jobs.push(
        openssl(
          ['req', '-x509', ...EC, '-CA', ca, '-CAkey', caKey, '-keyout', f.key, '-out', f.cert, '-subj', `/CN=${kind}-${node.host}`,
            '-addext', certSan(node), '-addext', eku, '-addext', 'basicConstraints=critical,CA:FALSE',
            '-addext', 'keyUsage=critical,digitalSignature,keyEncipherment'],
          `the ${kind} certificate of ${node.host}`,
        ).then(() => {
          chmodSync(f.key, 0o600);
          chmodSync(f.cert, 0o644);
        }),
      );
    }
  }
  await Promise.all(jobs);
}

/** Files every node gets in /etc/ssl/etcd/ssl (all hosts' member and admin pairs, the CA; never the CA key). */
export function nodeSslFiles(pkiDir: string, nodes: readonly NodeIdentity[]): { name: string; src: string; mode: number }[] {
  const files = [{ name: 'ca.pem', src: join(pkiDir, 'ca.pem'), mode: 0o644 }];
  for (const n of nodes) {
    for (const kind of ['member', 'admin'] as const) {
      const f = certFiles(pkiDir, kind, n.host);
      files.push({ name: `${kind}-${n.host}.pem`, src: f.cert, mode: 0o644 }, { name: `${kind}-${n.host}-key.pem`, src: f.key, mode: 0o600 });
    }
  }
  return files;
}
