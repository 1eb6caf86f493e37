// The /dev/kmsg read loop, on its own thread. One read() returns one record.
//
// The device is opened O_NONBLOCK: the first EAGAIN after open tells where the
// ring buffer ends (the "caught up" signal). An idle reader waits in poll(2)
// with a short timeout (or, without libc, in Atomics.wait). A blocking read()
// could not be interrupted: a thread parked in it keeps the whole process from
// exiting until the kernel logs something. Records go to the main thread in batches,
// read straight into a transferred buffer; if the main thread falls behind the
// worker stops reading (bounded memory) and the kernel's EPIPE tells us later
// how much was overwritten.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { loadPoll } from './poll.ts';
import { CTL, type WorkerConfig, type WorkerMessage } from './protocol.ts';

/** The kernel never returns a record longer than this (CONSOLE_EXT_LOG_MAX). */
const RECORD_MAX = 8192;
const BATCH_BYTES = 256 * 1024;

// An idle reader meets EAGAIN 20 times a second; a stack trace on each costs more than the read.
Error.stackTraceLimit = 0;

const cfg = workerData as WorkerConfig;
const ctl = new Int32Array(cfg.control);
const port = parentPort;
if (port === null) throw new Error('kmsg reader-worker must run as a worker thread');

function post(msg: WorkerMessage, transfer?: ArrayBuffer[]): void {
  port?.postMessage(msg, transfer ?? []);
}

function stopped(): boolean {
  return Atomics.load(ctl, CTL.STOP) !== 0;
}

function beat(): void {
  Atomics.store(ctl, CTL.BEAT, Math.floor(Date.now() / 1000));
}

/** Sleep up to ms, woken early by stop. */
function sleep(ms: number): void {
  if (ms > 0 && !stopped()) Atomics.wait(ctl, CTL.WAKE, 0, ms);
}

// With poll(2) an idle reader wakes when a record arrives, or every
// stopCheckMs to look at the stop flag; without it, every idlePollMs.
const pollFd = cfg.usePoll ? loadPoll() : null;
function idle(fd: number): void {
  if (pollFd !== null) pollFd(fd, cfg.stopCheckMs);
  else sleep(cfg.idlePollMs);
}

let bytes = new ArrayBuffer(BATCH_BYTES);
let view = new Uint8Array(bytes);
let ends = new Uint32Array(cfg.batchMax);
let count = 0;
let offset = 0;
let overruns = 0;

function flush(): void {
  if (count === 0 && overruns === 0) return;
  // Back-pressure: wait while the main thread has enough unprocessed batches.
  for (;;) {
    const inFlight = Atomics.load(ctl, CTL.IN_FLIGHT);
    if (inFlight < cfg.maxInFlight || stopped()) break;
    beat();
    Atomics.wait(ctl, CTL.IN_FLIGHT, inFlight, 500);
  }
  if (stopped()) return;
  Atomics.add(ctl, CTL.IN_FLIGHT, 1);
  post({ type: 'batch', bytes, ends: ends.slice(0, count), overruns }, [bytes]);
  bytes = new ArrayBuffer(BATCH_BYTES);
  view = new Uint8Array(bytes);
  ends = new Uint32Array(cfg.batchMax);
  count = 0;
  offset = 0;
  overruns = 0;
}

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : 'UNKNOWN';
}

function open(): number | null {
  try {
    const fd = fs.openSync(cfg.path, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    post({ type: 'open' });
    return fd;
  } catch (err) {
    post({ type: 'error', code: errCode(err), message: (err as Error).message });
    return null;
  }
}

function run(): void {
  let caughtUp = false;
  let lastOpenAt = -Infinity;
  let fd: number | null = null;
  while (!stopped()) {
    if (fd === null) {
      // Rate-limited (re)open: never a hot loop, whatever the error.
      sleep(lastOpenAt + cfg.reopenMinDelayMs - Date.now());
      if (stopped()) break;
      lastOpenAt = Date.now();
      fd = open();
      beat();
      continue;
    }
    try {
      const n = fs.readSync(fd, view, offset, RECORD_MAX, null);
      if (n > 0) {
        offset += n;
        ends[count++] = offset;
        if (count === cfg.batchMax || BATCH_BYTES - offset < RECORD_MAX) flush();
      } else {
        flush();
        beat();
        idle(fd);
      }
    } catch (err) {
      const code = errCode(err);
      if (code === 'EAGAIN') {
        // The ring buffer is drained: hand over what we have, then idle.
        flush();
        if (!caughtUp) {
          caughtUp = true;
          post({ type: 'caught-up' });
        }
        beat();
        idle(fd);
      } else if (code === 'EPIPE') {
        // Records were overwritten; the position moved to the oldest one left.
        overruns++;
      } else if (code !== 'EINTR') {
        flush();
        post({ type: 'error', code, message: (err as Error).message });
        try {
          fs.closeSync(fd);
        } catch {
          // already unusable
        }
        fd = null;
      }
    }
  }
  if (fd !== null) fs.closeSync(fd);
}

run();
