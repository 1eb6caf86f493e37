// --metrics-addr: the real agent opens a second listener that answers /metrics
// and nothing else (it may face the network; the debug views must not).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the metrics listener serves /metrics and 404s everything else; the debug server still serves all', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--metrics-addr', '127.0.0.1:0']);
  agents.push(a);
  const line = await a.waitForLine((l) => l.msg === 'metrics listener serving /metrics');
  const port = Number(String(line.addr).split(':').pop());
  assert.ok(port > 0 && port !== a.port, `a port of its own: ${port}`);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);

  const get = async (path: string, method = 'GET') => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { method, signal: AbortSignal.timeout(3000) });
    return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
  };
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /^text\/plain; version=0\.0\.4/);
  assert.match(m.body, /^gpu_health_ready 1$/m);
  assert.match(m.body, /^gpu_health_source_up\{source="logfile"\} /m);
  for (const path of ['/debug/state', '/debug/rules', '/healthz', '/readyz', '/']) {
    assert.equal((await get(path)).status, 404, `${path} is not served on the metrics listener`);
  }
  assert.equal((await get('/metrics', 'POST')).status, 405);
  // The loopback debug server is unchanged.
  assert.equal((await a.get('/debug/state')).status, 200);
  assert.equal((await a.get('/metrics')).status, 200);
  assert.equal(await a.stop(), 0);
});

test('a metrics address that cannot be bound stops the agent with an error naming it', async () => {
  const s = scratch();
  dirs.push(s.dir);
  const a = await startAgentProcess(
    ['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--metrics-addr', '192.0.2.1:9'],
    { expectListen: false },
  );
  agents.push(a);
  const code = await a.exited;
  assert.equal(code, 1);
  const fatal = a.lines.find((l) => l.msg === 'cannot start');
  assert.match(String(fatal?.err), /192\.0\.2\.1|EADDRNOTAVAIL/);
});
