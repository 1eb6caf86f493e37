// Ending the process on SIGTERM. Node cannot exit while a worker thread sits
// in a native call (a DCGM or NVML call that hangs on a failing GPU): even
// process.exit() waits for that thread. So after the agent has stopped (or the
// stop bound ran out) the process exits itself, and when such a thread is
// still alive after a short grace it ends with SIGKILL, the only way out that
// does not wait for the thread. State was flushed by stop() before that.
import type { Logger } from 'pino';
import { errorText } from '../model/text.ts';
import { callWorkerThreadsAlive } from '../sources/gpu/call-worker.ts';

export interface ExitOptions {
  /** Worker threads still alive that may be stuck in native code; default the DCGM/NVML call workers. */
  threadsAlive?: () => number;
  /** How long threads that are merely closing get to exit. Default 1000 ms. */
  graceMs?: number;
  /** Tests replace these; default process.exit / SIGKILL to self. */
  exit?: (code: number) => void;
  kill?: () => void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits for `stopping` at most `boundMs`; 1 when it failed or ran out of time. */
export async function stopWithin(stopping: Promise<void>, boundMs: number, log: Logger): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), boundMs);
  });
  try {
    const r = await Promise.race([stopping.then(() => 'ok' as const), late]);
    if (r === 'late') {
      log.error({ boundMs }, 'stopping took too long; exiting anyway');
      return 1;
    }
    return 0;
  } catch (err) {
    log.error({ err: errorText(err) }, 'error while stopping');
    return 1;
  } finally {
    clearTimeout(timer);
  }
}

export async function exitProcess(code: number, log: Logger, opts: ExitOptions): Promise<void> {
  const graceMs = opts.graceMs ?? 1000;
  const threadsAlive = opts.threadsAlive ?? callWorkerThreadsAlive;
  const deadline = Date.now() + graceMs;
  while (threadsAlive() > 0 && Date.now() < deadline) await sleep(20);
  const stuck = threadsAlive();
  if (stuck > 0) {
    log.warn({ threads: stuck, exitCode: code }, 'a native call is stuck in a worker thread and would keep the process alive; ending with SIGKILL');
    await new Promise<void>((r) => {
      const t = setTimeout(r, 500);
      log.flush(() => {
        clearTimeout(t);
        r();
      });
    });
    (opts.kill ?? (() => process.kill(process.pid, 'SIGKILL')))();
    return;
  }
  (opts.exit ?? ((c: number) => process.exit(c)))(code);
}
