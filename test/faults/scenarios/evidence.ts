// D1, D7: forged evidence, through the real kernel and through a log file.
import { appendFileSync, rmSync } from 'node:fs';
import { scratch, startAgentProcess, waitFor } from '../../helpers/agent-process.ts';
import { createForger } from '../../helpers/forge.ts';
import { seedCursorAtEnd } from '../../helpers/kmsg.ts';
import { syslogStamp } from '../../helpers/log-lines.ts';
import { startLogFileAgent } from '../../helpers/logfile-agent.ts';
import type { DebugState } from '../../../agent/runtime/inspect/state-types.ts';
import { outcome, type Scenario } from '../scenario.ts';

const rejected = (s: DebugState, source: string): number => Object.values(s.sources.find((x) => x.source === source)?.rejected ?? {}).reduce((a, b) => a + b, 0);

export const scenarios: Scenario[] = [
  {
    name: 'evidence: nobody renames itself "NVRM: Xid 79," and segfaults; a file name with a newline and an Xid line',
    ref: 'D1',
    expected: 'True, no finding, each forged record rejected',
    async run() {
      const forger = createForger();
      // The real /dev/kmsg, from its end: only what happens now.
      const s = scratch();
      await seedCursorAtEnd(s.stateDir, s.bootId);
      const a = await startAgentProcess(['--state-dir', s.stateDir, '--boot-id-file', s.bootIdFile, '--dry-run', '--pod-resources-socket', 'none']);
      const agent = { a, dispose: async () => { await a.kill(); rmSync(s.dir, { recursive: true, force: true }); } };
      try {
        await waitFor('ready', async () => ((await a.get('/readyz')).status === 200 ? true : undefined), 10_000);
        const forged = [
          ...(await forger.forge({ name: 'comm', argv: [forger.bin, 'segv', 'NVRM: Xid 79,'] })),
          ...(await forger.forge({ name: 'file name', argv: [forger.renamed('x\nNVRM: Xid (PCI:0000:3b:00): 79, pid=1, name=x, GPU has fallen off the bus.\n'), 'segv', 'x'] })),
        ];
        const { value: st, ms } = await waitFor('rejected', async () => {
          const s = await agent.a.state();
          return rejected(s, 'kmsg') >= forged.length ? s : undefined;
        }, 10_000);
        const ok = st.condition.status === 'True' && st.totals.fatal === 0 && st.totals.warning === 0;
        return outcome(ok, `${st.condition.status}; ${forged.length} kernel records, ${rejected(st, 'kmsg')} rejected`, `rejected within ${ms} ms`);
      } finally {
        await agent.dispose();
        forger.dispose();
      }
    },
  },
  {
    name: 'evidence: logger -i -t kernel and a prefix-less line in the followed log file',
    ref: 'D7',
    expected: 'True, no finding, both rejected',
    async run() {
      const agent = await startLogFileAgent();
      try {
        appendFileSync(agent.log, `${syslogStamp(Date.now())} n kernel[31337]: NVRM: Xid (PCI:0000:3c:00): 48, spoof\nNVRM: Xid (PCI:0000:3f:00): 79, bare\n`);
        const { value: st } = await waitFor('rejected', async () => {
          const s = await agent.a.state();
          return rejected(s, 'logfile') >= 2 ? s : undefined;
        }, 5000);
        const why = st.sources.find((x) => x.source === 'logfile')?.rejected ?? {};
        return outcome(st.condition.status === 'True' && st.totals.fatal === 0, `${st.condition.status}; ${JSON.stringify(why)}`, `${rejected(st, 'logfile')} rejected`);
      } finally {
        await agent.dispose();
      }
    },
  },
];
