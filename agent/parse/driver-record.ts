// The NVIDIA driver's own record formats (and the PCI core's AER reports, which
// name a GPU's link), whole and anchored at the first byte.
//
// recogniseLine (nvidia.ts) finds an NVIDIA record anywhere in a message, which
// is right for reading a saved log by eye and wrong for evidence: the kernel
// quotes text that any process controls (its name at the start of a segfault
// report, an executable's file name in the middle of one, the OOM killer's task
// lines). This module says whether one line is, from its first byte to its
// end, a line the driver prints, and nothing else. The reasons it is enough
// are in agent/parse/README.md.
import type { NvidiaRecord } from './nvidia.ts';
import { recogniseLine } from './nvidia.ts';
import { normalisePci } from '../model/pci.ts';

const HEX = '[0-9a-fA-F]';
/** `dddd:bb:dd` as Xid lines print it (domain %04x, so VMD domains are longer), with an optional `.f`. */
const GPU_ADDR = `(?:PCI:)?(${HEX}{4,8}:${HEX}{2}:${HEX}{2}(?:\\.[0-7])?)`;
/** A full `dddd:bb:dd.f`, as the fallen-off-bus and SXid lines print it. */
const FULL_BDF = `(${HEX}{4,8}:${HEX}{2}:${HEX}{2}\\.[0-7])`;
const MIG = '(?: GPU-I:\\d{1,4})?(?: GPU-CI:\\d{1,4})?';

// `NVRM: Xid (PCI:0000:3b:00): 79, ...` and the old `NVRM: Xid (0000:03:00): 14, ...`.
const XID = new RegExp(`^NVRM: Xid \\(${GPU_ADDR}${MIG}\\): (\\d{1,6})(?:, |,?$)`);
// `nvidia-nvswitch3: SXid (PCI:0000:04:00.0): 22013, ...`.
const SXID = new RegExp(`^nvidia-nvswitch(\\d{1,4}): SXid \\(PCI:${FULL_BDF}\\): (\\d{1,6})(?:, |,?$)`);
const IDENTITY = new RegExp(`^NVRM: GPU at ${GPU_ADDR}: GPU-${HEX}{8}-${HEX}{4}-${HEX}{4}-${HEX}{4}-${HEX}{12}$`);
// One-line forms: `NVRM: GPU 0000:01:00.0: GPU has fallen off the bus.`,
// `NVRM: GPU at PCI:0000:01:00: GPU has fallen off the bus.`, `NVRM: GPU at 0000:01:00.0 has fallen off the bus.`
const FALLEN_ONE_LINE = new RegExp(`^NVRM: GPU (?:at )?${GPU_ADDR}(?:: GPU)? has fallen off the bus\\.?$`);
// The three-line form, one printk: each line on its own.
const FALLEN_START = new RegExp(`^NVRM: The NVIDIA GPU ${FULL_BDF}$`);
const FALLEN_MIDDLE = new RegExp(`^NVRM: \\(PCI ID: (${HEX}{4}:${HEX}{4})\\) installed in this system has$`);
const FALLEN_END = /^NVRM: fallen off the bus and is not responding to commands\.$/;
// NV_DEV_PRINTF (`NVRM: GPU %04x:%02x:%02x.%x: `) of RmInitAdapter's failure (initStatus:rmStatus:line)
// and of the open path's `rm_init_adapter failed, device minor number %d`.
const INIT_FAILED = new RegExp(
  `^NVRM: GPU ${FULL_BDF}: (?:RmInitAdapter failed! \\(0x${HEX}{1,8}:0x${HEX}{1,8}:\\d{1,6}\\)|rm_init_adapter failed, device minor number \\d{1,3})$`,
);
// The PCI core's AER reports are dev_printk records: `<driver or bus> <bdf>: `
// (drivers/pci/pcie/aer.c). Its pci_err/pci_info lines add dev_fmt's `AER: `;
// the bus-error line is printed with dev_printk, which adds it on some kernels
// only. Severity strings: Corrected / Uncorrected (Non-Fatal|Fatal) before 6.x,
// Correctable / Uncorrectable after; 4.x kernels print `id=%04x(Receiver ID)`
// and `Unaccessible`.
const DEV_PREFIX = `[A-Za-z0-9_.-]{1,32} ${FULL_BDF}: `;
const AER_START = new RegExp(`^${DEV_PREFIX}`);
const AER_SEVERITY = '(?:Correct(?:ed|able)|Uncorrect(?:ed|able) \\((?:Non-Fatal|Fatal)\\))';
// aer_print_error: `PCIe Bus Error: severity=%s, type=%s, (%s)` (Inaccessible / Unregistered Agent ID when status is 0).
const AER_HEADER = new RegExp(
  `^${DEV_PREFIX}(?:AER: )?PCIe Bus Error: severity=${AER_SEVERITY}, ` +
    '(?:type=(?:Physical|Data Link|Transaction) Layer, (?:id=[0-9a-f]{4})?\\((?:Receiver|Requester|Completer|Transmitter) ID\\)' +
    '|type=(?:In|Un)accessible, (?:id=[0-9a-f]{4})?\\(Unregistered Agent ID\\))$',
);
// aer_print_source / aer_print_port_info: `%s%s error message received from %04x:...` (6.x) / `error received: ` (5.x).
const AER_SOURCE = new RegExp(
  `^${DEV_PREFIX}AER: (?:Multiple )?${AER_SEVERITY} error (?:message received from |received: )${FULL_BDF}(?: \\(no details found)?$`,
);
/**
 * Text the kernel writes after something a process controls, where that thing
 * starts a record: a process name (15 bytes) before `[pid]: segfault at`,
 * ` invoked oom-killer:`, ...; an executable's base name (255 bytes) before
 * `: potentially unexpected fatal signal` (only with kernel.print-fatal-signals=1);
 * a netfilter LOG or nft log prefix (29 / 127 bytes, CAP_NET_ADMIN in the host's
 * network namespace) before `IN=.. OUT=.. SRC=..`. No driver line contains
 * them, and each is longer than 15 bytes, so the process name a genuine Xid
 * line quotes (`name=`) cannot hold one: a real fault cannot be hidden this way.
 * Today none of these can follow a whole driver line anyway; this holds should
 * the kernel allow longer process names (64-byte comm patches were proposed) or
 * a root-only setting open a vector.
 */
