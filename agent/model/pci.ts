// PCI bus ids come in several spellings: in kernel lines `0000:3b:00` (Xid, no
// function), `0000:3b:00.0`, `3b:00` (two-part, old drivers); in DCGM, NVML and
// nvidia-smi the 8-digit upper-case domain (`00000000:3B:00.0`); in sysfs the
// directory name. The parser, every source and the health state use this one
// normaliser, so one GPU has one id whichever source names it.

const HEX = /^[0-9a-fA-F]+$/;
/** Already normal (what sources hand health): returned as is, on health's hot path. */
const NORMAL = /^[0-9a-f]{4}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;

/** Normalise a PCI address to `dddd:bb:dd.f` lowercase; null when it is not one (absent, empty, DCGM's `<<<NOT_SUPPORTED>>>`, redacted `XXXX:XX:XX`). */
export function normalisePci(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  if (NORMAL.test(raw)) return raw;
  let s = raw.trim();
  if (s.length === 0 || s.length > 24) return null;
  if (s.startsWith('PCI:') || s.startsWith('pci:')) s = s.slice(4);
  let fn = '0';
  const dot = s.indexOf('.');
  if (dot !== -1) {
    fn = s.slice(dot + 1);
    s = s.slice(0, dot);
    if (fn.length !== 1 || fn < '0' || fn > '7') return null;
  }
  const parts = s.split(':');
  let domain: string;
  let bus: string;
  let dev: string;
  if (parts.length === 3) [domain, bus, dev] = parts as [string, string, string];
  else if (parts.length === 2) {
    domain = '0';
    [bus, dev] = parts as [string, string];
  } else return null;
  if (domain.length < 1 || domain.length > 8 || !HEX.test(domain)) return null;
  if (bus.length < 1 || bus.length > 2 || !HEX.test(bus)) return null;
  if (dev.length < 1 || dev.length > 2 || !HEX.test(dev)) return null;
  const d = parseInt(domain, 16);
  const devNum = parseInt(dev, 16);
  // Domains above 0xffff exist (VMD, some hypervisors): keep them, just unpadded.
  if (devNum > 0x1f) return null;
  return `${d.toString(16).padStart(4, '0')}:${bus.toLowerCase().padStart(2, '0')}:${devNum
    .toString(16)
    .padStart(2, '0')}.${fn}`;
}
