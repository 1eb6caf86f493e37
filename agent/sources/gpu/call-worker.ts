// Runs native calls on one dedicated worker thread, one call at a time, each
// bounded by a timeout on the main side. Native calls into libdcgm / NVML can
// block forever on a failing GPU or a wedged host engine; they must never block
// the event loop and never pile up (koffi's .async() would queue them on libuv's
// 4-thread pool, which the rest of the process shares).
//
// A call that times out stays outstanding: the worker is busy until the native
// call returns, and call() refuses new work meanwhile. abandon() gives up on a
// stuck worker (a fresh one serves the next call). A thread blocked in native
// code cannot be stopped from JS: it lingers until the call returns and, while it
// does, keeps the process from exiting normally; only one is ever abandoned.
import { Worker } from 'node:worker_threads';

/** Every CallWorker thread that has not exited yet, across the process. */
const liveThreads = new Set<Worker>();

/**
 * Worker threads of all CallWorkers still alive. After the sources stopped, one
 * that stays alive is stuck in a native call and would hold process exit (see
 * runtime/exit.ts).
 */
export function callWorkerThreadsAlive(): number {
  return liveThreads.size;
}

function track(w: Worker): void {
  liveThreads.add(w);
  w.once('exit', () => liveThreads.delete(w));
}

export class CallTimeoutError extends Error {
  readonly op: string;
  readonly timeoutMs: number;
  constructor(op: string, timeoutMs: number) {
    super(`${op} did not return within ${timeoutMs} ms`);
    this.op = op;
    this.timeoutMs = timeoutMs;
  }
}

export class WorkerBusyError extends Error {}

/** An error the worker reported for an op; `code` is the library's return code when there is one. */
export class CallFailedError extends Error {
  readonly kind: string;
  readonly code: number | null;
  constructor(message: string, kind: string, code: number | null) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

interface Reply {
  id: number;
  ok: boolean;
  value?: unknown;
  error?: { message: string; kind: string; code: number | null };
}

interface Outstanding {
  id: number;
  op: string;
  settle: ((r: Reply) => void) | null;
  late: ((value: unknown) => void) | null;
  done: Promise<void>;
  finish: () => void;
}

export class CallWorker {
  private readonly url: URL;
  private worker: Worker | null = null;
  private outstanding: Outstanding | null = null;
  private nextId = 1;
  private lingering: Worker | null = null;
  private closed = false;

  constructor(url: URL) {
    this.url = url;
  }

  /** True while a call (possibly timed out) has not returned. */
  get busy(): boolean {
    return this.outstanding !== null;
  }

  /** True while an abandoned worker is still stuck in a native call. */
  get lingeringThread(): boolean {
    return this.lingering !== null;
  }

  private spawn(): Worker {
    const w = new Worker(this.url);
    track(w);
    w.unref(); // an idle source must not keep the process alive
    w.on('message', (r: Reply) => {
      if (w !== this.worker) return;
      const o = this.outstanding;
      if (!o || o.id !== r.id) return;
      this.outstanding = null;
      o.finish();
      if (o.settle) o.settle(r);
      else if (r.ok) o.late?.(r.value);
    });
    const died = (message: string): void => {
      if (w !== this.worker) return;
      this.worker = null;
      const o = this.outstanding;
      this.outstanding = null;
      if (o) {
        o.finish();
        o.settle?.({ id: o.id, ok: false, error: { message, kind: 'worker', code: null } });
      }
    };
    w.on('error', (e) => died(`worker failed: ${e.message}`));
    w.on('exit', (code) => died(`worker exited with code ${code}`));
    return w;
  }

  /**
   * Runs `op` in the worker. Rejects with CallTimeoutError after timeoutMs (the
   * call keeps running and `busy` stays true until it returns), WorkerBusyError
   * when a previous call has not returned, CallFailedError when the op failed.
   * `onLate` receives the result of a call that returns after its timeout (real
   * data, e.g. events a wedged driver delivers once it recovers).
   */
  call<T>(op: string, args: unknown, timeoutMs: number, onLate?: (value: T) => void): Promise<T> {
    if (this.closed) return Promise.reject(new WorkerBusyError('worker closed'));
    if (this.outstanding) {
      return Promise.reject(new WorkerBusyError(`${this.outstanding.op} has not returned yet; ${op} not issued`));
    }
    this.worker ??= this.spawn();
    const id = this.nextId++;
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    const o: Outstanding = { id, op, settle: null, late: (onLate as ((value: unknown) => void) | undefined) ?? null, done, finish };
    this.outstanding = o;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        o.settle = null; // a late reply only frees the worker
        reject(new CallTimeoutError(op, timeoutMs));
      }, timeoutMs);
      o.settle = (r) => {
        clearTimeout(timer);
        if (r.ok) resolve(r.value as T);
        else reject(new CallFailedError(r.error?.message ?? 'failed', r.error?.kind ?? 'unknown', r.error?.code ?? null));
      };
      this.worker!.postMessage({ id, op, args });
    });
  }

  /** Resolves true when the outstanding call returns, false after `ms` (timer unref'd). */
  async whenIdle(ms: number): Promise<boolean> {
    const o = this.outstanding;
    if (!o) return true;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(false), ms);
    });
    const ok = await Promise.race([o.done.then(() => true), timedOut]);
    clearTimeout(timer);
    return ok;
  }

  /**
   * Gives up on a worker stuck in a native call: the next call gets a fresh
   * worker. Returns false (and does nothing) when an earlier abandoned thread is
   * still stuck, so stuck threads never accumulate.
   */
  abandon(): boolean {
    if (this.lingering || !this.worker) return false;
    const w = this.worker;
    this.worker = null;
    this.outstanding?.finish();
    this.outstanding = null;
    this.lingering = w;
    w.removeAllListeners('exit');
    track(w);
    w.on('exit', () => {
      if (this.lingering === w) this.lingering = null;
    });
    void w.terminate();
    return true;
  }

  /** Stops the worker; does not wait for a thread stuck in native code. */
  async close(waitMs = 1000): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = null;
    if (!w) return;
    const o = this.outstanding;
    const busy = o !== null;
    this.outstanding = null;
    if (o) {
      o.finish();
      o.settle?.({ id: o.id, ok: false, error: { message: 'worker closed', kind: 'worker', code: null } });
    }
    const exited = new Promise<void>((r) => w.once('exit', () => r()));
    void w.terminate();
    if (!busy) await exited;
    else await Promise.race([exited, new Promise<void>((r) => setTimeout(r, waitMs).unref())]);
  }
}
