// Watches the agent's own Node, so that a change someone else makes (the
// condition set by hand or removed, the Node deleted and created again)
// reaches the condition writer within moments instead of at the next
// heartbeat. One long-lived GET with a metadata.name field selector, as the
// kubelet keeps for its own Node; the API server's watch cache indexes Nodes
// by name, so a fleet costs one quiet stream per node, not a poll.
//
// Connecting reads the Node first (a watch says nothing about a Node that is
// not there), then watches from the current state. A watch the server ends
// at its timeout resumes from the last resourceVersion seen (bookmarks keep it
// fresh); anything else (no answer, an error, 410 Gone) backs off with jitter
// and connects afresh, so a restarted API server is not met by a whole fleet
// in step, and a server that ends every watch at once is not a busy loop.
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { errorText } from '../../model/text.ts';
import { KubeApiError, type KubeClient, type WatchEvent, type WatchStream } from './client.ts';
import type { NodeLike } from './condition.ts';
import type { KubeLogger } from './log.ts';

/** client-go's reflector pace: after a failure, 0.8 s doubling to 30 s. */
export const WATCH_BACKOFF: BackoffPolicy = { baseMs: 800, maxMs: 30_000 };
/** The server ends each watch after this long, jittered up to twice it (as client-go asks). */
const WATCH_TIMEOUT_S = 300;
/** Far above any Node object (etcd refuses objects over 1.5 MiB). */
const MAX_EVENT_BYTES = 4 * 1024 * 1024;
/** RBAC without `watch` on nodes (a ClusterRole older than the agent): ask again at heartbeat pace, not every 30 s. */
const FORBIDDEN_RETRY_MS = 5 * 60_000;

export interface NodeWatchOptions {
  client: KubeClient;
  nodeName: string;
  /** What the API server holds now: the Node, or null when there is none. */
  onNode(node: NodeLike | null): void;
  logger: KubeLogger;
  clock: () => number;
  random: () => number;
  backoff?: BackoffPolicy;
  /** Seconds a watch is asked to last (tests make it short). */
  timeoutS?: number;
}

export interface NodeWatchStatus {
  /** A watch is open. */
  connected: boolean;
  /** Watch requests made. */
  watches: number;
  /** Reads of the Node (at start and after each failure). */
  reads: number;
  events: number;
  /** Failures in a row; 0 once a watch has run a while. */
  failures: number;
  lastError: string | undefined;
}

export class NodeWatch {
  private readonly opts: NodeWatchOptions;
  private readonly backoff: BackoffPolicy;
  private readonly timeoutS: number;
  /** Where a watch ended by the server resumes; undefined: read the Node and watch from now. */
  private resumeFrom: string | undefined;
  private stream: WatchStream | undefined;
  private streamError: Error | undefined;
  private sleep: { timer: NodeJS.Timeout; wake: () => void } | undefined;
  private loop: Promise<void> | undefined;
  private stopped = false;
  private stats: NodeWatchStatus = { connected: false, watches: 0, reads: 0, events: 0, failures: 0, lastError: undefined };

  constructor(opts: NodeWatchOptions) {
    this.opts = opts;
    this.backoff = opts.backoff ?? WATCH_BACKOFF;
    this.timeoutS = opts.timeoutS ?? WATCH_TIMEOUT_S;
  }

  start(): void {
    this.loop ??= this.run();
  }

  status(): NodeWatchStatus {
    return { ...this.stats };
  }

  /** Ends the watch now; a read still out ends with the client (KubeClient.close). */
  stop(): void {
    this.stopped = true;
    this.stream?.close();
    if (this.sleep !== undefined) {
      clearTimeout(this.sleep.timer);
      this.sleep.wake();
    }
  }

