// The V8 flag the agent's memory figures rely on (--max-semi-space-size=1) is in
// force however the agent is launched: started as plain `node dist/agent/main.js
// run` (no flag, as the test helper and any other launcher do), the process
// re-executes itself with it, keeping its pid, and V8's young generation stays at
// 2 MiB through a storm of records instead of growing to 16-128 MiB.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { waitFor } from '../helpers/agent-process.ts';
import { startLogFileAgent, xidLine, type LogFileAgent } from '../helpers/logfile-agent.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

const newSpaceMiB = (metrics: string): number => Number(/^gpu_health_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN') / 1048576;

test('`node main.js run` without the flag runs with --max-semi-space-size=1, same pid, and a young generation that stays small', async () => {
  const agent = await startLogFileAgent();
  agents.push(agent);
  const { a } = agent;
  const argv = readFileSync(`/proc/${a.proc.pid}/cmdline`, 'utf8').split('\0');
  assert.equal(argv[1], '--max-semi-space-size=1', `the process that was spawned now runs ${argv.join(' ')}`);
  assert.ok(argv.includes('run'));

  let text = '';
  for (let i = 0; i < 20_000; i++) text += xidLine(13, `${(0x1000 + (i >> 8)).toString(16)}:${(i & 0xff).toString(16).padStart(2, '0')}:00.0`);
  appendFileSync(agent.log, text);
  const { value: m } = await waitFor(
    'the storm read',
    async () => {
      const body = (await a.get('/metrics')).body;
      return Number(/^gpu_health_records_read_total\{source="logfile"\} (\d+)/m.exec(body)?.[1] ?? 0) >= 20_000 ? body : undefined;
    },
    20_000,
    100,
  );
  assert.ok(newSpaceMiB(m) <= 4, `V8 new space ${newSpaceMiB(m)} MiB after 20,000 records (the default grows it to 16-128 MiB)`);
});
