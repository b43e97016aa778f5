/** A drill's report for machines (JSON), CI systems (JUnit XML) and people (markdown, and a short summary). */
import type { DrillReport } from './types.js';

const s = (ms?: number) => (ms === undefined ? '–' : `${(ms / 1000).toFixed(2)} s`);

export function reportJson(r: DrillReport): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

function xml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');
}

export function reportJunit(r: DrillReport): string {
  const failures = r.checks.filter((c) => !c.pass).length;
  const secs = ((r.timings.totalMs ?? 0) / 1000).toFixed(3);
  const props = Object.entries(flatTimings(r)).map(([k, v]) => `      <property name="${xml(k)}" value="${xml(String(v))}"/>`);
  const cases = r.checks.map((c) =>
    c.pass
      ? `    <testcase classname="etcd-dr.drill.${xml(r.scenario)}" name="${xml(c.name)}"><system-out>${xml(c.evidence)}</system-out></testcase>`
      : `    <testcase classname="etcd-dr.drill.${xml(r.scenario)}" name="${xml(c.name)}"><failure message="${xml(c.evidence.slice(0, 500))}">${xml(c.evidence)}</failure></testcase>`,
  );
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="etcd-dr drill" tests="${r.checks.length}" failures="${failures}" time="${secs}">`,
    `  <testsuite name="drill ${xml(r.scenario)} on ${xml(r.cluster)}" tests="${r.checks.length}" failures="${failures}" errors="0" time="${secs}" timestamp="${xml(r.startedAt)}">`,
    '    <properties>',
    ...props,
    '    </properties>',
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** Timings as flat properties: `totalMs`, `join.etcd2.ms`, `remove.etcd1.ms`. */
export function flatTimings(r: DrillReport): Record<string, number> {
  const t = r.timings;
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(t)) {
    if (typeof v === 'number') out[k] = v;
    else if (v && typeof v === 'object') for (const [j, ms] of Object.entries(v)) out[`${k.replace(/sMs$/, '')}.${j}.ms`] = ms as number;
  }
  return out;
}

/** The timings table: a recovery's phases up to its RTO, or a membership change's removals, joins and total. */
export function timingRows(r: DrillReport): [string, string][] {
  const t = r.timings;
  if (r.kind === 'planned') {
    return [
      ...(r.scenario === 'replace' ? [['host lost and back wiped (injection)', s(t.injectMs)] as [string, string]] : []),
      ...(t.moveLeaderMs !== undefined ? [['leadership handover', s(t.moveLeaderMs)] as [string, string]] : []),
      ...Object.entries(t.removesMs ?? {}).map(([m, ms]): [string, string] => [`remove ${m} (handover, member remove, stop, data dir aside, env files)`, s(ms)]),
      ...Object.entries(t.joinsMs ?? {}).map(([m, ms]): [string, string] => [`join ${m} (learner add, env file, start, promote, serving)`, s(ms)]),
      // after a join every other member's env file follows; a removal rewrites them within its own steps
      ...(Object.keys(t.joinsMs ?? {}).length ? [['env files to the new membership', s(t.envSyncMs)] as [string, string]] : []),
      ['verification', s(t.verifyMs)],
      ['total change', s(t.totalMs)],
      ...(r.scenario === 'replace' ? [['a member short (host lost → replacement verified)', s(t.degradedMs)] as [string, string]] : []),
    ];
  }
  return [
    ['stop', s(t.stopMs)],
    ['backup (move aside; the db copy, as far as the run waited for it)', s(t.backupMs)],
    ['restore', s(t.restoreMs)],
    ['first member serving (write availability)', s(t.firstMemberServingMs)],
    ...Object.entries(t.joinsMs ?? {}).map(([m, ms]): [string, string] => [`join ${m}`, s(ms)]),
    ['verification', s(t.verifyMs)],
    ['total recovery (RTO)', s(t.totalMs)],
  ];
}

export function reportMarkdown(r: DrillReport): string {
  const esc = (x: string) => x.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    `# etcd-dr drill: \`${r.scenario}\` on \`${r.cluster}\` — ${r.pass ? '**PASS**' : '**FAIL**'}`,
    '',
    `${r.description}.`,
    '',
    `- started ${r.startedAt}, finished ${r.finishedAt}, etcd-dr ${r.tool.version}`,
    `- inventory \`${r.inventory}\`${r.survivor ? `; survivor **${r.survivor}**` : ''}${r.strategy ? `; strategy **${r.strategy}**` : ''}${r.excluded.length ? `; left out: ${r.excluded.join(', ')}` : ''}${r.target ? `; target **${r.target}**` : ''}`,
    ...(r.members ? [`- members: ${r.members.before.join(', ')} → ${r.members.after?.join(', ') ?? '–'}`] : []),
    ...(r.runDir ? [`- run files: \`${r.runDir}\``] : []),
    ...(r.error ? ['', `**Error:** ${esc(r.error)}`] : []),
    ...(r.notes.length ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
    '',
    '## Checks',
    '',
    '| check | result | evidence |',
    '|---|---|---|',
    ...r.checks.map((c) => `| ${esc(c.name)} | ${c.pass ? 'pass' : '**FAIL**'} | ${esc(c.evidence)} |`),
    '',
    '## Timings',
    '',
    '| phase | time |',
    '|---|---|',
    ...timingRows(r).map(([p, t]) => `| ${p} | ${t} |`),
    '',
    '## Data',
    '',
    `- before: ${r.before ? `${r.before.keys} keys, ${(r.before.valueBytes / 1048576).toFixed(1)} MiB of values, revision ${r.before.revision}, digest \`${r.before.digest.slice(0, 16)}…\`` : '–'}`,
    `- after: ${r.after ? `${r.after.keys} keys, ${(r.after.valueBytes / 1048576).toFixed(1)} MiB of values, revision ${r.after.revision}, digest \`${r.after.digest.slice(0, 16)}…\`` : '–'}`,
    ...(r.missingKeys.length ? ['', `Missing keys (${r.missingKeys.length}):`, '', ...r.missingKeys.slice(0, 100).map((k) => `- \`${k}\``)] : []),
    '',
  ].join('\n');
}

/** A few lines for the terminal at the end of a drill. */
export function reportSummary(r: DrillReport): string {
  const lines = [
    `drill ${r.scenario} on ${r.cluster}: ${r.pass ? 'PASS' : 'FAIL'}${r.error ? ` (${r.error.split('\n')[0]})` : ''}`,
    ...r.checks.map((c) => `  ${c.pass ? 'ok  ' : 'FAIL'} ${c.name}: ${c.evidence.length > 160 ? `${c.evidence.slice(0, 157)}…` : c.evidence}`),
    r.kind === 'planned'
      ? `  change ${s(r.timings.totalMs)} (${timingRows(r).filter(([p]) => p !== 'total change').map(([p, t]) => `${p.replace(/ \(.*\)$/, '')} ${t}`).join(', ')})`
      : `  RTO ${s(r.timings.totalMs)}${r.strategy ? ` with ${r.strategy}` : ''} (write availability after ${s(r.timings.firstMemberServingMs)}; stop ${s(r.timings.stopMs)}, restore ${s(r.timings.restoreMs)}, verify ${s(r.timings.verifyMs)})`,
  ];
  return `${lines.join('\n')}\n`;
}
