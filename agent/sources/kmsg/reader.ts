// The /dev/kmsg reader, on the main thread, without blocking it: the device is
// opened O_NONBLOCK and drained with reads that return at once (one record per
// read), in slices that yield to the event loop; once drained (EAGAIN, which also
// marks the end of the initial replay) it waits in poll(2) on a libuv pool thread
// (./poll.ts) and is woken by the next record. No worker thread: a second V8
// isolate would cost ~20 MiB of resident memory, a third of the agent's budget.
// Reading and parsing on one thread is its own back-pressure: nothing is read
// faster than it is processed, and the kernel's EPIPE says how much a stalled
// reader let it overwrite.
//
// Cursor: (boot id, last processed seq). A record with seq <= cursor.seq in
// the same boot was already processed before a restart and is skipped; the
// same rule drops the ring-buffer replay after a reopen. A jump in seq means
// the kernel overwrote records before we read them: the gap is counted as lost.
import fs from 'node:fs';
import { parseKmsgRecord, type KmsgRecord } from '../../parse/kmsg-record.ts';
import { createWaiter, type KmsgWaiter } from './poll.ts';
import { errorText } from '../../model/text.ts';

export interface KmsgCursor {
  bootId: string;
  seq: number;
}

export interface KmsgLiveness {
  /** Device open and the reader running. */
  alive: boolean;
  /** The replay of the ring buffer found its end once. */
  caughtUp: boolean;
  /** ms since epoch of the last record read, null before the first. */
  lastReadAt: number | null;
  /** ms since epoch the reader last read, waited or tried to open (an idle one beats every idleBeatMs). */
  lastBeatAt: number | null;
  reopenCount: number;
  /** Records the kernel overwrote before we read them (from seq gaps). */
  lostCount: number;
  /** EPIPE returns seen. */
  overruns: number;
  /** Records delivered (after cursor filtering). */
  recordsRead: number;
  lastError: string | null;
}

export interface KmsgReaderOptions {
  path?: string;
  bootIdPath?: string;
  /** Resume point persisted by the caller; ignored when its boot id is not the current one. */
  cursor?: KmsgCursor | null;
  /** Called on the main thread with each batch of new records, in seq order. */
  onRecords: (records: KmsgRecord[]) => void;
  onCaughtUp?: () => void;
  onError?: (code: string, message: string) => void;
  reopenMinDelayMs?: number;
  /** Default true: wait for records with poll(2); false: timed polling every idlePollMs. */
  usePoll?: boolean;
  /** Without poll(2): how long a drained reader waits before reading again. */
  idlePollMs?: number;
  /** With poll(2): an idle reader returns this often to beat (liveness) even without records. */
  idleBeatMs?: number;
  /** Records per onRecords call. */
  batchMax?: number;
  /** A drain longer than this yields to the event loop before it goes on. */
  sliceMs?: number;
  now?: () => number;
}

export const DEFAULT_BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

export function readBootId(path: string = DEFAULT_BOOT_ID_PATH): string {
  return fs.readFileSync(path, 'utf8').trim();
}

/** The kernel never returns a record longer than this (CONSOLE_EXT_LOG_MAX). */
const RECORD_MAX = 8192;

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'UNKNOWN';
}

export class KmsgReader {
  readonly bootId: string;
  private readonly opts: KmsgReaderOptions;
  private readonly now: () => number;
  private readonly path: string;
  private readonly buf = Buffer.allocUnsafe(RECORD_MAX);
  private fd: number | null = null;
  private running = false;
  private waiter: KmsgWaiter | null = null;
  /** A poll(2) is parked on the pool thread; stop() waits for it to come back. */
  private waiting = false;
  private timer: NodeJS.Timeout | null = null;
  private immediate: NodeJS.Immediate | null = null;
  private lastOpenAt = -Infinity;
  private lastBeatAt: number | null = null;
  private lastSeq: number | null;
  private readonly stats: Omit<KmsgLiveness, 'alive' | 'lastBeatAt'> = {
    caughtUp: false, lastReadAt: null, reopenCount: 0, lostCount: 0, overruns: 0, recordsRead: 0, lastError: null,
  };
  private caughtUpWaiters: Array<() => void> = [];
  private idleWaiters: Array<() => void> = [];
  private opens = 0;

  constructor(opts: KmsgReaderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.path = opts.path ?? '/dev/kmsg';
    this.bootId = readBootId(opts.bootIdPath);
    const c = opts.cursor;
    this.lastSeq = c != null && c.bootId === this.bootId ? c.seq : null;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    if (this.opts.usePoll ?? true) this.waiter ??= createWaiter();
    this.open();
  }

