// JSON for /debug/state and /debug/rules, built from what the runtime holds.
// Read-only: nothing here changes the state it looks at.
import { describeHealth } from '../../health/index.ts';
import { iso } from '../../model/text.ts';
import type { RuleTable } from '../../rules/types.ts';
import type { AgentView } from '../agent.ts';
import type { KmsgCursor } from '../state-file.ts';
import type { WriteRecord } from '../types.ts';
import type { PodsView } from '../../sources/podresources/lazy.ts';
import type { DebugCondition, DebugPersistence, DebugState, DebugWrite } from './state-types.ts';

function write(w: WriteRecord | null): DebugWrite | null {
  return w === null ? null : { at: iso(w.at), what: w.what, ok: w.ok, detail: w.detail };
}

/** The pods side of /debug/state, from a pod lookup's answer (runtime/pod-impact.ts). Pure. */
export function withPods(state: DebugState, pods: PodsView, socket: string | null): DebugState {
  return {
    ...state,
    gpus: state.gpus.map((g) => ({ ...g, pods: pods.byGpu === null || g.uuid === null ? null : [...(pods.byGpu.get(g.uuid) ?? [])] })),
    podResources: { state: pods.state, socket, detail: pods.detail, fetchedAt: pods.fetchedAt === null ? null : iso(pods.fetchedAt) },
  };
}

/** Non-zero rejection counts of a kernel-log source (records from the parse step, and foreign-device ones from health). */
function rejectedCounts(counts: Record<string, number> | undefined, foreign: number | undefined): Record<string, number> | null {
  if (counts === undefined && foreign === undefined) return null;
  const out: Record<string, number> = {};
  for (const [k, n] of Object.entries(counts ?? {})) if (n > 0) out[k] = n;
  if (foreign !== undefined && foreign > 0) out['foreign-device'] = foreign;
  return out;
}

export function debugState(v: AgentView, cursor: KmsgCursor | null): DebugState {
  const h = describeHealth(v.core.health);
  const c = v.core.condition;
  const condition: DebugCondition =
    c === null
      ? { type: v.config.conditionType, status: 'Unknown', reason: 'AgentStarting', message: 'replaying the kernel log; no condition written yet', lastTransitionTime: null }
      : { type: v.config.conditionType, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: iso(c.lastTransitionTime) };
  return {
    node: v.config.nodeName,
    bootId: v.bootId,
    ready: v.core.ready,
    acceptDrills: v.config.acceptDrills,
    dryRun: v.config.dryRun,
    condition,
    gpus: h.gpus.map((g) => ({ ...g, pods: null })),
    totals: h.totals,
    // Every source that has said how it is (the GPU source speaks for both DCGM and NVML).
    sources: [...v.statuses.values()].map((st) => {
      const stats = v.sources.find((s) => s.name === st.source)?.stats?.();
      return {
        source: st.source,
        state: st.state,
        since: iso(st.since),
        detail: st.detail,
        caughtUp: st.caughtUp,
        recordsRead: stats?.recordsRead ?? null,
        recordsLost: stats?.recordsLost ?? null,
        skippedPreviousBoot: stats?.skippedPreviousBoot ?? null,
        rejected: rejectedCounts(stats?.rejected, h.devices.foreignRecords[st.source]),
      };
    }),
    cursor,
    lastWrite: write(v.lastWrite),
    persisted: write(v.persisted),
    rules: { origin: v.core.rules.origin, lastReload: write(v.lastReload) },
    drillsIgnored: v.sources.reduce((n, s) => n + (s.stats?.().drillsIgnored ?? 0), 0),
    findingsEvicted: h.evicted,
    devices: h.devices,
    boots: h.boots,
    rejected: v.rejected.map((r) => ({ ...r, at: iso(r.at) })),
    podResources: { state: 'disabled', socket: null, detail: '', fetchedAt: null },
    persistence: persistenceView(v),
  };
}

function persistenceView(v: AgentView): DebugPersistence {
  const p = v.persistence();
  return { ok: p.ok, since: iso(p.since), detail: p.detail, controlSocket: p.controlSocket };
}

export function rulesView(table: RuleTable, lastReload: WriteRecord | null): unknown {
  return {
    apiVersion: table.apiVersion,
    origin: table.origin,
    overridden: table.overridden,
    lastReload: write(lastReload),
    ladder: table.ladder,
    unknown: table.unknown,
    // Entries that make application-caused or unknown codes fatal, listed and marked on the entry.
    risky: table.risky,
    entries: [...table.entries].map(([key, e]) => {
      const why = table.risky.find((r) => r.key === key)?.why;
      return why === undefined ? e : { ...e, risky: why };
    }),
  };
}
