// Kernel-log throughput: records/s through the reader's path after read(2)
// (one record per read buffer -> kmsg record parse) and the NVIDIA recogniser /
// facility filter / Observation mapping, against a plain line split of the same
// bytes in the same run. Synthetic input, 0.1% NVRM lines. Also, when the device
// is readable: the real /dev/kmsg ring buffer replayed by fresh real readers
// (open, non-blocking read(2) per record, parse, recogniser) until enough
// records went through, so the system call's share is measured too.
//
//   node bench/kmsg-throughput.ts [--records N] [--json]
import fs from 'node:fs';
import { KmsgReader } from '../agent/sources/kmsg/reader.ts';
import { parseKmsgRecord, type KmsgRecord } from '../agent/parse/kmsg-record.ts';
import { createKmsgPipeline, type KmsgSourceStats } from '../agent/sources/kmsg/source.ts';
import { rejectionCounts } from '../agent/parse/kernel-log.ts';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const nArg = args.indexOf('--records');
const N = nArg === -1 ? 300_000 : Number(args[nArg + 1]);
const NVRM_RATE = 0.001;
const ROUNDS = 5;

const ORDINARY = [
  'EXT4-fs (nvme0n1p1): mounted filesystem with ordered data mode. Quota mode: none.',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
  'audit: type=1400 audit(1700000000.000:123): apparmor="STATUSd" operation="profile_load" name="cri-containerd.apparmor.d"',
  'cni0: port 3(veth1a2b3c4d) entered forwarding state',
  'nvme nvme0: I/O 512 QID 3 timeout, completion polled',
  'Memory cgroup out of memory: Killed process 4242 (python3) total-vm:1234567kB, anon-rss:1048576kB, file-rss:0kB',
  'mlx5_core 0000:ab:00.0 mlx5_5: Port: 1 Link ACTIVE',
  'nvidia-modeset: Loading NVIDIA Kernel Mode Setting Driver for UNIX platforms  535.183.01',
];
const NVRM = [
  'NVRM: Xid (PCI:0000:3b:00): 79, pid=1234, name=python3, GPU has fallen off the bus.',
  'NVRM: Xid (PCI:0000:86:00): 154, GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)',
  'nvidia-nvswitch0: SXid (PCI:0000:c3:00.0): 24007, Fatal, Link 30 sourcetrack timeout error',
  "NVRM: Xid (PCI:0000:cb:00): 13, pid='<unknown>', name=<unknown>, Graphics SM Warp Exception on (GPC 7, TPC 7, SM 0)",
];

/** The reader's step after each read(2): one record's bytes -> a parsed record. */
function decode(bytes: ArrayBuffer, ends: Uint32Array): KmsgRecord[] {
  const buf = Buffer.from(bytes);
  const out: KmsgRecord[] = [];
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i] ?? start;
    const rec = parseKmsgRecord(buf.toString('latin1', start, end));
    start = end;
    if (rec !== null) out.push(rec);
  }
  return out;
}

/** Records as /dev/kmsg returns them, 1,024 to a batch (the reader's batchMax). */
function synth(n: number): { batches: Array<{ bytes: ArrayBuffer; ends: Uint32Array }>; text: string; nvrm: number } {
  const batches: Array<{ bytes: ArrayBuffer; ends: Uint32Array }> = [];
  const lines: string[] = [];
  let nvrm = 0;
  let cur: string[] = [];
  const flush = (): void => {
    const bufs = cur.map((r) => Buffer.from(r, 'latin1'));
    const bytes = new ArrayBuffer(bufs.reduce((a, b) => a + b.length, 0));
    const view = new Uint8Array(bytes);
    const ends = new Uint32Array(bufs.length);
    let off = 0;
    bufs.forEach((b, i) => {
      view.set(b, off);
      off += b.length;
      ends[i] = off;
    });
    batches.push({ bytes, ends });
    cur = [];
  };
  for (let i = 0; i < n; i++) {
    // Exactly one record in 1/NVRM_RATE is NVIDIA's, spread evenly.
    const isNv = i % Math.round(1 / NVRM_RATE) === 7;
    if (isNv) nvrm++;
    const text = isNv ? NVRM[i % NVRM.length] : ORDINARY[i % ORDINARY.length];
    const dict = !isNv && i % 10 === 0 ? ' SUBSYSTEM=pci\n DEVICE=+pci:0000:ab:00.0\n' : '';
    const rec = `${isNv ? 4 : 6},${i},${i * 1000},-;${text}\n${dict}`;
    cur.push(rec);
    lines.push(rec);
    if (cur.length === 1024) flush();
  }
  if (cur.length > 0) flush();
  return { batches, text: lines.join(''), nvrm };
}

