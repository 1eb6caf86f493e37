// A thin Kubernetes API client on node:https: JSON in, JSON out, one
// keep-alive agent, a bounded request time, and a bearer token file that is
// re-read whenever it changes on disk (kubelet rotates projected tokens by
// swapping a symlink, so the file's identity or mtime changes). A watch is a
// long-lived GET on a connection of its own, one JSON event per line.
import { errorText } from '../../model/text.ts';
import type { Agent as HttpAgent, ClientRequest, IncomingHttpHeaders } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import type { KubeConnection } from './connection.ts';

// process.getBuiltinModule, not an ESM import, which would read every export of
// node:http, and http.WebSocket loads undici (~12 MiB resident, unused).
const http = process.getBuiltinModule('node:http');
const https = process.getBuiltinModule('node:https');

export const CONTENT_JSON = 'application/json';
export const CONTENT_STRATEGIC_MERGE = 'application/strategic-merge-patch+json';
export const CONTENT_MERGE = 'application/merge-patch+json';

/** The API server answered with a non-2xx status. */
export class KubeApiError extends Error {
  readonly status: number;
  /** The Status object's reason, e.g. `Forbidden`, `Conflict`, `NotFound`. */
  readonly reason: string;
  /** From a Retry-After header, in ms. */
  readonly retryAfterMs: number | undefined;
  constructor(status: number, reason: string, message: string, retryAfterMs: number | undefined) {
    super(`${status} ${reason}: ${message}`);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.retryAfterMs = retryAfterMs;
  }
}

/** No answer: connection refused or reset, DNS, TLS, timeout. */
export class KubeNetworkError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'KubeNetworkError';
    this.code = code;
  }
}

export interface KubeResponse<T> {
  status: number;
  body: T;
}

/** One line of a watch stream. */
export interface WatchEvent {
  type: string;
  object: unknown;
}

export interface WatchStream {
  /** Resolves when the server ends the stream or close() is called; rejects on a failure (no answer, a non-2xx status, a cut connection). */
  ended: Promise<void>;
  close(): void;
}

export interface WatchOptions {
  /** The stream is cut when no byte arrives for this long. */
  idleMs: number;
  /** A longer line (one event) cuts the stream: memory stays bounded whatever the server sends. */
  maxLineBytes: number;
  /** The server accepted the watch (a 2xx answer). */
  onOpen?: () => void;
}

export interface RequestOptions {
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
}

