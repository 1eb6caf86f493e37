// Main-thread side of the /dev/kmsg reader: starts the worker, turns batches
// into parsed records, keeps the resume cursor and the liveness figures.
//
// Cursor: (boot id, last processed seq). A record with seq <= cursor.seq in
// the same boot was already processed before a restart and is skipped; the
// same rule drops the ring-buffer replay after a reopen. A jump in seq means
// the kernel overwrote records before we read them: the gap is counted as lost.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { parseKmsgRecord, type KmsgRecord } from '../../parse/kmsg-record.ts';
import { CTL, type WorkerConfig, type WorkerMessage } from './protocol.ts';

export interface KmsgCursor {
  bootId: string;
  seq: number;
}

export interface KmsgLiveness {
  /** Device open and the worker thread running. */
  alive: boolean;
  /** The replay of the ring buffer found its end once. */
  caughtUp: boolean;
  /** ms since epoch of the last record read, null before the first. */
  lastReadAt: number | null;
  /** ms since epoch of the worker's last loop heartbeat (it beats while idle too). */
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
  stopCheckMs?: number;
  idlePollMs?: number;
  batchMax?: number;
  maxInFlight?: number;
  now?: () => number;
}

export const DEFAULT_BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

export function readBootId(path: string = DEFAULT_BOOT_ID_PATH): string {
  return fs.readFileSync(path, 'utf8').trim();
}

function workerUrl(): URL {
  // Source runs as .ts (type stripping), the build as .js.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  return new URL(`./reader-worker${ext}`, import.meta.url);
}

/** Records packed by the worker: `ends[i]` is where record i ends. Records are ASCII (the kernel escapes the rest). */
export function decodeBatch(bytes: ArrayBuffer, ends: Uint32Array): KmsgRecord[] {
  const buf = Buffer.from(bytes);
  const out: KmsgRecord[] = [];
  let start = 0;
  for (let i = 0; i < ends.length; i++) {
    const end = ends[i] ?? start;
    const rec = parseKmsgRecord(buf.toString('latin1', start, end));
    start = end;
    if (rec !== null) out.push(rec);
  }
  return out;
}

export class KmsgReader {
  readonly bootId: string;
  private readonly opts: KmsgReaderOptions;
  private readonly now: () => number;
  private readonly control = new SharedArrayBuffer(CTL.SIZE * 4);
  private readonly ctl = new Int32Array(this.control);
  private worker: Worker | null = null;
  private lastSeq: number | null;
  private opened = false;
  private exited = false;
  private readonly stats: Omit<KmsgLiveness, 'alive' | 'lastBeatAt'> = {
    caughtUp: false, lastReadAt: null, reopenCount: 0, lostCount: 0, overruns: 0, recordsRead: 0, lastError: null,
  };
  private caughtUpWaiters: Array<() => void> = [];
  private opens = 0;

  constructor(opts: KmsgReaderOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.bootId = readBootId(opts.bootIdPath);
    const c = opts.cursor;
    this.lastSeq = c != null && c.bootId === this.bootId ? c.seq : null;
  }

  start(): void {
    if (this.worker !== null) return;
    const cfg: WorkerConfig = {
      path: this.opts.path ?? '/dev/kmsg',
      control: this.control,
      reopenMinDelayMs: this.opts.reopenMinDelayMs ?? 5000,
      usePoll: this.opts.usePoll ?? true,
      stopCheckMs: this.opts.stopCheckMs ?? 250,
      idlePollMs: this.opts.idlePollMs ?? 50,
      batchMax: this.opts.batchMax ?? 1024,
      maxInFlight: this.opts.maxInFlight ?? 4,
    };
    const w = new Worker(workerUrl(), { workerData: cfg });
    w.on('message', (m: WorkerMessage) => this.onMessage(m));
    w.on('error', (err) => {
      this.stats.lastError = `worker: ${err.message}`;
      this.opts.onError?.('WORKER', err.message);
    });
    w.on('exit', () => {
      this.exited = true;
      this.opened = false;
    });
    this.worker = w;
  }

  /** Stop reading; resolves when the worker has closed the device. */
  async stop(): Promise<void> {
    const w = this.worker;
    if (w === null) return;
    Atomics.store(this.ctl, CTL.STOP, 1);
    Atomics.notify(this.ctl, CTL.WAKE);
    Atomics.notify(this.ctl, CTL.IN_FLIGHT);
    if (!this.exited) await new Promise<void>((resolve) => w.once('exit', () => resolve()));
    this.worker = null;
  }

  /** Resume point covering every record delivered so far; null before the first one. */
  cursor(): KmsgCursor | null {
    return this.lastSeq === null ? null : { bootId: this.bootId, seq: this.lastSeq };
  }

  liveness(): KmsgLiveness {
    const beat = Atomics.load(this.ctl, CTL.BEAT);
    return {
      ...this.stats,
      alive: this.worker !== null && !this.exited && this.opened,
      lastBeatAt: beat === 0 ? null : beat * 1000,
    };
  }

  /** Resolves once the initial replay of the ring buffer reached its end. */
  whenCaughtUp(): Promise<void> {
    if (this.stats.caughtUp) return Promise.resolve();
    return new Promise((resolve) => this.caughtUpWaiters.push(resolve));
  }

  private onMessage(m: WorkerMessage): void {
    switch (m.type) {
      case 'batch':
        try {
          this.onBatch(m.bytes, m.ends, m.overruns);
        } finally {
          Atomics.sub(this.ctl, CTL.IN_FLIGHT, 1);
          Atomics.notify(this.ctl, CTL.IN_FLIGHT);
        }
        return;
      case 'open':
        if (this.opens++ > 0) this.stats.reopenCount++;
        this.opened = true;
        return;
      case 'caught-up':
        this.stats.caughtUp = true;
        this.opts.onCaughtUp?.();
        for (const w of this.caughtUpWaiters.splice(0)) w();
        return;
      case 'error':
        this.opened = false;
        this.stats.lastError = `${m.code}: ${m.message}`;
        this.opts.onError?.(m.code, m.message);
        return;
    }
  }

  private onBatch(bytes: ArrayBuffer, ends: Uint32Array, overruns: number): void {
    this.stats.overruns += overruns;
    const out: KmsgRecord[] = [];
    for (const rec of decodeBatch(bytes, ends)) {
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
