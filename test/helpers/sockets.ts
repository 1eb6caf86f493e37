// Abusive clients for the local surfaces, with real sockets: slowloris-style
// connections that send a partial request and then nothing, and a probe that
// says what it got.
import { connect, type Socket } from 'node:net';

export interface IdleConnections {
  /** How many the server has accepted and not closed yet. */
  open(): number;
  /** How many the server closed (or reset) while the client held them. */
  closedByServer(): number;
  close(): void;
}

/**
 * Opens `n` connections to 127.0.0.1:`port`, each sending the start of a request
 * (`GET /healthz HTTP/1.1`, one header, no blank line) and then nothing, in
 * batches so the kernel's accept queue never overflows into SYN retries.
 */
export async function holdIdleConnections(port: number, n: number, batch = 250): Promise<IdleConnections> {
  const sockets = new Set<Socket>();
  let closedByServer = 0;
  let closing = false;
  for (let done = 0; done < n; done += batch) {
    const wave: Array<Promise<void>> = [];
    for (let i = 0; i < Math.min(batch, n - done); i++) {
      wave.push(
        new Promise<void>((resolve) => {
          const s = connect({ host: '127.0.0.1', port });
          sockets.add(s);
          s.on('connect', () => {
            s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
            resolve();
          });
          s.on('error', () => resolve());
          s.on('close', () => {
            if (sockets.delete(s) && !closing) closedByServer++;
            resolve();
          });
        }),
      );
    }
    await Promise.all(wave);
  }
  return {
    open: () => sockets.size,
    closedByServer: () => closedByServer,
    close() {
      closing = true;
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}

/** One GET with a hard deadline; the status, or the error's text when there was no answer. */
export async function probe(url: string, timeoutMs = 2000): Promise<{ status: number | string; ms: number }> {
  const start = Date.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.text();
    return { status: res.status, ms: Date.now() - start };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { status: cause ?? (err as Error).name, ms: Date.now() - start };
  }
}
