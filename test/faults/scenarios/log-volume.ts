// D13: a storm of distinct findings and the log lines it writes; minor: the V8 flag
// the memory figures rely on, for an agent started without it.
import { appendFileSync, readFileSync } from 'node:fs';
import { waitFor } from '../../helpers/agent-process.ts';
import { startLogFileAgent, xidLine } from '../../helpers/logfile-agent.ts';
import { peakRssMiB } from '../../helpers/proc.ts';
import { mib, outcome, type Scenario } from '../scenario.ts';

const STORM = 20_000;
const pci = (i: number): string => `${(0x1000 + (i >> 8)).toString(16)}:${(i & 0xff).toString(16).padStart(2, '0')}:00.0`;

/** Appends STORM distinct Xid 13 lines and waits until the agent has read them; the metrics then. */
async function storm(agent: Awaited<ReturnType<typeof startLogFileAgent>>): Promise<{ metrics: string; ms: number }> {
  const start = Date.now();
  let text = '';
  for (let i = 0; i < STORM; i++) text += xidLine(13, pci(i));
  appendFileSync(agent.log, text);
  const { value } = await waitFor(
    'the storm read',
    async () => {
      const m = (await agent.a.get('/metrics')).body;
      return Number(/^gpu_health_records_read_total\{source="logfile"\} (\d+)/m.exec(m)?.[1] ?? 0) >= STORM ? m : undefined;
    },
    30_000,
    100,
  );
  return { metrics: value, ms: Date.now() - start };
}

export const scenarios: Scenario[] = [
  {
    name: `logs: ${STORM.toLocaleString('en')} distinct findings from a log file`,
    ref: 'D13',
    expected: 'finding lines bounded; the rest counted',
    async run() {
      const agent = await startLogFileAgent();
      try {
        const { metrics, ms } = await storm(agent);
        const lines = agent.a.lines.filter((l) => l.msg === 'finding');
        const bytes = lines.reduce((n, l) => n + JSON.stringify(l).length + 1, 0);
        const left = Number(/^gpu_health_log_lines_suppressed_total\{what="finding"\} (\d+)/m.exec(metrics)?.[1] ?? 0);
        return outcome(lines.length <= 50 + 5 * Math.ceil(ms / 1000) + 5 && left > 0, `${lines.length} finding lines, ${left} counted as left out`, `${(bytes / 1024).toFixed(0)} KiB of finding lines in ${(ms / 1000).toFixed(1)} s`);
      } finally {
        await agent.dispose();
      }
    },
  },
  {
    name: 'memory: agent started without --max-semi-space-size=1',
    ref: 'minor',
    expected: 're-executes with the flag; young generation stays 2 MiB',
    async run() {
      // Spawned as `node dist/agent/main.js run ...`, without the flag.
      const agent = await startLogFileAgent();
      try {
        const flagged = readFileSync(`/proc/${agent.a.proc.pid}/cmdline`, 'utf8').split('\0').includes('--max-semi-space-size=1');
        const { metrics } = await storm(agent);
        const newSpace = Number(/^gpu_health_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(metrics)?.[1] ?? 'NaN') / 1048576;
        return outcome(flagged && newSpace <= 4, `${flagged ? 'flag in force' : 'NO FLAG'}; new space ${mib(newSpace)} after ${STORM.toLocaleString('en')} records`, `peak RSS ${mib(peakRssMiB(agent.a.proc.pid as number))}`);
      } finally {
        await agent.dispose();
      }
    },
  },
];
