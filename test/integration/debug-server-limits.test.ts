// The debug server's bounds on real sockets, with small limits so the timeouts
// take a fraction of a second: slow headers, silent clients, request bodies,
// and every slot busy answering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startDebugServer, type DebugSurface, type RefusedWhy } from '../../agent/runtime/inspect/server.ts';
import { probe } from '../helpers/sockets.ts';

function surface(state: () => unknown = () => ({})): DebugSurface {
  return {
    liveness: () => ({ ok: true, detail: 'alive' }),
    readiness: () => ({ ok: true, detail: 'ready' }),
    state,
    rules: () => ({}),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
  };
}

/** Connects, writes `first`, then `drip` every `everyMs`; resolves with what the server sent and how long the connection lived. */
function slowClient(port: number, first: string, drip: string | null, everyMs: number): Promise<{ reply: string; ms: number }> {
  return new Promise((resolve) => {
    const start = Date.now();
    let reply = '';
    const s: Socket = connect({ host: '127.0.0.1', port }, () => s.write(first));
    const t = drip === null ? null : setInterval(() => s.writable && s.write(drip), everyMs);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (reply += c));
    s.on('error', () => undefined);
    s.on('close', () => {
      if (t !== null) clearInterval(t);
      resolve({ reply, ms: Date.now() - start });
    });
  });
}

test('a client that sends its headers slowly, or nothing at all, is answered 408 and closed at the headers timeout, and counted', { timeout: 10_000 }, async () => {
  const refused: RefusedWhy[] = [];
  const server = await startDebugServer({ host: '127.0.0.1', port: 0 }, surface(), 'all', {
    limits: { headersTimeoutMs: 300, requestTimeoutMs: 600 },
    onRefused: (why) => refused.push(why),
  });
  try {
    const [slow, silent] = await Promise.all([
      slowClient(server.address.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n', 'X-a: b\r\n', 50),
      slowClient(server.address.port, '', null, 0),
    ]);
    assert.match(slow.reply, /^HTTP\/1\.1 408 /);
    assert.ok(slow.ms < 2000, `slow headers closed after ${slow.ms} ms`);
    assert.ok(silent.ms < 2000, `a silent client closed after ${silent.ms} ms`);
    assert.ok(refused.filter((w) => w === 'timeout').length >= 1, `counted: ${refused.join(',')}`);
  } finally {
    await server.close();
  }
});

test('a request with a body is refused (413) and its connection closed; oversized headers get 431; both are counted', { timeout: 10_000 }, async () => {
  const refused: RefusedWhy[] = [];
  const server = await startDebugServer({ host: '127.0.0.1', port: 0 }, surface(), 'all', { onRefused: (why) => refused.push(why) });
  try {
    const body = await slowClient(server.address.port, 'GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxx', null, 0);
    assert.match(body.reply, /^HTTP\/1\.1 413 /);
    assert.match(body.reply, /Connection: close/i);
    const big = await slowClient(server.address.port, `GET /healthz HTTP/1.1\r\nHost: x\r\nX-big: ${'a'.repeat(9000)}\r\n\r\n`, null, 0);
    assert.match(big.reply, /^HTTP\/1\.1 431 /);
    assert.deepEqual(refused, ['malformed', 'malformed']);
  } finally {
    await server.close();
  }
});

test('with every slot busy answering, a new connection is closed at once (counted), and served again once a slot frees', { timeout: 10_000 }, async () => {
  const refused: RefusedWhy[] = [];
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const server = await startDebugServer(
    { host: '127.0.0.1', port: 0 },
    surface(async () => {
      await gate;
      return { held: true };
    }),
    'all',
    { limits: { maxConnections: 2 }, onRefused: (why) => refused.push(why) },
  );
  const url = `http://127.0.0.1:${server.address.port}`;
  try {
    const held = [probe(`${url}/debug/state`, 5000), probe(`${url}/debug/state`, 5000)];
    // Both requests have reached the handler once the surface is waiting on the gate.
    await new Promise((r) => setTimeout(r, 100));
    const third = await probe(`${url}/healthz`);
    assert.notEqual(third.status, 200, 'no slot for it');
    assert.deepEqual(refused, ['capacity']);
    release();
    assert.deepEqual((await Promise.all(held)).map((p) => p.status), [200, 200]);
    assert.equal((await probe(`${url}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
});
