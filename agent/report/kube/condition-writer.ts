// Keeps the node's condition equal to the one the decision core decided
// (runtime/core.ts), transition time included: it decides nothing about the
// condition, only when and how often to write it. One write in flight at a
// time; the desired state is only ever replaced, never queued, so after an
// outage exactly one write carries the latest state. A transition to False is
// written at once, other changes are coalesced, and a heartbeat refreshes
// lastHeartbeatTime.
// What it learns about the Node goes back to the core (`onNode`): the first
// read (whose condition the core may adopt), a Node object created anew under
// the name (a new uid: the core gives it a new transition time), the GPU count.
// After a first read or a new Node it writes nothing until the core has
// answered (at most CORE_ANSWER_MS), so no write carries a transition time the
// core has not seen the Node for. The node watch tells it what the server
// holds: a condition changed or removed by someone else is written back like
// any other change.
// Each heartbeat comes a random 0-10% early: agents that wrote in the same
// second (a fleet-wide Xid storm, the API server's return after an outage)
// would otherwise heartbeat in the same second for ever (bench/fleet.ts).
// A change that keeps the status (new counts, another reason) is written at
// most once per `updateIntervalMs` (also up to 10% early) after the last write: in a storm over a
// thousand nodes, one write a second each swamped the API server and held the
// urgent False writes of other nodes up for tens of seconds (bench/fleet.ts).
import type { ConditionRecord, NodeFacts } from '../../model/verdict.ts';
import { backoffDelay, type BackoffPolicy } from './backoff.ts';
import { errorText } from '../../model/text.ts';
import { conditionToWrite, findCondition, heldCondition, sameContent, type NodeCondition, type NodeLike } from './condition.ts';
import { expectedGpusFromNode } from './gpu-capacity.ts';
import type { KubeLogger } from './log.ts';
import type { KubeTransport } from './transport.ts';

export interface ConditionWriterOptions {
  /** The API server, or the dry run's log. */
  transport: KubeTransport;
  nodeName: string;
  conditionType: string;
  heartbeatMs: number;
  coalesceMs: number;
  /** Least time from the last write to a write that keeps the status. */
  updateIntervalMs: number;
  logger: KubeLogger;
  clock: () => number;
  random: () => number;
  backoff: BackoffPolicy;
  /** What the API server says about the Node; the core answers with `setCondition`. */
  onNode: (facts: NodeFacts) => void;
}

/** The longest Events wait for a False write (an API server refusing it must not silence them). */
export const HOLD_EVENTS_MS = 30_000;

/** Heartbeats come up to this fraction of the interval early, never late. */
export const HEARTBEAT_JITTER = 0.1;

