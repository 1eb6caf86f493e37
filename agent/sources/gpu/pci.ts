// PCI bus ids as the model wants them: `dddd:bb:dd.f`, lowercase. DCGM and NVML
// print an 8-digit upper-case domain (`00000000:3B:00.0`), the kernel 4 digits.

const PCI_RE = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})\.([0-7])$/i;

/** Normalised id, or null when `raw` is not a PCI address (DCGM blanks, empty). */
export function normalizePciBusId(raw: string | null | undefined): string | null {
  if (!raw) return null;
  const m = PCI_RE.exec(raw.trim());
  if (!m) return null;
  const domain = parseInt(m[1] ?? '0', 16);
  if (domain > 0xffff) return null;
  const hex = (s: string, w: number): string => parseInt(s, 16).toString(16).padStart(w, '0');
  return `${domain.toString(16).padStart(4, '0')}:${hex(m[2]!, 2)}:${hex(m[3]!, 2)}.${m[4]}`;
}
