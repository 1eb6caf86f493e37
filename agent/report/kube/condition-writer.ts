// Keeps the node's condition equal to the latest desired verdict. One write in
// flight at a time; the desired state is only ever replaced, never queued, so
// after an outage exactly one write carries the latest state. A transition to
// False is written at once, other changes are coalesced, and a heartbeat
// refreshes lastHeartbeatTime. Before its first write the writer reads the
// node and adopts the condition found there (status and transition time).
// After that the node watch tells it what the server holds: a condition
// changed or removed by someone else is written back like any other change,
// and a Node object created anew under the name (a new uid) gets the
// condition with a new transition time, the time of its first write there.
// Each heartbeat comes a random 0-10% early: agents that wrote in the same
// second (a fleet-wide Xid storm, the API server's return after an outage)
// would otherwise heartbeat in the same second for ever (bench/fleet.ts).
// A change that keeps the status (new counts, another reason) is written at
// most once per `updateIntervalMs` (also up to 10% early) after the last write: in a storm over a
// thousand nodes, one write a second each swamped the API server and held the
// urgent False writes of other nodes up for tens of seconds (bench/fleet.ts).
import type { NodeVerdict } from '../../model/verdict.ts';
import { backoffDelay, describeError, type BackoffPolicy } from './backoff.ts';
import { CONTENT_STRATEGIC_MERGE, type KubeClient } from './client.ts';
import { conditionPatch, conditionToWrite, findCondition, sameContent, type NodeCondition, type NodeLike } from './condition.ts';
import { expectedGpusFromNode } from './gpu-capacity.ts';
import type { KubeLogger } from './log.ts';

export interface ConditionWriterOptions {
  /** Absent only in dry-run without any API access. */
  client: KubeClient | undefined;
  nodeName: string;
  conditionType: string;
  heartbeatMs: number;
  coalesceMs: number;
  /** Least time from the last write to a write that keeps the status. */
  updateIntervalMs: number;
  dryRun: boolean;
  logger: KubeLogger;
  clock: () => number;
  random: () => number;
  backoff: BackoffPolicy;
  /** Hears the condition as first written to a new Node object, whose transition time is new. */
  onAdopted?: (adopted: AdoptedCondition) => void;
}

/** The longest Events wait for a False write (an API server refusing it must not silence them). */
export const HOLD_EVENTS_MS = 30_000;

/** Heartbeats come up to this fraction of the interval early, never late. */
export const HEARTBEAT_JITTER = 0.1;

export interface AdoptedCondition {
  status: NodeCondition['status'];
  reason: string;
  lastTransitionTime: string;
}

export interface ConditionWriterStatus {
  /** ms since epoch of the last successful write. */
  lastWriteAt: number | undefined;
  lastError: string | undefined;
  /** A change or heartbeat is waiting to be written. */
  pending: boolean;
  writes: number;
  failures: number;
  /** The condition as last read from or written to the API server. */
  current: NodeCondition | undefined;
}

export class ConditionWriter {
  private readonly opts: ConditionWriterOptions;
  private readonly path: string;
  private current: NodeCondition | undefined;
  private synced = false;
  private desired: NodeVerdict | undefined;
  private statusSince = 0;
  /** Clock time the desired content first differed from `current`. */
  private dirtySince: number | undefined;
  private retryAt: number | undefined;
  private consecutiveFailures = 0;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private nodeUidValue: string | undefined;
  /** The watch saw the Node deleted (or absent): nothing to write to until one exists. */
  private nodeGone = false;
  /** A new Node object: the next write starts a new transition time. */
  private freshNode = false;
  private gpusValue: number | null = null;
  private stats = { writes: 0, failures: 0, lastWriteAt: undefined as number | undefined, lastError: undefined as string | undefined };
  /** This heartbeat's interval and this update spacing: drawn again after every write. */
  private heartbeatMs: number;
  private updateMs: number;

  constructor(opts: ConditionWriterOptions) {
    this.opts = opts;
    this.path = `/api/v1/nodes/${encodeURIComponent(opts.nodeName)}/status`;
    this.heartbeatMs = this.jittered(opts.heartbeatMs);
    this.updateMs = this.jittered(opts.updateIntervalMs);
  }

  private jittered(ms: number): number {
    return Math.round(ms * (1 - HEARTBEAT_JITTER * this.opts.random()));
  }

  get nodeUid(): string | undefined {
    return this.nodeUidValue;
  }

  /** GPUs the Node advertises (nvidia.com/gpu capacity), as of the last read or write; null when unknown. */
  get expectedGpus(): number | null {
    return this.gpusValue;
  }

