// Renders a FleetView as text a person reads at a glance (pure).
import type { FleetPool, FleetRow, FleetView } from './fleet-view.ts';
import { table } from './status-table.ts';

/** `45s`, `12m`, `3h4m`, `2d5h`: the age style kubectl uses. */
export function age(ms: number): string {
  const s = Math.floor(Math.abs(ms) / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  const d = Math.floor(h / 24);
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
}

function poolText(r: FleetRow): string {
  return r.pool === null ? '-' : r.pool.name;
}

function gpuText(r: FleetRow): string {
  if (r.gpu === null) return '-';
  // The UUID makes the column too wide; --json has it.
  const short = r.gpu.replace(/, GPU-[0-9a-fA-F-]+\)$/, ')').replace(/ \(GPU-[0-9a-fA-F-]+\)$/, '');
  return r.gpusNamed > 1 ? `${short} +${r.gpusNamed - 1}` : short;
}

function heartbeatText(r: FleetRow): string {
  if (r.heartbeatAgeMs === null) return '-';
  return r.stale ? `${age(r.heartbeatAgeMs)} STALE` : age(r.heartbeatAgeMs);
}

function repairText(r: FleetRow): string {
  const v = r.repair;
  const which = v.condition === null || v.condition.startsWith('AcceleratedHardwareReady=') ? '' : ` (${v.condition})`;
  const when = v.inMs === null ? '' : v.inMs > 0 ? `in ${age(v.inMs)}` : `due ${age(v.inMs)} ago`;
  switch (v.state) {
    case 'none':
      return '-';
    case 'waiting':
      return `${when}${which}`;
    case 'due':
      return `${when}${which}`;
    case 'blocked':
      return `BLOCKED, ${when}${which}`;
    case 'no-controller':
      return `no controller${which}`;
  }
}

function poolRepairText(p: FleetPool): string {
  if (p.blocked) return `BLOCKED (${p.unhealthy} > ${p.budget})`;
  if (p.unhealthy === 0) return 'ok';
  return p.unhealthy === p.budget ? 'ok (at the limit: one more blocks repair)' : `ok (${p.budget - p.unhealthy} more may fail)`;
}

export function formatFleet(v: FleetView): string {
  const out: string[] = [];
  if (v.rows.length > 0) {
    out.push(
      ...table(
        ['NODE', 'POOL', 'STATUS', 'REASON', 'SINCE', 'GPU', 'HEARTBEAT', 'REPAIR'],
        v.rows.map((r) => [
          r.node,
          poolText(r),
          r.status ?? 'MISSING',
          r.reason === null ? '-' : `${r.reason}${r.drill ? ' [drill]' : ''}`,
          r.since === null ? '-' : age(Date.parse(v.at) - Date.parse(r.since)),
          gpuText(r),
          heartbeatText(r),
          repairText(r),
        ]),
      ),
    );
  }
  if (v.pools.length > 0) {
    out.push('');
    out.push(
      ...table(
        ['POOL', 'KIND', 'NODES', 'UNHEALTHY', 'BUDGET', 'REPAIR'],
        v.pools.map((p) => [p.name, p.kind === 'karpenter' ? 'NodePool' : 'EKS node group', String(p.nodes), String(p.unhealthy), String(p.budget), poolRepairText(p)]),
      ),
    );
  }
  if (v.notes.length > 0) out.push(...(out.length > 0 ? [''] : []), ...v.notes);
  return out.join('\n') + '\n';
}
