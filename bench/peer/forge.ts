// Forged records for the peer bench: the forger of the evidence-integrity test
// (test/helpers/forge.ts) run as nobody, each vector making the kernel write a
// kernel-facility record that quotes an Xid-looking text the process controls.
import { createForger, type Vector } from '../../test/helpers/forge.ts';

const forger = createForger();
process.once('exit', () => forger.dispose());

export function forgeVectors(): Vector[] {
  const bin = forger.bin;
  return [
    // The #9 case: a process named "NVRM: Xid 79," that segfaults.
    { name: 'process "NVRM: Xid 79," segfaults', argv: [bin, 'segv', 'NVRM: Xid 79,'] },
    // The same 15 bytes, spelled so NPD's pattern (": (79|48),") finds its colon.
    { name: 'process "NVRM: Xid: 79," segfaults', argv: [bin, 'segv', 'NVRM: Xid: 79,'] },
    // The executable's file name, quoted at the end of the segfault report.
    { name: 'file "NVRM: Xid (PCI:0000:3b:00): 48, x" segfaults', argv: [forger.renamed('NVRM: Xid (PCI:0000:3b:00): 48, x'), 'segv', 'x'] },
  ];
}

/** Runs a vector; the number of kernel-facility records it made the kernel write. */
export async function runForger(v: Vector): Promise<number> {
  return (await forger.forge(v)).length;
}
