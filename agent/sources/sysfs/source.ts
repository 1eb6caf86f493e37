// The PCI bus as a source: every interval it lists the node's NVIDIA functions
// under --sysfs-root and reads their AER counters (bus.ts), and hands the look
// to the runtime as observations. It has no status of its own: sysfs is always
// there, and a node whose kernel log and GPU stack are down is not observed by
// a PCI listing. A look that cannot read the bus is logged and skipped.
import path from 'node:path';
import type { Observation } from '../../model/evidence.ts';
import { readAerCounts, readRootPortTotals } from './aer.ts';
import { lookAtBus, type AerSample } from './bus.ts';
import { scanNvidiaFunctions } from './nvidia-devices.ts';

export interface SysfsSourceOptions {
  sysfsRoot: string;
  intervalMs: number;
  /** GPUs the Node advertises (nvidia.com/gpu), for GPUs NVML/DCGM cannot judge; null: unknown. */
  expectedGpus: () => number | null;
  now: () => number;
  onObservation(obs: Observation): void;
  /** A look that could not read the bus (once per distinct error). */
  onError(message: string): void;
}

export class SysfsSource {
  private readonly o: SysfsSourceOptions;
  private readonly last = new Map<string, number>();
  private timer: NodeJS.Timeout | null = null;
  private lastError: string | null = null;
  private samples: AerSample[] = [];
  looks = 0;

  constructor(o: SysfsSourceOptions) {
    this.o = o;
  }

  /** The first look happens now, before the kernel log is replayed; then one every interval. */
  start(): void {
    this.look();
    this.timer = setInterval(() => this.look(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** The AER counters of the last look, for /metrics. */
  aer(): AerSample[] {
    return this.samples;
  }

  look(): void {
    const scan = scanNvidiaFunctions(this.o.sysfsRoot);
    if (scan.error !== null) {
      if (scan.error !== this.lastError) this.o.onError(scan.error);
      this.lastError = scan.error;
      return;
    }
    this.lastError = null;
    this.looks += 1;
    const devicesDir = path.join(this.o.sysfsRoot, 'bus', 'pci', 'devices');
    const r = lookAtBus(scan, devicesDir, { aer: readAerCounts, rootPort: readRootPortTotals }, this.last, this.o.now(), this.o.expectedGpus());
    this.samples = r.samples;
    for (const obs of r.observations) this.o.onObservation(obs);
  }
}
