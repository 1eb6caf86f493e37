// Drill records: NVRM-looking lines written to /dev/kmsg from user space so an
// operator (or a test) can exercise the whole path without a broken GPU. The
// kernel files them under the user facility (a writer cannot claim facility 0),
// they start with the drill tag, and carry [DRILL] in the text. They only count
// as evidence with --accept-drills, and are labelled drill everywhere.
import fs from 'node:fs';
import { DRILL_MARKER, DRILL_TAG } from '../../parse/drill-marker.ts';
import { normalisePci } from '../../model/pci.ts';
import type { AerSeverity } from '../../model/evidence.ts';

const AER_SEVERITY_TEXT: Record<AerSeverity, string> = {
  correctable: 'Correctable, type=Physical Layer, (Receiver ID)',
  nonfatal: 'Uncorrectable (Non-Fatal), type=Transaction Layer, (Requester ID)',
  fatal: 'Uncorrectable (Fatal), type=Transaction Layer, (Requester ID)',
};

export interface DrillSpec {
  /** Xid code; exactly one of xid / sxid / fallenOffBus / aer / initFailed. */
  xid?: number;
  /** NVSwitch SXid code. */
  sxid?: number;
  /** A "fallen off the bus" message without an Xid line. */
  fallenOffBus?: boolean;
  /** A PCIe AER bus-error report on the GPU, as the PCI core prints it. */
  aer?: AerSeverity;
  /** The driver's `RmInitAdapter failed!` for the GPU. */
  initFailed?: boolean;
  /** GPU (or NVSwitch) PCI address in any common spelling. */
  pci: string;
  /** Free text after the marker (for Xid 154: "GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)"). */
  text?: string;
  /** SXid only. */
  fatal?: boolean;
  link?: number;
  switchIndex?: number;
}

/** `<12>`: user facility (1), level warning (4). */
const PRIO = '<12>';

export function formatDrill(spec: DrillSpec): string {
  const pci = normalisePci(spec.pci);
  if (pci === null) throw new Error(`drill: not a PCI address: ${spec.pci}`);
  const text = spec.text === undefined || spec.text === '' ? '' : ` ${spec.text}`;
  const kinds = [spec.xid !== undefined, spec.sxid !== undefined, spec.fallenOffBus === true, spec.aer !== undefined, spec.initFailed === true].filter(Boolean).length;
  if (kinds !== 1) throw new Error('drill: give exactly one of xid, sxid, fallenOffBus, aer, initFailed');
  let body: string;
  if (spec.xid !== undefined) {
    // Xid lines print the address without the function: PCI:dddd:bb:dd.
    body = `NVRM: Xid (PCI:${pci.slice(0, -2)}): ${spec.xid}, ${DRILL_MARKER}${text}`;
  } else if (spec.sxid !== undefined) {
    const sev = spec.fatal === true ? 'Fatal' : 'Non-fatal';
    body = `nvidia-nvswitch${spec.switchIndex ?? 0}: SXid (PCI:${pci}): ${spec.sxid}, ${sev}, Link ${spec.link ?? 0} ${DRILL_MARKER}${text}`;
  } else if (spec.aer !== undefined) {
    body = `nvidia ${pci}: AER: PCIe Bus Error: severity=${AER_SEVERITY_TEXT[spec.aer]} ${DRILL_MARKER}${text}`;
  } else if (spec.initFailed === true) {
    body = `NVRM: GPU ${pci}: RmInitAdapter failed! (0x22:0x56:894) ${DRILL_MARKER}${text}`;
  } else {
    body = `NVRM: GPU ${pci}: GPU has fallen off the bus. ${DRILL_MARKER}${text}`;
  }
  const line = `${PRIO}${DRILL_TAG}: ${body}`;
  // The kernel keeps at most ~1 KiB of a user-space record; stay well inside it.
  if (Buffer.byteLength(line) > 900) throw new Error('drill: line too long');
  return line;
}

/** Write one drill line to the kernel log (one write = one record). */
export function writeDrill(path: string, line: string): void {
  // A fresh open per record: /dev/kmsg rate-limits writers per open file (printk_devkmsg=ratelimit).
  const fd = fs.openSync(path, 'w');
  try {
    fs.writeSync(fd, line.endsWith('\n') ? line : `${line}\n`);
  } finally {
    fs.closeSync(fd);
  }
}
