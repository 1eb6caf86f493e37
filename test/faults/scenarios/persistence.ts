// D2, D3, D8: what the state file must keep across a restart, and what it must not.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startAgentProcess, waitFor, type AgentProcess } from '../../helpers/agent-process.ts';
import { drill, marker, uniquePci } from '../../helpers/kmsg.ts';
import { LOG_PCI, startLogFileAgent, type LogFileAgent } from '../../helpers/logfile-agent.ts';
import { outcome, type Scenario } from '../scenario.ts';

/** The same agent (its state dir, its log file) started again after `first` was killed. */
async function restart(first: LogFileAgent, extra: string[] = []): Promise<AgentProcess> {
  const b = await startAgentProcess([...first.a.args, ...extra]);
  await waitFor('ready', async () => ((await b.get('/readyz')).status === 200 ? true : undefined), 10_000);
  return b;
}

export const scenarios: Scenario[] = [
  {
    name: 'state: SIGKILL right after the False goes out',
    ref: 'D3',
    expected: 'the finding was on disk first; False after the restart',
    async run() {
      const agent = await startLogFileAgent();
      let b: AgentProcess | null = null;
      try {
        const start = Date.now();
        agent.xid(79);
        await agent.a.waitForLine((l) => l.msg === 'would write node condition' && (l.condition as { status?: string }).status === 'False', 5000);
        const toWrite = Date.now() - start;
        await agent.a.kill();
        b = await restart(agent);
        const st = await b.state();
        return outcome(st.condition.status === 'False', `after the restart ${st.condition.status} ${st.condition.reason}`, `Xid to False write ${toWrite} ms`);
      } finally {
        await b?.kill();
        await agent.dispose();
      }
    },
  },
  {
    name: 'state: one saved finding unreadable (a newer agent wrote it)',
    ref: 'D2',
    expected: 'the rest restored; the log read again; still False',
    async run() {
      const agent = await startLogFileAgent();
      let b: AgentProcess | null = null;
      try {
        agent.xid(79);
        await waitFor('False', async () => ((await agent.a.state()).condition.status === 'False' ? true : undefined), 5000);
        await agent.a.stop();
        const path = join(agent.stateDir, 'state.json');
        const doc = JSON.parse(readFileSync(path, 'utf8')) as { health: { gpus: Array<{ pci: string | null; findings: Array<Record<string, unknown>> }> } };
        const f = doc.health.gpus.find((g) => g.pci === LOG_PCI)?.findings[0];
        if (f !== undefined) f.family = 'pcie-aer';
        writeFileSync(path, JSON.stringify(doc));
        const start = Date.now();
        b = await restart(agent);
        const { value: st } = await waitFor('False again', async () => {
          const x = await b?.state();
          return x?.condition.status === 'False' ? x : undefined;
        }, 5000);
        return outcome(st.totals.fatal === 1, `${st.condition.status} ${st.condition.reason}, found again in the log`, `restart to False ${Date.now() - start} ms`);
      } finally {
        await b?.kill();
        await agent.dispose();
      }
    },
  },
  {
    name: 'state: a drill left behind, restarted without --accept-drills',
    ref: 'D8',
    expected: 'the drill finding dropped at start, with a notice; True',
    async run() {
      const agent = await startLogFileAgent(['--kmsg', '/dev/kmsg', '--accept-drills']);
      let b: AgentProcess | null = null;
      try {
        const pci = uniquePci();
        drill({ xid: 79, pci, text: marker() });
        await waitFor('drill finding', async () => ((await agent.a.state()).gpus.some((g) => g.pci === pci) ? true : undefined), 5000);
        await agent.a.stop();
        b = await restart(agent, ['--accept-drills=false']);
        const st = await b.state();
        const mine = st.gpus.find((g) => g.pci === pci)?.findings.length ?? 0;
        const notice = await b.waitForLine((l) => l.msg === 'would write event' && (l.event as { reason?: string }).reason === 'GPUFindingCleared', 3000).then(
          () => true,
          () => false,
        );
        return outcome(mine === 0 && notice, `${mine} drill finding(s) kept; cleared notice ${notice ? 'posted' : 'missing'}`, `condition ${st.condition.status}`);
      } finally {
        await b?.kill();
        await agent.dispose();
      }
    },
  },
];
