// The node watch against a server that misbehaves in ways the real API server
// (test/cluster) does not: a stand-in HTTP server on loopback sends an event
// line that never ends, a line that is not JSON, nothing at all, or ends every
// watch at once. The stream is cut (memory stays bounded) and the watch backs
// off instead of reconnecting in a loop.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeClient, KubeNetworkError } from '../../agent/report/kube/client.ts';
import { NodeWatch } from '../../agent/report/kube/node-watch.ts';
import type { NodeLike } from '../../agent/report/kube/condition.ts';

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

/** A stand-in API server: `watch` answers each watch request, GET of the Node answers with `node`. */
async function standIn(watch: (req: IncomingMessage, res: ServerResponse) => void, node: NodeLike = { metadata: { name: 'n1', uid: 'u1', resourceVersion: '7' } }): Promise<{ client: KubeClient; hits: { watches: number; reads: number } }> {
  const hits = { watches: 0, reads: 0 };
  const server = createServer((req, res) => {
    if (req.url?.includes('watch=1') === true) {
      hits.watches++;
      watch(req, res);
    } else {
      hits.reads++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(node));
    }
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { client: new KubeClient({ server: `http://127.0.0.1:${port}` }), hits };
}

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

async function failure(p: Promise<void>): Promise<KubeNetworkError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof KubeNetworkError, String(err));
    return err;
  }
  throw new Error('the stream ended without an error');
}

test('an event line longer than the bound cuts the stream', async () => {
  const { client } = await standIn((_req, res) => {
    res.writeHead(200);
    const chunk = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 32; i++) res.write(chunk); // 2 MiB, no newline
  });
  const err = await failure(client.watch('/api/v1/nodes?watch=1', () => undefined, { idleMs: 10_000, maxLineBytes: 256 * 1024 }).ended);
  assert.equal(err.code, 'E2BIG');
  client.close();
});

test('a line that is not JSON cuts the stream; events before it were delivered', async () => {
  const { client } = await standIn((_req, res) => {
    res.writeHead(200);
    res.write(`${JSON.stringify({ type: 'MODIFIED', object: { metadata: { name: 'n1' } } })}\n`);
    res.write('<html>proxy error</html>\n');
  });
  const seen: string[] = [];
  const err = await failure(client.watch('/api/v1/nodes?watch=1', (ev) => seen.push(ev.type), { idleMs: 10_000, maxLineBytes: 1 << 20 }).ended);
  assert.equal(err.code, 'EPROTO');
  assert.deepEqual(seen, ['MODIFIED']);
  client.close();
});

test('a stream with nothing on it is cut after the idle bound', async () => {
  const { client } = await standIn((_req, res) => {
    res.writeHead(200);
    res.flushHeaders();
  });
  const t0 = Date.now();
  const err = await failure(client.watch('/api/v1/nodes?watch=1', () => undefined, { idleMs: 300, maxLineBytes: 1 << 20 }).ended);
  assert.equal(err.code, 'ETIMEDOUT');
  assert.ok(Date.now() - t0 < 3000);
  client.close();
});

test('a server that ends every watch at once meets backoff, not a loop; each try reads the Node afresh', async () => {
  const { client, hits } = await standIn((_req, res) => {
    res.writeHead(200).end();
  });
  const told: Array<NodeLike | null> = [];
  const w = new NodeWatch({ client, nodeName: 'n1', onNode: (n) => told.push(n), logger: quiet, clock: Date.now, random: () => 0.5, backoff: { baseMs: 100, maxMs: 400 }, timeoutS: 60 });
  w.start();
  await sleep(2000);
  w.stop();
  const st = w.status();
  client.close();
  // Delays 75, 150, 300, then 300 ms each: about 8 tries in 2 s (a loop would make thousands).
  assert.ok(hits.watches >= 4 && hits.watches <= 10, `${hits.watches} watches in 2 s`);
  assert.equal(hits.reads, hits.watches, 'no event gave a resume point: each try reads the Node first');
  assert.equal(st.failures, hits.watches);
  assert.equal(told.length, hits.reads);
});

test('an ERROR event (410 Gone) ends the watch; the next one starts from a fresh read', async () => {
  let n = 0;
  const { client, hits } = await standIn((_req, res) => {
    n++;
    res.writeHead(200);
    if (n === 1) res.write(`${JSON.stringify({ type: 'ERROR', object: { kind: 'Status', code: 410, reason: 'Expired', message: 'too old resource version' } })}\n`);
    else res.flushHeaders(); // the second watch stays open
  });
  const w = new NodeWatch({ client, nodeName: 'n1', onNode: () => undefined, logger: quiet, clock: Date.now, random: () => 0.5, backoff: { baseMs: 100, maxMs: 400 }, timeoutS: 60 });
  w.start();
  const deadline = Date.now() + 3000;
  while (!(hits.watches === 2 && w.status().connected) && Date.now() < deadline) await sleep(10);
  const st = w.status();
  w.stop();
  client.close();
  assert.equal(hits.watches, 2);
  assert.equal(hits.reads, 2, 'read at start and again after the 410');
  assert.match(st.lastError ?? '', /410 Expired: too old resource version/);
  assert.equal(st.connected, true);
});
