// events.k8s.io/v1 Events regarding the Node (and, when asked, regarding a Pod
// that holds a faulty GPU, in the Pod's namespace). A notice key is one Event object:
// its first occurrence creates it, repeats only raise `series.count` (a PATCH at
// most every `seriesIntervalMs` per key). Every API call takes a token from one
// bucket, so a storm of notices costs at most `burst` calls and then one per
// `refillMs`; new keys beyond a bounded queue are counted and dropped. A new
// Node notice whose `fold` matches a series begun less than `foldWindowMs`
// before joins that series: the same Xid on every GPU at once (a fleet-wide
// storm) is one Event per node, not one per GPU (bench/fleet.ts).
import type { PodRef } from '../../model/pod-ref.ts';
import { bounded, errorText } from '../../model/text.ts';
import type { Notice } from '../../model/verdict.ts';
import { backoffDelay, isTransient, type BackoffPolicy } from './backoff.ts';
import { KubeApiError } from './client.ts';
import type { KubeLogger } from './log.ts';
import type { KubeTransport } from './transport.ts';

// Not an ESM import: that would read every export of node:crypto, webcrypto included.
const { randomBytes } = process.getBuiltinModule('node:crypto');
import { TokenBucket } from '../../model/token-bucket.ts';

export const REPORTING_CONTROLLER = 'gpu-health-agent';
/** How often held Events look again whether they may go. */
const HOLD_POLL_MS = 100;

export interface EventRecorderOptions {
  /** The API server, or the dry run's log. */
  transport: KubeTransport;
  namespace: string;
  nodeName: string;
  /** The Node's uid once known (read by the condition writer). */
  nodeUid: () => string | undefined;
  logger: KubeLogger;
  clock: () => number;
  random: () => number;
  backoff: BackoffPolicy;
  burst: number;
  refillMs: number;
  seriesIntervalMs: number;
  /** Keys remembered for aggregation; the least recently seen are forgotten first. */
  maxKeys: number;
  /** New keys waiting for a token; more are dropped. */
  maxPendingCreates: number;
  /** A notice folds into a series of the same `fold` begun at most this long before it. 0: never. */
  foldWindowMs: number;
  /** While this says so, no Event call is made (the node's condition goes first). */
  hold?: (now: number) => boolean;
}

export interface EventRecorderStatus {
  created: number;
  seriesUpdates: number;
  dropped: number;
  failures: number;
  pending: number;
  lastError: string | undefined;
  lastWriteAt: number | undefined;
}

/** Where an Event goes and what it is about; absent: the Node, in the recorder's namespace. */
interface PodTarget {
  namespace: string;
  name: string;
}

interface Series {
  key: string;
  /** The first notice fixes the object's type, reason and note (they are immutable). */
  first: Notice;
  pod: PodTarget | undefined;
  count: number;
  lastAt: number;
  name: string | undefined;
  /** Count the API server holds. */
  sentCount: number;
  sentAt: number;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** `map`, with its oldest entry gone when it holds `max`: room for one more. */
function withRoom<K, V>(map: Map<K, V>, max: number): Map<K, V> {
  if (map.size >= max) map.delete(map.keys().next().value as K);
  return map;
}

function eventsPath(namespace: string): string {
  return `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/events`;
}

export class EventRecorder {
  private readonly opts: EventRecorderOptions;
  private readonly series = new Map<string, Series>();
  /** fold -> the series that notices of that fold join, and when it began. */
  private readonly folds = new Map<string, { key: string; since: number }>();
  /** A notice key folded into another series -> that series' key. */
  private readonly joined = new Map<string, string>();
  private readonly bucket: TokenBucket;
  private readonly basePath: string;
  private pendingCreates = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private running: Promise<void> | undefined;
  private draining = false;
  private retryAt = 0;
  private consecutiveFailures = 0;
  private stopped = false;
  private lastDropLogAt = -Infinity;
  private stats: EventRecorderStatus = { created: 0, seriesUpdates: 0, dropped: 0, failures: 0, pending: 0, lastError: undefined, lastWriteAt: undefined };

