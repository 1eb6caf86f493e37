// Maps a recognised kernel record onto the shared model. Sources call this;
// the rules only ever see Observations.
import type { Evidence, Observation, SourceName } from '../model/evidence.ts';
import type { NvidiaRecord } from './nvidia.ts';

export function toEvidence(rec: NvidiaRecord): Evidence | null {
  switch (rec.kind) {
    case 'xid':
      return {
        kind: 'xid', gpu: { pci: rec.pci, uuid: null, index: null }, code: rec.code,
        pid: rec.pid, processName: rec.processName, text: rec.text,
      };
    case 'xid154':
      return { kind: 'recovery-action', gpu: { pci: rec.pci, uuid: null, index: null }, from: rec.from, to: rec.to };
    case 'sxid':
      // Detail lines (`Data {...}`, `Severity ...`) repeat the header's code: one event, not three.
      if (rec.part !== 'header') return null;
      return {
        kind: 'sxid', gpu: { pci: rec.pci, uuid: null, index: null }, code: rec.code,
        switchIndex: rec.switchIndex, fatal: rec.fatal, link: rec.link, text: rec.text,
      };
    case 'fallen-off-bus':
      return { kind: 'fallen-off-bus', gpu: { pci: rec.pci, uuid: null, index: null }, text: rec.text };
    case 'gpu-identity':
      return { kind: 'gpu-identity', gpu: { pci: rec.pci, uuid: rec.uuid, index: null } };
    case 'pcie-aer':
      // The device's own bus-error line is the evidence; a port's received-from line repeats it.
      if (rec.part !== 'header' || rec.severity === null) return null;
      return { kind: 'pcie-aer', gpu: { pci: rec.pci, uuid: null, index: null }, severity: rec.severity, total: null, text: rec.text };
    case 'gpu-init-failed':
      return { kind: 'gpu-init-failed', gpu: { pci: rec.pci, uuid: null, index: null }, text: rec.text };
  }
}

/** A recognised record as an Observation; null for records that are not evidence on their own. */
export function toObservation(rec: NvidiaRecord, source: SourceName, at: number, drill: boolean): Observation | null {
  const evidence = toEvidence(rec);
  return evidence === null ? null : { evidence, source, at, drill };
}
