// DCGM probe results to evidence. Pure apart from the memory it keeps between
// probes (what was already reported), so it is tested with plain values.
import type { Evidence, GpuRef, Observation } from '../../model/evidence.ts';
import { normalisePci } from '../../model/pci.ts';
import { GpuEvidenceMemory } from '../gpu/evidence-memory.ts';
import { DCGM_FE_GPU, DCGM_HEALTH_RESULT, DCGM_HEALTH_WATCH_ALL, DCGM_ST, FABRIC_FIELD, FIELD, HEALTH_SYSTEM_NAMES } from './abi.ts';
import { decodeHealthMask, decodeManagerStatus, type FabricReading } from './fabric.ts';
import type { ProbeResult } from './worker.ts';

export class DcgmTranslator {
  private readonly memory = new GpuEvidenceMemory();
  private readonly xidTs = new Map<string, number>();
  private readonly nvlink = new Map<string, number>();
  private incidentKeys = new Set<string>();
  /** Last fabric state per GPU and field: a reading is evidence when it changes (the first one included). */
  private readonly fabric = new Map<string, string>();

  private fabricChanged(gpu: GpuRef, key: string, r: FabricReading): Evidence | null {
    const k = `${key}/${r.field}`;
    if (this.fabric.get(k) === r.state) return null;
    this.fabric.set(k, r.state);
    return { kind: 'fabric', gpu, field: r.field, state: r.state, raw: r.raw, healthy: r.healthy };
  }

  /** Observations for one probe; `at` is the probe's wall time (ms). */
  /** After a reconnect: the engine's count starts a new streak. */
  reconnected(): void {
    this.memory.resetCount();
  }

  translate(probe: ProbeResult, at: number, expectedGpus: number | null): Observation[] {
    const out: Observation[] = [];
    const emit = (evidence: Evidence | null, when = at): void => {
      if (evidence) out.push({ evidence, source: 'dcgm', at: when, drill: false });
    };
    const refs = new Map<number, GpuRef>();
    for (const g of probe.gpus) {
      const uuid = g.uuid.startsWith('GPU-') ? g.uuid : null;
      refs.set(g.gpuId, { pci: normalisePci(g.pciBusId), uuid, index: g.gpuId });
    }
    emit(this.memory.inventory([...refs.values()]));
    emit(this.memory.deviceCount(probe.gpus.length, expectedGpus));

    for (const g of probe.gpus) {
      const gpu = refs.get(g.gpuId)!;
      const key = gpu.uuid ?? gpu.pci ?? String(g.gpuId);
      for (const v of g.values) {
        if (v.status !== DCGM_ST.OK || v.value === null) continue;
        switch (v.fieldId) {
          case FIELD.XID_ERROR: {
            // The field holds only the latest Xid; a new sample has a new timestamp.
            const last = this.xidTs.get(key);
            if (v.value > 0 && (last === undefined || v.ts > last)) {
              emit({ kind: 'xid', gpu, code: v.value, pid: null, processName: null, text: `DCGM_FI_DEV_XID_ERROR=${v.value}` },
                v.ts > 0 ? Math.floor(v.ts / 1000) : at);
            }
            this.xidTs.set(key, Math.max(v.ts, last ?? 0));
            break;
          }
          case FIELD.ECC_DBE_VOL_TOTAL:
            emit(this.memory.counter(gpu, 'ecc-dbe-volatile', v.value));
            break;
          case FIELD.PAGE_RETIRED_PENDING:
            emit(this.memory.counter(gpu, 'retired-pages-pending', v.value));
            break;
          case FIELD.ROW_REMAP_FAILED:
            emit(this.memory.counter(gpu, 'row-remap-failure', v.value));
            break;
          case FIELD.ROW_REMAP_PENDING:
            emit(this.memory.counter(gpu, 'row-remap-pending', v.value));
            break;
          case FIELD.NVLINK_RECOVERY_ERROR_TOTAL: {
            // A cumulative counter: report increases only.
            const last = this.nvlink.get(key) ?? 0;
            this.nvlink.set(key, v.value);
            if (v.value > last) emit({ kind: 'counter', gpu, counter: 'nvlink-errors', value: v.value });
            break;
          }
          case FIELD.GPU_RECOVERY_ACTION:
            emit(this.memory.recoveryAction(gpu, v.value));
            break;
          case FABRIC_FIELD.MANAGER_STATUS:
            emit(this.fabricChanged(gpu, key, decodeManagerStatus(v.value)));
            break;
          case FABRIC_FIELD.HEALTH_MASK:
            for (const r of decodeHealthMask(v.value)) emit(this.fabricChanged(gpu, key, r));
            break;
        }
      }
    }

    // Incidents are sticky in DCGM: report each one when it first appears.
    const seen = new Set<string>();
    for (const inc of probe.health.incidents) {
      // System 0xFFFFFFFF: DCGM's always-on Xid reports; the Xid itself arrives as evidence already.
      if (inc.system === DCGM_HEALTH_WATCH_ALL || inc.health === DCGM_HEALTH_RESULT.PASS) continue;
      const k = `${inc.entityGroupId}/${inc.entityId}/${inc.system}/${inc.health}/${inc.code}/${inc.message}`;
      seen.add(k);
      if (this.incidentKeys.has(k)) continue;
      const gpu: GpuRef =
        inc.entityGroupId === DCGM_FE_GPU ? (refs.get(inc.entityId) ?? { pci: null, uuid: null, index: inc.entityId }) : { pci: null, uuid: null, index: null };
      emit({
        kind: 'dcgm-health',
        gpu,
        system: HEALTH_SYSTEM_NAMES[inc.system] ?? `system-0x${inc.system.toString(16)}`,
        result: inc.health === DCGM_HEALTH_RESULT.FAIL ? 'fail' : 'warn',
        code: inc.code,
        message: inc.message,
      });
    }
    this.incidentKeys = seen;
    return out;
  }
}
