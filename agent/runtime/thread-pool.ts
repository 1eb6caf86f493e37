// Imported first by main.ts, for its side effect. While idle, the kmsg reader
// parks one libuv pool thread in poll(2) (agent/sources/kmsg/poll.ts). libuv's
// pool is shared with fs, dns, zlib and koffi's async calls and has 4 threads by
// default, so we grow it by one before libuv creates it (on first use, which is
// after module loading: Node reads ES modules synchronously). Everyone else keeps
// the four threads they would have had.
export const KMSG_POOL_THREADS = 1;
const DEFAULT_POOL = 4;

export function reservePoolThreads(env: NodeJS.ProcessEnv = process.env): number {
  const asked = Number.parseInt(env.UV_THREADPOOL_SIZE ?? '', 10);
  const base = Number.isFinite(asked) && asked > 0 ? asked : DEFAULT_POOL;
  const size = Math.min(base + KMSG_POOL_THREADS, 1024); // libuv's own cap
  env.UV_THREADPOOL_SIZE = String(size);
  return size;
}

reservePoolThreads();
