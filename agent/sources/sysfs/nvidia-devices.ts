// The node's NVIDIA PCI functions as sysfs lists them: vendor 0x10de, and a
// display or 3D controller (a GPU) or a bridge of class "other" (an NVSwitch).
// This does not depend on the driver: a GPU the driver never brought up is
// still listed. Read at start and now and then; a few dozen small files.
import fs from 'node:fs';
import path from 'node:path';
import { normalisePci } from '../../model/pci.ts';
import { errorText } from '../../model/text.ts';

export interface NvidiaFunction {
  pci: string;
  kind: 'gpu' | 'switch';
  /** PCI device id, e.g. `0x2330`. */
  device: string;
  /** The PCI port right above it (its link partner), from the device's place in /sys/devices; null when none. */
  upstream: string | null;
  /** The root port at the top of its hierarchy; null when none (or it is the upstream port's own top). */
  rootPort: string | null;
  /** The device's directory, for its other attributes (AER counters). */
  dir: string;
}

export interface SysfsScan {
  devices: NvidiaFunction[];
  /** Why the directory could not be read; null when it was. */
  error: string | null;
}

const NVIDIA = '0x10de';

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, 'latin1').trim();
  } catch {
    return null;
  }
}

function kindOf(pciClass: string): NvidiaFunction['kind'] | null {
  // 0x0300xx VGA, 0x0302xx 3D controller (data-centre GPUs); 0x0680xx bridge "other" (NVSwitch).
  if (pciClass.startsWith('0x0300') || pciClass.startsWith('0x0302')) return 'gpu';
  if (pciClass.startsWith('0x0680')) return 'switch';
  return null;
}

/**
 * The ports above a device, nearest first: /sys/bus/pci/devices/<bdf> links into
 * /sys/devices/pci<domain>:<bus>/<root port>/.../<bdf>, one directory per hop.
 */
function portsAbove(entry: string): string[] {
  let real: string;
  try {
    real = fs.realpathSync(entry);
  } catch {
    return [];
  }
  const out: string[] = [];
  let dir = path.dirname(real);
  for (let hops = 0; hops < 16; hops++) {
    const pci = normalisePci(path.basename(dir));
    if (pci === null || !/^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/.test(path.basename(dir))) break;
    out.push(pci);
    dir = path.dirname(dir);
  }
  return out;
}

export function scanNvidiaFunctions(sysfsRoot: string): SysfsScan {
  const dir = path.join(sysfsRoot, 'bus', 'pci', 'devices');
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    return { devices: [], error: `${dir}: ${errorText(err)}` };
  }
  const devices: NvidiaFunction[] = [];
  for (const name of names.slice(0, 4096)) {
    if (read(path.join(dir, name, 'vendor')) !== NVIDIA) continue;
    const kind = kindOf(read(path.join(dir, name, 'class')) ?? '');
    const pci = normalisePci(name);
    if (kind === null || pci === null) continue;
    const above = portsAbove(path.join(dir, name));
    devices.push({
      pci, kind, device: read(path.join(dir, name, 'device')) ?? '', dir: path.join(dir, name),
      upstream: above[0] ?? null, rootPort: above.length > 0 ? (above[above.length - 1] as string) : null,
    });
  }
  return { devices, error: null };
}
