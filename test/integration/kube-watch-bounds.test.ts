// A watch stream against a server that misbehaves in ways the real API server
// (test/cluster) does not: a stand-in HTTP server on loopback sends an event
// line that never ends, a line that is not JSON, or nothing at all. The
// stream is cut, so memory stays bounded.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { KubeClient, KubeNetworkError } from '../../agent/report/kube/client.ts';
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
