/**
 * verify: the cluster as planned. One leader, every planned member a voter and no other, no alarm, the
 * same hashkv everywhere, at least as many keys as the restored member served, and every member's env
 * file listing exactly the final membership.
 */
import { parseEnvFile, vars } from '../../etcd/envfile.js';
import { clientUrl, peerUrl } from '../../inventory/types.js';
import type { Action } from '../../plan/types.js';
import { VerificationError } from '../../util/errors.js';
import type { Handler } from '../step-context.js';
import { sleep } from './common.js';

export const verify: Handler<Extract<Action, { type: 'verify' }>> = async (ctx, state, step, a) => {
  const ops = await ctx.ops(a.via);
  const specs = a.members.map((m) => ctx.spec(m));
  const endpoints = specs.map(clientUrl);
  const problems: string[] = [];
  const deadline = Date.now() + 60_000;
  // members that just joined may still be applying: the checks are repeated until they agree or time runs out
  for (;;) {
    problems.length = 0;
    // the reads are independent: status, membership and alarms at once, then hash, keys and env files
    const [st, members, allAlarms] = await Promise.all([ops.endpointStatus(endpoints), ops.memberList(), ops.alarms()]);
    for (const f of st.failures) problems.push(`${f.endpoint}: no status (${f.error})`);
    const leaders = new Set(st.statuses.map((s) => s.leader));
    const isLeader = st.statuses.filter((s) => s.isLeader);
    if (isLeader.length !== 1 || leaders.size !== 1) problems.push(`expected exactly one leader, members report ${[...leaders].join(', ') || 'none'}`);
    for (const s of st.statuses) {
      if (s.isLearner) problems.push(`${s.endpoint} is still a learner`);
      if (s.errors.length) problems.push(`${s.endpoint}: ${s.errors.join('; ')}`);
    }
    const names = members.map((m) => m.name).sort();
    if (names.join(',') !== [...a.members].sort().join(',')) problems.push(`members are [${names.join(', ')}], expected [${[...a.members].sort().join(', ')}]`);
    for (const m of members) if (m.isLearner) problems.push(`member ${m.name || m.id} is a learner`);
    for (const x of allAlarms.filter((y) => y.alarm !== 'NONE')) problems.push(`alarm ${x.alarm} on member ${x.memberId}`);
    let hash: { revision: number; hashes: Record<string, number> } | undefined;
    let keys: { count: number; revision: number } | undefined;
    if (!problems.length) {
      const rev = Math.min(...st.statuses.map((s) => s.revision));
      const expected = specs.map((s) => `${s.name}=${peerUrl(s)}`).sort().join(',');
      const [hk, kc, envProblems] = await Promise.all([
        ops.hashKv(endpoints, rev).then(
          (v) => ({ v }),
          (err: unknown) => ({ err: err as Error }),
        ),
        ops.keyCount(),
        // env files: every member's lists exactly the final membership, state existing
        Promise.all(
          specs.map(async (s) => {
            const r = await (await ctx.conn(s.name)).exec(['cat', s.etcd.envFile], { timeout: 20, retryOnDisconnect: true });
            const v = vars(parseEnvFile(r.stdout));
            const out: string[] = [];
            const got = (v['ETCD_INITIAL_CLUSTER'] ?? '').split(',').sort().join(',');
            if (got !== expected) out.push(`${s.name}: ${s.etcd.envFile} has ETCD_INITIAL_CLUSTER=${v['ETCD_INITIAL_CLUSTER'] ?? ''}`);
            if (v['ETCD_INITIAL_CLUSTER_STATE'] !== 'existing') out.push(`${s.name}: ${s.etcd.envFile} has ETCD_INITIAL_CLUSTER_STATE=${v['ETCD_INITIAL_CLUSTER_STATE'] ?? ''}`);
            return out;
          }),
        ),
      ]);
      if ('err' in hk) problems.push(`hashkv at revision ${rev}: ${hk.err.message}`);
      else {
        const hashes = Object.fromEntries(hk.v.map((h) => [h.endpoint, h.hash]));
        if (new Set(hk.v.map((h) => h.hash)).size !== 1 || hk.v.length !== endpoints.length) problems.push(`hashkv at revision ${rev} differs: ${JSON.stringify(hashes)}`);
        hash = { revision: rev, hashes };
      }
      keys = kc;
      if (state.baseline && kc.count < state.baseline.count) problems.push(`${kc.count} keys, fewer than the ${state.baseline.count} the restored survivor served`);
      problems.push(...envProblems.flat());
    }
    if (!problems.length) {
      const leader = st.statuses.find((s) => s.isLeader)!;
      return {
        outcome: 'verified',
        data: {
          members: a.members,
          leader: members.find((m) => m.id === leader.memberId)?.name ?? leader.memberId,
          hashkv: hash,
          keys,
          baseline: state.baseline,
        },
      };
    }
    if (Date.now() > deadline) break;
    ctx.note(step, `not yet: ${problems[0]}`);
    await sleep(1000);
  }
  throw new VerificationError(`verification failed: ${problems.join('; ')}`, 'the cluster is up but not as planned; see `etcd-dr status` and the run journal');
};
