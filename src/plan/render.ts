import { DATA_DIR_HEADERS, DATA_DIR_LAYOUTS, dataDirCells } from './datadir-layout.js';
import { renderEstimate } from './cost.js';
import type { EvidenceRow, Plan, Step } from './types.js';
import { renderRuledTable } from '../util/table.js';

export type PlanFormat = 'text' | 'markdown' | 'json';

export function renderMarkdownTable(headers: string[], rows: string[][]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
}

const EVIDENCE_HEADERS = ['member', 'state', 'db', 'db size', 'revision', 'keys', 'raft index', 'applied', 'cluster id', 'note'];

function mib(bytes?: number): string {
  return bytes === undefined ? '' : `${(bytes / 1048576).toFixed(1)} MiB`;
}

function evidenceCells(r: EvidenceRow, chosen: string): string[] {
  return [
    (r.chosen ?? (r.node === chosen && r.state !== 'set-aside')) ? `${r.node} ←` : r.node,
    r.state,
    r.hasDb ? 'yes' : 'no',
    mib(r.dbBytes),
    r.revision?.toString() ?? '',
    r.totalKey?.toString() ?? '',
    r.raftIndex?.toString() ?? '',
    r.appliedIndex?.toString() ?? '',
    r.clusterId ?? '',
    r.note ?? '',
  ];
}

function stepTitle(s: Step): string {
  const where = s.node ?? (s.nodes ? s.nodes.join(', ') : 'bastion');
  return `${s.id}  [${where}]  ${s.action.type}`;
}

export function renderPlanText(plan: Plan): string {
  const out: string[] = [];
  out.push(`etcd-dr plan ${plan.runId} (${plan.intent.kind}) for cluster ${plan.inventory.cluster} — ${plan.inventory.file}`);
  out.push(plan.summary, '');
  if (plan.survivor) {
    out.push(`Survivor: ${plan.survivor.name} — ${plan.survivor.reason}`);
    out.push(renderRuledTable(EVIDENCE_HEADERS, plan.survivor.evidence.map((r) => evidenceCells(r, plan.survivor!.name))), '');
  }
  for (const w of plan.warnings) out.push(`WARNING: ${w}`);
  if (plan.warnings.length) out.push('');
  out.push(...strategyLines(plan));
  out.push(`Final members: ${plan.finalMembers.join(', ')}`, '');
  if (plan.dataDirs?.length) out.push(`Data dirs (nothing is deleted; ${DATA_DIR_LAYOUTS}):`, renderRuledTable(DATA_DIR_HEADERS, plan.dataDirs.map(dataDirCells)), '');
  out.push('Steps:');
  for (const s of plan.steps) {
    out.push(`  ${stepTitle(s)}`, `      why: ${s.why}`);
    if (s.envDiff) out.push(...s.envDiff.split('\n').map((l) => `      ${l}`));
    // the operator's own commands are shown as they will run (every node's, in order)
    if (s.action.type === 'hook') for (const [n, cmds] of Object.entries(s.action.run)) out.push(...cmds.map((c) => `      ${n} $ ${c.replaceAll('\n', '\n        ')}`));
  }
  if (plan.fallback?.length) {
    out.push('', 'Fallback (when a restore-all step fails: every member set back, then):');
    for (const s of plan.fallback) out.push(`  ${stepTitle(s)}`);
  }
  out.push('', `Facts digest: ${plan.factsDigest}. Review, then: etcd-dr apply <plan.json>`);
  return `${out.join('\n')}\n`;
}

export function renderPlanMarkdown(plan: Plan): string {
  const out: string[] = [];
  out.push(`# etcd-dr plan \`${plan.runId}\`: ${plan.intent.kind} of cluster \`${plan.inventory.cluster}\``, '');
  out.push(plan.summary, '');
  out.push(`- inventory: \`${plan.inventory.file}\``, `- created: ${plan.createdAt} by etcd-dr ${plan.tool.version}`, `- facts digest: \`${plan.factsDigest}\``, `- final members: ${plan.finalMembers.map((m) => `\`${m}\``).join(', ')}`, '');
  if (plan.warnings.length) {
    out.push('## Warnings', '', ...plan.warnings.map((w) => `- **${w}**`), '');
  }
  if (plan.survivor) {
    out.push('## Survivor', '', `**${plan.survivor.name}**: ${plan.survivor.reason}`, '');
    out.push(renderMarkdownTable(EVIDENCE_HEADERS, plan.survivor.evidence.map((r) => evidenceCells(r, plan.survivor!.name))), '');
  }
  if (plan.dataDirs?.length) out.push('## Data dirs', '', `Nothing is deleted; ${DATA_DIR_LAYOUTS}.`, '', renderMarkdownTable(DATA_DIR_HEADERS, plan.dataDirs.map(dataDirCells)), '');
  const strategy = strategyLines(plan);
  if (strategy.length) out.push('## Strategy', '', '```', ...strategy.slice(0, -1), '```', '');
  out.push('## Steps', '');
  for (const [i, s] of plan.steps.entries()) {
    out.push(`### ${i + 1}. \`${s.id}\` on ${s.node ?? s.nodes?.join(', ') ?? 'the bastion'}: ${s.action.type}`, '', s.why, '');
    if (s.commands.length) out.push('```sh', ...s.commands, '```', '');
    if (s.envDiff) out.push('```diff', s.envDiff, '```', '');
  }
  if (plan.fallback?.length) {
    out.push('## Fallback', '', 'When a restore-all step fails, every member is set back (etcd stopped, the restored data dir set aside, the env file put back), then:', '');
    for (const s of plan.fallback) out.push(`- \`${s.id}\` on ${s.node ?? s.nodes?.join(', ') ?? 'the bastion'}: ${s.action.type}`);
    out.push('');
  }
  return `${out.join('\n')}\n`;
}

/** The strategy that runs and the cost model's estimate of both, ending with an empty line. */
function strategyLines(plan: Plan): string[] {
  if (!plan.strategy) return [];
  const by = { default: 'the default', flag: '--strategy', auto: '--strategy auto, by the estimate' }[plan.strategy.chosenBy];
  return [`Strategy: ${plan.strategy.name} (${by})`, ...(plan.strategy.estimate ? renderEstimate(plan.strategy.estimate) : []), ''];
}

export function renderPlan(plan: Plan, format: PlanFormat): string {
  if (format === 'json') return `${JSON.stringify(plan, null, 2)}\n`;
  if (format === 'markdown') return renderPlanMarkdown(plan);
  return renderPlanText(plan);
}
