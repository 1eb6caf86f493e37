// The condition writer against a tiny local HTTP server on a real socket that
// answers 429 (with Retry-After), 500, 409 or nothing at all: retries back off
// with jitter, honour Retry-After, and the latest state is written once the
// server answers.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { sleep, until } from '../helpers/wait.ts';
import { backoffDelay, isTransient } from '../../agent/report/kube/backoff.ts';
import { KubeApiError, KubeNetworkError, parseRetryAfter } from '../../agent/report/kube/client.ts';
import { createKubeReporter, type KubeReporter } from '../../agent/report/kube/reporter.ts';
import { driven, type Driven } from '../helpers/drive-reporter.ts';

interface Hit { at: number; method: string; url: string; body: string }

/** Answers from a script: each entry handles one request; after the script, 200 with the patched condition. */
function apiServer() {
  const hits: Hit[] = [];
  let script: ((res: ServerResponse) => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', body });
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: { name: 'n1', uid: 'u1' }, status: { conditions: [] } }));
        return;
      }
      const next = script.shift();
      if (next !== undefined) return next(res);
      const patch = JSON.parse(body) as { status: { conditions: unknown[] } };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ metadata: { name: 'n1', uid: 'u1' }, status: patch.status }));
    });
  });
  return {
    hits,
    patches: () => hits.filter((h) => h.method === 'PATCH'),
    set: (s: ((res: ServerResponse) => void)[]) => { script = s; },
    server,
  };
}

const status = (code: number, headers: Record<string, string> = {}) => (res: ServerResponse): void => {
  res.writeHead(code, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ kind: 'Status', status: 'Failure', code, reason: code === 429 ? 'TooManyRequests' : 'InternalError', message: `test ${code}` }));
};
const hang = () => (): void => { /* never answers */ };

const api = apiServer();
let url = '';
const silent = { debug() {}, info() {}, warn() {}, error() {} };

before(async () => {
  await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(api.server.address() as AddressInfo).port}`;
});
after(() => {
  api.server.closeAllConnections();
  api.server.close();
});

function reporter(): Driven<KubeReporter> {
  return driven(createKubeReporter({
    nodeName: 'n1', connection: { server: url }, logger: silent, coalesceMs: 0, heartbeatMs: 600_000,
    backoff: { baseMs: 100, maxMs: 2000 }, requestTimeoutMs: 300,
  }));
}

async function untilWrites(r: Driven<KubeReporter>, n: number, timeoutMs = 10_000): Promise<void> {
  await until(() => r.status().writes >= n, `${n} write(s); last error: ${r.status().lastError}`, timeoutMs);
}

test('429 with Retry-After: the next attempt waits at least that long', async () => {
  api.hits.length = 0;
  api.set([status(429, { 'retry-after': '1' })]);
  const r = reporter();
  await r.start();
  r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: 'm' }, Date.now());
  await untilWrites(r, 1);
  await r.stop();
  const [first, second] = api.patches();
  assert.ok(second!.at - first!.at >= 1000, `retried after ${second!.at - first!.at} ms despite Retry-After: 1`);
  assert.equal(api.patches().length, 2);
});

test('500, 503, 409 and a hung request: backoff grows, then one write of the latest state', async () => {
  api.hits.length = 0;
  api.set([status(500), status(503), status(409), hang()]);
  const r = reporter();
  await r.start();
  r.setVerdict({ status: 'False', reason: 'NvidiaXID48Error', message: 'first' }, Date.now());
  // Real time on purpose: a newer verdict while the real server's failures are being retried.
  await sleep(50);
  r.setVerdict({ status: 'False', reason: 'NvidiaXID79Error', message: 'latest' }, Date.now());
  await untilWrites(r, 1);
  // Real time on purpose: no further write follows the one that carried the latest state.
  await sleep(300);
  const s = r.status();
  await r.stop();
  const patches = api.patches();
  assert.equal(patches.length, 5, '4 refused or hung attempts, then the one that lands');
  assert.equal(s.writes, 1);
  assert.equal(s.failures, 4);
  const gaps = patches.slice(1).map((p, i) => p.at - patches[i]!.at);
  assert.ok(gaps[0]! >= 50 && gaps[1]! >= 100 && gaps[2]! >= 200, `exponential gaps: ${gaps.join(', ')}`);
  assert.ok(gaps[3]! >= 300 + 400, `timeout (300 ms) then backoff: ${gaps[3]}`);
  const written = JSON.parse(patches.at(-1)!.body) as { status: { conditions: { reason: string; message: string }[] } };
  assert.deepEqual(written.status.conditions.map((c) => [c.reason, c.message]), [['NvidiaXID79Error', 'latest']]);
});

test('a refusal that retrying cannot fix (403) is retried at the slowest pace, never dropped', () => {
  const forbidden = new KubeApiError(403, 'Forbidden', 'denied', undefined);
  assert.equal(isTransient(forbidden), false);
  assert.equal(isTransient(new KubeNetworkError('ECONNREFUSED', 'x')), true);
  assert.equal(isTransient(new KubeApiError(429, 'TooManyRequests', 'x', undefined)), true);
  const policy = { baseMs: 100, maxMs: 5000 };
  assert.ok(backoffDelay(1, forbidden, policy, () => 0) >= 2500);
  // Equal jitter: half fixed, half random, capped.
  const net = new KubeNetworkError('ECONNREFUSED', 'x');
  assert.equal(backoffDelay(1, net, policy, () => 0), 50);
  assert.equal(backoffDelay(1, net, policy, () => 1), 100);
  assert.equal(backoffDelay(4, net, policy, () => 0), 400);
  assert.equal(backoffDelay(40, net, policy, () => 1), 5000);
  assert.equal(backoffDelay(1, new KubeApiError(429, 'TooManyRequests', 'x', 3000), policy, () => 0), 3000);
  assert.equal(backoffDelay(1, new KubeApiError(429, 'TooManyRequests', 'x', 10 * 60_000), policy, () => 0), 5 * 60_000, 'Retry-After is capped');
});

test('Retry-After as seconds or an HTTP date', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  assert.equal(parseRetryAfter('3', now), 3000);
  assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(parseRetryAfter('soon', now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});