  /** Reads the node once; on failure the read is retried before the first write. */
  async start(): Promise<{ adopted?: AdoptedCondition; error?: string }> {
    try {
      await this.readNode();
    } catch (err) {
      this.opts.logger.warn({ node: this.opts.nodeName, err: describeError(err) }, 'cannot read node at start; will read it before the first write');
      return { error: describeError(err) };
    }
    const c = this.current;
    return c === undefined ? {} : { adopted: { status: c.status, reason: c.reason, lastTransitionTime: c.lastTransitionTime } };
  }

  setVerdict(verdict: NodeVerdict, now: number): void {
    if (this.stopped) return;
    if (this.desired === undefined || this.desired.status !== verdict.status) this.statusSince = now;
    this.desired = { status: verdict.status, reason: verdict.reason, message: verdict.message };
    if (sameContent(this.current, verdict)) this.dirtySince = undefined;
    else this.dirtySince ??= this.opts.clock();
    this.arm();
  }

  /**
   * A transition to False is waiting or in flight (for at most HOLD_EVENTS_MS):
   * Events wait for it, so that in a fleet-wide storm each node's first request
   * is its condition, not three Events (bench/fleet.ts).
   */
  holdsEvents(now: number): boolean {
    const urgent = this.desired?.status === 'False' && this.current?.status !== 'False';
    return urgent && this.dirtySince !== undefined && now - this.dirtySince < HOLD_EVENTS_MS;
  }

  status(): ConditionWriterStatus {
    return {
      lastWriteAt: this.stats.lastWriteAt,
      lastError: this.stats.lastError,
      pending: this.dirtySince !== undefined,
      writes: this.stats.writes,
      failures: this.stats.failures,
      current: this.current,
    };
  }