  constructor(opts: EventRecorderOptions) {
    this.opts = opts;
    this.bucket = new TokenBucket(opts.burst, opts.refillMs, opts.clock());
    this.basePath = eventsPath(opts.namespace);
  }

  notice(n: Notice): void {
    this.record(this.foldedKey(n), n, undefined);
  }

  /** The series key a Node notice goes to: its own, or that of a same-fold series begun within the window (and then for good). */
  private foldedKey(n: Notice): string {
    if (this.series.has(n.key)) return n.key;
    const joined = this.joined.get(n.key);
    if (joined !== undefined && this.series.has(joined)) return joined;
    if (n.fold === undefined || this.opts.foldWindowMs <= 0) return n.key;
    const f = this.folds.get(n.fold);
    if (f !== undefined && n.at - f.since <= this.opts.foldWindowMs && this.series.has(f.key)) {
      withRoom(this.joined, this.opts.maxKeys).set(n.key, f.key);
      return f.key;
    }
    withRoom(this.folds, this.opts.maxKeys).set(n.fold, { key: n.key, since: n.at });
    return n.key;
  }

  /** The same notice as an Event regarding a Pod that holds the GPU (one series per notice key and Pod). */
  podNotice(n: Notice, pod: PodRef): void {
    this.record(`${n.key}@pod/${pod.namespace}/${pod.name}`, n, { namespace: pod.namespace, name: pod.name });
  }

  private record(key: string, n: Notice, pod: PodTarget | undefined): void {
    if (this.stopped) return;
    const s = this.series.get(key);
    if (s !== undefined) {
      s.count++;
      s.lastAt = Math.max(s.lastAt, n.at);
      this.series.delete(key); // most recently seen goes last
      this.series.set(key, s);
    } else {
      if (this.pendingCreates >= this.opts.maxPendingCreates) {
        this.drop(n, 'too many new event keys waiting for the rate limit');
        return;
      }
      this.series.set(key, { key, first: n, pod, count: 1, lastAt: n.at, name: undefined, sentCount: 0, sentAt: -Infinity });
      this.pendingCreates++;
      this.evict();
    }
    this.wake(this.opts.clock());
  }

  status(): EventRecorderStatus {
    let pending = 0;
    for (const s of this.series.values()) if (s.count > s.sentCount) pending++;
    return { ...this.stats, pending };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.running !== undefined) await this.running;
  }

  private drop(n: Notice, why: string): void {
    this.stats.dropped++;
    const now = this.opts.clock();
    if (now - this.lastDropLogAt >= 60_000) {
      this.lastDropLogAt = now;
      this.opts.logger.warn({ node: this.opts.nodeName, reason: n.reason, key: n.key, dropped: this.stats.dropped, why }, 'event dropped');
    }
  }

  private evict(): void {
    if (this.series.size <= this.opts.maxKeys) return;
    for (const [key, s] of this.series) {
      if (s.name === undefined) continue; // waiting to be created: keep
      this.series.delete(key);
      if (this.series.size <= this.opts.maxKeys) return;
    }
  }

