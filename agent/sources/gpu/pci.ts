// PCI bus ids as DCGM and NVML print them (`00000000:3B:00.0`: an 8-digit
// upper-case domain) go through the same normaliser as the kernel's, so one GPU
// has one id whichever source names it.
import { normalisePci } from '../../parse/pci.ts';

/** Normalised `dddd:bb:dd.f`, or null when `raw` is not a PCI address (DCGM blanks, empty). */
export function normalizePciBusId(raw: string | null | undefined): string | null {
  return raw ? normalisePci(raw) : null;
}
