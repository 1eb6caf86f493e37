// The real agent fed a storm of distinct findings through its kernel log file:
// 20,000 Xid lines, each on another PCI address (what forged records or a sick
// PCIe fabric give). It used to write one ~400-byte info line per finding, even
// for findings dropped at once by the 64-GPU cap (508 MB of logs in 60 s). Now
// the lines are bounded, what was left out is counted and summarised, and a fatal
// finding's line is never crowded out by warnings.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { waitFor } from '../helpers/agent-process.ts';
import { startLogFileAgent, xidLine, type LogFileAgent } from '../helpers/logfile-agent.ts';

const agents: LogFileAgent[] = [];
after(async () => {
  for (const a of agents) await a.dispose();
});

const STORM = 20_000;
const pci = (i: number): string => `${(0x1000 + (i >> 8)).toString(16)}:${(i & 0xff).toString(16).padStart(2, '0')}:00.0`;

test('a storm of 20,000 distinct findings writes a bounded number of finding lines, counts the rest, and still logs the fatal one', async () => {
  const agent = await startLogFileAgent();
  agents.push(agent);
  const { a } = agent;
  const start = Date.now();
  let text = '';
  for (let i = 0; i < STORM; i++) text += xidLine(13, pci(i));
  appendFileSync(agent.log, text);
  agent.xid(79, '0000:9a:00.0');
  const { value: metrics } = await waitFor(
    'the storm read',
    async () => {
      const m = (await a.get('/metrics')).body;
      return Number(/^gpu_health_records_read_total\{source="logfile"\} (\d+)/m.exec(m)?.[1] ?? 0) >= STORM + 1 ? m : undefined;
    },
    20_000,
    100,
  );
  const seconds = (Date.now() - start) / 1000;
  const findings = a.lines.filter((l) => l.msg === 'finding');
  const bound = 2 * 50 + 2 * 5 * Math.ceil(seconds);
  assert.ok(findings.length <= bound, `${findings.length} finding lines for ${STORM + 1} findings in ${seconds.toFixed(1)} s (bound ${bound})`);
  assert.ok(findings.some((l) => (l.finding as { reason: string }).reason === 'NvidiaXID79Error'), 'the fatal finding is logged');
  const left = Number(/^gpu_health_log_lines_suppressed_total\{what="finding"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
  assert.ok(left >= STORM - bound, `left out and counted: ${left}`);
  const summary = await a.waitForLine((l) => l.what === 'finding' && typeof l.notLogged === 'number', 5000);
  assert.ok((summary.notLogged as number) > 0);
});