const KERNEL_TAIL = new RegExp(
  [
    '\\[\\d{1,10}\\]:? (?:segfault at |bad frame in |vsyscall (?:attempted|read|fault)|control protection|unhandled exception)',
    '\\[\\d{1,10}\\]: memfd_create\\(\\)',
    ' invoked oom-killer: ',
    ': page allocation failure: ',
    ': vmalloc error: ',
    ' \\(\\d{1,10}\\): drop_caches: ',
    ': potentially unexpected fatal signal',
    // netfilter (ipv4/ipv6, arp, bridge)
    'IN=\\S{0,16} OUT=\\S{0,16} (?:MAC=\\S{0,160} )?(?:SRC=\\S{1,64} DST=\\S{1,64} |ARP HTYPE=|MAC source = )',
  ].join('|'),
);
/** What a drill may add after a fixed-text form. */
const DRILL_TRAILER = / \[DRILL\].*$/;

/** Why a line that looks like NVIDIA's is not the driver's whole record. */
export type FormatFault = 'not-at-start' | 'no-pci-address' | 'incomplete-format';

/** One piece of the three-line fallen-off-the-bus message. */
export type FallenPiece =
  | { piece: 'start'; pci: string }
  | { piece: 'middle'; pciId: string }
  | { piece: 'end' };

export type DriverLine =
  | { kind: 'record'; record: NvidiaRecord }
  | { kind: 'piece'; piece: FallenPiece }
  | { kind: 'fault'; fault: FormatFault; record: NvidiaRecord | null };

function trimEnd(line: string, drill: boolean): string {
  const t = line.trimEnd();
  return drill ? t.replace(DRILL_TRAILER, '') : t;
}

/**
 * Reads one line that starts at a record's first byte (kernel-log prefix and
 * drill tag already removed). Null when the line is not NVIDIA's at all. A
 * drill may carry its `[DRILL]` marker after the fixed-text forms.
 */
export function readDriverLine(line: string, drill = false): DriverLine | null {
  const loose = recogniseLine(line);
  if (line.startsWith('NVRM: ')) {
    const fixed = trimEnd(line, drill);
    if (line.startsWith('NVRM: Xid ')) {
      const m = XID.exec(line);
      if (m === null || loose === null || (loose.kind !== 'xid' && loose.kind !== 'xid154') || loose.pci === null) return fault(loose);
      if (KERNEL_TAIL.test(line)) return { kind: 'fault', fault: 'incomplete-format', record: loose };
      return { kind: 'record', record: loose };
    }
    const start = FALLEN_START.exec(fixed);
    if (start !== null) return { kind: 'piece', piece: { piece: 'start', pci: normalisePci(start[1] ?? '') ?? '' } };
    const middle = FALLEN_MIDDLE.exec(fixed);
    if (middle !== null) return { kind: 'piece', piece: { piece: 'middle', pciId: (middle[1] ?? '').toLowerCase() } };
    if (FALLEN_END.test(fixed)) return { kind: 'piece', piece: { piece: 'end' } };
    if (FALLEN_ONE_LINE.test(fixed) || IDENTITY.test(fixed) || INIT_FAILED.test(fixed)) {
      if (loose === null || loose.pci === null) return fault(loose);
      return { kind: 'record', record: loose };
    }
    return loose === null ? null : fault(loose);
  }
  if (loose !== null && loose.kind === 'pcie-aer' && AER_START.test(line)) {
    const fixed = trimEnd(line, drill);
    if (!AER_HEADER.test(fixed) && !AER_SOURCE.test(fixed)) return { kind: 'fault', fault: 'incomplete-format', record: loose };
    return { kind: 'record', record: loose };
  }
  if (line.startsWith('nvidia-nvswitch')) {
    const m = SXID.exec(line);
    if (m === null || loose === null || loose.kind !== 'sxid' || loose.pci === null) return fault(loose);
    if (KERNEL_TAIL.test(line)) return { kind: 'fault', fault: 'incomplete-format', record: loose };
    return { kind: 'record', record: loose };
  }
  // NVIDIA's text further in: quoted by the kernel in someone else's record.
  return loose === null ? null : { kind: 'fault', fault: 'not-at-start', record: loose };
}

function fault(loose: NvidiaRecord | null): DriverLine | null {
  if (loose === null) return null;
  return { kind: 'fault', fault: loose.pci === null ? 'no-pci-address' : 'incomplete-format', record: loose };
}