  private async run(): Promise<void> {
    const { logger, nodeName, clock } = this.opts;
    // A watch that lasted this long was healthy, even if the server then ended it.
    const healthyMs = Math.min(10_000, (this.timeoutS * 1000) / 2);
    while (!this.stopped) {
      const began = clock();
      let failure: unknown;
      try {
        if (this.resumeFrom === undefined) await this.read();
        await this.watchOnce();
      } catch (err) {
        failure = err;
      }
      this.stats.connected = false;
      if (this.stopped) return;
      if (failure !== undefined) {
        // Connect afresh: the Node may have gone or changed while nothing was heard.
        this.resumeFrom = undefined;
        this.stats.lastError = errorText(failure);
      }
      if (failure === undefined && clock() - began >= healthyMs) {
        if (this.stats.failures > 0) logger.info({ node: nodeName }, 'watching the node again');
        this.stats.failures = 0;
        continue;
      }
      this.stats.failures++;
      const forbidden = failure instanceof KubeApiError && failure.status === 403;
      const delay = forbidden ? FORBIDDEN_RETRY_MS : backoffDelay(this.stats.failures, failure, this.backoff, this.opts.random);
      if (forbidden && this.stats.failures === 1) logger.error({ node: nodeName, err: errorText(failure) }, 'cannot watch the node (the ClusterRole needs `watch` on nodes): changes made by others are put right only at the heartbeat');
      logger.warn({ node: nodeName, err: failure === undefined ? 'the watch ended at once' : errorText(failure), failures: this.stats.failures, retryInMs: delay }, 'node watch interrupted; will reconnect');
      await this.pause(delay);
    }
  }

  /** The Node as it is now, or null (404); either way the writer is told. */
  private async read(): Promise<void> {
    this.stats.reads++;
    try {
      const res = await this.opts.client.request<NodeLike>('GET', `/api/v1/nodes/${encodeURIComponent(this.opts.nodeName)}`);
      this.tell(res.body ?? null);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 404)) throw err;
      this.tell(null);
    }
  }

  private async watchOnce(): Promise<void> {
    const jitteredS = Math.round(this.timeoutS * (1 + this.opts.random()));
    const query = new URLSearchParams({
      watch: '1',
      allowWatchBookmarks: 'true',
      fieldSelector: `metadata.name=${this.opts.nodeName}`,
      timeoutSeconds: String(jitteredS),
    });
    // No resourceVersion: the server starts with the Node as it is now (an ADDED event), never 410 Gone.
    if (this.resumeFrom !== undefined) query.set('resourceVersion', this.resumeFrom);
    this.streamError = undefined;
    this.stats.watches++;
    const stream = this.opts.client.watch(`/api/v1/nodes?${query.toString()}`, (ev) => this.onEvent(ev), {
      idleMs: (jitteredS + 30) * 1000,
      maxLineBytes: MAX_EVENT_BYTES,
      onOpen: () => {
        this.stats.connected = true;
      },
    });
    this.stream = stream;
    try {
      await stream.ended;
    } finally {
      this.stream = undefined;
    }
    if (this.streamError !== undefined) throw this.streamError;
  }

  private onEvent(ev: WatchEvent): void {
    this.stats.events++;
    if (ev.type === 'ERROR') {
      // A Status object, typically 410 Gone (the resume point was compacted away).
      const st = (ev.object ?? {}) as { code?: number; reason?: string; message?: string };
      this.streamError = new KubeApiError(st.code ?? 500, st.reason ?? 'Error', st.message ?? 'watch error event', undefined);
      this.stream?.close();
      return;
    }
    const node = (ev.object ?? {}) as NodeLike;
    const rv = node.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '') this.resumeFrom = rv;
    if (ev.type === 'ADDED' || ev.type === 'MODIFIED') this.tell(node);
    else if (ev.type === 'DELETED') this.tell(null);
    // BOOKMARK: only the resume point moves.
  }

  private tell(node: NodeLike | null): void {
    try {
      this.opts.onNode(node);
    } catch (err) {
      this.opts.logger.error({ node: this.opts.nodeName, err: errorText(err) }, 'node watch: handling an event failed');
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        this.sleep = undefined;
        resolve();
      };
      this.sleep = { timer: setTimeout(wake, ms), wake };
    });
  }
}
