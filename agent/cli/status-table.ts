// Renders /debug/state as text a person reads at a glance. Pure, so tests and
// the demo can call it on any DebugState.
import type { DebugState, FindingView } from '../runtime/inspect/state-types.ts';

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
  // Older agents have no devices / rejected fields.
  const dev = s.devices as DebugState['devices'] | undefined;
  if (dev !== undefined) {
    const from = Object.entries(dev.byOrigin).map(([o, n]) => `${n} from ${o}`).join(', ');
    const check = dev.enforced ? 'kernel records must name one' : 'sysfs listed none: kernel records are checked by their format alone';
    out.push(`NVIDIA devices known: ${dev.known}${from === '' ? '' : ` (${from})`}; ${check}`);
    for (const f of dev.initFailed ?? []) out.push(`  driver failed to bring up ${f.pci} at ${f.at}: watched on every look at the bus`);
  }
  // The repair ladder's history (older agents have none).
  const boots = (s.boots as DebugState['boots'] | undefined) ?? [];
  const ended = boots.filter((b) => b.faults.length > 0);
  if (ended.length > 0) {
    out.push(`earlier boots that ended with fatal findings: ${ended.slice(0, 4).map((b) => `${b.bootId.slice(0, 8)} (${b.faults.map((f) => `${f.reason} on ${f.pci ?? '?'}`).join(', ')})`).join('; ')}`);
  }
  for (const src of s.sources) {
    const r = src.rejected ?? null;
    if (r === null || Object.keys(r).length === 0) continue;
    const total = Object.values(r).reduce((a, b) => a + b, 0);
    out.push(`${src.source}: ${total} record(s) looked like NVIDIA's and were not evidence: ${Object.entries(r).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  const last = (s.rejected as DebugState['rejected'] | undefined)?.at(-1);
  if (last !== undefined) out.push(`  latest: ${last.at} ${last.source} ${last.why}: ${last.text}`);
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

/** Columns padded to their widest cell; the last one is not padded. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)];
}