/** Retry-After is delay-seconds or an HTTP date. */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class KubeClient {
  readonly server: URL;
  private readonly conn: KubeConnection;
  private readonly agent: HttpAgent;
  /** Watches hold their connection for minutes: never one that writes wait for. */
  private readonly watchAgent: HttpAgent;
  private readonly timeoutMs: number;
  private token: string | undefined;
  private tokenStamp = '';

  constructor(conn: KubeConnection, opts: { timeoutMs?: number } = {}) {
    this.conn = conn;
    this.server = new URL(conn.server);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.token = conn.token;
    this.agent = this.makeAgent({ keepAlive: true, maxSockets: 4, maxFreeSockets: 2 });
    this.watchAgent = this.makeAgent({ keepAlive: false, maxSockets: 2 });
  }

  private makeAgent(pool: { keepAlive: boolean; maxSockets: number; maxFreeSockets?: number }): HttpAgent {
    const conn = this.conn;
    return this.server.protocol === 'http:'
      ? new http.Agent(pool)
      : new https.Agent({
        ...pool,
        ...(conn.ca !== undefined ? { ca: conn.ca } : {}),
        ...(conn.clientCert !== undefined ? { cert: conn.clientCert } : {}),
        ...(conn.clientKey !== undefined ? { key: conn.clientKey } : {}),
        ...(conn.tlsServerName !== undefined ? { servername: conn.tlsServerName } : {}),
        rejectUnauthorized: conn.insecureSkipTlsVerify !== true,
      });
  }

  private async headers(): Promise<Record<string, string>> {
    const token = await this.currentToken();
    const headers: Record<string, string> = { accept: CONTENT_JSON, 'user-agent': 'gpu-health-agent' };
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
    return headers;
  }

  /** The token to send now; a changed token file is re-read (a stat per request: requests are rare). */
  async currentToken(): Promise<string | undefined> {
    const file = this.conn.tokenFile;
    if (file === undefined) return this.token;
    try {
      const st = await stat(file);
      const stamp = `${st.ino}:${st.mtimeMs}:${st.size}`;
      if (stamp !== this.tokenStamp || this.token === undefined) {
        this.token = (await readFile(file, 'utf8')).trim();
        this.tokenStamp = stamp;
      }
    } catch (err) {
      // Keep the last good token; the server will say 401 if it has expired.
      if (this.token === undefined) throw new KubeNetworkError('ETOKEN', `cannot read token file ${file}: ${errorText(err)}`);
    }
    return this.token;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<KubeResponse<T>> {
    const headers = await this.headers();
    const payload = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    if (payload !== undefined) {
      headers['content-type'] = opts.contentType ?? CONTENT_JSON;
      headers['content-length'] = String(payload.length);
    }
    const url = new URL(path, this.server);
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const send = url.protocol === 'http:' ? http.request : https.request;

    return new Promise<KubeResponse<T>>((resolvePromise, reject) => {
      const req = send(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(new KubeNetworkError('ERESPONSE', err.message)));
        res.on('end', () => {
          clearTimeout(timer);
          const status = res.statusCode ?? 0;
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = text;
          try { body = text === '' ? undefined : JSON.parse(text); } catch { /* not JSON: keep the text */ }
          if (status >= 200 && status < 300) {
            resolvePromise({ status, body: body as T });
            return;
          }
          reject(apiError(status, res.statusMessage, res.headers, body, text));
        });
      });
      const timer = setTimeout(() => {
        req.destroy(new KubeNetworkError('ETIMEDOUT', `${method} ${url.pathname}: no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(err instanceof KubeNetworkError ? err : new KubeNetworkError(err.code ?? 'ENET', `${method} ${url.pathname}: ${err.message}`));
      });
      req.end(payload);
    });
  }

  /** GET `path` as a watch: `onEvent` for each line, until the server ends it, it fails, or close(). */
  watch(path: string, onEvent: (ev: WatchEvent) => void, opts: WatchOptions): WatchStream {
    let req: ClientRequest | undefined;
    let closed = false;
    const url = new URL(path, this.server);
    const send = url.protocol === 'http:' ? http.get : https.get;
    const ended = this.headers().then((headers) => new Promise<void>((resolvePromise, reject) => {
      if (closed) return resolvePromise();
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (err === undefined || closed) resolvePromise();
        else reject(err);
      };
      const cut = (code: string, message: string): void => {
        req?.destroy(new KubeNetworkError(code, `watch ${url.pathname}: ${message}`));
      };
      req = send(url, { headers, agent: this.watchAgent }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) opts.onOpen?.();
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          if (status < 200 || status >= 300) {
            if (buf.length > 64 * 1024) cut('ERESPONSE', 'error answer too long');
            return;
          }
          let nl: number;
          while ((nl = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, nl);
            buf = buf.slice(nl + 1);
            if (line.trim() === '') continue;
            let ev: WatchEvent;
            try {
              ev = JSON.parse(line) as WatchEvent;
            } catch {
              cut('EPROTO', `not a JSON event: ${line.slice(0, 120)}`);
              return;
            }
            if (!closed) onEvent(ev);
          }
          if (buf.length > opts.maxLineBytes) cut('E2BIG', `an event longer than ${opts.maxLineBytes} bytes`);
        });
        res.on('end', () => {
          if (status >= 200 && status < 300) return settle();
          let body: unknown = buf;
          try { body = JSON.parse(buf); } catch { /* not JSON: keep the text */ }
          settle(apiError(status, res.statusMessage, res.headers, body, buf));
        });
        res.on('error', (err) => settle(err instanceof KubeNetworkError ? err : new KubeNetworkError('ERESPONSE', `watch ${url.pathname}: ${err.message}`)));
        // A connection cut mid-stream can close without 'end'.
        res.on('close', () => settle(res.complete ? undefined : new KubeNetworkError('ECONNRESET', `watch ${url.pathname}: connection closed mid-stream`)));
      });
      req.setTimeout(opts.idleMs, () => cut('ETIMEDOUT', `no data within ${opts.idleMs} ms`));
      req.on('error', (err: NodeJS.ErrnoException) => {
        settle(err instanceof KubeNetworkError ? err : new KubeNetworkError(err.code ?? 'ENET', `watch ${url.pathname}: ${err.message}`));
      });
    }));
    return {
      ended,
      close() {
        closed = true;
        req?.destroy();
      },
    };
  }

  close(): void {
    this.agent.destroy();
    this.watchAgent.destroy();
  }
}

/** A non-2xx answer as an error, with the Status object's reason and message. */
function apiError(status: number, statusMessage: string | undefined, headers: IncomingHttpHeaders, body: unknown, text: string): KubeApiError {
  const st = (body !== null && typeof body === 'object' ? body : {}) as { reason?: string; message?: string };
  const retryAfter = parseRetryAfter(headers['retry-after'], Date.now());
  return new KubeApiError(status, st.reason ?? statusMessage ?? 'Error', st.message ?? text.slice(0, 300), retryAfter);
}
