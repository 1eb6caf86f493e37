// One look at the PCI bus as evidence: the NVIDIA functions and the port above
// each (a `bus-scan`), and each device's AER counters as `pcie-aer` evidence
// when they rose. A device's link has two ends: the device's own counters and
// those of the port right above it (errors "as seen by" each end, aer.c), so
// the evidence is their sum. Root ports count the messages of every device
// below them (NICs and disks behind the same switch too): a metric, not
// evidence about one GPU. Pure apart from the sysfs reads it is given.
import path from 'node:path';
import type { Evidence, Observation } from '../../model/evidence.ts';
import { AER_SEVERITIES, type AerCounts } from './aer.ts';
import type { SysfsScan } from './nvidia-devices.ts';

/** One counter for /metrics: whose it is, and which device's link it counts for. */
export interface AerSample {
  /** The device (or port) whose counter it is. */
  pci: string;
  /** The NVIDIA function whose link it is. */
  of: string;
  role: 'device' | 'port' | 'rootport';
  severity: 'correctable' | 'nonfatal' | 'fatal';
  value: number;
}

export interface BusReaders {
  aer(dir: string): AerCounts | null;
  rootPort(dir: string): Record<'correctable' | 'nonfatal' | 'fatal', number> | null;
}

export interface BusLook {
  observations: Observation[];
  samples: AerSample[];
}

function bits(c: AerCounts | null, sev: keyof AerCounts): string {
  if (c === null) return 'no counters';
  const named = Object.entries(c[sev].bits).map(([k, n]) => `${k} ${n}`);
  return `${c[sev].total}${named.length > 0 ? ` (${named.join(', ')})` : ''}`;
}

/**
 * Evidence for one look. `last` remembers each device's summed totals between
 * looks (the caller keeps it); a sum is evidence when it differs from the last one
 * and is above zero.
 */
export function lookAtBus(
  scan: SysfsScan,
  devicesDir: string,
  read: BusReaders,
  last: Map<string, number>,
  at: number,
  expectedGpus: number | null,
): BusLook {
  const observations: Observation[] = [];
  const samples: AerSample[] = [];
  const aerCounters: string[] = [];
  const emit = (evidence: Evidence): void => void observations.push({ evidence, source: 'sysfs', at, drill: false });
  const rootsSeen = new Set<string>();
  for (const d of scan.devices) {
    const own = read.aer(d.dir);
    const port = d.upstream === null ? null : read.aer(path.join(devicesDir, d.upstream));
    // Either end's counters count this link's errors: the kernel's records of them are then detail.
    if (own !== null || port !== null) aerCounters.push(d.pci);
    for (const sev of AER_SEVERITIES) {
      if (own !== null) samples.push({ pci: d.pci, of: d.pci, role: 'device', severity: sev, value: own[sev].total });
      if (port !== null && d.upstream !== null) samples.push({ pci: d.upstream, of: d.pci, role: 'port', severity: sev, value: port[sev].total });
      if (own === null && port === null) continue;
      const total = (own?.[sev].total ?? 0) + (port?.[sev].total ?? 0);
      const key = `${d.pci}/${sev}`;
      const before = last.get(key);
      last.set(key, total);
      if (total === before || total === 0) continue;
      const text = `${total} ${sev} PCIe error(s) this boot on the link of ${d.pci}: device ${bits(own, sev)}` +
        (d.upstream === null ? '' : `, port ${d.upstream} ${bits(port, sev)}`);
      emit({ kind: 'pcie-aer', gpu: { pci: d.pci }, severity: sev, total, text });
    }
    if (d.rootPort !== null && !rootsSeen.has(d.rootPort)) {
      rootsSeen.add(d.rootPort);
      const totals = read.rootPort(path.join(devicesDir, d.rootPort));
      for (const sev of AER_SEVERITIES) {
        if (totals !== null) samples.push({ pci: d.rootPort, of: d.pci, role: 'rootport', severity: sev, value: totals[sev] });
      }
    }
  }
  const ports = scan.devices.flatMap((d): Array<[string, string]> => (d.upstream === null ? [] : [[d.upstream, d.pci]]));
  observations.unshift({
    evidence: {
      kind: 'bus-scan',
      gpus: scan.devices.filter((d) => d.kind === 'gpu').map((d) => d.pci),
      switches: scan.devices.filter((d) => d.kind === 'switch').map((d) => d.pci),
      ports,
      aerCounters,
      expectedGpus,
    },
    source: 'sysfs',
    at,
    drill: false,
  });
  return { observations, samples };
}