  /** Stops timers; a change still waiting gets one last attempt, bounded in time. */
  async stop(finalWriteTimeoutMs = 2000): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    if (this.inFlight !== undefined) await this.inFlight;
    if (this.dirtySince !== undefined && this.desired !== undefined) {
      await this.writeOnce(finalWriteTimeoutMs).catch(() => undefined);
    }
  }

  /**
   * What the API server holds now, from the node watch; null: no such Node.
   * Compared with `current` like a read: a difference is written back (False
   * at once, others after the coalescing window).
   */
  observeNode(node: NodeLike | null): void {
    if (this.stopped) return;
    const { logger, nodeName } = this.opts;
    if (node === null) {
      if (!this.nodeGone) logger.warn({ node: nodeName, uid: this.nodeUidValue }, 'the node is gone; its condition is written when a Node of this name exists again');
      this.nodeGone = true;
      this.current = undefined;
      this.clearTimer();
      return;
    }
    const uid = node.metadata?.uid;
    const renewed = this.nodeGone || (uid !== undefined && this.nodeUidValue !== undefined && uid !== this.nodeUidValue);
    this.nodeGone = false;
    this.synced = true;
    this.adopt(node);
    if (renewed) {
      logger.info({ node: nodeName, uid }, 'a new Node object under this name: its condition starts a new transition time');
      // Whatever the new object carries (a restored copy, say) is not this agent's word on it yet.
      this.freshNode = true;
      this.dirtySince ??= this.opts.clock();
      this.retryAt = undefined;
      this.consecutiveFailures = 0;
    }
    this.arm();
  }

  /** When the next write is due, or undefined if nothing is to be written. */
  private dueAt(): number | undefined {
    const desired = this.desired;
    if (desired === undefined) return undefined;
    // Our own last write when there is one: the API server keeps whole seconds of
    // lastHeartbeatTime, which would bring every heartbeat up to a second early.
    const heartbeatBase = this.stats.lastWriteAt ?? (this.current === undefined ? undefined : Date.parse(this.current.lastHeartbeatTime));
    let due = heartbeatBase === undefined || Number.isNaN(heartbeatBase) ? Infinity : heartbeatBase + this.heartbeatMs;
    if (this.dirtySince !== undefined) {
      const urgent = desired.status === 'False' && this.current?.status !== 'False';
      let change = urgent ? this.dirtySince : this.dirtySince + this.opts.coalesceMs;
      const last = this.stats.lastWriteAt;
      if (this.current?.status === desired.status && last !== undefined) change = Math.max(change, last + this.updateMs);
      due = Math.min(due, change);
    }
    return this.retryAt === undefined ? due : Math.max(due, this.retryAt);
  }

  private arm(): void {
    if (this.stopped || this.inFlight !== undefined || this.nodeGone) return;
    const due = this.dueAt();
    if (due === undefined || due === Infinity) return;
    if (this.timer !== undefined && this.timerAt <= due) return;
    this.clearTimer();
    this.timerAt = due;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.inFlight = this.writeOnce().finally(() => {
        this.inFlight = undefined;
        this.arm();
      });
    }, Math.max(0, due - this.opts.clock()));
  }

  private clearTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }

  private async readNode(): Promise<void> {
    if (this.opts.client === undefined) {
      this.synced = true;
      return;
    }
    const res = await this.opts.client.request<NodeLike>('GET', `/api/v1/nodes/${encodeURIComponent(this.opts.nodeName)}`);
    this.adopt(res.body);
    this.synced = true;
    if (this.current !== undefined) {
      this.opts.logger.info({ node: this.opts.nodeName, condition: this.current }, 'adopted the condition found on the node');
    }
  }

  private adopt(node: NodeLike | undefined): void {
    this.current = findCondition(node, this.opts.conditionType);
    if (node?.metadata?.uid !== undefined) this.nodeUidValue = node.metadata.uid;
    this.gpusValue = expectedGpusFromNode(node);
    if (this.desired !== undefined && sameContent(this.current, this.desired)) this.dirtySince = undefined;
    else if (this.desired !== undefined) this.dirtySince ??= this.opts.clock();
    this.followServerSince();
  }

  /**
   * Where the server agrees on the status, its transition time is when that
   * status began: a condition later changed by someone else is written back
   * with it (after a restart too), not with the time this process saw it.
   */
  private followServerSince(): void {
    const c = this.current;
    if (c === undefined || this.desired === undefined || c.status !== this.desired.status) return;
    const since = Date.parse(c.lastTransitionTime);
    if (Number.isFinite(since)) this.statusSince = since;
  }

  /** One attempt: read the node if never read, then patch the latest desired state. Never throws. */
  private async writeOnce(timeoutMs?: number): Promise<void> {
    const { client, logger, nodeName, clock } = this.opts;
    try {
      if (!this.synced) await this.readNode();
      const desired = this.desired;
      const now = clock();
      const due = this.dueAt();
      if (desired === undefined || due === undefined || (due > now && !this.stopped)) return;
      // A new Node object: neither an old transition time nor what it carries counts.
      const fresh = this.freshNode;
      const condition = conditionToWrite(this.opts.conditionType, desired, fresh ? now : this.statusSince, fresh ? undefined : this.current, now);
      const flipped = this.current?.status !== condition.status;
      const why = this.dirtySince === undefined ? 'heartbeat' : flipped ? 'transition' : 'update';
      if (this.opts.dryRun || client === undefined) {
        logger.info({ dryRun: true, node: nodeName, condition, why }, 'would write node condition');
        this.current = condition;
      } else {
        const res = await client.request<NodeLike>('PATCH', this.path, {
          body: conditionPatch(condition),
          contentType: CONTENT_STRATEGIC_MERGE,
          ...(timeoutMs !== undefined ? { timeoutMs } : {}),
        });
        this.current = findCondition(res.body, this.opts.conditionType) ?? condition;
        if (res.body?.metadata?.uid !== undefined) this.nodeUidValue = res.body.metadata.uid;
        // Every write returns the whole Node: the capacity stays current at heartbeat pace, for free.
        if (res.body?.status !== undefined) this.gpusValue = expectedGpusFromNode(res.body);
        logger.info({ node: nodeName, condition: this.current, why }, 'wrote node condition');
      }
      // The desired state may have changed while the request was out; compare again.
      this.dirtySince = this.desired !== undefined && !sameContent(this.current, this.desired) ? clock() : undefined;
      this.followServerSince();
      if (fresh && this.freshNode) {
        this.freshNode = false;
        const c = this.current;
        this.opts.onAdopted?.({ status: c.status, reason: c.reason, lastTransitionTime: c.lastTransitionTime });
      }
      this.stats.writes++;
      this.stats.lastWriteAt = now;
      this.heartbeatMs = this.jittered(this.opts.heartbeatMs);
      this.updateMs = this.jittered(this.opts.updateIntervalMs);
      this.stats.lastError = undefined;
      this.consecutiveFailures = 0;
      this.retryAt = undefined;
    } catch (err) {
      this.consecutiveFailures++;
      this.stats.failures++;
      this.stats.lastError = describeError(err);
      const delay = backoffDelay(this.consecutiveFailures, err, this.opts.backoff, this.opts.random);
      this.retryAt = clock() + delay;
      logger.warn({ node: nodeName, err: describeError(err), failures: this.consecutiveFailures, retryInMs: delay }, 'node condition write failed; will retry');
    }
  }
}
