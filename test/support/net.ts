/**
 * The loopback range of an e2e file. Each file has its own third octet (recover 13 and 14, scale 15 and 16,
 * …), so files that run at once (jest workers) never share an address. $ETCD_DR_E2E_NET moves every file to
 * another 127.a. prefix (e.g. `ETCD_DR_E2E_NET=127.1`): a whole-suite run then cannot meet a single file
 * run on the same machine, which keeps the default 127.0.
 */
const NET = /^127\.\d{1,3}$/;

export function e2ePrefix(env: NodeJS.ProcessEnv = process.env): string {
  const net = env['ETCD_DR_E2E_NET'] ?? '127.0';
  if (!NET.test(net)) throw new Error(`ETCD_DR_E2E_NET=${net}: give the first two octets of a loopback range, e.g. 127.1`);
  return net;
}

/** The address base of range `n`: `127.0.<n>.` by default, for startLab and --address-base. */
export function e2eNet(n: number, env: NodeJS.ProcessEnv = process.env): string {
  return `${e2ePrefix(env)}.${n}.`;
}

/** An address or base as a regular expression's text (its dots literal). */
export function dots(address: string): string {
  return address.replaceAll('.', '\\.');
}
