// Turns repeated GPU readings into evidence only when something is new: a
// counter that became non-zero or changed, a recovery action that changed, a
// changed inventory, a device-count shortfall seen on two probes in a row.
// Management sources poll; without this every poll would repeat every fault.
import type { CounterName, Evidence, GpuRef } from '../../model/evidence.ts';
import { recoveryAction } from './recovery.ts';

export class GpuEvidenceMemory {
  private readonly counters = new Map<string, number>();
  private readonly recovery = new Map<string, number>();
  private inventoryKey: string | null = null;
  private shortfallStreak = 0;
  private shortfallKey: string | null = null;

  private static key(gpu: GpuRef): string {
    return gpu.uuid ?? gpu.pci ?? `index:${gpu.index ?? '?'}`;
  }

  /** Evidence when the counter is non-zero and differs from the last reading. */
  counter(gpu: GpuRef, counter: CounterName, value: number | null): Evidence | null {
    if (value === null || !Number.isFinite(value)) return null;
    const k = `${GpuEvidenceMemory.key(gpu)}/${counter}`;
    const last = this.counters.get(k);
    this.counters.set(k, value);
    if (value <= 0 || value === last) return null;
    return { kind: 'counter', gpu, counter, value };
  }

  /** Evidence when the action changed; the first reading counts only when it is not NONE. */
  recoveryAction(gpu: GpuRef, code: number | null): Evidence | null {
    if (code === null || !Number.isInteger(code) || code < 0) return null;
    const k = GpuEvidenceMemory.key(gpu);
    const last = this.recovery.get(k);
    this.recovery.set(k, code);
    if (last === code || (last === undefined && code === 0)) return null;
    return { kind: 'recovery-action', gpu, from: last === undefined ? null : recoveryAction(last), to: recoveryAction(code) };
  }

  /** Evidence when the set of visible GPUs changed (always on the first probe). */
  inventory(gpus: GpuRef[]): Evidence | null {
    const key = JSON.stringify(gpus.map((g) => [g.index ?? null, g.pci, g.uuid ?? null]));
    if (key === this.inventoryKey) return null;
    this.inventoryKey = key;
    return { kind: 'gpu-inventory', gpus };
  }

  /**
   * Evidence when fewer GPUs are visible than expected on two probes in a row;
   * once per distinct (visible, expected) pair. The count is level evidence: once
   * a shortfall was reported, the count back is evidence too (once), so the finding
   * clears. `expected` null: no check.
   */
  deviceCount(visible: number, expected: number | null): Evidence | null {
    if (expected === null || visible >= expected) {
      const reported = this.shortfallStreak >= 2;
      this.resetCount();
      return reported && expected !== null ? { kind: 'device-count', visible, expected } : null;
    }
    const key = `${visible}/${expected}`;
    if (key !== this.shortfallKey) {
      this.shortfallKey = key;
      this.shortfallStreak = 1;
      return null;
    }
    this.shortfallStreak++;
    return this.shortfallStreak === 2 ? { kind: 'device-count', visible, expected } : null;
  }

  /** A new connection (a restarted host engine) is a new view: its count starts a new streak. */
  resetCount(): void {
    this.shortfallStreak = 0;
    this.shortfallKey = null;
  }
}
