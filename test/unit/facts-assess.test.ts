import { assessCluster, digestFacts, electionWaitMs, initialClusterNames, leaderUnsettled, mayBeElecting } from '../../src/facts/assess.js';
import type { Verdict } from '../../src/facts/types.js';
import { NAMES3, node } from '../support/facts.js';

describe('assessCluster', () => {
  const cases: [string, ReturnType<typeof node>[], Verdict, RegExp][] = [
    ['three healthy members', [node(1), node(2), node(3)], 'healthy', /3 voting members serve clients/],
    ['one member down', [node(1), node(2), node(3, { running: false })], 'degraded', /2 of 3 voting members serve clients \(down: etcd3\)/],
    ['one node unreachable', [node(1), node(2), node(3, { reachable: false })], 'degraded', /down: etcd3/],
    ['all stopped', [node(1, { running: false }), node(2, { running: false }), node(3, { running: false })], 'quorum-lost', /no etcd member is running \(3 reachable, 0 unreachable, 3 with a data dir\)/],
    [
      'one running without quorum',
      [node(1, { healthy: false, leader: 0 }), node(2, { running: false }), node(3, { running: false })],
      'quorum-lost',
      /0 of 3 voting members serve clients, 2 are needed/,
    ],
    ['cluster id mismatch', [node(1), node(2), node(3, { running: false, clusterId: 'aaaaaaaaaaaaaaaa' })], 'inconsistent', /disagree on the cluster id/],
    ['membership mismatch', [node(1), node(2), node(3, { members: [1, 3] })], 'inconsistent', /disagree on the membership/],
    ['env file out of date', [node(1), node(2), node(3, { envCluster: [1, 3] })], 'inconsistent', /etcd3: \/etc\/etcd.env lists \{etcd1, etcd3\}/],
    ['a learner left behind', [node(1, { learners: [3] }), node(2, { learners: [3] }), node(3, { learners: [3] })], 'degraded', /learner\(s\) not promoted: etcd3/],
    ['an alarm', [node(1, { alarms: ['NOSPACE'] }), node(2), node(3)], 'degraded', /alarms raised: NOSPACE/],
    ['lagging member', [node(1, { raftIndex: 9000 }), node(2, { raftIndex: 9000 }), node(3, { raftIndex: 10 })], 'degraded', /lagging .*etcd3/],
  ];
  it.each(cases)('%s', (_name, nodes, verdict, reason) => {
    const a = assessCluster(nodes, NAMES3);
    expect(a.verdict).toBe(verdict);
    expect(a.reasons.join('\n')).toMatch(reason);
  });

  it('counts quorum from voting members only', () => {
    const l = { learners: [3] };
    const a = assessCluster([node(1, l), node(2, l), node(3, l)], NAMES3);
    expect(a.votingCount).toBe(2);
    expect(a.quorum).toBe(2);
  });

  it('notes inventory nodes that are not members', () => {
    const a = assessCluster([node(1), node(2), node(3)], [...NAMES3, 'etcd4']);
    expect(a.notes).toContain('etcd4 is in the inventory but not a member');
  });

  it('notes every etcd-dr lock on a node (a run at work, or one left where a run could not reach at its end), without changing the verdict', () => {
    const a = assessCluster([node(1), node(2), node(3, { lock: { runId: '20261124T190000Z-0ld1', holder: 'ops@bastion' } })], NAMES3);
    expect(a.notes).toContain('etcd3: holds the etcd-dr lock of run 20261124T190000Z-0ld1 (ops@bastion)');
    expect(a.verdict).toBe(assessCluster([node(1), node(2), node(3)], NAMES3).verdict);
  });
});

