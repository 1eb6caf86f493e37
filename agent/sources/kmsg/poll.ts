// Waiting for /dev/kmsg without a thread of our own: poll(2) on the device and
// an eventfd, called through koffi's async mode, which runs it on one of libuv's
// pool threads and calls back on the main thread. An idle reader so costs one
// parked pool thread and no wake-ups; a record wakes it at once; stop() writes
// the eventfd so the parked poll returns at once too. null where libc cannot be
// loaded: the reader then polls on a timer.
import fs from 'node:fs';
import koffi from 'koffi';

export interface KmsgWaiter {
  /** Calls `done` on the main thread once `fd` is readable, `timeoutMs` passed, or wake() was called. One wait at a time. */
  wait(fd: number, timeoutMs: number, done: () => void): void;
  /** Ends the wait in progress (or the next one) at once. */
  wake(): void;
  /** Releases the eventfd once no wait is in progress. */
  close(): void;
}

const POLLIN = 0x1;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

type PollFn = ((fds: Buffer, nfds: number, timeoutMs: number) => number) & {
  async(fds: Buffer, nfds: number, timeoutMs: number, cb: (err: unknown, ready: number) => void): void;
};

interface Libc {
  poll: PollFn;
  eventfd: (initval: number, flags: number) => number;
}

let libc: Libc | null | undefined;

function loadLibc(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  for (const name of ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so']) {
    try {
      const lib = koffi.load(name);
      libc = {
        poll: lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)') as PollFn,
        eventfd: lib.func('int eventfd(unsigned int initval, int flags)') as Libc['eventfd'],
      };
      break;
    } catch {
      // try the next name
    }
  }
  return libc;
}

export function createWaiter(): KmsgWaiter | null {
  const c = loadLibc();
  if (c === null) return null;
  const efd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) return null;
  // struct pollfd { int fd; short events; short revents; } x 2: the device, then the eventfd.
  const fds = Buffer.alloc(16);
  const counter = Buffer.alloc(8);
  let busy = false;
  let closeWhenIdle = false;
  let closed = false;

  const doClose = (): void => {
    if (closed) return;
    closed = true;
    fs.closeSync(efd);
  };

  return {
    wait(fd, timeoutMs, done) {
      if (busy || closed) throw new Error('kmsg waiter: one wait at a time');
      fds.writeInt32LE(fd, 0);
      fds.writeInt16LE(POLLIN, 4);
      fds.writeInt16LE(0, 6);
      fds.writeInt32LE(efd, 8);
      fds.writeInt16LE(POLLIN, 12);
      fds.writeInt16LE(0, 14);
      busy = true;
      c.poll.async(fds, 2, timeoutMs, () => {
        busy = false;
        if (closeWhenIdle) doClose();
        done();
      });
    },
    wake() {
      if (closed) return;
      counter.writeBigUInt64LE(1n, 0);
      try {
        fs.writeSync(efd, counter);
      } catch {
        // EAGAIN: the counter is already set, which wakes the poll just as well
      }
    },
    close() {
      if (busy) closeWhenIdle = true;
      else doClose();
    },
  };
}
