// poll(2) on the kmsg descriptor through koffi: the idle reader sleeps in the
// kernel until a record arrives (no latency, no periodic wake-ups) and still
// returns every `timeoutMs` to look at the stop flag. Returns null where libc
// cannot be loaded; the reader then falls back to timed Atomics.wait polling.
import koffi from 'koffi';

export type PollFn = (fd: number, timeoutMs: number) => void;

const POLLIN = 0x1;

export function loadPoll(): PollFn | null {
  for (const name of ['libc.so.6', 'libc.musl-x86_64.so.1', 'libc.musl-aarch64.so.1', 'libc.so']) {
    try {
      const lib = koffi.load(name);
      const poll = lib.func('int poll(_Inout_ uint8_t *fds, unsigned long nfds, int timeout)') as (
        fds: Buffer, n: number, t: number,
      ) => number;
      const fds = Buffer.alloc(8); // struct pollfd { int fd; short events; short revents; }
      return (fd, timeoutMs) => {
        fds.writeInt32LE(fd, 0);
        fds.writeInt16LE(POLLIN, 4);
        fds.writeInt16LE(0, 6);
        poll(fds, 1, timeoutMs);
      };
    } catch {
      // try the next name
    }
  }
  return null;
}