describe('mayBeElecting: a quorum-lost verdict that a leader election could explain', () => {
  const noRead = { healthy: false };
  const cases: [string, ReturnType<typeof node>[], boolean][] = [
    ['healthy cluster', [node(1), node(2), node(3)], false],
    ['degraded cluster', [node(1), node(2), node(3, { running: false })], false],
    ['the leader just died: two run, still name it, neither serves', [node(1, { ...noRead, leader: 3 }), node(2, { ...noRead, leader: 3 }), node(3, { reachable: false })], true],
    ['mid-election: two run, no leader known', [node(1, { ...noRead, leader: 0 }), node(2, { ...noRead, leader: 0 }), node(3, { running: false })], true],
    ['all three run, none serves', [node(1, noRead), node(2, noRead), node(3, noRead)], true],
    ['one of three runs', [node(1, { ...noRead, leader: 0 }), node(2, { running: false }), node(3, { running: false })], false],
    ['all stopped', [node(1, { running: false }), node(2, { running: false }), node(3, { running: false })], false],
    ['two of five run', [1, 2].map((i) => node(i, { ...noRead, members: [1, 2, 3, 4, 5] })).concat([3, 4, 5].map((i) => node(i, { running: false, members: [1, 2, 3, 4, 5] }))), false],
    ['three of five run', [1, 2, 3].map((i) => node(i, { ...noRead, members: [1, 2, 3, 4, 5] })).concat([4, 5].map((i) => node(i, { running: false, members: [1, 2, 3, 4, 5] }))), true],
    // a running learner does not vote, so it cannot make up a majority
    ['one voter and a learner run', [node(1, { ...noRead, learners: [2] }), node(2, { ...noRead, learners: [2] }), node(3, { running: false, learners: [2] })], false],
    ['members disagree (inconsistent, not quorum-lost)', [node(1, noRead), node(2, { ...noRead, members: [1, 2] }), node(3, { running: false })], false],
  ];
  it.each(cases.map(([name, nodes, want]) => [name, want, nodes] as const))('%s → %s', (_name, want, nodes) => {
    expect(mayBeElecting(nodes, assessCluster(nodes, NAMES3))).toBe(want);
  });
});

describe('leaderUnsettled: wait on after the election until the members name a running leader', () => {
  const cases: [string, ReturnType<typeof node>[], boolean][] = [
    ['settled: both name etcd1, which runs', [node(1), node(2), node(3, { reachable: false })], false],
    ['both still name the dead leader etcd3 while serving again', [node(1, { leader: 3 }), node(2, { leader: 3 }), node(3, { reachable: false })], true],
    ['one names the new leader, one still the old', [node(1, { leader: 1 }), node(2, { leader: 3 }), node(3, { reachable: false })], true],
    ['no leader named although both serve', [node(1, { leader: 0 }), node(2, { leader: 0 }), node(3, { reachable: false })], true],
    ['still electing', [node(1, { healthy: false, leader: 0 }), node(2, { healthy: false, leader: 0 }), node(3, { reachable: false })], true],
    ['a lost quorum no election explains', [node(1, { healthy: false, leader: 0 }), node(2, { running: false }), node(3, { running: false })], false],
  ];
  it.each(cases.map(([name, nodes, want]) => [name, want, nodes] as const))('%s → %s', (_name, want, nodes) => {
    expect(leaderUnsettled(nodes, assessCluster(nodes, NAMES3))).toBe(want);
  });
});

describe('electionWaitMs', () => {
  const withTimeout = (i: number, t: string | undefined) => {
    const n = node(i);
    if (t === undefined) delete n.env!.vars.ETCD_ELECTION_TIMEOUT;
    else n.env!.vars.ETCD_ELECTION_TIMEOUT = t;
    return n;
  };
  it.each([
    ['etcd default when no env file sets it', [undefined, undefined], 4000],
    ['kubespray 5000 ms', ['5000', '5000'], 12_000],
    ['the longest one set', ['1000', '5000'], 12_000],
    ['values that are not a whole number of ms are ignored', ['5s', ''], 4000],
    ['capped at a minute', ['50000', undefined], 60_000],
  ] as [string, (string | undefined)[], number][])('%s', (_name, timeouts, want) => {
    expect(electionWaitMs(timeouts.map((t, k) => withTimeout(k + 1, t)))).toBe(want);
  });
  it('reads an unreachable node as setting nothing', () => {
    expect(electionWaitMs([node(1, { reachable: false })])).toBe(4000);
  });
});

describe('digestFacts', () => {
  it('ignores raft indexes and revisions of running members', () => {
    expect(digestFacts([node(1, { raftIndex: 1 }), node(2)])).toBe(digestFacts([node(1, { raftIndex: 99, revision: 7 }), node(2)]));
  });
  it('changes when a stopped member db revision changes', () => {
    expect(digestFacts([node(1, { running: false, revision: 5 })])).not.toBe(digestFacts([node(1, { running: false, revision: 6 })]));
  });
  it('changes when a member starts', () => {
    expect(digestFacts([node(1, { running: false })])).not.toBe(digestFacts([node(1)]));
  });
});

describe('initialClusterNames', () => {
  it.each([
    ['etcd1=https://a:2380,etcd2=https://b:2380', ['etcd1', 'etcd2']],
    ['etcd1=https://a:2380,etcd1=https://a2:2380', ['etcd1']],
    ['', []],
    [undefined, []],
  ])('%s', (v, want) => expect(initialClusterNames(v)).toEqual(want));
});
