// A thin Kubernetes API client on node:https: JSON in, JSON out, one
// keep-alive agent, a bounded request time, and a bearer token file that is
// re-read whenever it changes on disk (kubelet rotates projected tokens by
// swapping a symlink, so the file's identity or mtime changes).
import type { Agent as HttpAgent } from 'node:http';
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
  private readonly timeoutMs: number;
  private token: string | undefined;
  private tokenStamp = '';

  constructor(conn: KubeConnection, opts: { timeoutMs?: number } = {}) {
    this.conn = conn;
    this.server = new URL(conn.server);
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.token = conn.token;
    const common = { keepAlive: true, maxSockets: 4, maxFreeSockets: 2 };
    this.agent = this.server.protocol === 'http:'
      ? new http.Agent(common)
      : new https.Agent({
        ...common,
        ...(conn.ca !== undefined ? { ca: conn.ca } : {}),
        ...(conn.clientCert !== undefined ? { cert: conn.clientCert } : {}),
        ...(conn.clientKey !== undefined ? { key: conn.clientKey } : {}),
        ...(conn.tlsServerName !== undefined ? { servername: conn.tlsServerName } : {}),
        rejectUnauthorized: conn.insecureSkipTlsVerify !== true,
      });
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
      if (this.token === undefined) throw new KubeNetworkError('ETOKEN', `cannot read token file ${file}: ${(err as Error).message}`);
    }
    return this.token;
  }

  async request<T = unknown>(method: string, path: string, opts: RequestOptions = {}): Promise<KubeResponse<T>> {
    const token = await this.currentToken();
    const payload = opts.body === undefined ? undefined : Buffer.from(typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body));
    const headers: Record<string, string> = { accept: CONTENT_JSON, 'user-agent': 'gpu-health-agent' };
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
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
          const st = (body !== null && typeof body === 'object' ? body : {}) as { reason?: string; message?: string };
          const retryAfter = parseRetryAfter(res.headers['retry-after'], Date.now());
          reject(new KubeApiError(status, st.reason ?? res.statusMessage ?? 'Error', st.message ?? text.slice(0, 300), retryAfter));
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

  close(): void {
    this.agent.destroy();
  }
}
