// NVML readings and events to evidence. Keeps only the memory needed to report
// each counter change once.
import type { Evidence, GpuRef, Observation } from '../../model/evidence.ts';
import { GpuEvidenceMemory } from '../gpu/evidence-memory.ts';
import { normalisePci } from '../../model/pci.ts';
import { EVENT } from './abi.ts';
import type { CountersResult, NvmlGpu, WaitEvent } from './worker.ts';

export class NvmlTranslator {
  private readonly memory = new GpuEvidenceMemory();

  /** After NVML was opened again: its count starts a new streak. */
  reconnected(): void {
    this.memory.resetCount();
  }
  private refs = new Map<number, GpuRef>();

  private observe(evidence: Evidence | null, at: number, out: Observation[]): void {
    if (evidence) out.push({ evidence, source: 'nvml', at, drill: false });
  }

  identity(gpus: NvmlGpu[], at: number): Observation[] {
    this.refs = new Map(
      gpus.map((g) => [g.index, { pci: normalisePci(g.pciBusId), uuid: g.uuid.startsWith('GPU-') ? g.uuid : null, index: g.index }]),
    );
    const out: Observation[] = [];
    this.observe(this.memory.inventory([...this.refs.values()]), at, out);
    return out;
  }

  private ref(index: number | null): GpuRef {
    return (index === null ? undefined : this.refs.get(index)) ?? { pci: null, uuid: null, index };
  }

  counters(c: CountersResult, at: number, expectedGpus: number | null): Observation[] {
    const out: Observation[] = [];
    this.observe(this.memory.deviceCount(c.count, expectedGpus), at, out);
    for (const g of c.gpus) {
      const gpu = this.ref(g.index);
      this.observe(this.memory.counter(gpu, 'ecc-dbe-volatile', g.eccDbeVolatile), at, out);
      this.observe(this.memory.counter(gpu, 'retired-pages-pending', g.retiredPagesPending), at, out);
      this.observe(this.memory.counter(gpu, 'row-remap-pending', g.remapPending), at, out);
      this.observe(this.memory.counter(gpu, 'row-remap-failure', g.remapFailure), at, out);
      this.observe(this.memory.recoveryAction(gpu, g.recoveryAction), at, out);
    }
    return out;
  }

  /** Xid events become evidence; other event types only prompt a counter read (returned as `recheck`). */
  events(events: WaitEvent[], at: number): { observations: Observation[]; recheck: boolean } {
    const observations: Observation[] = [];
    let recheck = false;
    for (const e of events) {
      if (e.type & EVENT.XidCriticalError) {
        // eventData 999: NVML could not name the Xid; reported as such.
        this.observe({ kind: 'xid', gpu: this.ref(e.index), code: e.data, pid: null, processName: null, text: `NVML Xid event ${e.data}` }, at, observations);
      } else {
        recheck = true;
      }
    }
    return { observations, recheck };
  }
}
