// Bounds on the debug listeners' connections. Any local process may connect, so
// thousands of idle clients (slowloris) must cost neither memory nor descriptors,
// and must not keep the liveness probe out.
//
// Not `server.maxConnections`: it refuses the newest connection, which is the
// probe's once idle clients hold every slot, until the headers timeout frees
// one. Here a new connection over the bound closes the oldest connection that
// has no request being answered; a probe sends its request at once, is answered
// within milliseconds and is never the oldest idle one.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  /** Connections held at once. */
  maxConnections: number;
  /** From connect to the end of the request headers. */
  headersTimeoutMs: number;
  /** From connect to the end of the request. */
  requestTimeoutMs: number;
  /** Request line plus headers. */
  maxHeaderBytes: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { maxConnections: 32, headersTimeoutMs: 5000, requestTimeoutMs: 10_000, maxHeaderBytes: 8192 };

/** Why a connection or request was turned away: over the bound, too slow, or malformed / too large. */
export type RefusedWhy = 'capacity' | 'timeout' | 'malformed';

/** Node's http server options that carry the limits; the timeouts are checked every half headers-timeout, at most once a second. */
export function serverOptions(l: ConnectionLimits): { maxHeaderSize: number; headersTimeout: number; requestTimeout: number; connectionsCheckingInterval: number } {
  return {
    maxHeaderSize: l.maxHeaderBytes,
    headersTimeout: l.headersTimeoutMs,
    requestTimeout: l.requestTimeoutMs,
    connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(l.headersTimeoutMs / 2))),
  };
}

/** Keeps at most `max` connections on `server`; calls `refused` for each one it closes or answers with an error. */
export function boundConnections(server: Server, max: number, refused: (why: RefusedWhy) => void): void {
  // Insertion order: the first idle one found is the oldest.
  const open = new Set<Socket>();
  const busy = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    if (open.size >= max) {
      let victim: Socket | undefined;
      for (const s of open) {
        if (!busy.has(s)) {
          victim = s;
          break;
        }
      }
      refused('capacity');
      // Every slot is answering a request: the newcomer waits for nothing, it goes.
      if (victim === undefined) return void socket.destroy();
      open.delete(victim);
      victim.destroy();
    }
    open.add(socket);
    socket.once('close', () => {
      open.delete(socket);
      busy.delete(socket);
    });
  });
  server.on('request', (req, res) => {
    const socket = req.socket;
    busy.add(socket);
    res.once('close', () => busy.delete(socket));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Node's own answers, counted: 408 for a request (or its headers) that took too long, 431 for headers over the bound.
    if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return void socket.destroy();
    const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    refused(status === 408 ? 'timeout' : 'malformed');
    const text = status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request';
    const answering = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
    if (socket.writable && !answering) socket.write(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  });
}
