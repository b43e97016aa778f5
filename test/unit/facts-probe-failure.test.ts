/**
 * What `status` and every plan report for a node whose probe could not run: a node that cannot be
 * connected to, or whose connection dropped during the probe (a host powered off just then), is reported
 * with the error; an error that is not about that node is thrown by the caller.
 */
import { probeFailureFacts } from '../../src/facts/gather.js';
import { ApplyError } from '../../src/util/errors.js';
import { ConnectFailedError, ConnectionLostError, HostKeyError } from '../../src/ssh/errors.js';
import { nodeSpec } from '../support/facts.js';

const spec = nodeSpec(3);
const target = { label: 'root@10.0.0.3:22', host: '10.0.0.3', port: 22, user: 'root' };

describe('probeFailureFacts', () => {
  it.each([
    ['a refused connection', new ConnectFailedError('etcd3', 'unreachable', 'cannot reach root@10.0.0.3:22: connect ECONNREFUSED'), { reachable: false, refused: false }],
    ['a handshake that timed out', new ConnectFailedError('etcd3', 'timeout', 'no SSH handshake with root@10.0.0.3:22 within 10 s'), { reachable: false, refused: false }],
    ['a refused host key', new HostKeyError('etcd3', target, { status: 'unknown', presentedFingerprint: 'SHA256:abc' }, '/k', false), { reachable: false, refused: true }],
    [
      'the connection lost during the probe, and no new one (a host powered off)',
      new ConnectionLostError('etcd3', "sh -c 'probe'", false, 'No response from server after 12 ms'),
      { reachable: false, refused: false },
    ],
    [
      'the connection lost during the probe and its second run (the node answers but drops it)',
      new ConnectionLostError('etcd3', "sh -c 'probe'", true, 'Keepalive timeout after 20000 ms'),
      { reachable: true, refused: false },
    ],
  ])('%s: the node is reported with the error', (_what, err, want) => {
    const f = probeFailureFacts(spec, err, 7)!;
    expect(f).toBeDefined();
    expect(f.name).toBe('etcd3');
    expect(f.reachable).toBe(want.reachable);
    expect(f.error).toBe(err.message);
    expect(f.probeMs).toBe(7);
    expect(f.endpoint).toBeUndefined();
    expect(f.refused !== undefined).toBe(want.refused);
  });

  it.each([
    ['a lost connection of another node', new ConnectionLostError('etcd1', "sh -c 'probe'", false, 'x')],
    ['a bug', new TypeError('x is undefined')],
    ['an error of the run', new ApplyError('etcd3: sshd refused to open a session')],
  ])('%s is not a fact about the node: undefined, the caller throws it', (_what, err) => {
    expect(probeFailureFacts(spec, err, 7)).toBeUndefined();
  });
});
