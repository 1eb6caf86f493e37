// The load of the memory bench: a kern.log to which synthetic lines (0.1%
// NVIDIA Xids over 8 GPUs x 21 codes: 168 distinct findings) are appended at
// the agent's own pace, never more than MAX_LAG lines ahead of what it has read.
import { appendFileSync } from 'node:fs';
import type { BenchAgent } from '../lib/agent.ts';
import { sleep } from '../lib/proc.ts';

const CHUNK = 10_000;
/** The writer stays at most this many lines ahead of what the agent has read. */
const MAX_LAG = 50_000;

const ORDINARY = [
  'EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none.',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
  'cni0: port 3(veth1a2b3c4d) entered forwarding state',
  'nvme nvme0: I/O 512 QID 3 timeout, completion polled',
  'mlx5_core 0000:ab:00.0 mlx5_5: Port: 1 Link ACTIVE',
  'audit: type=1400 audit(1700000000.000:123): apparmor="STATUS" operation="profile_load" name="cri-containerd.apparmor.d"',
];
// Fatal, warning, info and unknown codes alike: every (GPU, code) pair is its own finding.
const XIDS = [13, 31, 43, 45, 48, 62, 63, 64, 68, 74, 79, 92, 94, 95, 109, 119, 120, 121, 140, 143, 999];
// 8 GPUs x 21 codes: 168 distinct findings, all created in the first quarter, so the
// quarters after it measure what repeats cost (growth), not how big the state is.
export const GPUS = 8;

/** Line i of the synthetic kern.log: one in 1,000 is an NVIDIA Xid. */
export function line(i: number): string {
  const t = (1000 + i / 1000).toFixed(6).padStart(13);
  if (i % 1000 === 500) {
    const n = Math.floor(i / 1000);
    const bus = (0x10 + (n % GPUS)).toString(16).padStart(2, '0');
    const code = XIDS[Math.floor(n / GPUS) % XIDS.length];
    return `Nov 27 10:00:00 bench kernel: [${t}] NVRM: Xid (PCI:0000:${bus}:00): ${code}, pid=${4000 + n}, name=python3, bench record ${n}\n`;
  }
  return `Nov 27 10:00:00 bench kernel: [${t}] ${ORDINARY[i % ORDINARY.length]} #${i}\n`;
}

interface DebugSource {
  source: string;
  recordsRead: number | null;
}

/** Appends `records` lines; `onRead(read)` runs after each poll of the agent's progress. Resolves once it read them all. */
export async function feedAtAgentPace(agent: BenchAgent, kernLog: string, records: number, onRead: (read: number) => Promise<void> | void = () => {}): Promise<void> {
  const readSoFar = async (): Promise<number> => {
    const st = await agent.json<{ sources: DebugSource[] }>('/debug/state');
    return st.sources.find((s) => s.source === 'logfile')?.recordsRead ?? 0;
  };
  let written = 0;
  while (written < records) {
    const n = Math.min(CHUNK, records - written);
    let text = '';
    for (let i = written; i < written + n; i++) text += line(i);
    appendFileSync(kernLog, text);
    written += n;
    for (;;) {
      const read = await readSoFar();
      await onRead(read);
      if (written - read <= MAX_LAG && written < records) break;
      if (written >= records && read >= records) break;
      await sleep(written - read > MAX_LAG ? 100 : 20);
    }
  }
}
