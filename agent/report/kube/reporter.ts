// The Kubernetes reporter: the node condition writer, the watch on the own
// Node that keeps it honest, and the Event recorder behind one small
// interface for the runtime. Connection: `kubeconfig` when given, else
// in-cluster; in dry-run a missing connection is fine, nothing is watched and
// nothing is ever written, only logged.
import type { PodRef } from '../../model/pod-ref.ts';
import type { NodeVerdict, Notice } from '../../model/verdict.ts';
import { DEFAULT_BACKOFF, describeError, type BackoffPolicy } from './backoff.ts';
import { KubeClient } from './client.ts';
import { ConditionWriter, type AdoptedCondition, type ConditionWriterStatus } from './condition-writer.ts';
import { loadConnection, type KubeConnection } from './connection.ts';
import { EventRecorder, type EventRecorderStatus } from './events.ts';
import type { KubeLogger } from './log.ts';
import { NodeWatch, type NodeWatchStatus } from './node-watch.ts';

export const DEFAULT_CONDITION_TYPE = 'AcceleratedHardwareReady';

export interface KubeReporterOptions {
  nodeName: string;
  /** Default `AcceleratedHardwareReady`. */
  conditionType?: string;
  /** Default 5 minutes. */
  heartbeatMs?: number;
  /** Non-False changes within this window are one write. Default 1000. */
  coalesceMs?: number;
  /** A change that keeps the status waits at least this long after the last write. Default 30 s. */
  updateIntervalMs?: number;
  dryRun?: boolean;
  /** Path of a kubeconfig; in-cluster configuration when absent. */
  kubeconfig?: string;
  /** Overrides kubeconfig and in-cluster (tests). */
  connection?: KubeConnection;
  /** Namespace Events go to; `default`, where `kubectl events --for node/<name>` looks. */
  eventNamespace?: string;
  logger: KubeLogger;
  /** Per-request limit, ms. Default 10 s. */
  requestTimeoutMs?: number;
  backoff?: BackoffPolicy;
  /** Reconnect pace of the node watch; default WATCH_BACKOFF. */
  watchBackoff?: BackoffPolicy;
  /** Seconds the API server is asked to keep each watch open (jittered up to twice); default 300. */
  watchTimeoutS?: number;
  /** Event rate limit: burst (default 25), then one call per refillMs (default 5000). */
  eventBurst?: number;
  eventRefillMs?: number;
  /** Least time between two series updates of one Event. Default 60 s. */
  eventSeriesIntervalMs?: number;
  /** Notices of one finding on several GPUs within this window are one Node Event series. Default 60 s; 0 turns it off. */
  eventFoldWindowMs?: number;
  clock?: () => number;
  random?: () => number;
}

export interface KubeReporterStatus extends Omit<ConditionWriterStatus, 'current'> {
  condition: ConditionWriterStatus['current'];
  events: EventRecorderStatus;
  /** Null where nothing is watched (dry run, before start). */
  nodeWatch: NodeWatchStatus | null;
}

/** What the debug endpoint shows about the last write (same shape as the runtime's WriteRecord). */
export interface KubeWriteRecord {
  at: number;
  what: string;
  ok: boolean;
  detail: string;
}

export interface KubeReporter {
  readonly name: 'kube';
  /**
   * Connects and reads the node; `adopted` is the condition found there. Never
   * throws for an unreachable server. `onAdopted` hears of a later one: the
   * condition as first written to a re-created Node, with its new transition time.
   */
  start(onAdopted?: (adopted: AdoptedCondition) => void): Promise<{ adopted?: AdoptedCondition; error?: string }>;
  setVerdict(verdict: NodeVerdict, now: number): void;
  notice(notice: Notice): void;
  /** The notice as an Event regarding a Pod that holds the GPU, in the Pod's namespace. */
  podNotice(notice: Notice, pod: PodRef): void;
  status(): KubeReporterStatus;
  lastWrite(): KubeWriteRecord | null;
  /** Physical GPUs the Node advertises (nvidia.com/gpu capacity), from the last read of the Node; null when unknown or shared. */
  expectedGpus(): number | null;
  stop(): Promise<void>;
}

