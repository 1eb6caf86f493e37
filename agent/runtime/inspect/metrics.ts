// Prometheus metrics. Counters that the agent bumps as things happen live
// here; everything else is read from the agent's current state at scrape time,
// so a scrape costs work and an idle agent costs none.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export interface SourceSample {
  source: string;
  up: boolean;
  recordsRead: number;
  recordsLost: number;
  /** Log-file lines of earlier boots skipped; absent for sources without log files. */
  skippedPreviousBoot?: number;
  /** Records that looked like NVIDIA's and were not evidence, by why (kernel-log sources). */
  rejected?: Record<string, number>;
  /** Log files that a user other than root may write (logfile only). */
  writableByOthers?: number;
  /** Switched off (--kmsg none, the unused GPU backend): it has no source_up series, so "down" alerts never see it. */
  disabled?: boolean;
}

export interface FindingSample {
  reason: string;
  severity: string;
  drill: boolean;
  count: number;
}

/** One AER counter of the kernel's (sysfs), as the PCI bus source last read it. */
export interface AerCounterSample {
  pci: string;
  /** The NVIDIA function whose link it counts for. */
  of: string;
  role: string;
  severity: string;
  value: number;
}

/** Read at scrape time. */
export interface MetricsReader {
  sources(): SourceSample[];
  findings(): FindingSample[];
  findingsEvicted(): number;
  drillsIgnored(): number;
  /** NVIDIA devices this node is known to have this boot. */
  devicesKnown(): number;
  /** The kernel's AER counters on the NVIDIA devices' links; absent: none read. */
  aer?(): AerCounterSample[];
  condition(): { type: string; status: string } | null;
  ready(): boolean;
  /** Entries of the effective rule table that make application-caused or unknown codes fatal. */
  rulesRisky(): number;
  /** Log lines left out by a line budget, per kind of line. */
  linesSuppressed(): Array<{ what: string; count: number }>;
  /** Whether state-file writes succeed and the control socket is up. */
  persistence(): { ok: boolean; controlSocket: { ok: boolean } };
}

export interface AgentMetrics {
  registry: Registry;
  observations: Counter<'source' | 'kind' | 'drill'>;
  ruleReloads: Counter<'result'>;
  stateWrites: Counter<'result'>;
  notices: Counter<'type' | 'drill'>;
  debugRefused: Counter<'listener' | 'why'>;
}

const P = 'gpu_health_';

