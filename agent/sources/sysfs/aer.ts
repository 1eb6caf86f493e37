// The kernel's AER counters of one PCI device (drivers/pci/pcie/aer.c,
// aer_stats_attrs): `aer_dev_correctable`, `aer_dev_nonfatal`, `aer_dev_fatal`
// hold one `NAME COUNT` line per error bit and a `TOTAL_ERR_*` line, counted
// since boot for the errors this device logged; root ports also count every
// message their hierarchy sent (`aer_rootport_total_err_*`). The files exist
// only where the device has an AER capability and the kernel keeps stats.
import fs from 'node:fs';
import path from 'node:path';
import type { AerSeverity } from '../../model/evidence.ts';

export const AER_SEVERITIES: readonly AerSeverity[] = ['correctable', 'nonfatal', 'fatal'];

const FILE: Record<AerSeverity, { dev: string; total: string; rootport: string }> = {
  correctable: { dev: 'aer_dev_correctable', total: 'TOTAL_ERR_COR', rootport: 'aer_rootport_total_err_cor' },
  nonfatal: { dev: 'aer_dev_nonfatal', total: 'TOTAL_ERR_NONFATAL', rootport: 'aer_rootport_total_err_nonfatal' },
  fatal: { dev: 'aer_dev_fatal', total: 'TOTAL_ERR_FATAL', rootport: 'aer_rootport_total_err_fatal' },
};

export interface AerCount {
  total: number;
  /** Error bits with a non-zero count, by the kernel's name (`RxErr`, `CmpltTO`, ...). */
  bits: Record<string, number>;
}

export type AerCounts = Record<AerSeverity, AerCount>;

/** At most this much of a counter file is read (the kernel's are well under 1 KiB). */
const MAX_FILE = 4096;

function readSmall(file: string): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const buf = Buffer.alloc(MAX_FILE);
    const n = fs.readSync(fd, buf, 0, MAX_FILE, 0);
    return buf.toString('latin1', 0, n);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** One `aer_dev_*` file; null when it is absent or not the kernel's format (no TOTAL line). */
export function parseAerFile(text: string, totalName: string): AerCount | null {
  const bits: Record<string, number> = {};
  let total: number | null = null;
  for (const line of text.split('\n').slice(0, 64)) {
    const m = /^([A-Za-z_][A-Za-z0-9_[\]]{0,40}) (\d{1,20})$/.exec(line.trim());
    if (m === null) continue;
    const n = Number(m[2]);
    if (!Number.isSafeInteger(n)) continue;
    if (m[1] === totalName) total = n;
    else if (n > 0) bits[m[1] as string] = n;
  }
  return total === null ? null : { total, bits };
}

/** The device's counters; null when the kernel keeps none for it. */
export function readAerCounts(deviceDir: string): AerCounts | null {
  const out: Partial<AerCounts> = {};
  for (const sev of AER_SEVERITIES) {
    const text = readSmall(path.join(deviceDir, FILE[sev].dev));
    const count = text === null ? null : parseAerFile(text, FILE[sev].total);
    if (count === null) return null;
    out[sev] = count;
  }
  return out as AerCounts;
}

/** A root port's totals of messages received from below it; null when it is no root port (or keeps none). */
export function readRootPortTotals(deviceDir: string): Record<AerSeverity, number> | null {
  const out: Partial<Record<AerSeverity, number>> = {};
  for (const sev of AER_SEVERITIES) {
    const text = readSmall(path.join(deviceDir, FILE[sev].rootport));
    const n = text === null ? NaN : Number(text.trim());
    if (!Number.isSafeInteger(n) || n < 0) return null;
    out[sev] = n;
  }
  return out as Record<AerSeverity, number>;
}
