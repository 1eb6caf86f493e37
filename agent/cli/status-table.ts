// Renders /debug/state as text a person reads at a glance. Pure, so tests and
// the demo can call it on any DebugState.
import type { DebugState, FindingView } from '../report/debug/state-types.ts';

export function formatStatus(s: DebugState): string {
  const c = s.condition;
  const out: string[] = [];
  const since = c.lastTransitionTime === null ? 'not decided yet' : `since ${c.lastTransitionTime}`;
  out.push(`node ${s.node}: ${c.type}=${c.status} (${c.reason}) ${since}${s.ready ? '' : ' [replaying, not ready]'}${s.dryRun ? ' [dry run]' : ''}`);
  if (c.message !== '') out.push(`  ${c.message}`);
  out.push('');
  const gpuRows = s.gpus.map((g) => [
    g.id === 'node' ? 'node' : g.index === null ? '-' : String(g.index),
    g.pci ?? '-',
    g.uuid ?? '-',
    g.health.toUpperCase(),
    g.findings.length === 0 ? '-' : g.findings.map(findingText).join(', '),
    g.findings[0]?.lastSeen ?? g.lastSeen,
    podsText(g.pods),
  ]);
  if (gpuRows.length === 0) out.push('no GPUs seen yet');
  else out.push(...table(['GPU', 'PCI', 'UUID', 'HEALTH', 'FINDINGS', 'LAST SEEN', 'PODS'], gpuRows));
  out.push('');
  out.push(
    ...table(
      ['SOURCE', 'STATE', 'CAUGHT UP', 'READ', 'LOST', 'DETAIL'],
      s.sources.map((src) => [src.source, src.state, src.caughtUp ? 'yes' : 'no', num(src.recordsRead), num(src.recordsLost), src.detail || '-']),
    ),
  );
  const cursor = s.cursor === null ? 'none' : `seq ${s.cursor.seq}`;
  const write = s.lastWrite === null ? 'none' : `${s.lastWrite.what} at ${s.lastWrite.at}: ${s.lastWrite.detail}`;
  out.push('', `kmsg cursor: ${cursor}   last write: ${write}   rules: ${s.rules.origin}`);
  // Older agents have no podResources field.
  const pr = s.podResources as DebugState['podResources'] | undefined;
  if (pr !== undefined && pr.state !== 'up') out.push(`pods: ${pr.state === 'disabled' ? 'not looked up' : 'unavailable'}${pr.detail === '' ? '' : ` (${pr.detail})`}`);
  if (s.drillsIgnored > 0) out.push(`drill records ignored (no --accept-drills): ${s.drillsIgnored}`);
  // Older agents have no persistence field.
  const ps = s.persistence;
  if (ps !== undefined && !ps.ok) out.push(`state NOT persisted: ${ps.detail} (since ${ps.since}); a restart forgets the findings`);
  if (ps !== undefined && !ps.controlSocket.ok) out.push(`control socket unavailable: ${ps.controlSocket.detail}`);
  return out.join('\n') + '\n';
}

function findingText(f: FindingView): string {
  return `${f.reason} x${f.count} [${f.code}, ${f.severity}, ${f.action}]${f.drill ? ' (DRILL)' : ''}`;
}

/** `ns/pod`, one per Pod; `?` when the kubelet could not be asked or the GPU's UUID is unknown. */
function podsText(pods: DebugState['gpus'][number]['pods'] | undefined): string {
  if (pods === null || pods === undefined) return '?';
  if (pods.length === 0) return '-';
  return [...new Set(pods.map((p) => `${p.namespace}/${p.name}`))].join(', ');
}

function num(n: number | null): string {
  return n === null ? '-' : String(n);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)];
}
