// The one kernel-log recogniser. The kmsg source, the log-file source and the
// `parse` command all put their records through it, so all three agree on what
// counts. A record counts when:
// - it says it came from the kernel (facility 0 in /dev/kmsg; in a file the
//   `kernel:` identifier with no pid, a kernel facility, or a dmesg stamp), or
//   it is a drill (then it counts only where drills are accepted);
// - its first line is, from its first byte to its end, a line the driver prints
//   (driver-record.ts); continuation lines never start a record of their own,
//   since the kernel keeps a newline in a quoted file name inside one record.
// Everything else that looks like NVIDIA's is reported with why it does not count.
import type { KmsgRecord } from './kmsg-record.ts';
import type { StrippedLine } from './line-prefix.ts';
import { DRILL_TAG, isDrillText } from './drill-marker.ts';
import { readDriverLine, type DriverLine, type FallenPiece } from './driver-record.ts';
import { createNvidiaLineParser, mayBeNvidia, recogniseLine, type FallenOffBusRecord, type NvidiaRecord } from './nvidia.ts';

/**
 * Longer lines are cut to this many bytes before they are read (the rest of the line is
 * dropped): no kernel record is longer than 8 KiB, so this is a generous margin that
 * still bounds what one line of a file can cost.
 */
export const MAX_LINE_BYTES = 64 * 1024;

/** Why a record that looks like NVIDIA's is not evidence. Stable strings: metric labels and `parse` output. */
export type Rejection =
  /** Another facility or program wrote it. */
  | 'not-kernel'
  /** A log-file line tagged `kernel[pid]:`, which the kernel never writes (`logger -i -t kernel`). */
  | 'untrusted-ident'
  /** A log-file line with no prefix that says who wrote it. */
  | 'no-prefix'
  /** The driver's text is not at the record's first byte (quoted in someone else's record). */
  | 'not-at-start'
  /** No usable PCI address (address-less or redacted). */
  | 'no-pci-address'
  /** Starts like the driver's record but is not its complete format. */
  | 'incomplete-format';

export const REJECTIONS: readonly Rejection[] = [
  'not-kernel', 'untrusted-ident', 'no-prefix', 'not-at-start', 'no-pci-address', 'incomplete-format',
];

export type RejectionCounts = Record<Rejection, number>;

export function rejectionCounts(): RejectionCounts {
  return Object.fromEntries(REJECTIONS.map((r) => [r, 0])) as RejectionCounts;
}

/** One sentence per rejection, for `parse` output and logs. */
export const REJECTION_TEXT: Record<Rejection, string> = {
  'not-kernel': 'not written by the kernel (another facility or program)',
  'untrusted-ident': 'tagged kernel[pid]: the kernel never writes a pid there (logger -i -t kernel does)',
  'no-prefix': 'a log line with no prefix saying who wrote it',
  'not-at-start': "the driver's text is not at the record's first byte (quoted inside another record)",
  'no-pci-address': 'names no usable PCI address',
  'incomplete-format': "starts like the driver's record but is not its complete format",
};

/** Where a record came from, as far as its container tells. */
export type Origin = { trust: 'kernel' } | { trust: 'drill' } | { trust: 'rejected'; why: Rejection };

export interface Recognised {
  record: NvidiaRecord;
  drill: boolean;
  /** null: the driver's own record (a drill's counts only where drills are accepted); else why it is not evidence. */
  rejected: Rejection | null;
}

export interface KernelLogRecogniser {
  /** A whole record: a /dev/kmsg record's text or a log-file line (embedded newlines: one multi-line message). */
  record(text: string, origin: Origin): Recognised[];
  /** A continuation line of the last record (dmesg and journalctl indent them). */
  continuation(text: string): Recognised[];
  /** A log-file line, prefix already stripped: a record of its own, or a continuation of the one before. */
  line(s: StrippedLine): Recognised[];
  /**
   * A line with nothing of NVIDIA's in it (skipped by a cheap check). Unless it is indented
   * (a continuation line, as dmesg and journalctl write them) it ends the record being read:
   * the next continuation line is not the driver's.
   */
  other(line: string): void;
}

const KERNEL: Origin = { trust: 'kernel' };
const DRILL: Origin = { trust: 'drill' };

/**
 * Origin of a /dev/kmsg record: user space cannot write facility 0 there (the
 * kernel forces the user facility). The flags say nothing: the driver prints
 * with KERN_CONT, so its records carry `c` like any other continuation.
 */
export function kmsgOrigin(rec: Pick<KmsgRecord, 'facility' | 'text'>): Origin {
  if (rec.facility !== 0) return isDrillText(rec.text) ? DRILL : { trust: 'rejected', why: 'not-kernel' };
  return KERNEL;
}

/** Origin of a log-file line; 'continuation' for an indented line with no prefix (part of the line before). */
export function lineOrigin(s: StrippedLine): Origin | 'continuation' {
  if (isDrillText(s.message, s.ident)) return DRILL;
  if (s.ident !== null) {
    if (s.ident !== 'kernel') return { trust: 'rejected', why: 'not-kernel' };
    return s.identPid ? { trust: 'rejected', why: 'untrusted-ident' } : KERNEL;
  }
  if (s.facility !== null) return s.facility === 0 ? KERNEL : { trust: 'rejected', why: 'not-kernel' };
  if (s.timestamp !== null) return KERNEL;
  return s.indented ? 'continuation' : { trust: 'rejected', why: 'no-prefix' };
}

