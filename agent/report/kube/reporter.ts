// The Kubernetes reporter: the node condition writer, the watch on the own
// Node that keeps it honest, and the Event recorder behind the runtime's
// Reporter port. Connection: `kubeconfig` when given, else in-cluster. A dry
// run is the same reporter with the same write policy over the dry-run
// transport (transport.ts): writes are logged, never sent; the Node is read
// when the API can be reached, nothing is watched.
import type { PodRef } from '../../model/pod-ref.ts';
import type { ConditionRecord, Notice } from '../../model/verdict.ts';
import type { Reporter, ReporterHooks } from '../../runtime/types.ts';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.ts';
import { errorText } from '../../model/text.ts';
import { KubeClient } from './client.ts';
import { ConditionWriter, type ConditionWriterStatus } from './condition-writer.ts';
import { loadConnection, type KubeConnection } from './connection.ts';
import { EventRecorder, type EventRecorderStatus } from './events.ts';
import type { KubeLogger } from './log.ts';
import { NodeWatch, type NodeWatchStatus } from './node-watch.ts';
import { apiTransport, dryRunTransport, type KubeTransport } from './transport.ts';

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

export interface KubeReporter extends Reporter {
  readonly name: 'kube';
  /**
   * Connects and reads the node; what it found reaches `hooks.onNode` before
   * this resolves. Never throws for an unreachable server (a dry run: nor for
   * a missing connection).
   */
  start(hooks: ReporterHooks): Promise<void>;
  status(): KubeReporterStatus;
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
  let early: { condition?: ConditionRecord; notices: Array<{ n: Notice; pod?: PodRef }> } = { notices: [] };

  return {
    name: 'kube',

    async start(hooks) {
      try {
        const conn = opts.connection ?? (await loadConnection(opts.kubeconfig !== undefined ? { kubeconfig: opts.kubeconfig } : {}));
        client = new KubeClient(conn, { timeoutMs: opts.requestTimeoutMs ?? 10_000 });
      } catch (err) {
        if (!dryRun) throw err;
        opts.logger.warn({ err: errorText(err) }, 'dry run without API access: the node is not read, writes are only logged');
      }
      const transport: KubeTransport = dryRun ? dryRunTransport(client, opts.nodeName, opts.logger) : apiTransport(client as KubeClient, opts.nodeName, opts.logger);
      writer = new ConditionWriter({
        transport,
        nodeName: opts.nodeName,
        conditionType: opts.conditionType ?? DEFAULT_CONDITION_TYPE,
        heartbeatMs: opts.heartbeatMs ?? 5 * 60_000,
        coalesceMs: opts.coalesceMs ?? 1000,
        updateIntervalMs: opts.updateIntervalMs ?? 30_000,
        logger: opts.logger,
        clock,
        random,
        backoff,
        onNode: (facts) => hooks.onNode(facts),
      });
      const w = writer;
      events = new EventRecorder({
        transport,
        namespace: opts.eventNamespace ?? 'default',
        nodeName: opts.nodeName,
        nodeUid: () => w.nodeUid,
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
      await writer.start();
      // In a dry run the writer's `current` is what it would have written: the server's would always differ.
      const watchClient = transport.watchClient;
      if (watchClient !== null && !stopped) {
        watch = new NodeWatch({
          client: watchClient,
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
      if (held.condition !== undefined) writer.setCondition(held.condition);
      for (const { n, pod } of held.notices) {
        if (pod === undefined) events.notice(n);
        else events.podNotice(n, pod);
      }
    },

    setCondition(c) {
      if (writer === undefined) early.condition = c;
      else writer.setCondition(c);
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
        return { lastWriteAt: undefined, lastError: undefined, pending: early.condition !== undefined, writes: 0, failures: 0, condition: undefined, events: none, nodeWatch: null };
      }
      const { current, ...rest } = writer.status();
      return { ...rest, condition: current, events: events.status(), nodeWatch: watch?.status() ?? null };
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
