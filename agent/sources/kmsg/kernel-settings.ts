// Two root-only kernel settings let an unprivileged process start a kernel
// record with more than the 15 bytes of a process name (see agent/parse/README.md):
// kernel.print-fatal-signals=1 (an executable's base name, 255 bytes) and
// net.netfilter.nf_log_all_netns=1 (LOG prefixes from any network namespace,
// a user namespace's too). The format check still rejects what they could
// write, but a node with either set is said to be weaker, never silently.
import fs from 'node:fs';
import path from 'node:path';

const RISKY: Array<{ file: string; name: string; why: string }> = [
  { file: 'kernel/print-fatal-signals', name: 'kernel.print-fatal-signals', why: "any process's executable name starts a kernel record" },
  { file: 'net/netfilter/nf_log_all_netns', name: 'net.netfilter.nf_log_all_netns', why: 'containers can set netfilter log prefixes that start kernel records' },
];

/** The risky settings that are on, one sentence each; unreadable files are not reported. */
export function riskyKernelSettings(procSys = '/proc/sys'): string[] {
  const out: string[] = [];
  for (const r of RISKY) {
    let v: string;
    try {
      v = fs.readFileSync(path.join(procSys, r.file), 'latin1').trim();
    } catch {
      continue;
    }
    if (v !== '' && v !== '0') out.push(`${r.name}=${v}: ${r.why}`);
  }
  return out;
}
