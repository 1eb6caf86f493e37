// The real agent on a state directory it cannot write: a read-only bind mount
// of it, made in a mount namespace of the agent's own (unshare), so the test's
// view of the directory and every other process's stay writable. The agent used
// to exit at start (listen EROFS on the control socket): a crash loop, nothing
// watched. It must keep watching and say that nothing persists.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { MAIN, waitFor } from '../helpers/agent-process.ts';
import { findingOn, readOnlyStateDir, startLogFileAgent, type LogFileAgent } from '../helpers/logfile-agent.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

test('a read-only state directory: the agent keeps watching, and says nothing persists (log, Event, /debug/state, metric, status)', async () => {
  const agent = await startLogFileAgent([], { wrap: readOnlyStateDir, prepare: (p) => mkdirSync(p.stateDir, { mode: 0o700 }) });
  agents.push(agent);
  const { a } = agent;
  assert.equal((await a.get('/healthz')).status, 200);
  await a.waitForLine((l) => l.msg === 'control socket unavailable; `gpu-health-agent clear` cannot reach this agent' && /EROFS/.test(String(l.err)));

  agent.xid(79);
  assert.equal(await findingOn(a), 'fatal', 'still watching: the Xid is a finding');
  const { value: st } = await waitFor('persistence reported', async () => {
    const s = await a.state();
    return s.persistence?.ok === false ? s : undefined;
  }, 10_000);
  assert.equal(st.condition.status, 'False');
  assert.match(st.persistence?.detail ?? '', /EROFS/);
  assert.equal(st.persistence?.controlSocket.ok, false);
  const event = await a.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason: string }).reason === 'GPUHealthStateNotPersisted');
  assert.match((event.event as { note: string }).note, /cannot be written \(EROFS.*Monitoring continues/);
  const metrics = (await a.get('/metrics')).body;
  assert.match(metrics, /^gpu_health_state_persisted 0$/m);
  assert.match(metrics, /^gpu_health_control_socket_up 0$/m);
  assert.match(metrics, /^gpu_health_state_writes_total\{result="error"\} [1-9]/m);

  // More findings, more failed writes: still one error line, not one per write.
  for (let i = 0; i < 5; i++) {
    agent.xid(48 + i, `0000:${(0x40 + i).toString(16)}:00.0`);
    await new Promise((r) => setTimeout(r, 250));
  }
  await findingOn(a, '0000:44:00.0');
  assert.equal(a.lines.filter((l) => String(l.msg).startsWith('cannot write the state file')).length, 1);

  const status = spawnSync(process.execPath, [MAIN, 'status', '--addr', a.addr], { encoding: 'utf8' });
  assert.match(status.stdout, /state NOT persisted: .*EROFS/);
  assert.equal((await a.get('/healthz')).status, 200);
});