export function createMetrics(read: MetricsReader): AgentMetrics {
  const registry = new Registry();
  // Event-loop lag is sampled by a timer; 1 s keeps an idle agent idle.
  collectDefaultMetrics({ register: registry, prefix: P, eventLoopMonitoringPrecision: 1000 });
  const reg = [registry];

  new Counter({
    name: `${P}records_read_total`,
    help: 'Kernel-log records read, per source',
    labelNames: ['source'],
    registers: reg,
    collect() {
      this.reset();
      for (const s of read.sources()) this.inc({ source: s.source }, s.recordsRead);
    },
  });
  new Counter({
    name: `${P}records_lost_total`,
    help: 'Kernel-log records overwritten before they were read (kmsg EPIPE gaps), per source',
    labelNames: ['source'],
    registers: reg,
    collect() {
      this.reset();
      for (const s of read.sources()) this.inc({ source: s.source }, s.recordsLost);
    },
  });
  new Counter({
    name: `${P}lines_skipped_previous_boot_total`,
    help: 'Kernel-log file lines written by an earlier boot, not taken as evidence, per source',
    labelNames: ['source'],
    registers: reg,
    collect() {
      this.reset();
      for (const s of read.sources()) if (s.skippedPreviousBoot !== undefined) this.inc({ source: s.source }, s.skippedPreviousBoot);
    },
  });
  new Counter({
    name: `${P}records_rejected_total`,
    help: "Kernel-log records that looked like NVIDIA's and were not taken as evidence, per source and reason (forging attempts show here)",
    labelNames: ['source', 'reason'],
    registers: reg,
    collect() {
      this.reset();
      // Every reason from the start, zeros too: an alert on increase() sees the first rejection.
      for (const s of read.sources()) for (const [reason, n] of Object.entries(s.rejected ?? {})) this.inc({ source: s.source, reason }, n);
    },
  });
  new Gauge({
    name: `${P}devices_known`,
    help: 'NVIDIA devices (GPUs, NVSwitches) this node is known to have this boot (sysfs, driver identity lines, NVML, DCGM)',
    registers: reg,
    collect() {
      this.set(read.devicesKnown());
    },
  });
  new Counter({
    name: `${P}pcie_aer_errors_total`,
    help: "The kernel's PCIe AER error counts since boot on each NVIDIA device's link (sysfs aer_dev_*: role device or port, the port right above it; aer_rootport_total_err_*: role rootport, every device below that root port); rate() gives the error rate",
    labelNames: ['pci', 'of', 'role', 'severity'],
    registers: reg,
    collect() {
      this.reset();
      for (const a of read.aer?.() ?? []) this.inc({ pci: a.pci, of: a.of, role: a.role, severity: a.severity }, a.value);
    },
  });
  new Gauge({
    name: `${P}log_files_writable_by_others`,
    help: 'Followed --log-file paths that a user other than root can write: any such writer can forge lines',
    labelNames: ['source'],
    registers: reg,
    collect() {
      this.reset();
      for (const s of read.sources()) if (s.writableByOthers !== undefined) this.set({ source: s.source }, s.writableByOthers);
    },
  });
  new Gauge({
    name: `${P}source_up`,
    help: '1 when the source can observe, 0 when it is down, hung or starting; absent when disabled',
    labelNames: ['source'],
    registers: reg,
    collect() {
      this.reset();
      for (const s of read.sources()) if (s.disabled !== true) this.set({ source: s.source }, s.up ? 1 : 0);
    },
  });
  new Gauge({
    name: `${P}findings`,
    help: 'Current findings by reason and severity (drill findings are labelled drill="true")',
    labelNames: ['reason', 'severity', 'drill'],
    registers: reg,
    collect() {
      this.reset();
      for (const f of read.findings()) this.inc({ reason: f.reason, severity: f.severity, drill: String(f.drill) }, f.count);
    },
  });
  new Counter({
    name: `${P}findings_evicted_total`,
    help: 'Findings dropped because the per-GPU or per-node cap was reached',
    registers: reg,
    collect() {
      this.reset();
      this.inc(read.findingsEvicted());
    },
  });
  new Counter({
    name: `${P}drills_ignored_total`,
    help: 'Drill records seen while --accept-drills is off',
    registers: reg,
    collect() {
      this.reset();
      this.inc(read.drillsIgnored());
    },
  });
  new Gauge({
    name: `${P}condition_status`,
    help: 'The node condition as last decided: 1 for the current status, 0 for the others',
    labelNames: ['type', 'status'],
    registers: reg,
    collect() {
      this.reset();
      const c = read.condition();
      if (c === null) return;
      for (const status of ['True', 'False', 'Unknown']) this.set({ type: c.type, status }, c.status === status ? 1 : 0);
    },
  });
  new Gauge({
    name: `${P}ready`,
    help: '1 once the first full observation cycle is done (kernel log replayed)',
    registers: reg,
    collect() {
      this.set(read.ready() ? 1 : 0);
    },
  });

  new Counter({
    name: `${P}log_lines_suppressed_total`,
    help: 'Log lines left out by a rate limit, per kind: what="finding" and "fatal-finding" (one line per new finding, each a burst of 50 then 5 a second), "control-denied"',
    labelNames: ['what'],
    registers: reg,
    collect() {
      this.reset();
      for (const l of read.linesSuppressed()) this.inc({ what: l.what }, l.count);
    },
  });
  new Gauge({
    name: `${P}rules_risky`,
    help: 'Entries of the effective rule table that make application-caused, no-action or unknown codes fatal (a user program can then get a healthy node replaced)',
    registers: reg,
    collect() {
      this.set(read.rulesRisky());
    },
  });
  new Gauge({
    name: `${P}state_persisted`,
    help: '1 while the state file can be written (findings, cursor and condition survive a restart), 0 while writes fail (read-only or full state directory)',
    registers: reg,
    collect() {
      this.set(read.persistence().ok ? 1 : 0);
    },
  });
  new Gauge({
    name: `${P}control_socket_up`,
    help: '1 when the control socket (operator clears) is listening, 0 when it could not be created',
    registers: reg,
    collect() {
      this.set(read.persistence().controlSocket.ok ? 1 : 0);
    },
  });

  return {
    registry,
    observations: new Counter({ name: `${P}observations_total`, help: 'Observations taken in, per source and kind', labelNames: ['source', 'kind', 'drill'], registers: reg }),
    ruleReloads: new Counter({ name: `${P}rule_reloads_total`, help: 'Rule file reloads, result="ok" or "refused"', labelNames: ['result'], registers: reg }),
    stateWrites: new Counter({ name: `${P}state_writes_total`, help: 'State file writes, result="ok" or "error"', labelNames: ['result'], registers: reg }),
    // No reason label: unknown codes would make its cardinality unbounded; findings by reason are in gpu_health_findings.
    notices: new Counter({ name: `${P}notices_total`, help: 'Notices (Events) raised, per type', labelNames: ['type', 'drill'], registers: reg }),
    debugRefused: new Counter({
      name: `${P}debug_connections_refused_total`,
      help: 'Debug and metrics listener connections closed or requests turned away by a bound: why="capacity" (over 32 connections), "timeout" (headers or request too slow), "malformed" (bad or oversized request)',
      labelNames: ['listener', 'why'],
      registers: reg,
    }),
  };
}
