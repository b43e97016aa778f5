/**
 * What `--help` teaches besides the options: examples for every command and the exit codes it can end
 * with. Kept apart from the command modules so each stays one concern; main.ts, `plan` and `lab` wrap
 * their commands with withHelp.
 */
import type { Argv, CommandModule } from 'yargs';

const RUN_EXITS = '0 done and verified · 1 a step failed (the journal keeps the place; `etcd-dr resume`) · 2 bad input, nothing done · 3 refused for safety, nothing done · 4 verification failed after the change · 130 interrupted (SIGINT) · 143 stopped (SIGTERM)';
const PLAN_EXITS = '0 plan made · 2 bad input · 3 refused for safety (e.g. the quorum holds, a lock is held, a host key is unknown)';
const LAB_EXITS = '0 ok · 1 failed · 2 bad input (not root, a missing program, a bad option)';

interface Help {
  examples: [string, string][];
  exits: string;
}

const help = (exits: string, ...examples: [string, string][]): Help => ({ examples, exits });

export const HELP: Record<string, Help> = {
  status: help('0 healthy · 2 bad input · 3 a host key refused · 5 degraded · 6 quorum lost · 7 inconsistent', ['$0 status -i inventory.yaml', 'probe every node and print the verdict'], ['$0 status -i inventory/mycluster/hosts.yaml --json | jq .assessment.verdict', 'the verdict for a script']),
  plan: help(PLAN_EXITS, ['$0 plan recover -i inventory.yaml -o plan.json', 'plan a recovery, save it for `apply`'], ['$0 plan scale-out --node etcd4 -i inventory.yaml', 'plan adding a node']),
  'plan recover': help(PLAN_EXITS, ['$0 plan recover -i inventory.yaml -o plan.json --format markdown > plan.md', 'save the plan and a markdown copy for review'], ['$0 plan recover -i inventory.yaml --survivor etcd2 --exclude etcd3', 'restore from etcd2, leave the dead etcd3 out']),
  'plan scale-out': help(PLAN_EXITS, ['$0 plan scale-out --node etcd4 --node etcd5 -i inventory.yaml -o grow.json', 'plan adding two nodes']),
  'plan scale-in': help(PLAN_EXITS, ['$0 plan scale-in --member etcd5 -i inventory.yaml -o shrink.json', 'plan removing a member']),
  'plan replace': help(PLAN_EXITS, ['$0 plan replace --member etcd3 --with etcd6 -i inventory.yaml -o replace.json', 'plan replacing etcd3 by etcd6']),
  recover: help(RUN_EXITS, ['$0 recover -i inventory.yaml', 'plan, show, ask, then apply the recovery'], ['$0 recover -i inventory.yaml --exclude etcd3 --yes', 'without asking, leaving the dead etcd3 out']),
  'scale-out': help(RUN_EXITS, ['$0 scale-out --node etcd4 -i inventory.yaml', 'add etcd4 as a learner, promote it, verify']),
  'scale-in': help(RUN_EXITS, ['$0 scale-in --member etcd5 -i inventory.yaml', 'remove etcd5 (leadership moved away first)']),
  replace: help(RUN_EXITS, ['$0 replace --member etcd3 -i inventory.yaml', "etcd3's host came back wiped: rebuild it in place"], ['$0 replace --member etcd3 --with etcd6 -i inventory.yaml', 'etcd6 takes the place of etcd3']),
  apply: help(RUN_EXITS, ['$0 apply plan.json -i inventory.yaml', 'run a reviewed plan (asks first)'], ['$0 apply plan.json -i inventory.yaml --yes --json > result.json', 'in a script: no question, one JSON document']),
  resume: help(RUN_EXITS, ['$0 resume -i inventory.yaml', 'continue the newest unfinished run, from any directory'], ['$0 resume 20261124T193012Z-3f9c --exclude etcd3 -i inventory.yaml', "finish that run without etcd3, whose host died"]),
  unlock: help('0 done (or nothing to clear) · 2 bad input (--empty missing) · 3 a lock names a run, left alone', ['$0 unlock --empty -i inventory.yaml', 'set aside lock files a crashed run left empty (status shows them)']),
  drill: help('0 pass · 1 the recovery or change failed · 2 bad input · 3 refused (not disposable, not healthy) · 4 a check failed · 130 / 143 interrupted', ['$0 drill --scenario all-down -i staging.yaml --yes --junit drill.xml', 'rehearse a full outage on a disposable cluster'], ['$0 drill --scenario scale-out --target etcd4 -i staging.yaml --yes', 'rehearse adding etcd4']),
  demo: help('0 the drill passed · 1 failed · 2 bad input (not root, a missing program) · 4 a check failed', ['$0 demo', 'a 3-node lab, data, the all-down drill and its report; the lab goes away'], ['$0 demo --keep --address-base 127.0.20.', 'keep the lab afterwards, on other loopback addresses']),
  show: help('0 shown · 2 not a plan etcd-dr made, or edited since', ['$0 show plan.json', 'print a saved plan again, for people'], ['$0 show plan.json --format markdown > plan.md', 'as markdown, for a review or a ticket']),
  inventory: help('0 shown · 2 bad input (the inventory, or an ssh config ssh refuses)', ['$0 inventory show -i inventory/mycluster/hosts.yaml', 'how each etcd node of a kubespray inventory will be reached'], ['$0 inventory show --json | jq \'.nodes[] | {name, host, route}\'', 'host and route of every node, as `ssh -G` resolves them']),
  'inventory show': help('0 shown · 2 bad input (the inventory, or an ssh config ssh refuses)', ['$0 inventory show -i inventory.yaml --json', 'what etcd-dr will use for every node, as one JSON document']),
  lab: help(LAB_EXITS, ['$0 lab up --nodes 5 --members 3', 'a 3-member cluster and two bare nodes'], ['$0 lab down --purge', 'power every node off and remove the lab']),
  'lab up': help(LAB_EXITS, ['$0 lab up --etcd 3.5 --address-base 127.0.20.', 'an etcd 3.5 lab on 127.0.20.1…']),
  'lab status': help(LAB_EXITS, ['$0 lab status', 'power, sshd and etcd of each node']),
  'lab down': help(LAB_EXITS, ['$0 lab down --purge', 'power off and remove the lab dir']),
  'lab load': help(LAB_EXITS, ['$0 lab load --keys 10000 --mb 50', '10000 small keys and 50 MiB of values']),
  'lab power-off': help(LAB_EXITS, ['$0 lab power-off etcd2', "cut etcd2's power"]),
  'lab power-on': help(LAB_EXITS, ['$0 lab power-on etcd2', 'boot etcd2 again']),
  'lab break': help(LAB_EXITS, ['$0 lab break --scenario all-down', 'stop etcd on every node']),
  'lab exec': help("0 the command succeeded, else the command's own exit code · 124 timed out · 2 bad input", ['$0 lab exec etcd1 -- etcdctl member list -w table', 'run a command in a node']),
};

/** The command's name without its positionals: `apply <plan>` → `apply`. */
function nameOf(mod: CommandModule<any, any>): string {
  const c = Array.isArray(mod.command) ? mod.command[0] : mod.command;
  return String(c ?? '').split(' ')[0] ?? '';
}

/** The module with its examples and exit codes added to its help (`path` is e.g. `plan recover`). */
export function withHelp<T, U>(mod: CommandModule<T, U>, parent = ''): CommandModule<T, U> {
  const path = parent ? `${parent} ${nameOf(mod)}` : nameOf(mod);
  const help = HELP[path];
  if (!help) return mod;
  const orig = mod.builder;
  return {
    ...mod,
    builder: (y: Argv<T>) => {
      let b = (typeof orig === 'function' ? (orig(y) ?? y) : orig ? y.options(orig) : y) as Argv<U>;
      for (const [cmd, what] of help.examples) b = b.example(cmd, what);
      return b.epilogue(`Exit codes: ${help.exits}.`) as Argv<U>;
    },
  } as CommandModule<T, U>;
}
