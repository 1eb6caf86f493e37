// One simulated GPU node of the fleet bench: the agent's own pure middle
// (recogniser -> the decision core with health and the default rules) and its
// own Kubernetes reporter (condition writer + Event recorder, agent/report/kube), fed driver
// lines instead of /dev/kmsg. What it sends the API server is what one agent
// process would send for the same records; the process, its sources and its
// debug server are left out.
import { emptyHealth, learnDevices } from '../../agent/health/index.ts';
import { createCore, step, type CoreEvent, type CoreState } from '../../agent/runtime/core.ts';
import { recogniseLine } from '../../agent/parse/nvidia.ts';
import { toObservation } from '../../agent/parse/observation.ts';
import { createKubeReporter, type KubeReporter } from '../../agent/report/kube/reporter.ts';
import type { KubeConnection } from '../../agent/report/kube/connection.ts';
import type { KubeLogger } from '../../agent/report/kube/log.ts';
import type { RuleTable } from '../../agent/rules/types.ts';

export const GPUS_PER_NODE = 8;
/** The node's GPUs as sysfs would list them: 0000:10:00.0 .. 0000:17:00.0. */
export const gpuPci = (g: number): string => `0000:${(0x10 + g).toString(16)}:00.0`;

/** A driver Xid line as the kernel log carries it. */
export function xidLine(gpu: number, code: number, pid: number): string {
  return `NVRM: Xid (PCI:${gpuPci(gpu).slice(0, -2)}): ${code}, pid=${pid}, name=python3, Ch 00000008`;
}

/** Counts what the reporter's logger says: failures and drops show here. */
export interface LogCounts {
  warn: number;
  error: number;
}

export function countingLogger(counts: LogCounts): KubeLogger {
  return {
    debug() {},
    info() {},
    warn() { counts.warn++; },
    error() { counts.error++; },
  };
}

export class SimNode {
  readonly name: string;
  readonly reporter: KubeReporter;
  private readonly core: CoreState;

  constructor(opts: { name: string; connection: KubeConnection; rules: RuleTable; logger: KubeLogger; heartbeatMs?: number }) {
    this.name = opts.name;
    const health = emptyHealth(`sim-boot-${opts.name}`);
    learnDevices(health, Array.from({ length: GPUS_PER_NODE }, (_, g) => gpuPci(g)), 'sysfs');
    this.core = createCore(health, opts.rules, null);
    this.reporter = createKubeReporter({
      nodeName: opts.name,
      connection: opts.connection,
      logger: opts.logger,
      ...(opts.heartbeatMs !== undefined ? { heartbeatMs: opts.heartbeatMs } : {}),
    });
  }

  /** Reads the node (adopts its condition), then reports the first full cycle: True. */
  async start(now: number): Promise<void> {
    await this.reporter.start({ onNode: (facts) => this.apply({ kind: 'node', facts }, Date.now()) });
    this.apply({ kind: 'source', status: { source: 'kmsg', state: 'up', since: now, detail: '', caughtUp: true } }, now);
  }

  /** One batch of kernel lines (one read's worth), settled once after it as the runtime does. */
  feed(lines: string[], now: number): void {
    for (const line of lines) {
      const rec = recogniseLine(line);
      const obs = rec === null ? null : toObservation(rec, 'kmsg', now, false);
      if (obs === null) continue;
      this.apply({ kind: 'observed', obs }, now);
    }
    this.apply({ kind: 'settle' }, now);
  }

  /** One event through the core; its notices and condition to the reporter (no state file here: nothing waits for one). */
  private apply(event: CoreEvent, now: number): void {
    const out = step(this.core, event, now, { sourcesSettled: true });
    for (const n of out.notices) this.reporter.notice(n);
    if (out.tell !== null) this.reporter.setCondition(out.tell.condition);
  }

  stop(): Promise<void> {
    return this.reporter.stop();
  }
}
