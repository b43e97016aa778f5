#!/usr/bin/env node
// The lab's stand-in for a kube-apiserver: it keeps writing keys to etcd through the cluster's client
// URLs, as an apiserver does, and appends every write etcd acknowledged to an ack log, so a test or a
// drill can check that none of them was lost. Started and stopped by `lab-apiserver start|stop`.
//
// Its etcd servers are what a kubespray apiserver's --etcd-servers lists: every member of the node's
// /etc/etcd.env ETCD_INITIAL_CLUSTER, at this node's client port (from ETCD_ADVERTISE_CLIENT_URLS).
// Writes go through etcd's JSON gateway (POST /v3/kv/put) with the node's admin certificate.
//
// Keys: /registry/lab-apiserver/<host>/<start ms>-<seq>; value: `<host>/<seq>/<time>`.
// Ack log: one line per acknowledged write, `<key> <value> <revision>`.
import { appendFileSync, readFileSync } from 'node:fs';
import { request, Agent } from 'node:https';
import { hostname } from 'node:os';

const ENV_FILE = process.env.LAB_APISERVER_ENV ?? '/etc/etcd.env';
const ACK_LOG = process.env.LAB_APISERVER_ACKS ?? '/var/log/lab-apiserver/acked.log';
const INTERVAL_MS = Number(process.env.LAB_APISERVER_INTERVAL_MS ?? 200);
const SSL = '/etc/ssl/etcd/ssl';

function envVars(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2');
  }
  return out;
}

/** Every member's client URL, read again before each round of attempts (a recovery rewrites the file). */
function servers() {
  const v = envVars(readFileSync(ENV_FILE, 'utf8'));
  const own = new URL((v.ETCD_ADVERTISE_CLIENT_URLS ?? '').split(',')[0]);
  return (v.ETCD_INITIAL_CLUSTER ?? '')
    .split(',')
    .map((m) => m.split('=').slice(1).join('='))
    .filter(Boolean)
    .map((peer) => {
      const u = new URL(peer);
      return `${own.protocol}//${u.hostname}:${own.port}`;
    });
}

const host = hostname();
const agent = new Agent({
  keepAlive: true,
  ca: readFileSync(`${SSL}/ca.pem`),
  cert: readFileSync(`${SSL}/admin-${host}.pem`),
  key: readFileSync(`${SSL}/admin-${host}-key.pem`),
});
const b64 = (s) => Buffer.from(s).toString('base64');

function put(server, key, value) {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ key: b64(key), value: b64(value) });
    const req = request(`${server}/v3/kv/put`, { method: 'POST', agent, timeout: 3000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${server}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
        try {
          const doc = JSON.parse(text);
          if (!doc.header?.revision) return reject(new Error(`${server}: no revision in ${text.slice(0, 200)}`));
          resolve(doc.header.revision);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${server}: no answer in 3 s`)));
    req.on('error', reject);
    req.end(body);
  });
}

let stopping = false;
process.on('SIGTERM', () => (stopping = true));
process.on('SIGINT', () => (stopping = true));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const start = Date.now();
let seq = 0;
let next = 0;
let failing = false;
while (!stopping) {
  const key = `/registry/lab-apiserver/${host}/${start}-${String(seq).padStart(6, '0')}`;
  const value = `${host}/${seq}/${new Date().toISOString()}`;
  let list = [];
  try {
    list = servers();
  } catch (e) {
    console.error(`lab-apiserver: ${e.message}`);
  }
  let ok = false;
  for (let i = 0; i < list.length && !ok && !(stopping && i > 0); i++) {
    const server = list[(next + i) % list.length];
    try {
      const rev = await put(server, key, value);
      // the write is acknowledged: recorded before anything else happens (a stop waits for this)
      appendFileSync(ACK_LOG, `${key} ${value} ${rev}\n`);
      next = (next + i) % list.length;
      ok = true;
      if (failing) console.error(`lab-apiserver: writing again through ${server}`);
      failing = false;
    } catch (e) {
      if (!failing) console.error(`lab-apiserver: ${e.message}`);
    }
  }
  if (ok) seq += 1;
  else failing = true;
  await sleep(ok ? INTERVAL_MS : 500);
}
agent.destroy();
console.error(`lab-apiserver: stopped after ${seq} acknowledged writes`);
