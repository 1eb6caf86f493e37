// Builds the sources the configuration asks for, each behind the runtime's
// small Source interface. Kernel-log sources poll-free: the kmsg reader pushes
// batches from its worker thread, log files are followed by `tail`.
import type { Logger } from 'pino';
import type { AgentConfig } from '../config/load.ts';
import type { SourceStatus } from '../model/source-status.ts';
import { KmsgSource } from '../sources/kmsg/source.ts';
import { LogFileSource } from '../sources/logfile/source.ts';
import { createGpuSource } from '../sources/backend/index.ts';
import { SysfsSource } from '../sources/sysfs/source.ts';
import { REJECTIONS, rejectionCounts, type Rejection, type RejectionCounts } from '../parse/kernel-log.ts';
import type { NvidiaRecord } from '../parse/nvidia.ts';
import type { RejectedRecord, Source, SourceCallbacks, SourceStart } from './types.ts';

/** What each source is built with: where to start (the runtime's `SourceStart`) and the wall clock. */
export type SourceContext = SourceStart & { now: () => number };

/** Every source the configuration asks for. */
export function configuredSources(config: AgentConfig, log: Logger): (cb: SourceCallbacks, ctx: SourceStart) => Source[] {
  return (cb, ctx) => {
    const out: Source[] = [];
    const full: SourceContext = { ...ctx, now: Date.now };
    // First: its first look at the bus lands before the kernel log is replayed.
    out.push(sysfsSource(config, cb, full, (err) => log.warn({ sysfsRoot: config.sysfsRoot, err }, 'cannot look at the PCI bus')));
    if (config.kmsg !== null) out.push(kmsgSource(config, cb, full));
    if (config.logFiles.length > 0) out.push(logFileSource(config, cb, full));
    out.push(gpuSource(config, cb, full));
    return out;
  };
}

export function kmsgSource(config: AgentConfig, cb: SourceCallbacks, ctx: SourceContext): Source {
  const path = config.kmsg ?? '/dev/kmsg';
  let src: KmsgSource | null = null;
  const push = (): void => {
    if (src !== null) cb.onStatus(src.status());
  };
  src = new KmsgSource({
    path,
    bootIdPath: config.bootIdFile,
    cursor: ctx.cursor,
    acceptDrills: config.acceptDrills,
    now: ctx.now,
    onObservation: (obs) => cb.onObservation(obs),
    onRejected: (why, record, raw) => cb.onRejected?.(rejectedRecord('kmsg', why, record, raw.text)),
    onCaughtUp: push,
  });
  const s = src;
  return {
    name: 'kmsg',
    start: () => s.start(),
    stop: () => s.stop(),
    status: () => s.status(),
    cursor: () => s.cursor(),
    stats: () => {
      const l = s.liveness();
      return { recordsRead: l.recordsRead, recordsLost: l.lostCount, drillsIgnored: s.stats.drillsIgnored, rejected: s.stats.rejected };
    },
  };
}

/** All --log-file paths as one `logfile` source: health keeps one status per source name. */
export function logFileSource(config: AgentConfig, cb: SourceCallbacks, ctx: SourceContext): Source {
  const files = config.logFiles.map(
    (path) =>
      new LogFileSource({
        path,
        fromBeginning: !ctx.resumed,
        resumeAt: ctx.logFiles.find((p) => p.path === path) ?? null,
        acceptDrills: config.acceptDrills,
        now: ctx.now,
        bootTimeMs: ctx.bootTimeMs,
        onObservation: (obs) => cb.onObservation(obs),
        onRejected: (why, record, line) => cb.onRejected?.(rejectedRecord('logfile', why, record, line.message)),
      }),
  );
  const status = (): SourceStatus => combine(files.map((f) => f.status()));
  return {
    name: 'logfile',
    start: () => {
      for (const f of files) f.start();
      cb.onStatus(status());
    },
    stop: () => {
      for (const f of files) f.stop();
    },
    status,
    positions: () => files.flatMap((f) => f.position() ?? []),
    stats: () => ({
      recordsRead: files.reduce((n, f) => n + f.stats.lines, 0),
      recordsLost: 0,
      drillsIgnored: files.reduce((n, f) => n + f.stats.drillsIgnored, 0),
      skippedPreviousBoot: files.reduce((n, f) => n + f.stats.skippedPreviousBoot, 0),
      rejected: sumCounts(files.map((f) => f.stats.rejected)),
      writableByOthers: files.filter((f) => f.stats.writableByOthers).length,
    }),
  };
}

function sumCounts(all: RejectionCounts[]): RejectionCounts {
  const sum = rejectionCounts();
  for (const c of all) for (const r of REJECTIONS) sum[r] += c[r];
  return sum;
}

function rejectedRecord(source: 'kmsg' | 'logfile', why: Rejection, record: NvidiaRecord, text: string): RejectedRecord {
  const looked = record.code === null ? record.kind : `${record.kind} ${record.code}`;
  return { source, why, looked, pci: record.pci, text: text.length > 160 ? `${text.slice(0, 159)}…` : text };
}

/** Worst state wins; caught up only when every file is. */
function combine(all: SourceStatus[]): SourceStatus {
  const rank = ['down', 'hung', 'starting', 'up', 'disabled'];
  const worst = [...all].sort((a, b) => rank.indexOf(a.state) - rank.indexOf(b.state))[0] as SourceStatus;
  const detail = all.length === 1 ? worst.detail : all.map((s) => s.detail).filter((d) => d !== '').join('; ');
  return { ...worst, detail, caughtUp: all.every((s) => s.caughtUp) };
}

/** DCGM or NVML as --gpu-backend says; it pushes a status for both (the unused one as disabled). */
export function gpuSource(config: AgentConfig, cb: SourceCallbacks, ctx: SourceContext): Source {
  const seen = new Set<string>();
  const gpu = createGpuSource(
    {
      backend: config.gpuBackend,
      dcgmAddress: config.dcgmAddress,
      intervalMs: config.dcgmIntervalMs,
      // A configured count wins; else what the Node advertises, read when the GPU source asks.
      expectedGpus: config.expectedGpus ?? ctx.nodeGpus,
      ...(config.dcgmLib === null ? {} : { dcgmLibPath: config.dcgmLib }),
      ...(config.nvmlLib === null ? {} : { nvmlLibPath: config.nvmlLib }),
      now: ctx.now,
    },
    {
      onObservation: (obs) => cb.onObservation(obs),
      onStatus: (status) => {
        seen.add(status.source);
        cb.onStatus(status);
      },
    },
  );
  return {
    name: 'gpu',
    start: () => gpu.start(),
    stop: () => gpu.stop(),
    // 'auto' probes DCGM, then NVML, before it says which one runs.
    settled: () => seen.has('dcgm') && seen.has('nvml'),
  };
}

/** The PCI bus under --sysfs-root: AER counters and looks at GPUs the driver failed to bring up. */
export function sysfsSource(config: AgentConfig, cb: SourceCallbacks, ctx: SourceContext, onError: (message: string) => void): Source {
  // A configured count wins (0: no count), else what the Node advertises.
  const expected = config.expectedGpus;
  const s = new SysfsSource({
    sysfsRoot: config.sysfsRoot,
    intervalMs: config.sysfsIntervalMs,
    expectedGpus: expected !== null ? () => (expected > 0 ? expected : null) : ctx.nodeGpus,
    now: ctx.now,
    onObservation: (obs) => cb.onObservation(obs),
    onError,
  });
  return { name: 'sysfs', start: () => s.start(), stop: () => s.stop(), aer: () => s.aer() };
}