  /** Stop reading; resolves once the device is closed and no poll is parked. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    if (this.timer !== null) clearTimeout(this.timer);
    if (this.immediate !== null) clearImmediate(this.immediate);
    this.timer = null;
    this.immediate = null;
    if (this.waiting) {
      const back = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      this.waiter?.wake();
      await back;
    }
    this.waiter?.close();
    this.waiter = null;
    this.close();
  }

  /** Resume point covering every record delivered so far; null before the first one. */
  cursor(): KmsgCursor | null {
    return this.lastSeq === null ? null : { bootId: this.bootId, seq: this.lastSeq };
  }

  liveness(): KmsgLiveness {
    return { ...this.stats, alive: this.running && this.fd !== null, lastBeatAt: this.lastBeatAt };
  }

  /** Resolves once the initial replay of the ring buffer reached its end. */
  whenCaughtUp(): Promise<void> {
    if (this.stats.caughtUp) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  private open(): void {
    this.timer = null;
    if (!this.running) return;
    // Rate-limited (re)open: never a hot loop, whatever the error.
    const wait = this.lastOpenAt + (this.opts.reopenMinDelayMs ?? 5000) - this.now();
    if (wait > 0) {
      this.timer = setTimeout(() => this.open(), wait);
      return;
    }
    this.lastOpenAt = this.now();
    this.lastBeatAt = this.lastOpenAt;
    try {
      this.fd = fs.openSync(this.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (err) {
      this.fail(err);
      return;
    }
    if (this.opens++ > 0) this.stats.reopenCount++;
    this.drain();
  }

  private close(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // already unusable
    }
    this.fd = null;
  }

  private fail(err: unknown): void {
    const code = errCode(err);
    const message = errorText(err);
    this.close();
    this.stats.lastError = `${code}: ${message}`;
    this.opts.onError?.(code, message);
    this.open();
  }

  /** Reads until the ring buffer is drained, yielding every sliceMs; then waits. */
  private drain(): void {
    this.immediate = null;
    this.timer = null;
    const fd = this.fd;
    if (!this.running || fd === null) return;
    const batchMax = this.opts.batchMax ?? 1024;
    const deadline = performance.now() + (this.opts.sliceMs ?? 20);
    let batch: KmsgRecord[] = [];
    for (;;) {
      let n: number;
      try {
        n = fs.readSync(fd, this.buf, 0, RECORD_MAX, null);
      } catch (err) {
        const code = errCode(err);
        if (code === 'EPIPE') {
          // Records were overwritten; the position moved to the oldest one left.
          this.stats.overruns++;
          continue;
        }
        if (code === 'EINTR') continue;
        this.deliver(batch);
        if (code === 'EAGAIN') {
          this.drained();
          return;
        }
        this.fail(err);
        return;
      }
      if (n === 0) {
        // Not the kernel's device (end of a file, a FIFO without a writer): nothing
        // says where the log ends, so not caught up, and poll(2) would not say
        // when a writer comes: look again on a timer.
        this.deliver(batch);
        this.lastBeatAt = this.now();
        this.timer = setTimeout(() => this.drain(), this.opts.idlePollMs ?? 100);
        return;
      }
      // Records are ASCII (the kernel escapes the rest).
      const rec = parseKmsgRecord(this.buf.toString('latin1', 0, n));
      if (rec !== null) batch.push(rec);
      if (batch.length >= batchMax) {
        this.deliver(batch);
        batch = [];
        if (performance.now() > deadline) {
          this.immediate = setImmediate(() => this.drain());
          return;
        }
        if (!this.running || this.fd !== fd) return;
      }
    }
  }

  /** EAGAIN: the ring buffer is drained; the first time, the replay is done. */
  private drained(): void {
    if (!this.stats.caughtUp) {
      this.stats.caughtUp = true;
      this.opts.onCaughtUp?.();
      for (const w of this.caughtUpWaiters.splice(0)) w();
    }
    this.wait();
  }

  private wait(): void {
    this.lastBeatAt = this.now();
    if (!this.running || this.fd === null) return;
    const fd = this.fd;
    if (this.waiter === null) {
      this.timer = setTimeout(() => this.drain(), this.opts.idlePollMs ?? 100);
      return;
    }
    this.waiting = true;
    this.waiter.wait(fd, this.opts.idleBeatMs ?? 30_000, () => {
      this.waiting = false;
      if (!this.running) {
        for (const w of this.idleWaiters.splice(0)) w();
        return;
      }
      this.drain();
    });
  }

  /** Drops what an earlier run (cursor) or an earlier open (replay) delivered; counts seq gaps as lost. */
  private deliver(records: KmsgRecord[]): void {
    if (records.length === 0) return;
    const out: KmsgRecord[] = [];
    for (const rec of records) {
      const last = this.lastSeq;
      if (last !== null) {
        if (rec.seq <= last) continue;
        if (rec.seq > last + 1) this.stats.lostCount += rec.seq - last - 1;
      }
      this.lastSeq = rec.seq;
      out.push(rec);
    }
    if (out.length === 0) return;
    this.stats.recordsRead += out.length;
    this.stats.lastReadAt = this.now();
    this.opts.onRecords(out);
  }
}
