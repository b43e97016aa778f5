/** HTTPS to the lab's etcd members from the host, with the lab CA and a host's admin certificate. */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { certFiles } from './pki.js';
import { CLIENT_PORT } from './render.js';

export interface EtcdClient {
  endpoint: string;
  /** GET or POST a path; resolves with status and body text (rejects on network errors) */
  call(method: 'GET' | 'POST', path: string, body?: unknown, timeoutMs?: number): Promise<{ status: number; body: string }>;
  close(): void;
}

/** A keep-alive client for one member, authenticated as `admin-<host>`. */
export function etcdClient(pkiDir: string, address: string, host: string, maxSockets = 8, port = CLIENT_PORT): EtcdClient {
  const admin = certFiles(pkiDir, 'admin', host);
  const agent = new Agent({
    keepAlive: true,
    maxSockets,
    ca: readFileSync(`${pkiDir}/ca.pem`),
    cert: readFileSync(admin.cert),
    key: readFileSync(admin.key),
  });
  const endpoint = `https://${address}:${port}`;
  return {
    endpoint,
    call(method, path, body, timeoutMs = 10_000) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      return new Promise((resolvePromise, reject) => {
        const req = request(
          {
            host: address,
            port,
            method,
            path,
            agent,
            headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {},
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
            res.on('error', reject);
          },
        );
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${endpoint}${path} within ${timeoutMs} ms`)));
        req.on('error', reject);
        req.end(payload);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** The member answers `/health` with `"health":"true"` (it has a leader and serves reads). */
export async function memberHealthy(client: EtcdClient, timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await client.call('GET', '/health', undefined, timeoutMs);
    return r.status === 200 && /"health"\s*:\s*"true"/.test(r.body);
  } catch {
    return false;
  }
}
