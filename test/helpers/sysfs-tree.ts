// A sysfs tree as the kernel lays it out, for --sysfs-root: each PCI function a
// directory under devices/pci<domain>:<bus>/<root port>/.../<bdf> (its place in
// the hierarchy), a link to it from bus/pci/devices/<bdf>, and the attributes
// the agent reads (vendor, class, device, aer_dev_*, aer_rootport_total_err_*)
// in the kernel's formats (drivers/pci/pcie/aer.c aer_stats_dev_attr).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

export interface FakeFunction {
  bdf: string;
  vendor: string;
  /** PCI class, e.g. 0x030200 (3D controller), 0x060400 (PCI bridge: a port). */
  cls: string;
  /** The port right above it; none: right under the host bridge. */
  parent?: string;
}

const COR = ['RxErr', 'BadTLP', 'BadDLLP', 'Rollover', 'Timeout', 'NonFatalErr', 'CorrIntErr', 'HeaderOF'];
const UNCOR = ['Undefined', 'DLP', 'SDES', 'TLP', 'FCP', 'CmpltTO', 'CmpltAbrt', 'UnxCmplt', 'RxOF', 'MalfTLP', 'ECRC', 'UnsupReq', 'ACSViol', 'UncorrIntErr', 'BlockedTLP', 'AtomicOpBlocked', 'TLPBlockedErr', 'PoisonTLPBlocked'];
const TOTAL = { correctable: 'TOTAL_ERR_COR', nonfatal: 'TOTAL_ERR_NONFATAL', fatal: 'TOTAL_ERR_FATAL' } as const;
export type Severity = keyof typeof TOTAL;

export class SysfsTree {
  readonly root: string;
  private readonly dirs = new Map<string, string>();

  constructor(root: string, functions: FakeFunction[]) {
    this.root = root;
    mkdirSync(join(root, 'bus/pci/devices'), { recursive: true });
    for (const f of functions) {
      const above: string[] = [];
      for (let p = f.parent; p !== undefined; p = functions.find((x) => x.bdf === p)?.parent) above.unshift(p);
      const dir = join(root, 'devices', `pci${f.bdf.slice(0, 4)}:00`, ...above, f.bdf);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'vendor'), `${f.vendor}\n`);
      writeFileSync(join(dir, 'class'), `${f.cls}\n`);
      writeFileSync(join(dir, 'device'), '0x2330\n');
      const link = join(root, 'bus/pci/devices', f.bdf);
      symlinkSync(relative(join(root, 'bus/pci/devices'), dir), link);
      this.dirs.set(f.bdf, dir);
    }
  }

  /** Writes all three aer_dev_* files of a function: `counts` per severity, the first bit of each class carrying it. */
  aer(bdf: string, counts: Partial<Record<Severity, number>>): void {
    const dir = this.dirs.get(bdf);
    if (dir === undefined) throw new Error(`no function ${bdf}`);
    for (const sev of ['correctable', 'nonfatal', 'fatal'] as const) {
      const n = counts[sev] ?? 0;
      const names = sev === 'correctable' ? COR : UNCOR;
      const body = names.map((name, i) => `${name} ${i === (sev === 'correctable' ? 0 : 5) ? n : 0}\n`).join('') + `${TOTAL[sev]} ${n}\n`;
      writeFileSync(join(dir, `aer_dev_${sev}`), body);
    }
  }

  /** A root port's totals of messages received from below it. */
  rootPort(bdf: string, counts: Partial<Record<Severity, number>>): void {
    const dir = this.dirs.get(bdf);
    if (dir === undefined) throw new Error(`no function ${bdf}`);
    writeFileSync(join(dir, 'aer_rootport_total_err_cor'), `${counts.correctable ?? 0}\n`);
    writeFileSync(join(dir, 'aer_rootport_total_err_nonfatal'), `${counts.nonfatal ?? 0}\n`);
    writeFileSync(join(dir, 'aer_rootport_total_err_fatal'), `${counts.fatal ?? 0}\n`);
  }
}