/** The message without the drill tag (`gpu-health-agent-drill: ` or `...[pid]: `). */
function drillBody(text: string): string {
  if (!text.startsWith(DRILL_TAG)) return text;
  const colon = text.indexOf(': ', DRILL_TAG.length);
  return colon === -1 || colon > DRILL_TAG.length + 12 ? text : text.slice(colon + 2);
}

/** Lines a fallen-off-the-bus start may wait for the rest of its message. */
const JOIN_WINDOW = 5;

interface Pending {
  pci: string;
  pciId: string | null;
  parts: string[];
  next: 'middle' | 'end';
  /** Physical lines since the start. */
  age: number;
  drill: boolean;
}

function isIndented(line: string): boolean {
  const c = line.charCodeAt(0);
  return c === 0x20 || c === 0x09;
}

function plain(line: string): string {
  return line.startsWith('NVRM: ') ? line.slice(6).trim() : line.trim();
}

export function createKernelLogRecogniser(): KernelLogRecogniser {
  let pending: Pending | null = null;
  /** The record being read began with a piece of the driver's multi-line message: its continuation lines may finish it. */
  let driverRecord = false;
  let drillRecord = false;
  /** Why the record being read is not the kernel's, if it is not: its continuation lines share it. */
  let recordWhy: Rejection | null = null;
  /** Lines that are not the driver's whole record, read the loose way to show what they looked like. */
  const display = createNvidiaLineParser();

  const aged = (): void => {
    if (pending !== null && ++pending.age >= JOIN_WINDOW) pending = null;
  };

  const shown = (line: string, why: Rejection, drill: boolean): Recognised[] =>
    mayBeNvidia(line) ? display.push(line).map((record) => ({ record, drill, rejected: why })) : [];

  function piece(p: FallenPiece, line: string, drill: boolean): Recognised[] {
    if (p.piece === 'start') {
      pending = { pci: p.pci, pciId: null, parts: [plain(line)], next: 'middle', age: 0, drill };
      return [];
    }
    if (pending === null || pending.drill !== drill || pending.next !== p.piece) {
      // A stray middle says nothing; a stray end names no GPU.
      return p.piece === 'end' ? shown(line, 'no-pci-address', drill) : [];
    }
    pending.parts.push(plain(line));
    if (p.piece === 'middle') {
      pending.pciId = p.pciId;
      pending.next = 'end';
      return [];
    }
    const done: FallenOffBusRecord = {
      kind: 'fallen-off-bus', code: null, pci: pending.pci, pciId: pending.pciId,
      text: pending.parts.join(' '), spanLines: pending.age + 1,
    };
    pending = null;
    return [{ record: done, drill, rejected: null }];
  }

  function driverLine(d: DriverLine, line: string, drill: boolean, atStart: boolean): Recognised[] {
    switch (d.kind) {
      case 'record':
        return [{ record: d.record, drill, rejected: atStart ? null : 'not-at-start' }];
      case 'piece':
        return piece(d.piece, line, drill);
      case 'fault':
        return d.record === null ? [] : [{ record: d.record, drill, rejected: atStart ? d.fault : 'not-at-start' }];
    }
  }

  function first(line: string, origin: Origin): Recognised[] {
    driverRecord = false;
    drillRecord = origin.trust === 'drill' || (origin.trust === 'rejected' && isDrillText(line));
    recordWhy = origin.trust === 'rejected' ? origin.why : null;
    if (recordWhy !== null) return shown(line, recordWhy, drillRecord);
    const body = drillRecord ? drillBody(line) : line;
    const d = readDriverLine(body, drillRecord);
    if (d === null) return [];
    driverRecord = d.kind === 'piece' && d.piece.piece !== 'end';
    return driverLine(d, body, drillRecord, true);
  }

  function next(line: string): Recognised[] {
    if (recordWhy !== null) return shown(line, recordWhy, drillRecord);
    if (driverRecord) {
      const d = readDriverLine(line, drillRecord);
      if (d !== null && d.kind === 'piece') return piece(d.piece, line, drillRecord);
      driverRecord = false;
      return d === null ? [] : driverLine(d, line, drillRecord, false);
    }
    const loose = mayBeNvidia(line) ? recogniseLine(line) : null;
    return loose === null ? [] : [{ record: loose, drill: drillRecord, rejected: 'not-at-start' }];
  }

  const api: KernelLogRecogniser = {
    record(text, origin) {
      aged();
      const nl = text.indexOf('\n');
      if (nl === -1) return first(text, origin);
      const lines = text.split('\n');
      const out = first(lines[0] ?? '', origin);
      for (let i = 1; i < lines.length; i++) {
        const l = (lines[i] ?? '').trim();
        if (l.length > 0) out.push(...next(l));
      }
      return out;
    },
    continuation(text) {
      aged();
      return next(text.trim());
    },
    line(s) {
      const origin = lineOrigin(s);
      return origin === 'continuation' ? api.continuation(s.message) : api.record(s.message, origin);
    },
    other(line) {
      if (isIndented(line)) return;
      driverRecord = false;
      recordWhy = null;
    },
  };
  return api;
}