function best(fn: () => number): { ms: number; out: number } {
  let ms = Infinity;
  let out = 0;
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    out = fn();
    ms = Math.min(ms, performance.now() - t);
  }
  return { ms, out };
}

const data = synth(N);
const baseline = best(() => {
  // A plain split into lines, counting the ones that start a record.
  let c = 0;
  for (const l of data.text.split('\n')) if (l.length > 0 && l.charCodeAt(0) !== 0x20) c++;
  return c;
});
const pipeline = best(() => {
  let obs = 0;
  const stats: KmsgSourceStats = { drillsIgnored: 0, rejected: rejectionCounts() };
  const run = createKmsgPipeline({ acceptDrills: false, bootWallMs: 0, stats, onObservation: () => obs++ });
  let recs = 0;
  for (const b of data.batches) {
    const r = decode(b.bytes, b.ends);
    recs += r.length;
    run(r);
  }
  if (recs !== N) throw new Error(`decoded ${recs} of ${N}`);
  return obs;
});

async function realReplay(): Promise<{ records: number; ms: number; replays: number } | null> {
  try {
    fs.accessSync('/dev/kmsg', fs.constants.R_OK);
  } catch {
    return null;
  }
  let records = 0;
  let replays = 0;
  const stats: KmsgSourceStats = { drillsIgnored: 0, rejected: rejectionCounts() };
  const run = createKmsgPipeline({ acceptDrills: false, bootWallMs: 0, stats, onObservation: () => {} });
  const t = performance.now();
  // The ring is often small: replay it with fresh readers until 50,000 records or 3 s.
  while (records < 50_000 && performance.now() - t < 3000) {
    const r = new KmsgReader({ onRecords: (rs) => { records += rs.length; run(rs); } });
    r.start();
    await r.whenCaughtUp();
    await r.stop();
    replays++;
  }
  const ms = performance.now() - t;
  return { records, ms, replays };
}
const real = await realReplay();

const rate = (n: number, ms: number): number => Math.round((n / ms) * 1000);
const result = {
  records: N,
  nvrmRecords: data.nvrm,
  nvrmShare: data.nvrm / N,
  baselineLineSplit: { ms: +baseline.ms.toFixed(1), recordsPerSec: rate(N, baseline.ms) },
  readerParseRecognise: { ms: +pipeline.ms.toFixed(1), recordsPerSec: rate(N, pipeline.ms), observations: pipeline.out },
  ratioToBaseline: +(baseline.ms / pipeline.ms).toFixed(3),
  target: { recordsPerSec: 300_000, met: rate(N, pipeline.ms) >= 300_000 },
  realKmsgReplay: real === null ? null : { records: real.records, replays: real.replays, ms: +real.ms.toFixed(1), recordsPerSec: rate(real.records, real.ms), note: 'whole ring buffer per fresh reader, open and close included' },
  node: process.version,
};

if (asJson) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
else {
  const row = (name: string, recs: number, ms: number): string =>
    `${name.padEnd(44)} ${String(recs).padStart(9)} ${ms.toFixed(1).padStart(9)} ${String(rate(recs, ms)).padStart(12)}`;
  console.log(`kmsg throughput: ${N} synthetic records, ${data.nvrm} NVRM (${(result.nvrmShare * 100).toFixed(2)}%), best of ${ROUNDS}, ${process.version}`);
  console.log(`${'stage'.padEnd(44)} ${'records'.padStart(9)} ${'ms'.padStart(9)} ${'records/s'.padStart(12)}`);
  console.log(row('baseline: plain line split', N, baseline.ms));
  console.log(row('kmsg parse + recogniser', N, pipeline.ms));
  if (real !== null) console.log(row(`real /dev/kmsg: read(2) + parse + recogniser`, real.records, real.ms) + `  (${real.replays} ring replays)`);
  console.log(`observations: ${pipeline.out}; target >= 300000 records/s: ${result.target.met ? 'met' : 'NOT met'}`);
}