  private wake(at: number): void {
    if (this.stopped || this.draining) return;
    if (this.timer !== undefined && this.timerAt <= at) return;
    this.clearTimer();
    this.timerAt = at;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.running = this.drain();
    }, Math.max(0, at - this.opts.clock()));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  /** Sends what is due while tokens last, then sleeps until the next thing is due. */
  private async drain(): Promise<void> {
    this.draining = true;
    let wakeAt = Infinity;
    try {
      wakeAt = await this.sendDue();
    } finally {
      this.draining = false;
    }
    if (wakeAt !== Infinity) this.wake(wakeAt);
  }

  private async sendDue(): Promise<number> {
    let wakeAt = Infinity;
    while (!this.stopped) {
      const now = this.opts.clock();
      if (this.retryAt > now) {
        wakeAt = this.retryAt;
        break;
      }
      if (this.opts.hold?.(now) === true) {
        wakeAt = now + HOLD_POLL_MS;
        break;
      }
      const next = this.nextWork(now);
      if (next.series === undefined) {
        wakeAt = next.wakeAt;
        break;
      }
      if (!this.bucket.tryTake(now)) {
        wakeAt = this.bucket.nextAt(now);
        break;
      }
      await this.send(next.series);
    }
    return wakeAt;
  }

  private nextWork(now: number): { series?: Series; wakeAt: number } {
    let wakeAt = Infinity;
    let patch: Series | undefined;
    for (const s of this.series.values()) {
      if (s.name === undefined) return { series: s, wakeAt: now };
      if (s.count <= s.sentCount) continue;
      const due = s.sentAt + this.opts.seriesIntervalMs;
      if (due <= now) patch ??= s;
      else wakeAt = Math.min(wakeAt, due);
    }
    return patch === undefined ? { wakeAt } : { series: patch, wakeAt: now };
  }

  private async send(s: Series): Promise<void> {
    const { transport, logger, nodeName, clock } = this.opts;
    const creating = s.name === undefined;
    const count = s.count;
    const lastAt = s.lastAt;
    const series = count >= 2 ? { count, lastObservedTime: microTime(lastAt) } : undefined;
    const basePath = s.pod === undefined ? this.basePath : eventsPath(s.pod.namespace);
    try {
      if (creating) {
        const name = `${(s.pod?.name ?? nodeName).slice(0, 200)}.${clock().toString(16)}${randomBytes(3).toString('hex')}`;
        const body = this.eventBody(s, name, series);
        await transport.createEvent(basePath, body);
        s.name = name;
        this.pendingCreates--;
        this.stats.created++;
      } else {
        await transport.updateEventSeries(basePath, s.name as string, series);
        this.stats.seriesUpdates++;
      }
      s.sentCount = count;
      s.sentAt = clock();
      this.stats.lastWriteAt = s.sentAt;
      this.consecutiveFailures = 0;
    } catch (err) {
      this.stats.failures++;
      this.stats.lastError = errorText(err);
      if (err instanceof KubeApiError && err.status === 404 && !creating) {
        s.name = undefined; // expired (event TTL): create it again with the whole count
        this.pendingCreates++;
        return;
      }
      if (err instanceof KubeApiError && err.status === 409 && creating) return; // name taken: a new name next time
      if (!isTransient(err)) {
        logger.warn({ node: nodeName, reason: s.first.reason, err: errorText(err) }, 'event refused by the API server; dropping it');
        if (creating) {
          this.series.delete(s.key);
          this.pendingCreates--;
          this.stats.dropped++;
        } else {
          s.sentCount = count;
        }
        return;
      }
      this.consecutiveFailures++;
      const delay = backoffDelay(this.consecutiveFailures, err, this.opts.backoff, this.opts.random);
      this.retryAt = clock() + delay;
      logger.warn({ node: nodeName, err: errorText(err), retryInMs: delay }, 'event write failed; will retry');
    }
  }

  private eventBody(s: Series, name: string, series: { count: number; lastObservedTime: string } | undefined): Record<string, unknown> {
    const n = s.first;
    const uid = this.opts.nodeUid();
    // A Pod Event names the Pod only: pod-resources gives no uid, and `kubectl events --for pod/NAME` matches by name.
    const regarding =
      s.pod === undefined
        ? { apiVersion: 'v1', kind: 'Node', name: this.opts.nodeName, ...(uid !== undefined ? { uid } : {}) }
        : { apiVersion: 'v1', kind: 'Pod', namespace: s.pod.namespace, name: s.pod.name };
    return {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name, namespace: s.pod?.namespace ?? this.opts.namespace },
      eventTime: microTime(n.at),
      ...(series !== undefined ? { series } : {}),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: bounded(this.opts.nodeName, 128),
      action: n.drill ? 'Drill' : 'GPUHealthCheck',
      reason: bounded(n.reason, 128),
      note: bounded(n.drill ? `[drill] ${n.note}` : n.note, 1024),
      type: n.type,
      regarding,
      // The Node the faulty GPU sits in, for Pod Events.
      ...(s.pod !== undefined ? { related: { apiVersion: 'v1', kind: 'Node', name: this.opts.nodeName, ...(uid !== undefined ? { uid } : {}) } } : {}),
    };
  }
}