/** The longest a write waits for the core's answer to what a read found (a state-file write can be ahead of it). */
export const CORE_ANSWER_MS = 5000;

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
  private current: NodeCondition | undefined;
  private synced = false;
  private desired: ConditionRecord | undefined;
  /** Since when the core has been told what a read found and has not answered. */
  private awaitingCoreSince: number | undefined;
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
  /** What was last told to the core about the Node (its condition and GPU count), to tell only changes. */
  private told: string | undefined;
  private stats = { writes: 0, failures: 0, lastWriteAt: undefined as number | undefined, lastError: undefined as string | undefined };
  /** This heartbeat's interval and this update spacing: drawn again after every write. */
  private heartbeatMs: number;
  private updateMs: number;

  constructor(opts: ConditionWriterOptions) {
    this.opts = opts;
    this.heartbeatMs = this.jittered(opts.heartbeatMs);
    this.updateMs = this.jittered(opts.updateIntervalMs);
  }

  private jittered(ms: number): number {
    return Math.round(ms * (1 - HEARTBEAT_JITTER * this.opts.random()));
  }

  get nodeUid(): string | undefined {
    return this.nodeUidValue;
  }

  /** Reads the node once; on failure the read is retried before the first write. */
  async start(): Promise<void> {
    try {
      await this.readNode();
    } catch (err) {
      this.opts.logger.warn({ node: this.opts.nodeName, err: errorText(err) }, 'cannot read node at start; will read it before the first write');
    }
  }

  setCondition(condition: ConditionRecord): void {
    if (this.stopped) return;
    this.desired = condition;
    this.awaitingCoreSince = undefined;
    if (sameContent(this.current, condition)) this.dirtySince = undefined;
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
    if (this.dirtySince !== undefined && this.desired !== undefined && this.awaitingCoreSince === undefined) {
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
      this.retryAt = undefined;
      this.consecutiveFailures = 0;
    }
    this.tell(renewed ? 'renewed' : 'update', node);
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
    if (this.awaitingCoreSince !== undefined) due = Math.max(due, this.awaitingCoreSince + CORE_ANSWER_MS);
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
    const node = await this.opts.transport.readNode();
    this.synced = true;
    // A dry run without API access: nothing to learn.
    if (node === undefined) return;
    this.adopt(node);
    if (this.current !== undefined) this.opts.logger.info({ node: this.opts.nodeName, condition: this.current }, 'found the condition on the node');
    this.tell('first-read', node);
  }

  private adopt(node: NodeLike): void {
    this.current = findCondition(node, this.opts.conditionType);
    if (node.metadata?.uid !== undefined) this.nodeUidValue = node.metadata.uid;
    if (this.desired !== undefined && sameContent(this.current, this.desired)) this.dirtySince = undefined;
    else if (this.desired !== undefined) this.dirtySince ??= this.opts.clock();
  }

  /** What the Node says, to the core; after a first read or a new Node, writes wait for its answer. */
  private tell(seen: NodeFacts['seen'], node: NodeLike): void {
    const facts: NodeFacts = { seen, condition: heldCondition(this.current), gpus: expectedGpusFromNode(node) };
    const key = JSON.stringify([facts.condition, facts.gpus]);
    if (seen === 'update' && key === this.told) return;
    this.told = key;
    // Set before telling: the core usually answers at once, from inside onNode.
    if (seen !== 'update' && this.desired !== undefined) this.awaitingCoreSince = this.opts.clock();
    this.opts.onNode(facts);
  }

  /** One attempt: read the node if never read, then write the latest desired state. Never throws. */
  private async writeOnce(timeoutMs?: number): Promise<void> {
    const { transport, logger, nodeName, clock } = this.opts;
    try {
      if (!this.synced) await this.readNode();
      const desired = this.desired;
      const now = clock();
      const due = this.dueAt();
      if (desired === undefined || due === undefined || (due > now && !this.stopped)) return;
      if (this.awaitingCoreSince !== undefined) logger.warn({ node: nodeName, waitedMs: now - this.awaitingCoreSince }, 'the agent did not answer what the node read found; writing the condition it last decided');
      this.awaitingCoreSince = undefined;
      const condition = conditionToWrite(this.opts.conditionType, desired, now);
      const flipped = this.current?.status !== condition.status;
      const why = this.dirtySince === undefined ? 'heartbeat' : flipped ? 'transition' : 'update';
      const after = await transport.writeCondition(condition, why, timeoutMs);
      this.current = findCondition(after, this.opts.conditionType) ?? condition;
      if (after?.metadata?.uid !== undefined) this.nodeUidValue = after.metadata.uid;
      // Every write returns the whole Node: what it holds and its capacity stay current at heartbeat pace, for free.
      if (after?.status !== undefined) this.tell('update', after);
      // The desired state may have changed while the request was out; compare again.
      this.dirtySince = this.desired !== undefined && !sameContent(this.current, this.desired) ? clock() : undefined;
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
      this.stats.lastError = errorText(err);
      const delay = backoffDelay(this.consecutiveFailures, err, this.opts.backoff, this.opts.random);
      this.retryAt = clock() + delay;
      logger.warn({ node: nodeName, err: errorText(err), failures: this.consecutiveFailures, retryInMs: delay }, 'node condition write failed; will retry');
    }
  }
}
