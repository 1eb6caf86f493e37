// What the kmsg reader worker and the main thread say to each other.
// Control flows through a small SharedArrayBuffer so the worker's read loop
// never has to yield to its own event loop to hear "stop" or "go on".

/** Int32 slots of the control buffer. */
export const CTL = {
  /** Batches posted but not yet processed by the main thread (back-pressure). */
  IN_FLIGHT: 0,
  /** Set to 1 to make the worker close the device and exit. */
  STOP: 1,
  /** Notified to wake an idle or reopen wait early. */
  WAKE: 2,
  /** Worker's last loop heartbeat, seconds since epoch (liveness without messages). */
  BEAT: 3,
  SIZE: 4,
} as const;

export interface WorkerConfig {
  path: string;
  control: SharedArrayBuffer;
  /** Minimum time between two opens of the device (NPD once reopened 37k times in 200 ms). */
  reopenMinDelayMs: number;
  /** Wait for records with poll(2) (koffi + libc) instead of timed polling. */
  usePoll: boolean;
  /** With poll(2): how often an idle reader looks at the stop flag. */
  stopCheckMs: number;
  /** Without poll(2): wait after the ring buffer is drained before reading again (woken early by stop). */
  idlePollMs: number;
  batchMax: number;
  maxInFlight: number;
}

/** Records are packed into one transferred buffer; `ends[i]` is the end offset of record i. */
export interface BatchMessage {
  type: 'batch';
  bytes: ArrayBuffer;
  ends: Uint32Array;
  /** EPIPE returns since the previous batch (the kernel overwrote unread records). */
  overruns: number;
}

export type WorkerMessage =
  | BatchMessage
  | { type: 'open' }
  | { type: 'caught-up' }
  | { type: 'error'; code: string; message: string };