export function createKubeReporter(opts: KubeReporterOptions): KubeReporter {
  const clock = opts.clock ?? Date.now;
  const random = opts.random ?? Math.random;
  const backoff = opts.backoff ?? DEFAULT_BACKOFF;
  const dryRun = opts.dryRun ?? false;
  let client: KubeClient | undefined;
  let writer: ConditionWriter | undefined;
  let events: EventRecorder | undefined;
  let watch: NodeWatch | undefined;
  let stopped = false;
  // Before start() resolves, what the runtime says is held here and replayed.
  let early: { verdict?: { v: NodeVerdict; now: number }; notices: Array<{ n: Notice; pod?: PodRef }> } = { notices: [] };

  return {
    name: 'kube',

    async start(onAdopted) {
      try {
        const conn = opts.connection ?? (await loadConnection(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}));
        client = new KubeClient(conn, { timeoutMs: opts.requestTimeoutMs ?? 10_000 });
      } catch (err) {
        if (!dryRun) throw err;
        opts.logger.warn({ err: describeError(err) }, 'dry run without API access: the node is not read, writes are only logged');
      }
      writer = new ConditionWriter({
        client,
        nodeName: opts.nodeName,
        conditionType: opts.conditionType ?? DEFAULT_CONDITION_TYPE,
        heartbeatMs: opts.heartbeatMs ?? 5 * 60_000,
        coalesceMs: opts.coalesceMs ?? 1000,
        updateIntervalMs: opts.updateIntervalMs ?? 30_000,
        dryRun,
        logger: opts.logger,
        clock,
        random,
        backoff,
        ...(onAdopted !== undefined ? { onAdopted } : {}),
      });
      const w = writer;
      events = new EventRecorder({
        client,
        namespace: opts.eventNamespace ?? 'default',
        nodeName: opts.nodeName,
        nodeUid: () => w.nodeUid,
        dryRun,
        logger: opts.logger,
        clock,
        random,
        backoff,
        burst: opts.eventBurst ?? 25,
        refillMs: opts.eventRefillMs ?? 5000,
        seriesIntervalMs: opts.eventSeriesIntervalMs ?? 60_000,
        maxKeys: 512,
        maxPendingCreates: 64,
        foldWindowMs: opts.eventFoldWindowMs ?? 60_000,
        hold: (now) => w.holdsEvents(now),
      });
      const result = await writer.start();
      // In a dry run the writer's `current` is what it would have written: the server's would always differ.
      if (client !== undefined && !dryRun && !stopped) {
        watch = new NodeWatch({
          client,
          nodeName: opts.nodeName,
          onNode: (node) => w.observeNode(node),
          logger: opts.logger,
          clock,
          random,
          ...(opts.watchBackoff !== undefined ? { backoff: opts.watchBackoff } : {}),
          ...(opts.watchTimeoutS !== undefined ? { timeoutS: opts.watchTimeoutS } : {}),
        });
        watch.start();
      }
      const held = early;
      early = { notices: [] };
      if (held.verdict !== undefined) writer.setVerdict(held.verdict.v, held.verdict.now);
      for (const { n, pod } of held.notices) {
        if (pod === undefined) events.notice(n);
        else events.podNotice(n, pod);
      }
      return result;
    },

    setVerdict(v, now) {
      if (writer === undefined) early.verdict = { v, now };
      else writer.setVerdict(v, now);
    },

    notice(n) {
      if (events === undefined) {
        if (early.notices.length < 64) early.notices.push({ n });
      } else events.notice(n);
    },

    podNotice(n, pod) {
      if (events === undefined) {
        if (early.notices.length < 64) early.notices.push({ n, pod });
      } else events.podNotice(n, pod);
    },

    status() {
      if (writer === undefined || events === undefined) {
        const none = { created: 0, seriesUpdates: 0, dropped: 0, failures: 0, pending: early.notices.length, lastError: undefined, lastWriteAt: undefined };
        return { lastWriteAt: undefined, lastError: undefined, pending: early.verdict !== undefined, writes: 0, failures: 0, condition: undefined, events: none, nodeWatch: null };
      }
      const { current, ...rest } = writer.status();
      return { ...rest, condition: current, events: events.status(), nodeWatch: watch?.status() ?? null };
    },

    expectedGpus() {
      return writer?.expectedGpus ?? null;
    },

    lastWrite() {
      if (writer === undefined) return null;
      const s = writer.status();
      if (s.lastError !== undefined) return { at: clock(), what: 'condition', ok: false, detail: s.lastError };
      if (s.lastWriteAt === undefined || s.current === undefined) return null;
      return { at: s.lastWriteAt, what: 'condition', ok: true, detail: `${s.current.status} ${s.current.reason}${dryRun ? ' (dry run)' : ''}` };
    },

    async stop() {
      stopped = true;
      watch?.stop();
      await Promise.all([writer?.stop(), events?.stop()]);
      client?.close();
    },
  };
}
