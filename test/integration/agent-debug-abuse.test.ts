// The real agent's debug endpoint under abuse from the node itself: thousands of
// idle loopback connections (slowloris). The agent runs with 2,048 descriptors,
// so what took 20,000 connections against the pod's limit takes 6,000 here. And
// an endpoint put on a non-loopback address is warned about.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { scratch, startAgentProcess, waitFor, type AgentProcess } from '../helpers/agent-process.ts';
import { fdCount } from '../helpers/proc.ts';
import { holdIdleConnections, probe } from '../helpers/sockets.ts';

const dirs: string[] = [];
const agents: AgentProcess[] = [];
after(async () => {
  for (const a of agents) await a.kill();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('6,000 idle loopback connections neither exhaust the descriptors nor stop /healthz; the refusals are counted', async () => {
  const s = scratch();
  dirs.push(s.dir);
  writeFileSync(`${s.dir}/kern.log`, '');
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run'], {
    wrap: ['prlimit', '--nofile=2048:2048'],
  });
  agents.push(a);
  await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 5000);
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
  const s = scratch();
  dirs.push(s.dir);
  writeFileSync(`${s.dir}/kern.log`, '');
  const a = await startAgentProcess(['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--debug-addr', '0.0.0.0:0']);
  agents.push(a);
  const w = await a.waitForLine((l) => l.level === 40 && String(l.msg).startsWith('--debug-addr is not a loopback address'));
  assert.equal(w.debugAddr, '0.0.0.0:0');
  assert.ok(!a.lines.some((l) => l.level === 40 && String(l.msg).startsWith('--debug-addr') && l !== w), 'one warning');
  const quiet = await startAgentProcess(['--kmsg', 'none', '--log-file', `${s.dir}/kern.log`, '--state-dir', `${s.stateDir}-2`, '--boot-id-file', s.bootIdFile, '--dry-run']);
  agents.push(quiet);
  await waitFor('ready', async () => ((await quiet.get('/readyz')).status === 200 ? true : undefined), 5000);
  assert.ok(!quiet.lines.some((l) => String(l.msg).startsWith('--debug-addr')), 'no warning on 127.0.0.1');
});
