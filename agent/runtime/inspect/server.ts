// The local debug HTTP server. Read-only by construction: only GET and HEAD
// are answered, and nothing here can change the agent's state (operator
// clears go through the control socket instead). Binds 127.0.0.1 by default.
// Any local process can connect, so connections, header and request times and
// sizes are bounded (connections.ts), and requests carry no body.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenAddress } from '../../config/address.ts';
import { boundConnections, DEFAULT_CONNECTION_LIMITS, serverOptions, type ConnectionLimits, type RefusedWhy } from './connections.ts';

export type { RefusedWhy } from './connections.ts';

// Not `import ... from 'node:http'`: an ESM import of a builtin reads every export,
// and http.WebSocket then loads undici, ~12 MiB resident that nothing here uses.
const { createServer } = process.getBuiltinModule('node:http');

export interface Probe {
  ok: boolean;
  detail: string;
}

/** What the agent exposes to the server; every call is cheap and synchronous except metrics. */
export interface DebugSurface {
  liveness(): Probe;
  readiness(): Probe;
  /** May be a promise (pod impact asks the kubelet, bounded). */
  state(): unknown;
  rules(): unknown;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export interface DebugServer {
  /** Where it actually listens (the port is resolved when 0 was asked for). */
  address: ListenAddress;
  close(): Promise<void>;
}

/** What a listener answers: everything (the loopback debug server) or `/metrics` only (the metrics listener). */
export type DebugRoutes = 'all' | 'metrics';

export interface DebugServerOptions {
  /** Bounds; the defaults are DEFAULT_CONNECTION_LIMITS (32 connections, 5 s for headers, 10 s per request, 8 KiB of headers). */
  limits?: Partial<ConnectionLimits>;
  /** Each connection closed or request turned away by a bound (the refusals metric). */
  onRefused?: (why: RefusedWhy) => void;
}

export async function startDebugServer(addr: ListenAddress, surface: DebugSurface, routes: DebugRoutes = 'all', opts: DebugServerOptions = {}): Promise<DebugServer> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...opts.limits };
  const refused = opts.onRefused ?? (() => undefined);
  const server: Server = createServer(serverOptions(limits), (req, res) => {
    handle(req, res, surface, routes, refused).catch((err: Error) => send(res, 500, 'text/plain', `internal error: ${err.message}\n`));
  });
  boundConnections(server, limits.maxConnections, refused);
  // Keep-alive sockets from scrapers must not hold shutdown hostage.
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(addr.port, addr.host, () => resolve());
  });
  const bound = server.address() as AddressInfo;
  return {
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, surface: DebugSurface, routes: DebugRoutes, refused: (why: RefusedWhy) => void): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'read-only: GET and HEAD only\n');
  }
  // A body would be read (and waited for) only to be thrown away: refuse it and close.
  if (req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0) {
    refused('malformed');
    res.setHeader('Connection', 'close');
    return send(res, 413, 'text/plain', 'GET and HEAD take no request body\n');
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  // The metrics listener may face the network: it shows nothing but /metrics.
  if (routes === 'metrics' && path !== '/metrics') return send(res, 404, 'text/plain', 'not found (this listener serves /metrics only)\n');
  switch (path) {
    case '/healthz':
      return probe(res, surface.liveness());
    case '/readyz':
      return probe(res, surface.readiness());
    case '/metrics': {
      const m = await surface.metrics();
      return send(res, 200, m.contentType, m.body);
    }
    case '/debug/state':
      return json(res, await surface.state());
    case '/debug/rules':
      return json(res, surface.rules());
    case '/':
      return send(res, 200, 'text/plain', ['/healthz', '/readyz', '/metrics', '/debug/state', '/debug/rules', ''].join('\n'));
    default:
      return send(res, 404, 'text/plain', 'not found\n');
  }
}

function probe(res: ServerResponse, p: Probe): void {
  send(res, p.ok ? 200 : 503, 'text/plain', `${p.ok ? 'ok' : 'not ok'}: ${p.detail}\n`);
}

function json(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json', JSON.stringify(value, null, 2) + '\n');
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
