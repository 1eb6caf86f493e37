// The real agent's debug endpoint under abuse from the node itself: thousands of
// idle loopback connections (slowloris). The agent runs with 2,048 descriptors,
// so what took 20,000 connections against the pod's limit takes 6,000 here. And
// an endpoint put on a non-loopback address is warned about.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';
import { fdCount } from '../helpers/proc.ts';
import { holdIdleConnections, probe } from '../helpers/sockets.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

test('6,000 idle loopback connections neither exhaust the descriptors nor stop /healthz; the refusals are counted', async () => {
  const agent = await startLogFileAgent([], { wrap: ['prlimit', '--nofile=2048:2048'] });
  agents.push(agent);
  const { a } = agent;
  const pid = a.proc.pid as number;
  const idle = await holdIdleConnections(a.port, 6000);
  try {
    const fds = fdCount(pid);
    const probes = [];
    for (let i = 0; i < 5; i++) probes.push(await probe(`http://${a.addr}/healthz`));
    assert.deepEqual(
      probes.map((p) => p.status),
      [200, 200, 200, 200, 200],
      `/healthz answers while the idle clients wait: ${JSON.stringify(probes)}`,
    );
    assert.ok(fds < 200, `the agent holds ${fds} descriptors with 6,000 idle clients (at most 32 connections are kept)`);
    assert.ok(idle.open() <= 40, `the server closed what it could not keep (still open: ${idle.open()})`);
    const metrics = (await a.get('/metrics')).body;
    const refused = Number(/^gpu_health_debug_connections_refused_total\{listener="debug",why="capacity"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    assert.ok(refused >= 5900, `refusals counted: ${refused}`);
  } finally {
    idle.close();
  }
});

test('a --debug-addr that is not loopback is warned about at start', async () => {
  const loud = await startLogFileAgent(['--debug-addr', '0.0.0.0:0']);
  agents.push(loud);
  const w = await loud.a.waitForLine((l) => l.level === 40 && String(l.msg).startsWith('--debug-addr is not a loopback address'));
  assert.equal(w.debugAddr, '0.0.0.0:0');
  assert.equal(loud.a.lines.filter((l) => String(l.msg).startsWith('--debug-addr')).length, 1, 'one warning');
  const quiet = await startLogFileAgent();
  agents.push(quiet);
  assert.ok(!quiet.a.lines.some((l) => String(l.msg).startsWith('--debug-addr')), 'no warning on 127.0.0.1');
});
